package bm25

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/atomicfile"
)

// File format (all integers little-endian; "uv" is an unsigned varint):
//
//	magic    "KORMBM25" (8 bytes)
//	version  uint32 (FormatVersion)
//	body     analyzer name (uv length + bytes), analyzer version uv,
//	         k1, b (float64 bits, 8 bytes each),
//	         N uv, then per document: ID (uv length + bytes), length uv,
//	         T uv, total postings uv, then per term in sorted order:
//	         shared prefix with the
//	         previous term uv, suffix (uv length + bytes), df uv, then df
//	         pairs (document gap uv, tf uv)
//	trailer  CRC-32C of everything before it (uint32)
const (
	fileMagic = "KORMBM25"
	// FormatVersion is the version of the index file format.
	FormatVersion = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Save writes the index to path atomically: it writes a temporary file in
// the same directory and renames it over path.
func (ix *Index) Save(path string) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("bm25: save: %w", err)
	}
	defer f.Abort()
	h := crc32.New(castagnoli)
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if err := ix.encode(w); err != nil {
		return fmt.Errorf("bm25: save %s: %w", path, err)
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("bm25: save %s: %w", path, err)
	}
	if err := binary.Write(f, binary.LittleEndian, h.Sum32()); err != nil {
		return fmt.Errorf("bm25: save %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("bm25: save: %w", err)
	}
	return nil
}

func (ix *Index) encode(w *bufio.Writer) error {
	var buf [binary.MaxVarintLen64]byte
	uv := func(x uint64) { w.Write(buf[:binary.PutUvarint(buf[:], x)]) }
	str := func(s string) { uv(uint64(len(s))); w.WriteString(s) }
	f64 := func(x float64) {
		binary.LittleEndian.PutUint64(buf[:8], math.Float64bits(x))
		w.Write(buf[:8])
	}
	w.WriteString(fileMagic)
	binary.LittleEndian.PutUint32(buf[:4], FormatVersion)
	w.Write(buf[:4])
	str(ix.an.Name())
	uv(uint64(ix.an.Version()))
	f64(ix.opts.K1)
	f64(ix.opts.B)
	uv(uint64(len(ix.ids)))
	for d, id := range ix.ids {
		str(id)
		uv(uint64(ix.docLen[d]))
	}
	uv(uint64(len(ix.terms)))
	uv(uint64(len(ix.docs)))
	prev := ""
	for t, term := range ix.terms {
		p := commonPrefix(prev, term)
		uv(uint64(p))
		str(term[p:])
		prev = term
		lo, hi := ix.off[t], ix.off[t+1]
		uv(hi - lo)
		last := uint32(0)
		for i := lo; i < hi; i++ {
			uv(uint64(ix.docs[i] - last))
			uv(uint64(ix.tfs[i]))
			last = ix.docs[i]
		}
	}
	_, err := w.Write(nil) // surfaces any earlier write error
	return err
}

func commonPrefix(a, b string) int {
	n := min(len(a), len(b))
	i := 0
	for i < n && a[i] == b[i] {
		i++
	}
	return i
}

// Load reads an index written by Save. It rejects files that are not
// kormed BM25 indexes, have an unsupported format version, fail their
// checksum, or were built with a different analyzer version.
func Load(path string) (*Index, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bm25: %w", err)
	}
	ix, err := decode(data)
	if err != nil {
		return nil, fmt.Errorf("bm25: load %s: %w", path, err)
	}
	return ix, nil
}

// reader decodes the body with bounds checks.
type reader struct {
	b   []byte
	err error
}

var errTruncated = errors.New("unexpected end of data")

func (r *reader) uv() uint64 {
	if r.err != nil {
		return 0
	}
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errors.New("bad varint")
		if n == 0 {
			r.err = errTruncated
		}
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.err = errTruncated
		return nil
	}
	s := r.b[:n]
	r.b = r.b[n:]
	return s
}

func (r *reader) str() string { return string(r.bytes(r.uv())) }

func (r *reader) f64() float64 {
	b := r.bytes(8)
	if b == nil {
		return 0
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(b))
}

func decode(data []byte) (*Index, error) {
	if len(data) < len(fileMagic)+4 || string(data[:len(fileMagic)]) != fileMagic {
		return nil, errors.New("not a kormed BM25 index (bad magic)")
	}
	if v := binary.LittleEndian.Uint32(data[len(fileMagic):]); v != FormatVersion {
		return nil, fmt.Errorf("unsupported index format version %d (this kormed reads version %d)", v, FormatVersion)
	}
	if len(data) < len(fileMagic)+8 {
		return nil, errors.New("truncated index file")
	}
	body, sum := data[:len(data)-4], binary.LittleEndian.Uint32(data[len(data)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return nil, errors.New("checksum mismatch: the file is corrupt or truncated")
	}
	r := &reader{b: body[len(fileMagic)+4:]}
	name := r.str()
	aver := r.uv()
	k1, b := r.f64(), r.f64()
	if r.err != nil {
		return nil, fmt.Errorf("corrupt header: %w", r.err)
	}
	an, err := analysis.New(name)
	if err != nil || name == "" {
		return nil, fmt.Errorf("index uses analyzer %q, which this kormed does not have", name)
	}
	if aver != uint64(an.Version()) {
		return nil, fmt.Errorf("index was built with %s analyzer version %d, this kormed has version %d: rebuild the index", name, aver, an.Version())
	}
	opts, _, err := Options{Analyzer: name, K1: k1, B: b}.resolve()
	if err != nil {
		return nil, fmt.Errorf("corrupt header: %w", err)
	}
	n := r.uv()
	if n > uint64(len(r.b)) { // each document takes at least 2 bytes
		return nil, fmt.Errorf("corrupt: %d documents in %d bytes", n, len(r.b))
	}
	ix := &Index{opts: opts, an: an, ids: make([]string, n), docLen: make([]uint32, n)}
	for d := range ix.ids {
		ix.ids[d] = r.str()
		l := r.uv()
		if l > math.MaxUint32 {
			return nil, fmt.Errorf("corrupt: document %d length %d", d, l)
		}
		ix.docLen[d] = uint32(l)
	}
	nt := r.uv()
	if r.err != nil {
		return nil, fmt.Errorf("corrupt document table: %w", r.err)
	}
	np := r.uv()
	if nt > uint64(len(r.b)) || np > uint64(len(r.b)) {
		return nil, fmt.Errorf("corrupt: %d terms, %d postings in %d bytes", nt, np, len(r.b))
	}
	ix.docs = make([]uint32, 0, np)
	ix.tfs = make([]uint32, 0, np)
	ix.terms = make([]string, nt)
	ix.off = make([]uint64, nt+1)
	prev := ""
	for t := range ix.terms {
		p := r.uv()
		if p > uint64(len(prev)) {
			return nil, fmt.Errorf("corrupt: term %d prefix %d longer than previous term", t, p)
		}
		term := prev[:p] + r.str()
		if t > 0 && term <= prev {
			return nil, fmt.Errorf("corrupt: terms out of order at term %d", t)
		}
		ix.terms[t] = term
		prev = term
		df := r.uv()
		if r.err != nil {
			break
		}
		if df == 0 || df > n || df > uint64(len(r.b)) {
			return nil, fmt.Errorf("corrupt: term %q has df %d (N = %d)", term, df, n)
		}
		doc := uint64(0)
		for i := uint64(0); i < df; i++ {
			gap, tf := r.uv(), r.uv()
			if i > 0 && gap == 0 {
				return nil, fmt.Errorf("corrupt: postings of term %q not ascending", term)
			}
			doc += gap
			if doc >= n || tf == 0 || tf > math.MaxUint32 {
				if r.err != nil {
					break
				}
				return nil, fmt.Errorf("corrupt: posting (%d, %d) of term %q", doc, tf, term)
			}
			ix.docs = append(ix.docs, uint32(doc))
			ix.tfs = append(ix.tfs, uint32(tf))
		}
		ix.off[t+1] = uint64(len(ix.docs))
	}
	if r.err != nil {
		return nil, fmt.Errorf("corrupt postings: %w", r.err)
	}
	if len(r.b) != 0 || uint64(len(ix.docs)) != np {
		return nil, fmt.Errorf("corrupt: %d postings (header says %d), %d unexpected bytes after them", len(ix.docs), np, len(r.b))
	}
	ix.finish()
	return ix, nil
}
