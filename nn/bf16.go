package nn

import (
	"math"

	"github.com/kormed/kormed/blas"
)

// LinearBF16 is Linear with the weight kept in bfloat16, w [OC,C] (the
// bits, PyTorch's layout): out[N,OC] = in[N,C]·wᵀ + b, float32 arithmetic
// on the exactly widened weights (see blas.MatMulBF16). b may be nil.
func LinearBF16(out, in []float32, w []uint16, b []float32, N, C, OC int) {
	need("LinearBF16", "out", out, N*OC)
	need("LinearBF16", "in", in, N*C)
	needOpt("LinearBF16", "b", b, OC)
	blas.MatMulBF16(N, OC, C, in, C, w, C, 0, out, OC)
	if b != nil && N > 0 {
		kBias(out, b, N, OC)
	}
}

// EmbeddingBF16 is Embedding from a bfloat16 table [V,C]: out[i,:] =
// table[ids[i],:] widened to float32.
func EmbeddingBF16(out []float32, ids []int32, table []uint16, C int) {
	for i, id := range ids {
		o := out[i*C : (i+1)*C]
		for j, h := range table[int(id)*C : (int(id)+1)*C] {
			o[j] = math.Float32frombits(uint32(h) << 16)
		}
	}
}
