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

// FFNInt8 is a BERT block's feed-forward products with int8 weights:
// out[N,C] = LinearInt8(GELU(in·w1ᵀ + b1), w2) without w2's bias (which
// AddBiasLayerNorm adds), for in [N,C], w1 [F,C], w2 [C,F]: the same
// result as LinearGELUInt8 into g [N,F] then LinearInt8 from it, bit for
// bit. Where blas.MatMulInt8FFN applies (cgo with oneDNN's int8 kernels,
// enough rows) it runs both products tile by tile with the bias and GELU
// between them, and g is not written; otherwise it runs those two. out
// must not overlap in.
func FFNInt8(out, g, in []float32, w1 *blas.Int8Weights, b1 []float32, w2 *blas.Int8Weights, N, C, F int) {
	needInt8("FFNInt8", w1, C, F)
	needInt8("FFNInt8", w2, F, C)
	need("FFNInt8", "out", out, N*C)
	need("FFNInt8", "in", in, N*C)
	needOpt("FFNInt8", "b1", b1, F)
	if N > 0 && kFFNInt8(out, in, w1, b1, w2, N) {
		return
	}
	LinearGELUInt8(g, in, w1, b1, N, C, F)
	LinearInt8(out, g, w2, nil, N, F, C)
}

func needInt8(fn string, w *blas.Int8Weights, C, OC int) {
	if w.N != OC || w.K != C {
		panic(fmt.Sprintf("nn.%s: weight is %dx%d, want %dx%d", fn, w.N, w.K, OC, C))
	}
}
