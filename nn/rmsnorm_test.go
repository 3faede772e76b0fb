package nn

import (
	"math"
	"math/rand"
	"testing"
)

func TestRMSNorm(t *testing.T) {
	withThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		N, C := 37, 96
		in := randSlice(r, N*C, 2)
		w := randSlice(r, C, 1)
		out := make([]float32, N*C)
		rstd := make([]float32, N)
		RMSNorm(out, rstd, in, w, N, C, 1e-5)
		want := make([]float64, N*C)
		for i := 0; i < N; i++ {
			var s float64
			for j := 0; j < C; j++ {
				s += float64(in[i*C+j]) * float64(in[i*C+j])
			}
			rs := 1 / math.Sqrt(s/float64(C)+1e-5)
			if d := math.Abs(float64(rstd[i]) - rs); d > 1e-6*rs {
				t.Fatalf("rstd[%d] = %g, want %g", i, rstd[i], rs)
			}
			for j := 0; j < C; j++ {
				want[i*C+j] = float64(w[j]) * float64(in[i*C+j]) * rs
			}
		}
		if d := maxAbsDiff(out, want); d > 1e-5 {
			t.Fatalf("RMSNorm differs by %g", d)
		}
		RMSNorm(in, nil, in, w, N, C, 1e-5) // in place
		if d := maxAbsDiff(in, want); d > 1e-5 {
			t.Fatalf("in-place RMSNorm differs by %g", d)
		}
	})
}

func TestRMSNormBackwardFD(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	N, C := 5, 24
	in, w, dout := randSlice(r, N*C, 1.5), randSlice(r, C, 1), randSlice(r, N*C, 1)
	out, rstd := make([]float32, N*C), make([]float32, N)
	loss := func() float64 { RMSNorm(out, rstd, in, w, N, C, 1e-5); return dot(out, dout) }
	loss()
	din, dw := make([]float32, N*C), make([]float32, C)
	RMSNormBackward(din, dw, dout, in, w, rstd, N, C)
	fdCheckDec(t, "RMSNorm din", in, din, 1e-2, 2e-3, loss)
	fdCheckDec(t, "RMSNorm dw", w, dw, 1e-2, 2e-3, loss)
	// Accumulation.
	din2 := append([]float32(nil), din...)
	RMSNormBackward(din2, nil, dout, in, w, rstd, N, C)
	for i := range din {
		if math.Abs(float64(din2[i]-2*din[i])) > 1e-5 {
			t.Fatalf("din does not accumulate at %d: %g vs 2·%g", i, din2[i], din[i])
		}
	}
}
