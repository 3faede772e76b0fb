package blas

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// Q4 rows as int8 per row: C's bytes and scales are Go's, each weight
// within half a step of its Q4 value, |q| ≤ 127, and a zero row zeros.
func TestQ4ToInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	for _, k := range []int{32, 64, 96, 2560} {
		const n = 70
		w := randMatrix(r, n*k)
		clear(w[3*k : 4*k]) // a zero row
		for i := range w[5*k : 6*k] {
			w[5*k+i] *= 1e-3 // small scales: fp16 subnormals
		}
		q, err := Quantize(Q4, w, n, k)
		if err != nil {
			t.Fatal(err)
		}
		got, want := make([]int8, n*k), make([]int8, n*k)
		gs, ws := make([]float32, n), make([]float32, n)
		q4ToInt8(q, got, gs)
		goQ4ToInt8(q, want, ws)
		if !slices.Equal(got, want) || !slices.Equal(gs, ws) {
			t.Fatalf("k=%d: C's int8 rows differ from Go's", k)
		}
		row := make([]float32, k)
		for j := 0; j < n; j++ {
			q.DequantizeRow(j, row)
			for p, v := range row {
				x := want[j*k+p]
				if d := math.Abs(float64(x)*float64(ws[j]) - float64(v)); !(d <= float64(ws[j])*(0.5+1e-5)) || x < -127 {
					t.Fatalf("k=%d row %d: %g as %d·%g", k, j, v, x, ws[j])
				}
			}
		}
		if ws[3] != 0 || slices.ContainsFunc(want[3*k:4*k], func(x int8) bool { return x != 0 }) {
			t.Fatalf("zero row: scale %g", ws[3])
		}
	}
}

// Under INT8 precision a prompt (more than GEMVRows rows of A) through
// quantized weights is oneDNN's int8 product: A's rows quantized per token
// (quantizeRow), W's rows as int8 (Int8 as stored, Q4 by q4RowInt8), the
// int32 sums exact, so C is float32(Σ)·(sA·sW) to the bit, plus beta·C
// when beta is not 0. Skipped where the CPU has no int8 products.
func TestMatMulQInt8Precision(t *testing.T) {
	defer SetPrecision(FP32)
	if err := SetPrecision(INT8); err != nil {
		t.Skip(err)
	}
	r := rand.New(rand.NewPCG(13, 14))
	for _, f := range []QFormat{Int8, Q4} {
		for _, s := range [][3]int{{9, 5, 32}, {40, 67, 96}, {130, 300, 160}} {
			m, n, k := s[0], s[1], s[2]
			for _, beta := range []float32{0, 0.5} {
				cs := newQCase(t, r, f, m, n, k, beta)
				got := append([]float32(nil), cs.c0...)
				MatMulQ(m, cs.a, cs.lda, cs.q, beta, got, cs.ldc)
				if !gemmQInt8Ran(cs) {
					t.Skip("no oneDNN int8 product here (pure-Go build)")
				}
				wq, ws := make([]int8, n*k), make([]float32, n)
				if f == Int8 {
					for i, b := range cs.q.Data {
						wq[i] = int8(b)
					}
					copy(ws, cs.q.Scale)
				} else {
					goQ4ToInt8(cs.q, wq, ws)
				}
				xq := make([]int8, k)
				for i := 0; i < m; i++ {
					sa := quantizeRow(xq, cs.a[i*cs.lda:i*cs.lda+k])
					for j := 0; j < n; j++ {
						var acc int32
						for p := 0; p < k; p++ {
							acc += int32(xq[p]) * int32(wq[j*k+p])
						}
						want := float32(acc) * (sa * ws[j])
						if beta != 0 {
							want += beta * cs.c0[i*cs.ldc+j]
						}
						if g := got[i*cs.ldc+j]; math.Float32bits(g) != math.Float32bits(want) {
							t.Fatalf("%v %d×%d×%d β=%g: C[%d,%d] = %g, want %g", f, m, n, k, beta, i, j, g, want)
						}
					}
				}
			}
		}
	}
}

// gemmQInt8Ran is whether this build and CPU run gemmQInt8's product.
func gemmQInt8Ran(cs qCase) bool {
	c := make([]float32, cs.q.Rows*(GEMVRows+1))
	return gemmQInt8(GEMVRows+1, make([]float32, cs.q.Cols*(GEMVRows+1)), cs.q.Cols, cs.q, 0, c, cs.q.Rows)
}
