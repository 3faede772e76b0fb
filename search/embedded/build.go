package embedded

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// stagingDir holds a build in progress inside the index directory.
const stagingDir = ".staging"

// Builder builds a new generation of an index from a stream of documents
// and their vectors. Every batch is on disk (fsynced) before Add returns,
// so after a crash — kill -9 included — a new Builder with the same
// fingerprint resumes: Has reports the documents already staged and the
// caller skips them. Finish builds BM25 (and HNSW) over everything staged
// and makes the result the index's current generation in one atomic
// manifest swap; servers of the previous generation keep serving until
// they reload.
//
// Staging layout: DIR/.staging/meta.json (fingerprint and options),
// docs.jsonl (one document per line) and vectors.f32 (little-endian rows).
// Vectors are written before documents, so a document line is only
// complete once its vector is; a torn tail is cut off on resume.
type Builder struct {
	dir, stage string
	source     string
	unlock     func() // releases DIR/.build.lock, held until Finish
	opts       Options
	docs, vecs *os.File
	seen       map[string]bool
	n          int
	resumed    int
	// BeforeWrite, when set, runs in Finish on the built index before
	// its generation is written (kormed index calibrates the fusion and
	// stores it with SetCalibration there).
	BeforeWrite func(*Index) error
}

type stageMeta struct {
	Fingerprint string  `json:"fingerprint"`
	Options     Options `json:"options"`
}

// NewBuilder starts or resumes a build of the index in dir. fingerprint
// identifies the input (corpus file, size, modification time, model): a
// staged build with another fingerprint or other options is discarded.
func NewBuilder(dir string, opts Options, fingerprint string) (*Builder, error) {
	if err := opts.resolve(); err != nil {
		return nil, err
	}
	// Resolve the analyzer's name the way the index will record it.
	probe, err := New(opts)
	if err != nil {
		return nil, err
	}
	opts = probe.opts
	b := &Builder{dir: dir, stage: filepath.Join(dir, stagingDir), opts: opts, seen: map[string]bool{}, source: fingerprint}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// One build at a time per index folder.
	unlock, err := atomicfile.TryLock(filepath.Join(dir, ".build.lock"))
	if errors.Is(err, atomicfile.ErrLocked) {
		return nil, fmt.Errorf("%s: another 'kormed index' is building into this folder", dir)
	} else if err != nil {
		return nil, err
	}
	b.unlock = unlock
	want := stageMeta{Fingerprint: fingerprint, Options: opts}
	wantJSON, _ := json.Marshal(want)
	if data, err := os.ReadFile(filepath.Join(b.stage, "meta.json")); err == nil {
		if bytes.Equal(bytes.TrimSpace(data), wantJSON) {
			if err := b.resume(); err != nil {
				return nil, err
			}
			return b, nil
		}
		fmt.Fprintf(os.Stderr, "search: %s: a staged build of other input or settings is discarded\n", b.stage)
	}
	if err := os.RemoveAll(b.stage); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(b.stage, 0o755); err != nil {
		return nil, err
	}
	if err := atomicfile.WriteBytes(filepath.Join(b.stage, "meta.json"), wantJSON); err != nil {
		return nil, err
	}
	return b, b.openFiles()
}

func (b *Builder) openFiles() error {
	var err error
	if b.docs, err = os.OpenFile(filepath.Join(b.stage, docsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
		return err
	}
	if b.opts.Model.Name != "" {
		if b.vecs, err = os.OpenFile(filepath.Join(b.stage, "vectors.f32"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// resume counts the staged documents and cuts off a torn tail.
func (b *Builder) resume() error {
	dpath := filepath.Join(b.stage, docsFile)
	data, err := os.ReadFile(dpath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	rows := math.MaxInt
	vpath := filepath.Join(b.stage, "vectors.f32")
	row := int64(4 * b.opts.Model.Dim)
	if b.opts.Model.Name != "" {
		st, err := os.Stat(vpath)
		if err != nil {
			st = nil
		}
		rows = 0
		if st != nil {
			rows = int(st.Size() / row)
		}
	}
	good, n := 0, 0
	for n < rows {
		nl := bytes.IndexByte(data[good:], '\n')
		if nl < 0 {
			break
		}
		var d search.Doc
		if err := json.Unmarshal(data[good:good+nl], &d); err != nil {
			break // torn
		}
		b.seen[d.ID] = true
		good += nl + 1
		n++
	}
	if err := os.Truncate(dpath, int64(good)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if b.opts.Model.Name != "" {
		if err := os.Truncate(vpath, int64(n)*row); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	b.n, b.resumed = n, n
	return b.openFiles()
}

// UpToDate reports whether dir's current generation was built from
// fingerprint with opts and no build is staged: a rerun has nothing to do.
func UpToDate(dir string, opts Options, fingerprint string) bool {
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); err == nil {
		return false
	}
	m, err := ReadManifest(dir)
	if err != nil || m.Source != fingerprint {
		return false
	}
	probe, err := New(opts)
	if err != nil {
		return false
	}
	mo := m.Options
	mo.Calibration = nil // derived from the build, not one of its inputs
	a, _ := json.Marshal(probe.opts)
	b, _ := json.Marshal(mo)
	return bytes.Equal(a, b)
}

// Close releases the build lock without finishing (the staged documents
// stay for a later resume).
func (b *Builder) Close() {
	if b.docs != nil {
		b.docs.Close()
	}
	if b.vecs != nil {
		b.vecs.Close()
	}
	if b.unlock != nil {
		b.unlock()
		b.unlock = nil
	}
}

// truncate cuts both staging files back to the b.n documents that are
// complete.
func (b *Builder) truncate() {
	if b.vecs != nil {
		b.vecs.Truncate(int64(b.n) * int64(4*b.opts.Model.Dim))
	}
	if st, err := b.docs.Stat(); err == nil {
		data, err := os.ReadFile(filepath.Join(b.stage, docsFile))
		if err == nil && int64(len(data)) == st.Size() {
			good, n := 0, 0
			for n < b.n {
				nl := bytes.IndexByte(data[good:], '\n')
				if nl < 0 {
					break
				}
				good += nl + 1
				n++
			}
			b.docs.Truncate(int64(good))
		}
	}
}

// Resumed is how many documents a resumed build found staged.
func (b *Builder) Resumed() int { return b.resumed }

// Len is the number of documents staged.
func (b *Builder) Len() int { return b.n }

// Has reports whether a document with id is staged.
func (b *Builder) Has(id string) bool { return b.seen[id] }

// Add stages documents and their vectors (nil without a model) durably.
func (b *Builder) Add(docs []search.Doc, vecs [][]float32) error {
	if b.opts.Model.Name != "" && len(vecs) != len(docs) {
		return fmt.Errorf("search: %d vectors for %d documents", len(vecs), len(docs))
	}
	for i, d := range docs {
		if d.ID == "" {
			return fmt.Errorf("search: document without an id")
		}
		if b.seen[d.ID] {
			return fmt.Errorf("search: duplicate document id %q", d.ID)
		}
		for j := range docs[:i] {
			if docs[j].ID == d.ID {
				return fmt.Errorf("search: duplicate document id %q", d.ID)
			}
		}
	}
	if b.vecs != nil {
		buf := make([]byte, 0, len(vecs)*4*b.opts.Model.Dim)
		for i, v := range vecs {
			if len(v) != b.opts.Model.Dim {
				return fmt.Errorf("search: document %q: vector dimension %d, want %d", docs[i].ID, len(v), b.opts.Model.Dim)
			}
			for _, x := range v {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
			}
		}
		_, err := b.vecs.Write(buf)
		if err == nil {
			err = b.vecs.Sync()
		}
		if err != nil {
			b.truncate()
			return err
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	_, err := b.docs.Write(buf.Bytes())
	if err == nil {
		err = b.docs.Sync()
	}
	if err != nil {
		// Keep the two files in step: drop this batch's vectors and any
		// partial document lines (resume would also cut them).
		b.truncate()
		return err
	}
	for _, d := range docs {
		b.seen[d.ID] = true
	}
	b.n += len(docs)
	return nil
}

// Finish builds the index over the staged documents, makes it the current
// generation and removes the staging area. API writes logged in the
// previous generation are carried over when the model is unchanged; the
// count is returned with the index.
func (b *Builder) Finish(progress func(stage string)) (*Index, int, error) {
	if progress == nil {
		progress = func(string) {}
	}
	b.docs.Close()
	if b.vecs != nil {
		b.vecs.Close()
	}
	docs, err := readDocs(filepath.Join(b.stage, docsFile))
	if err != nil {
		return nil, 0, err
	}
	ix, err := New(b.opts)
	if err != nil {
		return nil, 0, err
	}
	progress("bm25")
	bdocs := make([]bm25.Doc, len(docs))
	for i, d := range docs {
		bdocs[i] = bm25.Doc{ID: d.ID, Text: fusion.DocText(d.Title, d.Text)}
	}
	o := ix.st.bm.Options()
	bm, err := bm25.Build(bdocs, o)
	if err != nil {
		return nil, 0, err
	}
	st := ix.st
	st.bm = bm
	for n, d := range docs {
		st.docs = append(st.docs, d)
		st.byID[d.ID] = n
		st.index(n, d)
	}
	if b.opts.Model.Name != "" {
		progress("vectors")
		f, err := os.Open(filepath.Join(b.stage, "vectors.f32"))
		if err != nil {
			return nil, 0, err
		}
		r := bufio.NewReaderSize(f, 1<<20)
		row := make([]byte, 4*b.opts.Model.Dim)
		v := make([]float32, b.opts.Model.Dim)
		for range docs {
			if _, err := io.ReadFull(r, row); err != nil {
				f.Close()
				return nil, 0, fmt.Errorf("%s: %w", f.Name(), err)
			}
			for j := range v {
				v[j] = math.Float32frombits(binary.LittleEndian.Uint32(row[4*j:]))
			}
			if _, err := st.flat.Add(v); err != nil {
				f.Close()
				return nil, 0, err
			}
		}
		f.Close()
		progress("dense index")
		ix.syncDense()
	}
	if b.BeforeWrite != nil {
		if err := b.BeforeWrite(ix); err != nil {
			return nil, 0, err
		}
	}
	progress("write")
	carried, err := ix.save(b.dir, true, b.source)
	if err != nil {
		return nil, 0, err
	}
	if err := os.RemoveAll(b.stage); err != nil {
		return nil, 0, err
	}
	b.Close()
	return ix, carried, nil
}
