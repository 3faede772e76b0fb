package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

func TestGoldenLayerNorm(t *testing.T) {
	g := loadGolden(t).LayerNorm
	withThreads(t, func(t *testing.T) {
		out, mean, rstd := make([]float32, g.N*g.C), make([]float32, g.N), make([]float32, g.N)
		LayerNorm(out, mean, rstd, g.X, g.W, g.B, g.N, g.C, g.Eps)
		closeTo(t, "LayerNorm", out, g.Out, gtol, gtol)
		closeTo(t, "mean", mean, g.Mean, gtol, gtol)
		closeTo(t, "rstd", rstd, g.Rstd, gtol, gtol)
		goLayerNorm(out, nil, nil, nil, g.X, nil, nil, g.W, g.B, g.N, g.C, g.Eps)
		closeTo(t, "goLayerNorm", out, g.Out, gtol, gtol)
		AddLayerNorm(out, nil, nil, nil, g.X, g.R, g.W, g.B, g.N, g.C, g.EpsAdd)
		closeTo(t, "AddLayerNorm", out, g.OutAdd, gtol, gtol)
	})
}

func TestLayerNormKernels(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {33, 384}, {5, 1000}, {70, 1024}} {
		N, C := sh[0], sh[1]
		a, res := randn(r, N*C, 2), randn(r, N*C, 1)
		for i := range a {
			a[i] += 5 // offset mean: a one-pass E[x²]-E[x]² would lose digits
		}
		w, b := randn(r, C, 1), randn(r, C, 1)
		want := make([]float32, N*C)
		wm, wr := refLayerNorm(want, a, w, b, N, C, 1e-12)
		sum := make([]float32, N*C)
		for i := range sum {
			sum[i] = a[i] + res[i]
		}
		wantAdd := make([]float32, N*C)
		wam, war := refLayerNorm(wantAdd, sum, w, b, N, C, 1e-5)
		withThreads(t, func(t *testing.T) {
			out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
			LayerNorm(out, mean, rstd, a, w, b, N, C, 1e-12)
			closeTo(t, "LayerNorm", out, want, 2e-5, 2e-5)
			closeTo(t, "LayerNorm mean", mean, wm, 1e-5, 1e-6)
			closeTo(t, "LayerNorm rstd", rstd, wr, 1e-5, 1e-5)
			cp := append([]float32(nil), a...)
			LayerNorm(cp, nil, nil, cp, w, b, N, C, 1e-12)
			closeTo(t, "LayerNorm in place", cp, want, 2e-5, 2e-5)
			goLayerNorm(out, nil, mean, rstd, a, nil, nil, w, b, N, C, 1e-12)
			closeTo(t, "goLayerNorm", out, want, 2e-5, 2e-5)
			s := make([]float32, N*C)
			AddLayerNorm(out, s, mean, rstd, a, res, w, b, N, C, 1e-5)
			closeTo(t, "AddLayerNorm", out, wantAdd, 2e-5, 2e-5)
			closeTo(t, "AddLayerNorm sum", s, sum, 0, 0)
			closeTo(t, "AddLayerNorm mean", mean, wam, 1e-5, 1e-6)
			closeTo(t, "AddLayerNorm rstd", rstd, war, 1e-5, 1e-5)
			cp = append([]float32(nil), a...)
			AddLayerNorm(cp, nil, nil, nil, cp, res, w, b, N, C, 1e-5)
			closeTo(t, "AddLayerNorm aliased", cp, wantAdd, 2e-5, 2e-5)
			goLayerNorm(out, nil, nil, nil, a, nil, res, w, b, N, C, 1e-5)
			closeTo(t, "goLayerNorm add", out, wantAdd, 2e-5, 2e-5)
			// AddBiasLayerNorm: a + ab + r with the bias split off a.
			ab := randn(r, C, 1)
			a2 := make([]float32, N*C)
			for i := range a2 {
				a2[i] = a[i] - ab[i%C]
			}
			s2 := make([]float32, N*C)
			for i := range s2 {
				s2[i] = (a2[i] + ab[i%C]) + res[i]
			}
			wantBias := make([]float32, N*C)
			refLayerNorm(wantBias, s2, w, b, N, C, 1e-5)
			AddBiasLayerNorm(out, nil, nil, nil, a2, ab, res, w, b, N, C, 1e-5)
			closeTo(t, "AddBiasLayerNorm", out, wantBias, 2e-5, 2e-5)
			goLayerNorm(out, nil, nil, nil, a2, ab, res, w, b, N, C, 1e-5)
			closeTo(t, "goLayerNorm bias", out, wantBias, 2e-5, 2e-5)
		})
	}
}

func TestGoldenLayerNormBackward(t *testing.T) {
	g := loadBackward(t).Backward.LayerNorm
	withThreads(t, func(t *testing.T) {
		out, mean, rstd := make([]float32, g.N*g.C), make([]float32, g.N), make([]float32, g.N)
		LayerNorm(out, mean, rstd, g.X, g.W, g.B, g.N, g.C, g.Eps)
		dx, dw, db := make([]float32, g.N*g.C), make([]float32, g.C), make([]float32, g.C)
		LayerNormBackward(dx, dw, db, g.Dout, g.X, g.W, mean, rstd, g.N, g.C)
		closeTo(t, "dx", dx, g.Dx, gtol, gtol)
		closeTo(t, "dw", dw, g.Dw, gtol, gtol)
		closeTo(t, "db", db, g.Db, gtol, gtol)
		// Gradients accumulate.
		LayerNormBackward(dx, dw, db, g.Dout, g.X, g.W, mean, rstd, g.N, g.C)
		closeTo(t, "2·db", db, scaled(g.Db, 2), gtol, gtol)
		closeTo(t, "2·dx", dx, scaled(g.Dx, 2), gtol, gtol)
	})
}

// LayerNormBackward is bit-identical across runs at a fixed thread count.
func TestLayerNormBackwardDeterministic(t *testing.T) {
	defer blas.SetThreads(blas.Threads())
	blas.SetThreads(4)
	const N, C = 257, 48
	r := rand.New(rand.NewSource(1*100 + 1))
	x, w, b, dout := randn(r, N*C, 2), randn(r, C, 1), randn(r, C, 1), randn(r, N*C, 1)
	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	LayerNorm(out, mean, rstd, x, w, b, N, C, 1e-5)
	var first []float32
	for run := 0; run < 20; run++ {
		dw := make([]float32, C)
		LayerNormBackward(nil, dw, nil, dout, x, w, mean, rstd, N, C)
		if first == nil {
			first = dw
			continue
		}
		for i := range dw {
			if math.Float32bits(dw[i]) != math.Float32bits(first[i]) {
				t.Fatalf("run %d: dw[%d] = %g, first run %g", run, i, dw[i], first[i])
			}
		}
	}
}

// The backward reductions in use (C with cgo) agree with the Go kernels:
// the bias gradient bit for bit, LayerNorm's to float32 rounding.
func TestBackwardKernelsAgree(t *testing.T) {
	const N, C = 301, 72
	r := rand.New(rand.NewSource(5))
	dout, x, w := randn(r, N*C, 1), randn(r, N*C, 2), randn(r, C, 1)
	a, b := make([]float32, C), make([]float32, C)
	kBiasBackward(a, dout, N, C)
	goBiasBackward(b, dout, N, C)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("bias: %d: %g vs %g", i, a[i], b[i])
		}
	}
	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	LayerNorm(out, mean, rstd, x, w, w, N, C, 1e-5)
	dx1, dw1, db1 := make([]float32, N*C), make([]float32, C), make([]float32, C)
	dx2, dw2, db2 := make([]float32, N*C), make([]float32, C), make([]float32, C)
	kLayerNormBackward(dx1, dw1, db1, dout, x, w, mean, rstd, N, C)
	goLayerNormBackward(dx2, dw2, db2, dout, x, w, mean, rstd, N, C)
	closeTo(t, "ln dx", dx1, dx2, 1e-6, 1e-6)
	closeTo(t, "ln dw", dw1, dw2, 1e-6, 1e-6)
	closeTo(t, "ln db", db1, db2, 1e-6, 1e-6)
}
