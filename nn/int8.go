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

// BlockInt8 is a post-LN BERT block (HF BertLayer) with its four
// projections in int8 (blas.QuantizeInt8), for EncoderBlockInt8: QKV
// [3C,C], AttnOut [C,C], Inter [F,C], Out [C,F] with their float32 biases
// (each may be nil) and the two LayerNorms' weights and biases [C].
type BlockInt8 struct {
	QKV, AttnOut, Inter, Out         *blas.Int8Weights
	QKVB, AttnOutB, InterB, OutB     []float32
	AttnLNW, AttnLNB, OutLNW, OutLNB []float32
}

// EncoderBlockInt8 runs the block k at inference on in [B·T,C] into out
// [B·T,C] (which may be in), mask [B,T] (1 keeps a key, 0 masks it) or
// nil:
//
//	qkv = LinearInt8(in, QKV) + bqkv;   y = Attention(qkv, mask)
//	ln1 = LayerNorm(LinearInt8(y, AttnOut) + bo + in)
//	out = LayerNorm(FFNInt8(ln1, Inter, Out) + b2 + ln1)
//
// the same steps as LinearInt8, Attention, LinearInt8, AddBiasLayerNorm,
// FFNInt8 and AddBiasLayerNorm run one after another, bit for bit, but
// sequence by sequence: each group of whole sequences (one sequence, or
// as many of 32 rows or fewer as fit in 64) goes through the whole block
// on one thread, its intermediates in that thread's cache, so that of
// the activations only in and out pass through memory, and the threads
// meet once a block rather than at every step. For example, e5-small's
// block on 32 sequences of 64 tokens, two threads: each thread takes 16
// sequences, one after another, each as QKV [64,1152], 12 heads of
// attention, [64,384] out of the output projection and the LayerNorm,
// and the FFN's [64,1536] hidden rows.
//
// It returns false where it does not apply, having written nothing: the
// pure-Go build or weights that oneDNN did not pack, or sequence groups
// that would leave threads idle (fewer than two a thread and not a
// multiple of the threads: one sequence on two threads, for example).
// The caller then runs the steps. It also returns false where a product
// fails (an allocation, or oneDNN) with out apart from in, out then
// partly written; with out = in it panics on such a failure, in being
// partly overwritten.
func EncoderBlockInt8(out, in, mask []float32, k *BlockInt8, B, T, C, F, NH int, eps float32) bool {
	needInt8("EncoderBlockInt8", k.QKV, C, 3*C)
	needInt8("EncoderBlockInt8", k.AttnOut, C, C)
	needInt8("EncoderBlockInt8", k.Inter, C, F)
	needInt8("EncoderBlockInt8", k.Out, F, C)
	N := B * T
	need("EncoderBlockInt8", "out", out, N*C)
	need("EncoderBlockInt8", "in", in, N*C)
	needOpt("EncoderBlockInt8", "mask", mask, N)
	needOpt("EncoderBlockInt8", "QKVB", k.QKVB, 3*C)
	needOpt("EncoderBlockInt8", "AttnOutB", k.AttnOutB, C)
	needOpt("EncoderBlockInt8", "InterB", k.InterB, F)
	needOpt("EncoderBlockInt8", "OutB", k.OutB, C)
	for _, p := range []struct {
		name string
		v    []float32
	}{{"AttnLNW", k.AttnLNW}, {"AttnLNB", k.AttnLNB}, {"OutLNW", k.OutLNW}, {"OutLNB", k.OutLNB}} {
		need("EncoderBlockInt8", p.name, p.v, C)
	}
	if NH <= 0 || C%NH != 0 {
		panic(fmt.Sprintf("nn.EncoderBlockInt8: %d heads do not divide %d", NH, C))
	}
	if N == 0 {
		return true
	}
	return kBlockInt8(out, in, mask, k, B, T, C, F, NH, eps)
}
