package vector

import (
	"fmt"
	"math"
	"math/bits"
	"runtime"
	"slices"
)

// Quantized scans compact copies of a Flat's rows — int8 (1 byte a value)
// or bfloat16 (2 bytes) — and re-scores the best candidates exactly
// against the Flat, so the scores it returns are the Flat's, bit for bit.
//
// int8: each row keeps its own scale, max |x| / 127, and stores
// round(x / scale); the approximate score is scale · Σ q[j]·code[j]. The
// rounding error of one value is at most scale/2, so a 384-value unit
// vector (max |x| about 0.2) is off by at most 0.0008 per value, and a
// score typically by about 0.003. bf16: each value is rounded to bfloat16
// (8 bits of mantissa, relative error ≤ 2⁻⁹), scores typically off by
// 0.001. Both are far below the gap between a query's 10th and, say, 40th
// neighbour in real data, which is why re-scoring Oversample·k candidates
// (4·k by default) returns the exact top k.
type Quantized struct {
	// Oversample is how many candidates per wanted result the scan keeps
	// for exact re-scoring (default 4; raise it if the quantised order
	// is too coarse for your data).
	Oversample int

	flat  *Flat
	kind  string
	n     int
	i8    []int8
	scale []float32
	b16   []uint16
}

// Quantize builds the compact copy of f's rows; kind is "int8" or "bf16".
// Rows added to f afterwards are searched once Sync (or Add on the
// Quantized) has encoded them.
func Quantize(f *Flat, kind string) (*Quantized, error) {
	if kind != "int8" && kind != "bf16" {
		return nil, fmt.Errorf("vector: unknown quantisation %q (want int8 or bf16)", kind)
	}
	q := &Quantized{Oversample: 4, flat: f, kind: kind}
	q.Sync()
	return q, nil
}

// Kind is "int8" or "bf16".
func (q *Quantized) Kind() string { return q.kind }

// Len is the number of rows encoded.
func (q *Quantized) Len() int { return q.n }

// Flat is the matrix the candidates are re-scored against.
func (q *Quantized) Flat() *Flat { return q.flat }

// Bytes is the memory of the compact rows (the Flat not included):
// dim + 4 bytes a row for int8 (codes and scale), 2·dim for bf16.
func (q *Quantized) Bytes() int64 {
	return int64(len(q.i8)) + 4*int64(len(q.scale)) + 2*int64(len(q.b16))
}

// Add appends the vectors to the Flat and encodes them; it returns the
// number of the first, as Flat.Add does.
func (q *Quantized) Add(vecs ...[]float32) (first int, err error) {
	first, err = q.flat.Add(vecs...)
	if err == nil {
		q.Sync()
	}
	return first, err
}

// Sync encodes the rows added to the Flat since the last Sync.
func (q *Quantized) Sync() {
	f := q.flat
	if q.kind == "bf16" {
		q.b16 = slices.Grow(q.b16, (f.Len()-q.n)*f.dim)
	} else {
		q.i8 = slices.Grow(q.i8, (f.Len()-q.n)*f.dim)
		q.scale = slices.Grow(q.scale, f.Len()-q.n)
	}
	for i := q.n; i < f.Len(); i++ {
		row := f.Row(i)
		if q.kind == "bf16" {
			for _, x := range row {
				q.b16 = append(q.b16, bf16(x))
			}
			continue
		}
		var m float32
		for _, x := range row {
			m = max(m, float32(math.Abs(float64(x))))
		}
		scale, inv := float32(0), float32(0)
		if m > 0 {
			scale, inv = m/127, 127/m
		}
		q.scale = append(q.scale, scale)
		for _, x := range row {
			c := math.Round(float64(x * inv))
			q.i8 = append(q.i8, int8(max(-127, min(127, c))))
		}
	}
	q.n = f.Len()
}

// Search returns the k best rows for query among those allow holds, as
// Flat.Search would: the scan keeps the best Oversample·k rows by their
// approximate score, which are then scored exactly (Dot against the Flat's
// rows) and the best k of them returned. It panics if len(query) is not
// the Flat's dimension.
func (q *Quantized) Search(query []float32, k int, allow *Bitset) []Result {
	checkQuery(query, q.flat.dim)
	if k < 1 || q.n == 0 {
		return nil
	}
	work := q.n
	if allow != nil {
		if work = allow.countBelow(q.n); work == 0 {
			return nil
		}
	}
	over := q.Oversample
	if over < 1 {
		over = 1
	}
	c := min(work, k*over)
	parts := q.flat.threads
	if parts < 1 {
		parts = runtime.GOMAXPROCS(0)
	}
	// The scan reads a quarter (int8) or half (bf16) of the Flat's bytes.
	bytesPer := 2
	if q.kind == "int8" {
		bytesPer = 1
	}
	parts = max(1, min(parts, work*q.flat.dim*bytesPer/4/parMinFloats))
	cand := parScan(q.n, parts, blockRows(q.flat.dim, bytesPer), c, func(lo, hi int, t *topK) { q.scan(query, lo, hi, allow, t) })
	t := newTopK(min(k, c))
	for _, r := range cand.Items() {
		t.Push(Result{r.Index, dot(query, q.flat.Row(r.Index))})
	}
	return t.Sorted()
}

// scan offers the approximate scores of rows lo..hi-1 that allow holds to
// t (lo a multiple of 64 when allow is not nil).
func (q *Quantized) scan(query []float32, lo, hi int, allow *Bitset, t *topK) {
	var idx [4]int
	var out [4]float32
	nb := 0
	for wi := lo >> 6; wi<<6 < hi; wi++ {
		w := allow.word(wi) // all ones when allow is nil
		if rest := hi - wi<<6; rest < 64 {
			w &= 1<<uint(rest) - 1
		}
		if first := lo - wi<<6; first > 0 {
			w &^= 1<<uint(first) - 1
		}
		for w != 0 {
			idx[nb] = wi<<6 + bits.TrailingZeros64(w)
			w &= w - 1
			if nb++; nb == 4 {
				nb = 0
				q.score4(query, &idx, &out)
				for j, s := range out {
					if !t.Full() || s >= t.Worst().Score {
						t.Push(Result{idx[j], s})
					}
				}
			}
		}
	}
	if nb > 0 {
		for j := nb; j < 4; j++ {
			idx[j] = idx[0]
		}
		q.score4(query, &idx, &out)
		for j, s := range out[:nb] {
			if !t.Full() || s >= t.Worst().Score {
				t.Push(Result{idx[j], s})
			}
		}
	}
}

// score4 sets out to the approximate scores of the four rows idx.
func (q *Quantized) score4(query []float32, idx *[4]int, out *[4]float32) {
	d := q.flat.dim
	if q.kind == "bf16" {
		c := q.b16
		dot4BF16(query, c[idx[0]*d:idx[0]*d+d], c[idx[1]*d:idx[1]*d+d], c[idx[2]*d:idx[2]*d+d], c[idx[3]*d:idx[3]*d+d], out)
		return
	}
	c := q.i8
	dot4I8(query, c[idx[0]*d:idx[0]*d+d], c[idx[1]*d:idx[1]*d+d], c[idx[2]*d:idx[2]*d+d], c[idx[3]*d:idx[3]*d+d], out)
	for j := range out {
		out[j] *= q.scale[idx[j]]
	}
}
