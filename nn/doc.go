// Package nn holds the layer kernels of the BERT-style encoder and of the
// Llama-family decoder, forward and backward, and the AdamW update, in the
// style of llm.c: plain functions over row-major float32 slices, each
// forward written so that its backward can sit beside it (the activations
// a backward needs are written to caller-owned buffers, never hidden in
// state). A kernel's forward, its backward and its pure-Go implementation
// share one file:
//
//   - encoder: embedding.go (Embedding, AddEmbedding, EmbeddingBF16),
//     layernorm.go (LayerNorm and its residual forms), linear.go (Linear,
//     LinearT, the fused LinearGELU forms, LinearBF16, LinearTPacked and
//     LinearGELUTPacked on blas.PackBF16's weights, TransposeWeight),
//     int8.go (LinearInt8, LinearGELUInt8, FFNInt8: int8 weights,
//     blas.MatMulInt8 and MatMulInt8FFN; EncoderBlockInt8, a whole block
//     at inference one group of sequences a thread, on blas.Int8Rows),
//     gelu.go, add.go (residual sums), attention.go (padding-masked
//     self-attention and its probability dropout), pool.go (MeanPool,
//     CLSPool, the pooler's Tanh, L2Normalize), dropout.go.
//   - decoder: rmsnorm.go, rope.go, swiglu.go, causal.go (causal
//     grouped-query attention over a KV cache); the decoder also uses the
//     linear, embedding and Add kernels, with their bfloat16 forms.
//   - optimiser: optim.go (AdamW's elementwise update and SumSquares, the
//     gradient norm of clip_grad_norm_; package train holds the optimiser).
//
// Shapes use B (batch), T (sequence length), C (channels), NH (heads),
// OC (output channels). Masks are float32 0/1 of shape [B,T].
//
// Backward kernels accumulate, as in llm.c: every gradient is added (+=)
// into the caller's buffers, so zero them before the first backward of a
// step; a nil gradient buffer is skipped.
//
// # Two implementations
//
// Matrix products go through blas.Sgemm (oneDNN with cgo). With cgo the
// elementwise, LayerNorm, dropout, attention and AdamW kernels are C
// (kernels.c) compiled for AVX-512/AVX2/baseline with run-time selection
// (GCC target_clones) and parallelised with OpenMP; without cgo they are
// Go, parallelised with goroutines. cgo.go and nocgo.go bind the k*
// dispatch functions (kLayerNorm, kAttention, …) to one or the other; the
// go* kernels are compiled in every build, so the tests check the C
// kernels against them. Of the decoder kernels, SwiGLU and the attention
// of a generated token (CausalAttention with T = 1) have C versions too
// (the latter on blas's thread pool, shared with the products around it);
// RMSNorm, RoPE and the rest of CausalAttention are Go only (the prompt's
// attention runs its products in oneDNN). Both paths use blas.Threads() threads and
// float32 arithmetic: GELU uses a rational erf approximation (|error| <
// 4.2e-7; the one in Eigen and XLA), softmax a Cephes expf (about 1 ulp),
// so results match PyTorch's float32 kernels to float32 rounding, not bit
// for bit.
//
// # How they are checked
//
// The oracle tests compare the encoder kernels, forward and backward,
// with PyTorch (testdata/kernels.json, written by oracle/kernels.py; the
// TestGolden* tests). The decoder kernels are checked against naive
// float64 references and their backwards by finite differences here, and
// against transformers through package decoder's oracle tests; AdamW
// against torch.optim.AdamW in packages train and decoder. Dropout, whose
// masks are hashed rather than drawn from PyTorch's generator, is checked
// by its statistics and by finite differences (see dropout.go).
//
// # Speed
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
//   - RMSNorm: rstd[N] and in. RoPE: the cos/sin tables. SwiGLU: gu.
//     CausalAttention: att[NH,T,P+T] and q, k, v.
//   - Dropout, AttentionDropout: the same p and keys (the masks are
//     regenerated, not stored).
package nn
