// Package nn holds the encoder's layer kernels, in the style of llm.c:
// plain functions over row-major float32 slices, each forward written so
// that its backward can sit beside it (the activations a backward needs are
// written to caller-owned buffers, never hidden in state).
//
// Shapes use B (batch), T (sequence length), C (channels), NH (heads),
// OC (output channels). Masks are float32 0/1 of shape [B,T].
//
// # Speed
//
// Matrix products go through blas.Sgemm (oneDNN with cgo). With cgo the
// elementwise, LayerNorm and attention kernels are C compiled for
// AVX-512/AVX2/baseline with run-time selection (GCC target_clones) and
// parallelised with OpenMP; without cgo they are Go, parallelised with
// goroutines. Both use blas.Threads() threads and float32 arithmetic: GELU
// uses a rational erf approximation (|error| < 4.2e-7; the one in Eigen and
// XLA), softmax a Cephes expf (about 1 ulp), so results match PyTorch's
// float32 kernels to float32 rounding, not bit for bit.
//
// The fastest post-LN BERT layer composition (see BenchmarkEncoderLayer):
//
//	LinearT(qkv, x, WqkvT, bqkv, N, C, 3*C)          // WqkvT = TransposeWeight(Wqkv, 3*C, C)
//	Attention(ctx, nil, qkv, mask, B, T, C, NH)
//	LinearT(ao, ctx, WoT, nil, N, C, C)
//	AddBiasLayerNorm(x, nil, nil, nil, ao, bo, x, ln1w, ln1b, N, C, eps)
//	LinearGELUT(h, nil, x, W1T, b1, N, C, FF)
//	LinearT(f, h, W2T, nil, N, FF, C)
//	AddBiasLayerNorm(x, nil, nil, nil, f, b2, x, ln2w, ln2b, N, C, eps)
//
// Linear/LinearGELU/AddLayerNorm with checkpoint-layout [OC,C] weights give
// the same results ~5-10% slower. Call the kernels from one goroutine at a
// time: each already uses all blas.Threads() threads (concurrent callers
// oversubscribe the cores).
//
// # What a backward needs (saved by the forwards)
//
//   - LayerNorm / AddLayerNorm / AddBiasLayerNorm: mean[N] and rstd[N]
//     (pass non-nil slices), plus the normalised input: in for LayerNorm,
//     sum (= a [+ ab] + r) for the residual forms; pass sum non-nil when
//     training, since out usually overwrites the residual stream.
//   - Linear / LinearT: the input in (kept by the caller) and the weight.
//   - LinearGELU / LinearGELUT: pre[N,OC], the pre-activation in·wᵀ+b
//     (pass non-nil), and in; GELU's derivative is taken at pre.
//   - Attention: att[B,NH,T,T], the softmax probabilities (pass non-nil),
//     and qkv; the scores before softmax are not needed.
//   - Add: nothing. MeanPool, CLSPool: the mask. L2Normalize: in (or out
//     and the norms, recomputable). Tanh: out.
package nn

import (
	"fmt"
	"math"

	"github.com/kormed/kormed/blas"
)

// Backend describes the kernels in use (for logs and benchmark reports).
func Backend() string { return kernelBackend }

func need(fn, name string, s []float32, n int) {
	if len(s) < n {
		panic(fmt.Sprintf("nn.%s: %s has %d elements, needs %d", fn, name, len(s), n))
	}
}

func needOpt(fn, name string, s []float32, n int) {
	if s != nil {
		need(fn, name, s, n)
	}
}

// Embedding writes out[i,:] = table[ids[i],:] for every position i.
// table is [V,C]; out is [len(ids),C].
func Embedding(out []float32, ids []int32, table []float32, C int) {
	for i, id := range ids {
		copy(out[i*C:(i+1)*C], table[int(id)*C:(int(id)+1)*C])
	}
}

// AddEmbedding adds table[ids[i],:] to out[i,:] (position and token-type
// embeddings are summed onto the word embeddings).
func AddEmbedding(out []float32, ids []int32, table []float32, C int) {
	for i, id := range ids {
		o := out[i*C : (i+1)*C]
		r := table[int(id)*C : (int(id)+1)*C]
		for j := range o {
			o[j] += r[j]
		}
	}
}

// LayerNorm normalises each of the N rows of in [N,C] to zero mean and unit
// variance (biased, as PyTorch), then scales by w and shifts by b.
// mean and rstd ([N]) receive the statistics for the backward pass; either
// may be nil at inference. out may alias in.
func LayerNorm(out, mean, rstd, in, w, b []float32, N, C int, eps float32) {
	checkLN("LayerNorm", out, nil, mean, rstd, in, nil, w, b, N, C)
	kLayerNorm(out, nil, mean, rstd, in, nil, nil, w, b, N, C, eps)
}

// AddLayerNorm is LayerNorm(a + r), the post-LN residual of BERT, in one
// pass: out = LayerNorm(a+r)·w + b over N rows of C. sum, if non-nil,
// receives a+r (the LayerNorm input a backward needs); mean and rstd as in
// LayerNorm. out may alias a or r; sum must not alias out.
func AddLayerNorm(out, sum, mean, rstd, a, r, w, b []float32, N, C int, eps float32) {
	checkLN("AddLayerNorm", out, sum, mean, rstd, a, r, w, b, N, C)
	need("AddLayerNorm", "r", r, N*C)
	kLayerNorm(out, sum, mean, rstd, a, nil, r, w, b, N, C, eps)
}

// AddBiasLayerNorm is AddLayerNorm(a + ab, r) with ab [C] a per-column bias
// (ab may be nil): out = LayerNorm((a + ab) + r)·w + b. It lets the output
// projection's bias ride along the LayerNorm pass instead of a separate
// pass after the product: Linear(a, x, wo, nil, ...) then
// AddBiasLayerNorm(out, ..., a, bo, residual, ...) gives the same result as
// Linear with bias then AddLayerNorm.
func AddBiasLayerNorm(out, sum, mean, rstd, a, ab, r, w, b []float32, N, C int, eps float32) {
	checkLN("AddBiasLayerNorm", out, sum, mean, rstd, a, r, w, b, N, C)
	need("AddBiasLayerNorm", "r", r, N*C)
	needOpt("AddBiasLayerNorm", "ab", ab, C)
	kLayerNorm(out, sum, mean, rstd, a, ab, r, w, b, N, C, eps)
}

func checkLN(fn string, out, sum, mean, rstd, a, r, w, b []float32, N, C int) {
	need(fn, "out", out, N*C)
	need(fn, "in", a, N*C)
	need(fn, "w", w, C)
	need(fn, "b", b, C)
	needOpt(fn, "sum", sum, N*C)
	needOpt(fn, "mean", mean, N)
	needOpt(fn, "rstd", rstd, N)
}

// Linear computes out[N,OC] = in[N,C]·w[OC,C]ᵀ + b, the PyTorch nn.Linear
// layout. b may be nil.
func Linear(out, in, w, b []float32, N, C, OC int) {
	need("Linear", "out", out, N*OC)
	needOpt("Linear", "b", b, OC)
	blasSgemmLinear(out, in, w, N, C, OC)
	if b != nil && N > 0 {
		kBias(out, b, N, OC)
	}
}

// LinearGELU computes out = GELU(in·wᵀ + b) (BERT's intermediate dense
// layer) with the bias and activation fused into one pass over out. pre,
// if non-nil, receives the pre-activation in·wᵀ + b for the backward; it
// must not alias out. b may be nil.
func LinearGELU(out, pre, in, w, b []float32, N, C, OC int) {
	need("LinearGELU", "out", out, N*OC)
	needOpt("LinearGELU", "pre", pre, N*OC)
	needOpt("LinearGELU", "b", b, OC)
	blasSgemmLinear(out, in, w, N, C, OC)
	if N > 0 {
		kBiasGELU(out, pre, b, N, OC)
	}
}

// TransposeWeight returns wᵀ [C,OC] of a PyTorch Linear weight w [OC,C]:
// the layout LinearT and LinearGELUT take.
func TransposeWeight(w []float32, OC, C int) []float32 {
	need("TransposeWeight", "w", w, OC*C)
	wt := make([]float32, C*OC)
	const blk = 32
	for o0 := 0; o0 < OC; o0 += blk {
		for c0 := 0; c0 < C; c0 += blk {
			for o := o0; o < min(o0+blk, OC); o++ {
				for c := c0; c < min(c0+blk, C); c++ {
					wt[c*OC+o] = w[o*C+c]
				}
			}
		}
	}
	return wt
}

// LinearT is Linear with the weight stored transposed, wt [C,OC] (see
// TransposeWeight): out[N,OC] = in[N,C]·wt + b. oneDNN's product runs about
// 3% faster on this layout than on [OC,C]; results are the same up to
// float32 summation order.
func LinearT(out, in, wt, b []float32, N, C, OC int) {
	need("LinearT", "out", out, N*OC)
	needOpt("LinearT", "b", b, OC)
	blas.Sgemm(false, false, N, OC, C, 1, in, C, wt, OC, 0, out, OC)
	if b != nil && N > 0 {
		kBias(out, b, N, OC)
	}
}

// LinearGELUT is LinearGELU with the weight stored transposed, wt [C,OC].
func LinearGELUT(out, pre, in, wt, b []float32, N, C, OC int) {
	need("LinearGELUT", "out", out, N*OC)
	needOpt("LinearGELUT", "pre", pre, N*OC)
	needOpt("LinearGELUT", "b", b, OC)
	blas.Sgemm(false, false, N, OC, C, 1, in, C, wt, OC, 0, out, OC)
	if N > 0 {
		kBiasGELU(out, pre, b, N, OC)
	}
}

// GELU applies the exact (erf) GELU of HF's "gelu": x·Φ(x). out may alias in.
func GELU(out, in []float32) {
	need("GELU", "out", out, len(in))
	kGELU(out[:len(in)], in)
}

// Tanh applies tanh elementwise (BERT's pooler). out may alias in.
func Tanh(out, in []float32) {
	for i, x := range in {
		out[i] = float32(math.Tanh(float64(x)))
	}
}

// Add writes out = a + b elementwise (residual connections). out may alias a or b.
func Add(out, a, b []float32) {
	need("Add", "a", a, len(out))
	need("Add", "b", b, len(out))
	if len(out) < 8192 { // small (e.g. one row): not worth a C call
		a, b := a[:len(out)], b[:len(out)]
		for i := range out {
			out[i] = a[i] + b[i]
		}
		return
	}
	kAdd(out, a[:len(out)], b[:len(out)])
}

// Attention is multi-head scaled dot-product self-attention with a padding
// mask, computed as HF BERT does: scores q·kᵀ/√hs plus (1-mask)·finfo.min,
// softmax over keys, times v. qkv is [B,T,3C]: for each position the query,
// key and value vectors concatenated (each C = NH·hs). mask is [B,T]
// (1 = token, 0 = padding) or nil; padded keys get no weight. att
// [B,NH,T,T] receives the softmax probabilities (needed by the backward);
// it may be nil at inference. out is [B,T,C], heads concatenated, before
// the output projection; it must not overlap qkv.
func Attention(out, att, qkv, mask []float32, B, T, C, NH int) {
	if NH <= 0 || C%NH != 0 {
		panic(fmt.Sprintf("nn.Attention: C=%d not divisible into NH=%d heads", C, NH))
	}
	need("Attention", "out", out, B*T*C)
	need("Attention", "qkv", qkv, B*T*3*C)
	needOpt("Attention", "att", att, B*NH*T*T)
	needOpt("Attention", "mask", mask, B*T)
	if B*T == 0 {
		return
	}
	kAttention(out, att, qkv, mask, B, T, C, NH)
}

// MeanPool averages the token vectors of in [B,T,C] over the positions
// where mask [B,T] is 1, writing out [B,C] (sentence-transformers' mean
// pooling).
func MeanPool(out, in, mask []float32, B, T, C int) {
	for b := 0; b < B; b++ {
		o := out[b*C : (b+1)*C]
		for i := range o {
			o[i] = 0
		}
		var n float32
		for t := 0; t < T; t++ {
			m := mask[b*T+t]
			if m == 0 {
				continue
			}
			n += m
			x := in[(b*T+t)*C : (b*T+t+1)*C]
			for i := range o {
				o[i] += m * x[i]
			}
		}
		if n < 1e-9 {
			n = 1e-9 // sentence-transformers clamps the count the same way
		}
		for i := range o {
			o[i] /= n
		}
	}
}

// CLSPool copies the first position of each sequence: out[b,:] = in[b,0,:].
func CLSPool(out, in []float32, B, T, C int) {
	for b := 0; b < B; b++ {
		copy(out[b*C:(b+1)*C], in[b*T*C:b*T*C+C])
	}
}

// L2Normalize scales each of the N rows of in [N,C] to unit length, as
// torch.nn.functional.normalize (the norm is clamped below at 1e-12).
// out may alias in.
func L2Normalize(out, in []float32, N, C int) {
	for i := 0; i < N; i++ {
		x := in[i*C : (i+1)*C]
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		n := math.Sqrt(s)
		if n < 1e-12 {
			n = 1e-12
		}
		o := out[i*C : (i+1)*C]
		for j := range x {
			o[j] = float32(float64(x[j]) / n)
		}
	}
}
