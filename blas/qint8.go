package blas

import (
	"math"
	"sync"
	"unsafe"
)

// q4Int8Buf holds gemmQInt8's int8 copy of Q4 weights between calls.
var q4Int8Buf sync.Pool

// gemmQInt8 is MatMulQ under INT8 precision for m rows of A (a prompt):
// oneDNN's int8 matmul, as MatMulInt8 on Int8Weights — A's rows quantized
// per token at run time, exact int32 sums — with W as int8 per row: Int8
// as stored, Q4 requantized to one scale per row (q4RowInt8: each weight
// within half a step of 8·max|d|/127 of its Q4 value) into a buffer.
// oneDNN reads the rows as they are (wrapInt8), so storage stays
// quantized and nothing is packed. False where oneDNN has no int8 product for the CPU (the
// caller then multiplies in float32).
func gemmQInt8(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) bool {
	if int8Supported() != nil {
		return false
	}
	n, k := q.Rows, q.Cols
	w := &Int8Weights{N: n, K: k}
	if q.Format == Int8 {
		w.Q = unsafe.Slice((*int8)(unsafe.Pointer(&q.Data[0])), n*k)
		w.Scale = q.Scale
	} else {
		bp, _ := q4Int8Buf.Get().(*[]int8)
		if bp == nil || cap(*bp) < n*k {
			b := make([]int8, n*k)
			bp = &b
		}
		defer q4Int8Buf.Put(bp)
		w.Q, w.Scale = (*bp)[:n*k], make([]float32, n)
		q4ToInt8(q, w.Q, w.Scale)
	}
	w.packed = wrapInt8(w)
	if w.packed == nil {
		return false
	}
	defer w.packed.free()
	if beta == 0 {
		return matMulInt8(m, a, lda, w, nil, c, ldc)
	}
	t := make([]float32, m*n)
	if !matMulInt8(m, a, lda, w, nil, t, n) {
		return false
	}
	for i := 0; i < m; i++ {
		for j, v := range t[i*n : (i+1)*n] {
			c[i*ldc+j] = v + beta*c[i*ldc+j]
		}
	}
	return true
}

// q4RowInt8 writes the Q4 row of blocks' nibbles nib and scales sc as
// int8 dst with one scale, returned: s = 8·max|d|/127 over the row's
// block scales d, each weight round-to-even((q-8)·(d/s)) in float32, so
// |dst| ≤ 127 and dst·s is within s/2 of the Q4 weight (q-8)·d. A row of
// zero (or non-finite) scales gives zeros and 0. qw.c's kormed_q4_s8
// computes the same bytes.
func q4RowInt8(dst []int8, nib, sc []byte) float32 {
	nb := len(dst) / Q4Block
	var m float32
	for b := 0; b < nb; b++ {
		m = max(m, float32(math.Abs(float64(q4Scale(sc[2*b:])))))
	}
	s := m * 8 / 127
	if !(s > 0 && s <= math.MaxFloat32) {
		clear(dst)
		return 0
	}
	for b := 0; b < nb; b++ {
		blk, y := nib[16*b:16*b+16], dst[b*Q4Block:(b+1)*Q4Block]
		f := q4Scale(sc[2*b:]) / s
		for i := 0; i < Q4Block/2; i++ {
			y[i] = int8(math.RoundToEven(float64(float32(int(blk[i]&15)-8) * f)))
			y[i+Q4Block/2] = int8(math.RoundToEven(float64(float32(int(blk[i]>>4)-8) * f)))
		}
	}
	return s
}

// goQ4ToInt8 is q4ToInt8 in Go.
func goQ4ToInt8(q *QMatrix, dst []int8, scale []float32) {
	k := q.Cols
	parallelRows(q.Rows, q.Rows*k, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			nib, sc := q.q4Row(j)
			scale[j] = q4RowInt8(dst[j*k:(j+1)*k], nib, sc)
		}
	})
}
