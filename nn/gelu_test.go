package nn

import (
	"math"
	"math/rand"
	"testing"
)

func TestErfExp32(t *testing.T) {
	for x := -6.0; x <= 6; x += 0.001 {
		g, w := float64(erf32(float32(x))), math.Erf(float64(float32(x)))
		if math.Abs(g-w) > 4.5e-7 { // max error of the approximation is 4.19e-7
			t.Fatalf("erf32(%g)=%.9g want %.9g", x, g, w)
		}
	}
	for x := -87.0; x <= 88; x += 0.01 {
		g, w := float64(exp32(float32(x))), math.Exp(float64(float32(x)))
		if math.Abs(g-w) > 3e-7*w {
			t.Fatalf("exp32(%g)=%.9g want %.9g", x, g, w)
		}
	}
	if exp32(-3e38) != 0 || exp32(-88) != 0 {
		t.Fatal("exp32 of very negative input not 0")
	}
}

func TestGoldenGELU(t *testing.T) {
	g := loadGolden(t).GELU
	withThreads(t, func(t *testing.T) {
		out := make([]float32, len(g.X))
		GELU(out, g.X)
		// Tighter than the shared tolerance: the erf approximations differ
		// by a few 1e-7 at most.
		closeTo(t, "GELU", out, g.Out, 2e-6, 1e-6)
		goGELU(out, g.X)
		closeTo(t, "goGELU", out, g.Out, 2e-6, 1e-6)
	})
}

func TestGELUKernels(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	in := randn(r, 70001, 3) // above the C kernels' parallel threshold
	in = append(in, 0, -10, 10, -4, 4, 1e-20, -1e30, 1e30)
	want := make([]float32, len(in))
	for i, x := range in {
		want[i] = refGELU(x)
	}
	withThreads(t, func(t *testing.T) {
		got := make([]float32, len(in))
		GELU(got, in)
		closeTo(t, "GELU", got, want, 1.5e-6, 1e-6)
		got2 := make([]float32, len(in))
		goGELU(got2, in)
		closeTo(t, "goGELU", got2, want, 1.5e-6, 1e-6)
		cp := append([]float32(nil), in...)
		GELU(cp, cp) // in place
		closeTo(t, "GELU in place", cp, want, 1.5e-6, 1e-6)
	})
}

func TestGoldenGELUBackward(t *testing.T) {
	g := loadBackward(t).Backward.GELU
	dx := make([]float32, len(g.X))
	GELUBackward(dx, g.X, g.Dout)
	closeTo(t, "GELU dx", dx, g.Dx, gtol, gtol)
}
