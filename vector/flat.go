package vector

import (
	"fmt"
	"io"
	"math/bits"
	"runtime"
	"sync"
	"sync/atomic"
)

// Flat is a dense matrix of n rows of dim float32 values, stored row-major
// in one contiguous slice, searched exactly by scanning every row.
//
// Searches may run concurrently with each other; Add must not run
// concurrently with anything else on the same Flat (nor with the Quantized
// or HNSW indexes built on it).
type Flat struct {
	dim     int
	data    []float32
	threads int
}

// NewFlat returns an empty matrix of rows of dim values; it panics if
// dim < 1.
func NewFlat(dim int) *Flat {
	if dim < 1 {
		panic(fmt.Sprintf("vector: dimension %d < 1", dim))
	}
	return &Flat{dim: dim}
}

// Dim is the number of values per row.
func (f *Flat) Dim() int { return f.dim }

// Len is the number of rows.
func (f *Flat) Len() int { return len(f.data) / f.dim }

// Row returns row i (a view of the matrix: do not modify it).
func (f *Flat) Row(i int) []float32 {
	return f.data[i*f.dim : (i+1)*f.dim : (i+1)*f.dim]
}

// Data returns the whole matrix, row after row (a view: do not modify it).
func (f *Flat) Data() []float32 { return f.data }

// Bytes is the memory the rows take: 4·dim per row.
func (f *Flat) Bytes() int64 { return int64(len(f.data)) * 4 }

// SetThreads sets how many goroutines one search may scan with (n < 1:
// GOMAXPROCS, the default).
func (f *Flat) SetThreads(n int) { f.threads = n }

// Add appends the vectors as new rows and returns the number of the first.
// Every vector must have Dim values; if one has not, none is added. The
// vectors are copied, and should be L2-normalised for scores to be cosines.
func (f *Flat) Add(vecs ...[]float32) (first int, err error) {
	first = f.Len()
	for i, v := range vecs {
		if len(v) != f.dim {
			return first, fmt.Errorf("vector: vector %d has dimension %d, the index has %d", i, len(v), f.dim)
		}
	}
	f.data = growFloats(f.data, len(vecs)*f.dim)
	for _, v := range vecs {
		f.data = append(f.data, v...)
	}
	return first, nil
}

// growFloats makes room for n more values, at least doubling (append's
// growth factor for large slices is only 1.25, which copies a 154 MB
// matrix many times while it is filled one row at a time).
func growFloats(s []float32, n int) []float32 {
	if len(s)+n <= cap(s) {
		return s
	}
	c := max(2*cap(s), len(s)+n, 1024)
	t := make([]float32, len(s), c)
	copy(t, s)
	return t
}

// checkQuery panics on a query of the wrong dimension.
func checkQuery(q []float32, dim int) {
	if len(q) != dim {
		panic(fmt.Sprintf("vector: query has dimension %d, the index has %d", len(q), dim))
	}
}

// Search returns the k rows with the highest dot product with q, best
// first (ties: lower row first), among the rows allow holds (nil: all).
// Fewer come back when fewer rows are allowed; none when k < 1. It panics
// if len(q) != Dim().
//
// It scans every allowed row, four rows per kernel call (each query value
// loaded once for the four), and keeps the best k in a min-heap whose root
// is the bar a row must beat. Large scans are split into blocks of rows
// that GOMAXPROCS goroutines (SetThreads) take in turn, each keeping its
// own heap; the heaps are merged at the end.
func (f *Flat) Search(q []float32, k int, allow *Bitset) []Result {
	checkQuery(q, f.dim)
	return f.search(q, k, allow, f.Len())
}

// parMinFloats is the least number of values a search scans per goroutine
// (2¹⁷ floats, 512 KiB, about 30 µs of scanning: well above the cost of
// starting a goroutine).
const parMinFloats = 1 << 17

// search is Search over rows 0..rows-1.
func (f *Flat) search(q []float32, k int, allow *Bitset, rows int) []Result {
	if k < 1 || rows == 0 {
		return nil
	}
	work := rows
	if allow != nil {
		work = allow.countBelow(rows)
		if work == 0 {
			return nil
		}
	}
	k = min(k, work)
	parts := f.threads
	if parts < 1 {
		parts = runtime.GOMAXPROCS(0)
	}
	parts = max(1, min(parts, work*f.dim/parMinFloats))
	t := parScan(rows, parts, blockRows(f.dim, 1), k, func(lo, hi int, t *topK) { f.scan(q, lo, hi, allow, t) })
	return t.Sorted()
}

// blockRows is the number of rows a scan block holds: about parMinFloats
// values of bytesPer bytes (512 KiB for float32), in whole 64-row bitset
// words. At dim 384, 384 float32 rows: 100,000 rows make 261 blocks.
func blockRows(dim, bytesPer int) int {
	b := parMinFloats * 4 / bytesPer / dim
	return max(64, (b+63)&^63)
}

// parScan runs scan over rows 0..rows-1 in blocks of block rows (a
// multiple of 64), which up to parts goroutines, the caller's among them,
// take in turn, each into its own heap; it returns the merged best k.
// Blocks are handed out as goroutines ask for them, not split in equal
// halves up front: on a machine shared with other processes a goroutine
// whose core is taken away does fewer blocks instead of holding the
// search up.
func parScan(rows, parts, block, k int, scan func(lo, hi int, t *topK)) *topK {
	nb := (rows + block - 1) / block
	parts = min(parts, nb)
	t := newTopK(k)
	if parts <= 1 {
		scan(0, rows, t)
		return t
	}
	var next atomic.Int64
	work := func(t *topK) {
		for {
			b := int(next.Add(1)) - 1
			if b >= nb {
				return
			}
			scan(b*block, min((b+1)*block, rows), t)
		}
	}
	tops := make([]*topK, parts-1)
	var wg sync.WaitGroup
	for p := range tops {
		tops[p] = newTopK(k)
		wg.Add(1)
		go func(t *topK) {
			defer wg.Done()
			work(t)
		}(tops[p])
	}
	work(t)
	wg.Wait()
	for _, o := range tops {
		t.Merge(o)
	}
	return t
}

// scan offers rows lo..hi-1 that allow holds to t (lo a multiple of 64
// when allow is not nil).
func (f *Flat) scan(q []float32, lo, hi int, allow *Bitset, t *topK) {
	d := f.dim
	data := f.data
	var out [4]float32
	if allow == nil {
		i := lo
		for ; i+4 <= hi; i += 4 {
			b := i * d
			dot4(q, data[b:b+d], data[b+d:b+2*d], data[b+2*d:b+3*d], data[b+3*d:b+4*d], &out)
			for j, s := range out {
				if !t.Full() || s >= t.Worst().Score {
					t.Push(Result{i + j, s})
				}
			}
		}
		for ; i < hi; i++ {
			if s := dot(q, data[i*d:i*d+d]); !t.Full() || s >= t.Worst().Score {
				t.Push(Result{i, s})
			}
		}
		return
	}
	var idx [4]int
	nb := 0
	for wi := lo >> 6; wi<<6 < hi; wi++ {
		w := allow.word(wi)
		if rest := hi - wi<<6; rest < 64 {
			w &= 1<<uint(rest) - 1
		}
		for w != 0 {
			idx[nb] = wi<<6 + bits.TrailingZeros64(w)
			w &= w - 1
			if nb++; nb == 4 {
				nb = 0
				dot4(q, f.Row(idx[0]), f.Row(idx[1]), f.Row(idx[2]), f.Row(idx[3]), &out)
				for j, s := range out {
					if !t.Full() || s >= t.Worst().Score {
						t.Push(Result{idx[j], s})
					}
				}
			}
		}
	}
	for _, i := range idx[:nb] {
		if s := dot(q, f.Row(i)); !t.Full() || s >= t.Worst().Score {
			t.Push(Result{i, s})
		}
	}
}

// Flat files: magic "KMVF", version 1, dim (uint32), a zero uint32, rows
// (uint64), then the rows as float32, then the CRC.
const (
	flatMagic   = "KMVF"
	flatVersion = 1
	maxDim      = 1 << 20
)

// WriteTo writes the matrix: a 24-byte header (magic "KMVF", version 1,
// dim, rows), the values row after row as little-endian float32, and a
// CRC-32C of all that. 100,000 rows of 384 values make 153,600,028 bytes.
func (f *Flat) WriteTo(w io.Writer) (int64, error) {
	e := newEncoder(w)
	e.bytes([]byte(flatMagic))
	e.u32(flatVersion)
	e.u32(uint32(f.dim))
	e.u32(0)
	e.u64(uint64(f.Len()))
	e.f32s(f.data)
	return e.finish()
}

// ReadFlat reads a matrix written by WriteTo, reading exactly its bytes
// from r. Truncated input, a wrong magic or version, an impossible header
// and a checksum mismatch are errors that say which.
func ReadFlat(r io.Reader) (*Flat, error) {
	d := newDecoder(r, "flat index")
	if err := d.header(flatMagic, flatVersion); err != nil {
		return nil, err
	}
	dim, err := d.u32("header")
	if err != nil {
		return nil, err
	}
	if _, err := d.u32("header"); err != nil {
		return nil, err
	}
	n, err := d.u64("header")
	if err != nil {
		return nil, err
	}
	if dim < 1 || dim > maxDim {
		return nil, fmt.Errorf("vector: corrupt flat index: dimension %d", dim)
	}
	if n > uint64(1<<46)/uint64(dim) {
		return nil, fmt.Errorf("vector: corrupt flat index: %d rows of %d values", n, dim)
	}
	total := int(n) * int(dim)
	f := &Flat{dim: int(dim), data: make([]float32, 0, min(total, 1<<24))}
	if f.data, err = d.f32s(f.data, total, "rows"); err != nil {
		return nil, fmt.Errorf("%w (%d of %d rows read)", err, len(f.data)/int(dim), n)
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	return f, nil
}
