package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

func TestGoldenLinear(t *testing.T) {
	g := loadGolden(t).Linear
	withThreads(t, func(t *testing.T) {
		out := make([]float32, g.N*g.OC)
		Linear(out, g.X, g.W, g.B, g.N, g.C, g.OC)
		closeTo(t, "Linear", out, g.Out, gtol, gtol)
		pre := make([]float32, g.N*g.OC)
		LinearGELU(out, pre, g.X, g.W, g.B, g.N, g.C, g.OC)
		closeTo(t, "LinearGELU", out, g.OutGELU, gtol, gtol)
		closeTo(t, "LinearGELU pre", pre, g.Out, gtol, gtol)
	})
}

func TestLinearAndLinearGELU(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, sh := range [][3]int{{1, 1, 1}, {3, 5, 7}, {37, 64, 129}, {300, 16, 260}} {
		N, C, OC := sh[0], sh[1], sh[2]
		in, w, b := randn(r, N*C, 1), randn(r, OC*C, 0.2), randn(r, OC, 1)
		want := make([]float32, N*OC)
		refLinear(want, in, w, b, N, C, OC)
		withThreads(t, func(t *testing.T) {
			got := make([]float32, N*OC)
			Linear(got, in, w, b, N, C, OC)
			closeTo(t, "Linear", got, want, 1e-5, 1e-5)
			pre := make([]float32, N*OC)
			LinearGELU(got, pre, in, w, b, N, C, OC)
			closeTo(t, "LinearGELU pre", pre, want, 1e-5, 1e-5)
			g := make([]float32, len(want))
			for i, x := range want {
				g[i] = refGELU(x)
			}
			closeTo(t, "LinearGELU", got, g, 1e-5, 1e-5)
			goBiasGELU(pre, nil, nil, N, OC) // Go path: GELU in place on pre
			closeTo(t, "goBiasGELU", pre, g, 1e-5, 1e-5)
			wt := TransposeWeight(w, OC, C)
			for o := 0; o < OC; o++ {
				for c := 0; c < C; c++ {
					if wt[c*OC+o] != w[o*C+c] {
						t.Fatalf("TransposeWeight[%d,%d]", c, o)
					}
				}
			}
			LinearT(got, in, wt, b, N, C, OC)
			closeTo(t, "LinearT", got, want, 1e-5, 1e-5)
			LinearGELUT(got, nil, in, wt, b, N, C, OC)
			closeTo(t, "LinearGELUT", got, g, 1e-5, 1e-5)
			LinearGELU(got, nil, in, w, nil, N, C, OC)
			refLinear(pre, in, w, nil, N, C, OC)
			for i, x := range pre {
				pre[i] = refGELU(x)
			}
			closeTo(t, "LinearGELU no bias", got, pre, 1e-5, 1e-5)
		})
	}
}

func TestGoldenLinearBackward(t *testing.T) {
	g := loadBackward(t).Backward.Linear
	dx, dw, db := make([]float32, g.N*g.C), make([]float32, g.OC*g.C), make([]float32, g.OC)
	LinearBackward(dx, dw, db, g.Dout, g.X, g.W, g.N, g.C, g.OC)
	closeTo(t, "Linear dx", dx, g.Dx, gtol, gtol)
	closeTo(t, "Linear dw", dw, g.Dw, gtol, gtol)
	closeTo(t, "Linear db", db, g.Db, gtol, gtol)
}

// LinearTBackward on wᵀ gives LinearBackward's results (transposed dw).
func TestLinearTBackwardMatchesLinear(t *testing.T) {
	const N, C, OC = 7, 5, 9
	r := rand.New(rand.NewSource(9*100 + 9))
	in, w, dout := randn(r, N*C, 1), randn(r, OC*C, 1), randn(r, N*OC, 1)
	dx1, dw1, db1 := make([]float32, N*C), make([]float32, OC*C), make([]float32, OC)
	LinearBackward(dx1, dw1, db1, dout, in, w, N, C, OC)
	dx2, dwt, db2 := make([]float32, N*C), make([]float32, C*OC), make([]float32, OC)
	LinearTBackward(dx2, dwt, db2, dout, in, TransposeWeight(w, OC, C), N, C, OC)
	closeTo(t, "dx", dx2, dx1, 1e-6, 1e-6)
	closeTo(t, "db", db2, db1, 1e-6, 1e-6)
	closeTo(t, "dw", TransposeWeight(dwt, C, OC), dw1, 1e-6, 1e-6)
}

// LinearTPacked and LinearGELUTPacked under BF16: on packed weights,
// within bfloat16 rounding of the float32 LinearT; without packed weights,
// or past blas.BF16PackedRows rows, LinearT's result itself.
func TestLinearTPacked(t *testing.T) {
	defer blas.SetPrecision(blas.CurrentPrecision())
	if blas.SetPrecision(blas.BF16) != nil {
		t.Skip("no bf16 products here")
	}
	r := rand.New(rand.NewSource(31))
	const C, OC = 96, 200
	wt, b := randn(r, C*OC, 0.05), randn(r, OC, 0.1)
	wp := blas.PackBF16(wt, C, OC, false)
	if wp == nil {
		t.Fatal("no packed weights where bf16 products run")
	}
	for _, N := range []int{3, 64, blas.BF16PackedRows + 9} {
		in := randn(r, N*C, 1)
		out, g, pre := make([]float32, N*OC), make([]float32, N*OC), make([]float32, N*OC)
		LinearTPacked(out, in, wp, wt, b, N, C, OC)
		LinearGELUTPacked(g, pre, in, wp, wt, b, N, C, OC)
		ref, refG, refPre := make([]float32, N*OC), make([]float32, N*OC), make([]float32, N*OC)
		LinearT(ref, in, wt, b, N, C, OC)
		LinearGELUT(refG, refPre, in, wt, b, N, C, OC)
		if N > blas.BF16PackedRows {
			closeTo(t, "LinearTPacked past the packed rows", out, ref, 0, 0)
			closeTo(t, "LinearGELUTPacked past the packed rows", g, refG, 0, 0)
			continue
		}
		if N*C*OC >= 1<<18 { // where Sgemm under BF16 runs bf16 products too
			closeTo(t, "LinearTPacked vs LinearT (both bf16)", out, ref, 1e-5, 1e-5)
			closeTo(t, "LinearGELUTPacked pre vs LinearGELUT", pre, refPre, 1e-5, 1e-5)
			closeTo(t, "LinearGELUTPacked vs LinearGELUT", g, refG, 1e-5, 1e-5)
		}
		for i := range pre { // GELU of its own pre-activation
			if want := gelu32(pre[i]); g[i] != want && math.Abs(float64(g[i]-want)) > 1e-6 {
				t.Fatalf("N=%d: GELU(pre[%d]) = %v, out %v", N, i, want, g[i])
			}
		}
		blas.SetPrecision(blas.FP32)
		f32 := make([]float32, N*OC)
		LinearT(f32, in, wt, b, N, C, OC)
		blas.SetPrecision(blas.BF16)
		closeTo(t, "LinearTPacked vs float32", out, f32, 0.02, 0.02)
	}
	nilOut, ref := make([]float32, 5*OC), make([]float32, 5*OC)
	in := randn(r, 5*C, 1)
	LinearTPacked(nilOut, in, nil, wt, b, 5, C, OC)
	LinearT(ref, in, wt, b, 5, C, OC)
	closeTo(t, "LinearTPacked without packed weights", nilOut, ref, 0, 0)
}
