package nn

import (
	"math"
	"math/rand"
	"testing"
)

func TestSwiGLU(t *testing.T) {
	withThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		// A few rows, and one row of EXAONE-3.5-2.4B's 7168 (a generated
		// token) past the size where the kernels use threads.
		for _, c := range []struct{ N, F int }{{9, 50}, {1, 7168}, {12, 7168}} {
			N, F := c.N, c.F
			gu := randSlice(r, N*2*F, 3)
			gu[0], gu[1] = -100, 100
			want := make([]float64, N*F)
			for n := 0; n < N; n++ {
				for j := 0; j < F; j++ {
					g, u := float64(gu[n*2*F+j]), float64(gu[n*2*F+F+j])
					want[n*F+j] = g / (1 + math.Exp(-g)) * u
				}
			}
			for _, k := range []struct {
				name string
				f    func(out, gu []float32, N, F int)
			}{{"SwiGLU", SwiGLU}, {"goSwiGLU", goSwiGLU}} {
				out := make([]float32, N*F)
				k.f(out, gu, N, F)
				if d := maxAbsDiff(out, want); d > 1e-4 {
					t.Fatalf("%s %d×%d differs by %g", k.name, N, F, d)
				}
			}
		}
	})
}

func TestSwiGLUBackwardFD(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	N, F := 4, 10
	gu, dout := randSlice(r, N*2*F, 2), randSlice(r, N*F, 1)
	out := make([]float32, N*F)
	loss := func() float64 { SwiGLU(out, gu, N, F); return dot(out, dout) }
	dgu := make([]float32, N*2*F)
	SwiGLUBackward(dgu, dout, gu, N, F)
	fdCheckDec(t, "SwiGLU dgu", gu, dgu, 1e-2, 2e-3, loss)
}
