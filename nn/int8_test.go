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
