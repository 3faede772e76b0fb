package blas

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/kormed/kormed/safetensors"
)

// QFormat is how a QMatrix stores its weights.
type QFormat uint8

const (
	// Int8 is symmetric per-row (per output channel) int8: row j holds
	// int8 q and one float32 scale s_j = max|w_j|/127, weight q·s_j.
	Int8 QFormat = 1
	// Q4 is llama.cpp's Q4_0 (and package gguf's): each run of Q4Block
	// weights along a row is one block of an fp16 scale d and Q4Block/2
	// bytes of 4-bit q (element i in the low nibble of byte i, element
	// i+16 in its high nibble), weight (q-8)·d, d = m/-8 for m the
	// block's element of largest magnitude. Rows must be a multiple of
	// Q4Block long. A QMatrix keeps the blocks' nibbles and scales apart
	// (see Data); Q4_0Row gives a row's blocks as Q4_0 bytes.
	Q4 QFormat = 2
)

func (f QFormat) String() string {
	switch f {
	case Int8:
		return "int8"
	case Q4:
		return "q4"
	}
	return fmt.Sprintf("QFormat(%d)", uint8(f))
}

// Q4Block is the weights in one Q4 block (ggml's QK4_0).
const Q4Block = 32

// q4Scale is the fp16 scale d at the start of p, as float32.
func q4Scale(p []byte) float32 { return safetensors.F16ToFloat32(binary.LittleEndian.Uint16(p)) }

// q4Bytes is the size of one Q4 block: the fp16 scale and the nibbles.
const q4Bytes = 2 + Q4Block/2

// QMatrix is a weight matrix W [Rows,Cols] (PyTorch's Linear layout:
// [out,in]) quantized to Format, rows contiguous.
type QMatrix struct {
	Format     QFormat
	Rows, Cols int
	// Data holds the weights. Int8: the rows, Cols bytes each (int8
	// values). Q4: every block's 16 bytes of nibbles, row by row, then
	// every block's fp16 scale (2 bytes, little-endian) in the same order;
	// block b of row j is nibbles Data[16i:16i+16] and scale at
	// Data[16n+2i:] for i = j·Cols/Q4Block + b and n the blocks in all.
	// The generated token's kernel (qgemv.c) streams the nibbles and
	// a separate, eight times smaller, stream of scales: on an Intel Xeon
	// with AMX (family 6 model 167), one token through eight 2.4B-shape
	// layers ran at 16.4 GB/s against 15.4 with Q4_0's 18-byte blocks
	// (BenchmarkQ4Token; 18.2 against 16.7 in a C harness).
	Data []byte
	// Scale is Int8's per-row scales (nil for Q4, whose scales follow
	// the nibbles in Data).
	Scale []float32
}

// rowBytes is the bytes of one row: Int8's row in Data, or Q4's
// nibbles and scales of one row together (which Data keeps apart).
func (q *QMatrix) rowBytes() int {
	if q.Format == Int8 {
		return q.Cols
	}
	return q.Cols / Q4Block * q4Bytes
}

// q4Row is row j of a Q4 matrix: its blocks' nibbles (16 bytes each)
// and fp16 scales (2 bytes each).
func (q *QMatrix) q4Row(j int) (nib, sc []byte) {
	nb := q.Cols / Q4Block
	off := q.Rows * nb * (Q4Block / 2)
	return q.Data[j*nb*(Q4Block/2) : (j+1)*nb*(Q4Block/2)], q.Data[off+j*nb*2 : off+(j+1)*nb*2]
}

// Q4_0Row appends row j of a Q4 matrix to dst as ggml's Q4_0 blocks (per
// block the fp16 scale, then the 16 bytes of nibbles: a GGUF Q4_0 row).
func (q *QMatrix) Q4_0Row(dst []byte, j int) []byte {
	if q.Format != Q4 {
		panic(fmt.Sprintf("blas.QMatrix.Q4_0Row: a %v matrix", q.Format))
	}
	nib, sc := q.q4Row(j)
	for b := 0; b < q.Cols/Q4Block; b++ {
		dst = append(dst, sc[2*b:2*b+2]...)
		dst = append(dst, nib[16*b:16*b+16]...)
	}
	return dst
}

// Q4FromQ4_0 is the Q4 matrix [rows,cols] whose rows are ggml's Q4_0
// blocks b (a GGUF Q4_0 tensor's bytes): Q4_0Row's inverse.
func Q4FromQ4_0(rows, cols int, b []byte) (*QMatrix, error) {
	if rows < 0 || cols < 0 || cols%Q4Block != 0 {
		return nil, fmt.Errorf("blas.Q4FromQ4_0: %d×%d, want rows of a multiple of %d", rows, cols, Q4Block)
	}
	q := &QMatrix{Format: Q4, Rows: rows, Cols: cols}
	rb := q.rowBytes()
	if len(b) != rows*rb {
		return nil, fmt.Errorf("blas.Q4FromQ4_0: %d bytes for %d×%d, want %d", len(b), rows, cols, rows*rb)
	}
	q.Data = make([]byte, len(b))
	for j := 0; j < rows; j++ {
		nib, sc := q.q4Row(j)
		for i, r := 0, b[j*rb:(j+1)*rb]; i < cols/Q4Block; i++ {
			copy(sc[2*i:], r[q4Bytes*i:q4Bytes*i+2])
			copy(nib[16*i:], r[q4Bytes*i+2:q4Bytes*(i+1)])
		}
	}
	return q, nil
}

// setRows copies part's rows into q from row j0 (the same format and
// Cols).
func (q *QMatrix) setRows(j0 int, part *QMatrix) {
	if q.Format == Int8 {
		copy(q.Data[j0*q.Cols:], part.Data)
		copy(q.Scale[j0:], part.Scale)
		return
	}
	for r := 0; r < part.Rows; r++ {
		nib, sc := q.q4Row(j0 + r)
		pn, ps := part.q4Row(r)
		copy(nib, pn)
		copy(sc, ps)
	}
}

// Bytes is the memory of the quantized weights and their scales.
func (q *QMatrix) Bytes() int { return len(q.Data) + 4*len(q.Scale) }

// Quantize returns w [rows,cols] (row-major) in format f. Q4 needs cols
// to be a multiple of Q4Block.
func Quantize(f QFormat, w []float32, rows, cols int) (*QMatrix, error) {
	if rows < 0 || cols < 0 || len(w) < rows*cols {
		return nil, fmt.Errorf("blas.Quantize: %d values for %d×%d", len(w), rows, cols)
	}
	q := &QMatrix{Format: f, Rows: rows, Cols: cols}
	switch f {
	case Int8:
		q.Scale = make([]float32, rows)
	case Q4:
		if cols%Q4Block != 0 {
			return nil, fmt.Errorf("blas.Quantize: q4 rows of %d values, want a multiple of %d", cols, Q4Block)
		}
	default:
		return nil, fmt.Errorf("blas.Quantize: unknown format %v", f)
	}
	rb := q.rowBytes()
	q.Data = make([]byte, rows*rb)
	parallelRows(rows, rows*cols, func(r0, r1 int) {
		var blk [q4Bytes]byte
		for j := r0; j < r1; j++ {
			src := w[j*cols : (j+1)*cols]
			if f == Int8 {
				q.Scale[j] = quantizeInt8Row(q.Data[j*rb:(j+1)*rb], src)
				continue
			}
			nib, sc := q.q4Row(j)
			for b := 0; b < cols/Q4Block; b++ {
				QuantizeQ4BlockSearch(blk[:], src[b*Q4Block:(b+1)*Q4Block])
				copy(sc[2*b:], blk[:2])
				copy(nib[16*b:], blk[2:])
			}
		}
	})
	return q, nil
}

// QuantizeBF16 is Quantize of bfloat16 weights w [rows,cols] (the bits),
// widened to float32 a block of rows at a time: without a float32 copy
// of the whole matrix.
func QuantizeBF16(f QFormat, w []uint16, rows, cols int) (*QMatrix, error) {
	if rows < 0 || cols < 0 || len(w) < rows*cols {
		return nil, fmt.Errorf("blas.QuantizeBF16: %d values for %d×%d", len(w), rows, cols)
	}
	out := &QMatrix{Format: f, Rows: rows, Cols: cols}
	per := max(1, min(rows, widenBlock/max(cols, 1)))
	buf := make([]float32, per*cols)
	for j0 := 0; j0 < rows; j0 += per {
		nr := min(per, rows-j0)
		x := buf[:nr*cols]
		for i, h := range w[j0*cols : (j0+nr)*cols] {
			x[i] = math.Float32frombits(uint32(h) << 16)
		}
		q, err := Quantize(f, x, nr, cols)
		if err != nil {
			return nil, err
		}
		if out.Data == nil {
			out.Data = make([]byte, rows*q.rowBytes())
			if f == Int8 {
				out.Scale = make([]float32, rows)
			}
		}
		out.setRows(j0, q)
	}
	if out.Data == nil {
		return Quantize(f, nil, rows, cols)
	}
	return out, nil
}

// quantizeInt8Row writes round(x/s) to dst and returns s = max|x|/127.
func quantizeInt8Row(dst []byte, x []float32) float32 {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	s := amax / 127
	if s == 0 {
		clear(dst)
		return 0
	}
	for i, v := range x {
		r := math.Round(float64(v) / float64(s))
		dst[i] = byte(int8(max(-127, min(127, r))))
	}
	return s
}

// QuantizeQ4Block writes the Q4 block (18 bytes) of Q4Block values x:
// ggml's quantize_row_q4_0_ref, so that the bytes are a GGUF Q4_0 block.
func QuantizeQ4Block(dst []byte, x []float32) {
	var amax, m float32
	for _, v := range x[:Q4Block] {
		if a := float32(math.Abs(float64(v))); amax < a {
			amax, m = a, v
		}
	}
	d := m / -8
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, safetensors.Float32ToF16(d))
	const half = Q4Block / 2
	q := func(v float32) byte {
		// (int8_t)(x0 + 8.5f): x0 ≥ -8, so the truncation is a floor.
		return byte(min(15, int8(float32(v*id)+8.5)))
	}
	for j := 0; j < half; j++ {
		dst[2+j] = q(x[j]) | q(x[half+j])<<4
	}
}

// q4Tries are the divisors t of QuantizeQ4BlockSearch's scales m/t: the
// reference's -8 (m at code 0) and smaller steps, and m at code 15.
var q4Tries = [...]float32{-8, -7.75, -7.5, -7.25, -7, 7, 7.25, 7.5}

// QuantizeQ4BlockSearch writes the Q4 block (18 bytes, the Q4_0 layout,
// so GGUF readers and llama.cpp read it as any Q4_0 block) of Q4Block
// values x with the scale, of a few candidates, whose codes leave the
// least squared error: m/t for m the element of largest magnitude and t
// each of q4Tries, then the least-squares scale Σx·c/Σc² of the best
// codes c (the weights' q-8); every candidate rounded to fp16 first, as
// stored. QuantizeQ4Block's m/-8 is the first candidate, so the error is
// never larger than its.
func QuantizeQ4BlockSearch(dst []byte, x []float32) {
	x = x[:Q4Block]
	var amax, m float32
	for _, v := range x {
		if a := float32(math.Abs(float64(v))); amax < a {
			amax, m = a, v
		}
	}
	var codes, best [Q4Block]int8
	try := func(h uint16) float32 {
		d := safetensors.F16ToFloat32(h)
		var id float32
		if d != 0 {
			id = 1 / d
		}
		var e float32
		for i, v := range x {
			// Round half up, as the reference's trunc(x/d + 8.5), clamped.
			c := max(0, min(15, int32(v*id+8.5))) - 8
			codes[i] = int8(c)
			r := v - float32(c)*d
			e += r * r
		}
		return e
	}
	bh := safetensors.Float32ToF16(m / -8)
	be := try(bh)
	best = codes
	for _, t := range q4Tries[1:] {
		h := safetensors.Float32ToF16(m / t)
		if e := try(h); e < be {
			bh, be, best = h, e, codes
		}
	}
	var xc, cc float64
	for i, v := range x {
		xc += float64(v) * float64(best[i])
		cc += float64(best[i]) * float64(best[i])
	}
	if cc > 0 {
		if h := safetensors.Float32ToF16(float32(xc / cc)); h != bh {
			if e := try(h); e < be {
				bh, best = h, codes
			}
		}
	}
	binary.LittleEndian.PutUint16(dst, bh)
	const half = Q4Block / 2
	for j := 0; j < half; j++ {
		dst[2+j] = byte(best[j]+8) | byte(best[half+j]+8)<<4
	}
}

// DequantizeRow writes row j of W as float32 to dst [Cols].
func (q *QMatrix) DequantizeRow(j int, dst []float32) {
	dst = dst[:q.Cols]
	if q.Format == Int8 {
		rb := q.rowBytes()
		s := q.Scale[j]
		for i, b := range q.Data[j*rb : (j+1)*rb] {
			dst[i] = float32(int8(b)) * s
		}
		return
	}
	nib, sc := q.q4Row(j)
	for b := 0; b < q.Cols/Q4Block; b++ {
		blk, y := nib[16*b:16*b+16], dst[b*Q4Block:(b+1)*Q4Block]
		d := q4Scale(sc[2*b:])
		for i := 0; i < Q4Block/2; i++ {
			y[i] = float32(int(blk[i]&15)-8) * d
			y[i+Q4Block/2] = float32(int(blk[i]>>4)-8) * d
		}
	}
}

// MatMulQ computes C = A·Wᵀ + beta·C for a float32 A [m,q.Cols] (row
// stride lda) and the quantized W: a PyTorch nn.Linear whose weight is
// kept quantized. SetQDot chooses the arithmetic. One row of A (a
// generated token) runs, where the CPU has AVX512-VNNI and SetQDot allows
// (useGEMVInt), in qgemv.c's integer kernels. In integers (qdot.c)
// A's rows are quantized to int8 blocks of 32 and multiplied with the
// weights llama.cpp's way, for any m: weight rows in blocks per thread,
// against tiles of A's rows, up to two weight rows and four rows of A per
// pass. In float32 the result is the product of A and the dequantized
// weights (to summation order): up to GEMVRows rows of A run in a kernel
// that reads each weight once and dequantizes it in registers; longer
// inputs (a prompt) dequantize W block by block into a float32 buffer for
// a float32 Sgemm; under BF16 precision, on a CPU with AVX512-BF16 or AMX,
// into a bfloat16 buffer for oneDNN's bf16 products instead, A rounded to
// bfloat16 as MatMulBF16 rounds it; under INT8 precision, where oneDNN
// has int8 products, as those (gemmQInt8: A per token, W's rows as int8)
// instead. The integer paths, where SetQDot picks them, come first.
//
// MatMulQ panics on a stride smaller than its row or a slice too short for
// the shape, as Sgemm does.
func MatMulQ(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	yield()
	n, k := q.Rows, q.Cols
	if m < 0 {
		panic(fmt.Sprintf("blas.MatMulQ: negative m=%d", m))
	}
	if m == 0 || n == 0 {
		return
	}
	check("C", false, m, n, c, ldc)
	if k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	check("A", false, m, k, a, lda)
	if len(q.Data) != n*q.rowBytes() || (q.Format == Int8) != (len(q.Scale) == n) {
		panic(fmt.Sprintf("blas.MatMulQ: %v matrix %d×%d with %d bytes and %d scales", q.Format, n, k, len(q.Data), len(q.Scale)))
	}
	if m == 1 && useGEMVInt(q.Format) && gemvInt(a, q, beta, c) {
		return
	}
	if useIntDot(q.Format, m) {
		qdot(m, a, lda, q, beta, c, ldc)
		return
	}
	if m <= GEMVRows {
		gemvQ(m, a, lda, q, beta, c, ldc)
		return
	}
	switch Precision(precision.Load()) {
	case BF16:
		if gemmQBF16(m, a, lda, q, beta, c, ldc) {
			return
		}
	case INT8:
		if gemmQInt8(m, a, lda, q, beta, c, ldc) {
			return
		}
	}
	dequantGemm(m, a, lda, q, beta, c, ldc)
}

// dequantGemm dequantizes blocks of W's rows to float32 and multiplies
// them with a float32 sgemm (whatever the precision, as widenGemm).
func dequantGemm(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	n, k := q.Rows, q.Cols
	rows := min(max(64, widenBlock/k), n)
	need := rows * k
	bp, _ := widenBuf.Get().(*[]float32)
	if bp == nil || cap(*bp) < need {
		b := make([]float32, need)
		bp = &b
	}
	buf := (*bp)[:need]
	for j0 := 0; j0 < n; j0 += rows {
		nr := min(rows, n-j0)
		dequantRows(q, j0, nr, buf[:nr*k])
		sgemm(false, true, m, nr, k, 1, a, lda, buf, k, beta, c[j0:], ldc)
	}
	widenBuf.Put(bp)
}

// goDequantRows writes rows j0…j0+nr-1 of q to dst [nr,Cols].
func goDequantRows(q *QMatrix, j0, nr int, dst []float32) {
	k := q.Cols
	parallelRows(nr, nr*k, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			q.DequantizeRow(j0+r, dst[r*k:(r+1)*k])
		}
	})
}

// qRowBuf holds one dequantized weight row per goroutine of goGemvQ.
var qRowBuf sync.Pool

// goGemvQ is the pure-Go product: each goroutine takes a block of W's
// rows, dequantizes each once and multiplies it with every row of A.
func goGemvQ(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	n, k := q.Rows, q.Cols
	parallelRows(n, m*n*k, func(j0, j1 int) {
		bp, _ := qRowBuf.Get().(*[]float32)
		if bp == nil || cap(*bp) < k {
			b := make([]float32, k)
			bp = &b
		}
		wr := (*bp)[:k]
		for j := j0; j < j1; j++ {
			q.DequantizeRow(j, wr)
			for i := 0; i < m; i++ {
				ar := a[i*lda : i*lda+k]
				var s0, s1, s2, s3 float32
				p := 0
				for ; p+4 <= k; p += 4 {
					s0 += ar[p] * wr[p]
					s1 += ar[p+1] * wr[p+1]
					s2 += ar[p+2] * wr[p+2]
					s3 += ar[p+3] * wr[p+3]
				}
				for ; p < k; p++ {
					s0 += ar[p] * wr[p]
				}
				s := (s0 + s1) + (s2 + s3)
				o := &c[i*ldc+j]
				if beta == 0 {
					*o = s
				} else {
					*o = s + beta**o
				}
			}
		}
		qRowBuf.Put(bp)
	})
}
