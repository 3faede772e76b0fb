package nn

import (
	"math"
	"math/rand"
	"testing"
)

func TestSwiGLU(t *testing.T) {
	withThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		N, F := 9, 50
		gu := randSlice(r, N*2*F, 3)
		gu[0], gu[1] = -100, 100
		out := make([]float32, N*F)
		SwiGLU(out, gu, N, F)
		want := make([]float64, N*F)
		for n := 0; n < N; n++ {
			for j := 0; j < F; j++ {
				g, u := float64(gu[n*2*F+j]), float64(gu[n*2*F+F+j])
				want[n*F+j] = g / (1 + math.Exp(-g)) * u
			}
		}
		if d := maxAbsDiff(out, want); d > 1e-4 {
			t.Fatalf("SwiGLU differs by %g", d)
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
