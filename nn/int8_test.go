package nn

import (
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

// LinearInt8 and LinearGELUInt8 equal their float32 forms run on the
// dequantized product: MatMulInt8, then the float32 bias (and GELU).
func TestLinearInt8(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	const N, C, OC = 37, 96, 200
	in, w, b := randn(r, N*C, 1), randn(r, OC*C, 0.05), randn(r, OC, 0.1)
	q := blas.QuantizeInt8(w, OC, C, false)
	withThreads(t, func(t *testing.T) {
		prod := make([]float32, N*OC)
		blas.MatMulInt8(N, in, C, q, prod, OC)
		out, g := make([]float32, N*OC), make([]float32, N*OC)
		LinearInt8(out, in, q, b, N, C, OC)
		LinearGELUInt8(g, in, q, b, N, C, OC)
		want, wantG := make([]float32, N*OC), make([]float32, N*OC)
		for i := 0; i < N; i++ {
			for j := 0; j < OC; j++ {
				x := prod[i*OC+j] + b[j]
				want[i*OC+j], wantG[i*OC+j] = x, gelu32(x)
			}
		}
		closeTo(t, "LinearInt8", out, want, 0, 0)
		closeTo(t, "LinearGELUInt8", g, wantG, 1e-6, 1e-5)
		// And within int8 error of the float32 Linear.
		f32 := make([]float32, N*OC)
		Linear(f32, in, w, b, N, C, OC)
		closeTo(t, "LinearInt8 vs Linear", out, f32, 0.05, 0.02)
	})
}

// FFNInt8 is LinearGELUInt8 then LinearInt8, bit for bit, whether it runs
// fused (blas.MatMulInt8FFN: enough rows for two tiles of 64 a thread) or
// not, with a last tile that is partial; the fused form leaves g alone.
func TestFFNInt8(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	const C, F = 96, 384
	w1, b1 := randn(r, F*C, 0.05), randn(r, F, 0.1)
	w2 := randn(r, C*F, 0.05)
	q1, q2 := blas.QuantizeInt8(w1, F, C, false), blas.QuantizeInt8(w2, C, F, false)
	for _, N := range []int{5, 130, 300, 1000} {
		in := randn(r, N*C, 1)
		withThreads(t, func(t *testing.T) {
			g, want := make([]float32, N*F), make([]float32, N*C)
			LinearGELUInt8(g, in, q1, b1, N, C, F)
			LinearInt8(want, g, q2, nil, N, F, C)
			got, g2 := make([]float32, N*C), make([]float32, N*F)
			for i := range g2 {
				g2[i] = -1
			}
			FFNInt8(got, g2, in, q1, b1, q2, N, C, F)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("N=%d: out[%d] = %v, want %v", N, i, got[i], want[i])
				}
			}
			// The fused form runs where oneDNN packed the weights.
			fused, expect := g2[0] == -1, N >= 2*64*blas.Threads() && q1.Kernel() != "pure-go"
			if fused != expect {
				t.Fatalf("N=%d, %d threads, kernel %s: fused %v, want %v", N, blas.Threads(), q1.Kernel(), fused, expect)
			}
		})
	}
}
