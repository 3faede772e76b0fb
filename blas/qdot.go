package blas

import (
	"fmt"
	"math"
	"os"
	"sync/atomic"
)

// QDot is MatMulQ's arithmetic (SetQDot).
type QDot int32

const (
	// QDotAuto multiplies in integers where that measured faster on the
	// AMD Zen 5 it was built on: one row of A (a generated token) against
	// Int8 or Q4 weights, on CPUs with AVX512-VNNI:
	// qgemv.c's kernels, which spend one or two integer dot instructions
	// per 64 weights where the float kernels convert every weight, Int8's
	// with A rounded to int16 (as accurate as float32), Q4's with QDotInt's
	// integers. Up to GEMVRows rows of A with Q4 weights also run in
	// integers (qdot.c). Int8 weights with more rows, and longer inputs,
	// where dequantizing for oneDNN's float32 sgemm outran the integer
	// kernels' per-block rescaling, stay float.
	QDotAuto QDot = iota
	// QDotFloat dequantizes the weights to float32 and multiplies them with
	// A as it is: exact to float32 rounding.
	QDotFloat
	// QDotInt quantizes A's rows to int8 blocks of 32 (Q8_0 style: one
	// float32 scale per block, round to nearest even) once per call and
	// makes every block's dot product with the weights an exact int32 sum,
	// scaled and accumulated in float32: llama.cpp's
	// ggml_vec_dot_q4_0_q8_0 and q8_0_q8_0 — AVX512-VNNI, AVX2 or scalar C
	// with cgo, Go without, the same integers everywhere. The activations'
	// rounding costs accuracy: EXAONE-3.5-2.4B's shape (2 layers, random
	// weights) has int8 logit cosine 0.9989 to float32's with it, 0.9994
	// without.
	QDotInt
)

func (d QDot) String() string {
	switch d {
	case QDotFloat:
		return "float"
	case QDotInt:
		return "int"
	}
	return "auto"
}

// ParseQDot reads "auto", "float" or "int".
func ParseQDot(s string) (QDot, error) {
	switch s {
	case "auto", "":
		return QDotAuto, nil
	case "float":
		return QDotFloat, nil
	case "int":
		return QDotInt, nil
	}
	return QDotAuto, fmt.Errorf("quantized product %q: want auto, float or int", s)
}

var qdotMode atomic.Int32

// init reads KORMED_QW_DOT (auto, float or int; auto when unset or
// unreadable).
func init() {
	d, _ := ParseQDot(os.Getenv("KORMED_QW_DOT"))
	qdotMode.Store(int32(d))
}

// SetQDot chooses MatMulQ's arithmetic (QDotAuto by default, or the
// environment's KORMED_QW_DOT).
func SetQDot(d QDot) { qdotMode.Store(int32(d)) }

// CurrentQDot reports SetQDot's choice.
func CurrentQDot() QDot { return QDot(qdotMode.Load()) }

// useIntDot is whether a product of m rows of A with weights of format f
// runs in integers.
func useIntDot(f QFormat, m int) bool {
	switch QDot(qdotMode.Load()) {
	case QDotInt:
		return true
	case QDotFloat:
		return false
	}
	return f == Q4 && m <= GEMVRows
}

// useGEMVInt is whether one row of A against weights of format f may run
// in qgemv.c's integer kernels (where the CPU has them): for Q4 under
// QDotAuto and QDotInt (the same integers as QDotInt's other kernels), for
// Int8 under QDotAuto only (int16 activations, as accurate as the float
// kernel: QDotInt's int8 activations are the other arithmetic).
func useGEMVInt(f QFormat) bool {
	switch QDot(qdotMode.Load()) {
	case QDotFloat:
		return false
	case QDotInt:
		return f == Q4
	}
	return true
}

// q8Pad is the padding of a quantized activation row: whole vectors of
// 64 bytes for the kernels.
const q8Pad = 64

// q8Act is the rows of A quantized for the integer products: row i has kp
// (k rounded up to q8Pad) int8 q, zero past k; kp/32 block scales d, d =
// max|x|/127 over the block and q = round-to-even(x·(1/d)) in float32;
// and kp/4 int32 c = -off·(sum of 4 q) for each 4 q, off 128 for Int8
// weights and 8 for Q4 (the AVX512-VNNI kernels' unsigned weights).
type q8Act struct {
	kp int
	q  []int8
	d  []float32
	c  []int32
}

func newQ8Act(m, k int) *q8Act {
	kp := (k + q8Pad - 1) / q8Pad * q8Pad
	return &q8Act{kp: kp, q: make([]int8, m*kp), d: make([]float32, m*kp/32), c: make([]int32, m*kp/4)}
}

// goQuantAct quantizes A [m,k] (row stride lda) for weights of format f.
func goQuantAct(f QFormat, m, k int, a []float32, lda int) *q8Act {
	qa := newQ8Act(m, k)
	kp := qa.kp
	parallelRows(m, m*k, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			quantizeQ8Row(f, a[i*lda:i*lda+k], qa.q[i*kp:(i+1)*kp], qa.d[i*kp/32:(i+1)*kp/32], qa.c[i*kp/4:(i+1)*kp/4])
		}
	})
	return qa
}

// quantizeQ8Row quantizes x into q [kp], d [kp/32] and c [kp/4] (q8Act):
// qdot.c's quant_row.
func quantizeQ8Row(f QFormat, x []float32, q []int8, d []float32, c []int32) {
	k := len(x)
	for b := range d {
		e := min(max(k-32*b, 0), 32)
		var amax float32
		for _, v := range x[min(32*b, k) : min(32*b, k)+e] {
			amax = max(amax, math.Float32frombits(math.Float32bits(v)&^(1<<31)))
		}
		s := amax / 127
		var id float32
		if s != 0 {
			id = 1 / s
		}
		d[b] = s
		for i := 0; i < 32; i++ {
			var r float64
			if i < e {
				r = math.RoundToEven(float64(x[32*b+i] * id))
			}
			q[32*b+i] = int8(max(-127, min(127, r)))
		}
	}
	off := int32(8)
	if f == Int8 {
		off = 128
	}
	for l := range c {
		c[l] = -off * (int32(q[4*l]) + int32(q[4*l+1]) + int32(q[4*l+2]) + int32(q[4*l+3]))
	}
}

// qdotRow is weight row j's product with activation row i of qa in the
// order of qdot.c's scalar level: per block the int32 sum times the
// block's scale product, added in block order; an Int8 row's scale last.
func qdotRow(q *QMatrix, j int, qa *q8Act, i int) float32 {
	k, kp := q.Cols, qa.kp
	x, d := qa.q[i*kp:(i+1)*kp], qa.d[i*kp/32:(i+1)*kp/32]
	var acc float32
	if q.Format == Int8 {
		r := q.Data[j*k : (j+1)*k]
		for b := 0; 32*b < k; b++ {
			var s int32
			for p := 32 * b; p < min(k, 32*b+32); p++ {
				s += int32(int8(r[p])) * int32(x[p])
			}
			acc += float32(float32(s) * d[b])
		}
		return float32(acc * q.Scale[j])
	}
	nib, sc := q.q4Row(j)
	for b := 0; b < k/32; b++ {
		blk, xb := nib[16*b:16*b+16], x[32*b:32*b+32]
		var s int32
		for p := 0; p < 16; p++ {
			s += (int32(blk[p]&15)-8)*int32(xb[p]) + (int32(blk[p]>>4)-8)*int32(xb[p+16])
		}
		dw := q4Scale(sc[2*b:])
		acc += float32(float32(s) * float32(dw*d[b]))
	}
	return acc
}

// goQDot is the integer product in Go: each goroutine takes a block of
// W's rows and runs each against every row of the quantized A.
func goQDot(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	qa := goQuantAct(q.Format, m, q.Cols, a, lda)
	parallelRows(q.Rows, m*q.Rows*q.Cols, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			for i := 0; i < m; i++ {
				s := qdotRow(q, j, qa, i)
				o := &c[i*ldc+j]
				if beta == 0 {
					*o = s
				} else {
					*o = s + float32(beta**o)
				}
			}
		}
	})
}
