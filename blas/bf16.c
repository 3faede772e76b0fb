//go:build cgo && !nodnnl

// bf16 matrix products through oneDNN's matmul primitive: both operands
// rounded to bfloat16 (round to nearest even), products accumulated in
// float32, the result float32 — what PyTorch's
// torch.set_float32_matmul_precision("medium") does on a CPU with
// AVX512-BF16 or AMX. Each OS thread keeps its own primitives (cached by
// shape), stream, scratchpad and conversion buffers.
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

#include "dnnlpack.h"

// Round to nearest even. Only called on CPUs with AVX512-BF16 (the Go
// side checks), so it uses vcvtne2ps2bf16: 32 floats per instruction.
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void to_bf16(uint16_t *restrict dst, const float *restrict src, long n) {
	long i = 0;
	for (; i + 32 <= n; i += 32) {
		__m512bh v = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
		_mm512_storeu_si512((void *)(dst + i), (__m512i)v);
	}
	for (; i < n; i++) {
		uint32_t u;
		memcpy(&u, &src[i], 4);
		if ((u & 0x7FFFFFFFu) > 0x7F800000u) { // NaN stays a (quiet) NaN
			dst[i] = (uint16_t)((u >> 16) | 0x40u);
			continue;
		}
		u += 0x7FFFu + ((u >> 16) & 1u);
		dst[i] = (uint16_t)(u >> 16);
	}
}

// rows×cols of src (row stride ld) to a contiguous bf16 rows×cols.
static void to_bf16_mat(uint16_t *dst, const float *src, long rows, long cols, long ld, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (rows * cols >= 65536)
	for (long r = 0; r < rows; r++) to_bf16(dst + r * cols, src + r * ld, cols);
}

typedef struct {
	long m, n, k, ldb, ldc;
	int ta, tb;
	float alpha, beta;
	int packed;              // B is wmd (packed weights), not strided
	dnnl_memory_desc_t wmd;  // when packed
	dnnl_primitive_t p;
	size_t scratch; // bytes of user scratchpad the primitive needs
	unsigned long used;
} entry;

// Every OS thread has its own primitives, stream, scratchpad and conversion
// buffers: oneDNN 2.6's library-managed scratchpad is shared by the
// executions of a primitive, so two threads running one primitive at once
// would overwrite each other's scratch (and a shared cache could evict a
// primitive another thread is running). Go runs cgo calls on a handful of
// OS threads, so a few copies of the primitives exist at most.
#define CACHE 32
static __thread entry cache[CACHE];
static __thread unsigned long ticks;
static __thread dnnl_stream_t tstream;
static __thread uint16_t *buf_a, *buf_b;
static __thread size_t cap_a, cap_b;
static __thread float *buf_f; // one float32 row per OpenMP thread (kormed_gemm_qw_bf16)
static __thread size_t cap_f;
static __thread void *scratch;
static __thread size_t scratch_cap;

static dnnl_engine_t eng;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int eng_ok;

static void init_engine(void) { eng_ok = dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success; }

static void *grow_bytes(void **buf, size_t *cap, size_t n) {
	if (n > *cap) {
		free(*buf);
		*buf = malloc(n);
		*cap = *buf ? n : 0;
	}
	return *buf;
}

// The matmul of op(A) [m,k] (contiguous, as to_bf16_mat leaves it) and
// op(B) [k,n] (row stride ldb as stored, or as wmd describes it when wmd
// is not NULL: packed weights), into C [m,n] with row stride ldc:
// C = alpha·op(A)·op(B) + beta·C, with a user-managed scratchpad.
static entry *primitive_md(long m, long n, long k, int ta, int tb, long ldb, long ldc, float alpha, float beta,
                           const dnnl_memory_desc_t *wmd) {
	for (int i = 0; i < CACHE; i++) {
		entry *e = &cache[i];
		if (e->p && e->m == m && e->n == n && e->k == k && e->ta == ta && e->tb == tb && e->ldb == ldb && e->ldc == ldc &&
		    e->alpha == alpha && e->beta == beta && e->packed == (wmd != NULL) &&
		    (!wmd || dnnl_memory_desc_equal(&e->wmd, wmd))) {
			e->used = ++ticks;
			return e;
		}
	}
	dnnl_memory_desc_t a, b, c;
	dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
	dnnl_dims_t as, bs, cs = {ldc, 1};
	if (ta) { as[0] = 1; as[1] = m; } else { as[0] = k; as[1] = 1; }
	if (tb) { bs[0] = 1; bs[1] = ldb; } else { bs[0] = ldb; bs[1] = 1; }
	dnnl_primitive_t p = NULL;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_post_ops_t po = NULL;
	dnnl_primitive_desc_t pd = NULL;
	dnnl_matmul_desc_t md;
	size_t scratch_bytes = 0;
	if (wmd) b = *wmd;
	if (dnnl_memory_desc_init_by_strides(&a, 2, ad, dnnl_bf16, as) != dnnl_success ||
	    (!wmd && dnnl_memory_desc_init_by_strides(&b, 2, bd, dnnl_bf16, bs) != dnnl_success) ||
	    dnnl_memory_desc_init_by_strides(&c, 2, cd, dnnl_f32, cs) != dnnl_success ||
	    dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) != dnnl_success ||
	    dnnl_primitive_attr_create(&attr) != dnnl_success ||
	    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success)
		goto out;
	if (alpha != 1.f && dnnl_primitive_attr_set_output_scales(attr, 1, 0, &alpha) != dnnl_success) goto out;
	if (beta != 0.f) {
		if (dnnl_post_ops_create(&po) != dnnl_success || dnnl_post_ops_append_sum(po, beta) != dnnl_success ||
		    dnnl_primitive_attr_set_post_ops(attr, po) != dnnl_success)
			goto out;
	}
	if (dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL) != dnnl_success) goto out;
	scratch_bytes = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
	if (dnnl_primitive_create(&p, pd) != dnnl_success) p = NULL;
out:
	if (pd) dnnl_primitive_desc_destroy(pd);
	if (po) dnnl_post_ops_destroy(po);
	if (attr) dnnl_primitive_attr_destroy(attr);
	if (!p) return NULL;
	int victim = 0;
	for (int i = 1; i < CACHE; i++)
		if (cache[i].used < cache[victim].used) victim = i;
	if (cache[victim].p) dnnl_primitive_destroy(cache[victim].p);
	cache[victim] = (entry){m, n, k, ldb, ldc, ta, tb, alpha, beta, wmd != NULL, {0}, p, scratch_bytes, ++ticks};
	if (wmd) cache[victim].wmd = *wmd;
	return &cache[victim];
}

static entry *primitive(long m, long n, long k, int ta, int tb, long ldb, long ldc, float alpha, float beta) {
	return primitive_md(m, n, k, ta, tb, ldb, ldc, alpha, beta, NULL);
}

// run executes the primitive of e on bf16 A and B into c.
static int run(entry *e, const uint16_t *A, const uint16_t *B, float *c) {
	void *S = e->scratch ? grow_bytes(&scratch, &scratch_cap, e->scratch) : NULL;
	if (e->scratch && !S) return 4;
	const dnnl_memory_desc_t *ma, *mb, *mc, *ms;
	const_dnnl_primitive_desc_t pd;
	if (dnnl_primitive_get_primitive_desc(e->p, &pd) != dnnl_success) return 5;
	ma = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0);
	mb = dnnl_primitive_desc_query_md(pd, dnnl_query_weights_md, 0);
	mc = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0);
	ms = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	dnnl_memory_t xa = NULL, xb = NULL, xc = NULL, xs = NULL;
	int st = 6;
	if (dnnl_memory_create(&xa, ma, eng, (void *)A) == dnnl_success && dnnl_memory_create(&xb, mb, eng, (void *)B) == dnnl_success &&
	    dnnl_memory_create(&xc, mc, eng, c) == dnnl_success && dnnl_memory_create(&xs, ms, eng, S) == dnnl_success) {
		dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, xa}, {DNNL_ARG_WEIGHTS, xb}, {DNNL_ARG_DST, xc}, {DNNL_ARG_SCRATCHPAD, xs}};
		st = dnnl_primitive_execute(e->p, tstream, 4, args) == dnnl_success && dnnl_stream_wait(tstream) == dnnl_success ? 0 : 7;
	}
	if (xa) dnnl_memory_destroy(xa);
	if (xb) dnnl_memory_destroy(xb);
	if (xc) dnnl_memory_destroy(xc);
	if (xs) dnnl_memory_destroy(xs);
	return st;
}

// setup readies the engine, the thread count and this thread's stream.
static int setup(int nt) {
	pthread_once(&once, init_engine);
	if (!eng_ok) return 1;
	if (omp_get_max_threads() != nt) omp_set_num_threads(nt);
	if (!tstream && dnnl_stream_create(&tstream, eng, dnnl_stream_default_flags) != dnnl_success) {
		tstream = NULL;
		return 2;
	}
	return 0;
}

// kormed_gemm_bf16 computes C = alpha·op(A)·op(B) + beta·C (row-major, as
// dnnl_sgemm) with bf16 operands; it returns 0, or non-zero when oneDNN
// could not (the caller then uses float32).
int kormed_gemm_bf16(char ta, char tb, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, int nt) {
	int st = setup(nt);
	if (st) return st;
	int tA = ta == 'T', tB = tb == 'T';
	entry *e = primitive(m, n, k, tA, tB, tB ? k : n, ldc, alpha, beta);
	if (!e) return 3;
	uint16_t *A = grow_bytes((void **)&buf_a, &cap_a, (size_t)m * k * 2);
	uint16_t *B = grow_bytes((void **)&buf_b, &cap_b, (size_t)k * n * 2);
	if (!A || !B) return 4;
	if (tA) to_bf16_mat(A, a, k, m, lda, nt); else to_bf16_mat(A, a, m, k, lda, nt);
	if (tB) to_bf16_mat(B, b, n, k, ldb, nt); else to_bf16_mat(B, b, k, n, ldb, nt);
	return run(e, A, B, c);
}

// kormed_gemm_bf16w computes C = A·Wᵀ + beta·C for float32 A [m,k] and
// bfloat16 W [n,k] (row stride ldw), as it is stored: only A is converted.
int kormed_gemm_bf16w(long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw, float beta,
                      float *c, long ldc, int nt) {
	int st = setup(nt);
	if (st) return st;
	entry *e = primitive(m, n, k, 0, 1, ldw, ldc, 1.f, beta);
	if (!e) return 3;
	uint16_t *A = grow_bytes((void **)&buf_a, &cap_a, (size_t)m * k * 2);
	if (!A) return 4;
	to_bf16_mat(A, a, m, k, lda, nt);
	return run(e, A, w, c);
}

void kormed_dequant_qw_row(int fmt, long j, long k, const uint8_t *q, const float *scale, float *dst); // qw.c

// kormed_gemm_qw_bf16 computes C = A·Wᵀ + beta·C for float32 A [m,k] and a
// quantized W [n,k] (qw.c's formats; scale: Int8's row scales, Q4's block
// scales) as bf16
// products: A rounded to bfloat16 once, W dequantized and rounded to
// bfloat16 in blocks of about block elements of whole rows, each block
// one oneDNN matmul into its columns of C. It returns non-zero, before
// writing C, when a buffer or a primitive cannot be had.
int kormed_gemm_qw_bf16(int fmt, long m, long n, long k, const float *a, long lda, const uint8_t *q, const float *scale,
                        float beta, float *c, long ldc, long block, int nt) {
	int st = setup(nt);
	if (st) return st;
	long rows = block / k;
	if (rows < 64) rows = 64;
	if (rows > n) rows = n;
	entry *full = primitive(m, rows, k, 0, 1, k, ldc, 1.f, beta);
	entry *tail = n % rows ? primitive(m, n % rows, k, 0, 1, k, ldc, 1.f, beta) : full;
	if (!full || !tail) return 3;
	size_t need = full->scratch > tail->scratch ? full->scratch : tail->scratch;
	uint16_t *A = grow_bytes((void **)&buf_a, &cap_a, (size_t)m * k * 2);
	uint16_t *W = grow_bytes((void **)&buf_b, &cap_b, (size_t)rows * k * 2);
	float *F = grow_bytes((void **)&buf_f, &cap_f, (size_t)nt * k * 4);
	if (!A || !W || !F || (need && !grow_bytes(&scratch, &scratch_cap, need))) return 4;
	to_bf16_mat(A, a, m, k, lda, nt);
	for (long j0 = 0; j0 < n; j0 += rows) {
		long nr = j0 + rows < n ? rows : n - j0;
#pragma omp parallel for num_threads(nt) schedule(static)
		for (long r = 0; r < nr; r++) {
			float *f = F + (long)omp_get_thread_num() * k;
			kormed_dequant_qw_row(fmt, j0 + r, k, q, scale, f);
			to_bf16(W + r * k, f, k);
		}
		if ((st = run(nr == rows ? full : tail, A, W, c + j0))) return st;
	}
	return 0;
}

// ---- weights packed once (inference) ----

// kormed_wb is a weight matrix rounded to bfloat16 once and stored in the
// layout oneDNN's bf16 matmul chooses for it (PACK_M rows of A), so that
// a product converts and reorders only A: kormed_gemm_bf16 rounds and
// lays out its B at every call, which costs more than the product itself
// for a few rows (16 × 384 by 384 × 1152: 0.3 ms against 0.1 with the
// weights already bf16, measured on a Xeon with AMX).
typedef struct kormed_wb {
	long n, k;
	dnnl_memory_desc_t md;
	void *data;
	char impl[64];
} kormed_wb;

#define PACK_M 256

// kormed_wb_pack packs B [k,n] = w (row stride ldw; with tb set, w is
// [n,k] and B its transpose), rounded to bfloat16; NULL on failure.
kormed_wb *kormed_wb_pack(const float *w, long ldw, int tb, long n, long k, int nt) {
	if (setup(nt)) return NULL;
	dnnl_memory_desc_t a, b, c, plain;
	dnnl_dims_t ad = {PACK_M, k}, bd = {k, n}, cd = {PACK_M, n}, ps = {tb ? 1 : n, tb ? k : 1};
	dnnl_matmul_desc_t md;
	dnnl_primitive_desc_t pd = NULL;
	uint16_t *B = NULL;
	kormed_wb *p = calloc(1, sizeof *p);
	int ok = 0;
	if (!p || dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_bf16, dnnl_ab) != dnnl_success ||
	    dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_bf16, dnnl_format_tag_any) != dnnl_success ||
	    dnnl_memory_desc_init_by_tag(&c, 2, cd, dnnl_f32, dnnl_ab) != dnnl_success ||
	    dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) != dnnl_success ||
	    dnnl_primitive_desc_create(&pd, &md, NULL, eng, NULL) != dnnl_success)
		goto out;
	p->n = n, p->k = k;
	packed_layout(pd, &p->md, p->impl, sizeof p->impl);
	p->data = malloc(dnnl_memory_desc_get_size(&p->md));
	B = malloc((size_t)n * k * 2);
	if (!p->data || !B) goto out;
	if (tb) to_bf16_mat(B, w, n, k, ldw, nt); else to_bf16_mat(B, w, k, n, ldw, nt);
	ok = dnnl_memory_desc_init_by_strides(&plain, 2, bd, dnnl_bf16, ps) == dnnl_success &&
	     reorder(eng, tstream, &plain, B, &p->md, p->data);
out:
	if (pd) dnnl_primitive_desc_destroy(pd);
	free(B);
	if (!ok && p) {
		free(p->data);
		free(p);
		p = NULL;
	}
	return p;
}

void kormed_wb_free(kormed_wb *p) {
	if (!p) return;
	free(p->data);
	free(p);
}

const char *kormed_wb_impl(const kormed_wb *p) { return p->impl; }

// kormed_gemm_bf16p computes C [m,n] (row stride ldc) = bf16(A)·B for
// float32 A [m,k] (row stride lda) and packed B; 0, or non-zero when
// oneDNN could not (C then undefined: the caller computes it another
// way).
int kormed_gemm_bf16p(long m, const float *a, long lda, const kormed_wb *w, float *c, long ldc, int nt) {
	int st = setup(nt);
	if (st) return st;
	entry *e = primitive_md(m, w->n, w->k, 0, 0, w->n, ldc, 1.f, 0.f, &w->md);
	if (!e) return 3;
	uint16_t *A = grow_bytes((void **)&buf_a, &cap_a, (size_t)m * w->k * 2);
	if (!A) return 4;
	to_bf16_mat(A, a, m, w->k, lda, nt);
	return run(e, A, w->data, c);
}
