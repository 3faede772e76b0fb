//go:build cgo

// C kernels of package nn (cgo build). Each takes the thread count nt and
// parallelises over rows or (batch, head) pairs with OpenMP; the per-row
// work is compiled for AVX-512, AVX2 and baseline x86-64 and picked at run
// time (GCC target_clones), so no CPU feature is assumed.
#include <stddef.h>
#include <stdint.h>

void kn_bias(float *out, const float *b, long N, long OC, int nt);
void kn_bias_gelu(float *out, float *pre, const float *b, long N, long OC, int nt);
void kn_bias_gelu_rows(float *h, const float *b, long rows, long n);
void kn_gelu(float *out, const float *in, long n, int nt);
void kn_add(float *out, const float *a, const float *b, long n, int nt);
void kn_gelu_backward(float *din, const float *pre, const float *dout, long n, int nt);
void kn_bias_backward(float *db, const float *dout, long N, long OC, int nt);
void kn_layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                           const float *mean, const float *rstd, long N, long C, int nt);
void kn_adamw(float *p, const float *g, float *m, float *v, long n, float decay, float b1, float b2, float c1,
              float c2, float bc2s, float eps, float step, int nt);
double kn_sumsq(const float *x, long n, int nt);
void kn_dropout_rows(float *x, long B, long T, long C, const uint64_t *keys, uint64_t th, float scale, int nt);
void kn_drop_probs(float *dst, const float *src, long T, long h, uint64_t key, uint64_t th, float scale);
void kn_layernorm(float *out, float *sum, float *mean, float *rstd, const float *a, const float *ab,
                  const float *r, const float *w, const float *b, long N, long C, float eps, int nt);
void kn_attention(float *out, float *att, const float *qkv, const float *mask,
                  long B, long T, long C, long NH, int nt);
// An int8 product of blas (blas.Int8Rows) on the calling thread: rows of
// c = dequant(quant(a)·Wᵀ) (+ b unless NULL) for w a blas handle
// (Int8Weights.Handle) and ws its scales; 0 or an error status.
// (blas's function takes w as const void * too: the type is the same.)
typedef int (*kn_int8_rows)(long rows, const float *a, long lda, const void *w, const float *ws, const float *b,
                            float *c, long ldc);
// blas's driver of those products (blas.Int8Each): fn(ctx, i) for i in
// [0,n) on nt OpenMP threads, each set up for kn_int8_rows; the first
// error status, or 0.
typedef int (*kn_int8_each)(long n, int nt, int (*fn)(const void *ctx, long i), const void *ctx);
// One int8 projection of kn_block_int8: blas's handle, its scales and the
// float32 bias.
typedef struct {
	const void *w;
	const float *s, *b;
} kn_q8;
// A post-LN BERT block with int8 projections.
typedef struct {
	kn_q8 qkv, attn_out, inter, out;
	const float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
} kn_block8;
// kn_block_int8 runs the block k on in [B·T,C] into out (which may be in)
// at inference, each group of whole sequences (one sequence, or as many
// shorter ones as fit in 64 rows) through the whole block on one of nt
// OpenMP threads; prod is
// blas.Int8Rows and each blas.Int8Each. 0; -1 when the groups do not
// share out evenly enough among the threads (nothing written); or an
// error status of prod, or 100 when scratch could not be allocated (out,
// and so in, partly written).
int kn_block_int8(float *out, const float *in, const float *mask, long B, long T, long C, long F, long NH, float eps,
                  const kn_block8 *k, void *prod, void *each, int nt);
void kn_swiglu(float *out, const float *gu, long N, long F, int nt);
// kn_set_pool makes the kernels that a generated token runs between its
// products (kn_decode_attention) use blas's thread pool, run being
// kormed_pool_run (blas/pool.h); NULL: OpenMP.
void kn_set_pool(void *run);

// kn_decode_attention returns 0 when it could not allocate its scratch
// (out is then incomplete), 1 when it wrote out.
int kn_decode_attention(float *out, const float *q, const float *k, const float *v, long ld, long S, long NKV,
                        long rep, long hs, float scale, int nt);
