package nn

import (
	"fmt"

	"github.com/kormed/kormed/blas"
)

// LinearInt8 is Linear with an int8 weight, w [OC,C] quantized per output
// channel (blas.QuantizeInt8): out[N,OC] = in[N,C]·wᵀ + b, in quantized
// per row at run time and the products summed in int32
// (blas.MatMulInt8); the bias stays float32. b may be nil.
func LinearInt8(out, in []float32, w *blas.Int8Weights, b []float32, N, C, OC int) {
	needInt8("LinearInt8", w, C, OC)
	need("LinearInt8", "out", out, N*OC)
	need("LinearInt8", "in", in, N*C)
	needOpt("LinearInt8", "b", b, OC)
	blas.MatMulInt8Bias(N, in, C, w, b, out, OC)
}

// LinearGELUInt8 is LinearGELU with an int8 weight: out = GELU(in·wᵀ + b),
// the bias and GELU float32, fused into one pass over out. b may be nil.
func LinearGELUInt8(out, in []float32, w *blas.Int8Weights, b []float32, N, C, OC int) {
	needInt8("LinearGELUInt8", w, C, OC)
	need("LinearGELUInt8", "out", out, N*OC)
	need("LinearGELUInt8", "in", in, N*C)
	needOpt("LinearGELUInt8", "b", b, OC)
	blas.MatMulInt8(N, in, C, w, out, OC)
	if N > 0 {
		kBiasGELU(out, nil, b, N, OC)
	}
}

func needInt8(fn string, w *blas.Int8Weights, C, OC int) {
	if w.N != OC || w.K != C {
		panic(fmt.Sprintf("nn.%s: weight is %dx%d, want %dx%d", fn, w.N, w.K, OC, C))
	}
}
