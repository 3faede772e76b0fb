//go:build cgo && !nodnnl

// int8 matrix products through oneDNN's matmul primitive: activations
// quantized per row to symmetric int8 at run time, weights int8 per
// output channel and packed once in the layout the kernel reads, products
// summed in int32, the sums scaled back to float32. Each OS thread keeps
// its own primitives (cached by shape), stream, scratchpad and buffers, as
// bf16.c does and for the same reasons.
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <pthread.h>
#include <float.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <immintrin.h>

#include "amx.h"
#include "dnnlpack.h"

typedef struct {
	long n, k;
	dnnl_memory_desc_t md; // the weights [k,n] as the kernel reads them
	void *data;
	int borrowed;    // data is the caller's (kormed_w8_wrap), not freed here
	kormed_amx *amx; // the AMX kernel's copy (kormed_w8_pack, with AMX on), or NULL
	char impl[64];
} kormed_w8;

// amx_on says whether tiles run on kormed's AMX kernel (amx.c) where the
// weights have its copy: set once by the Go side (kormed_int8_amx) after
// checking the CPU, oneDNN's ISA cap and the kernel's permission; the
// tests turn it off and on to compare.
static int amx_on; // read and written with __atomic (the tests toggle it)

// kormed_int8_amx sets amx_on, asking for the tile state when turning it
// on; it returns the setting in force.
int kormed_int8_amx(int on) {
	__atomic_store_n(&amx_on, on && kormed_amx_init(), __ATOMIC_RELAXED);
	return __atomic_load_n(&amx_on, __ATOMIC_RELAXED);
}

static dnnl_engine_t eng;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static int eng_ok;

static void init_engine(void) { eng_ok = dnnl_engine_create(&eng, dnnl_cpu, 0) == dnnl_success; }

static __thread dnnl_stream_t tstream;

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

// kormed_int8_isa reports oneDNN's effective ISA (ONEDNN_MAX_CPU_ISA caps it).
int kormed_int8_isa(void) { return (int)dnnl_get_effective_cpu_isa(); }

// matmul_pd describes s8 A [m,k] (contiguous) times s8 B [k,n] (wmd, or
// the kernel's choice when NULL) into s32 C [m,n] (contiguous).
static dnnl_primitive_desc_t matmul_pd(long m, long n, long k, const dnnl_memory_desc_t *wmd) {
	dnnl_memory_desc_t a, b, c;
	dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
	dnnl_matmul_desc_t md;
	dnnl_primitive_attr_t attr = NULL;
	dnnl_primitive_desc_t pd = NULL;
	if (dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_s8, dnnl_ab) != dnnl_success ||
	    dnnl_memory_desc_init_by_tag(&c, 2, cd, dnnl_s32, dnnl_ab) != dnnl_success)
		return NULL;
	if (wmd) b = *wmd;
	else if (dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_s8, dnnl_format_tag_any) != dnnl_success)
		return NULL;
	if (dnnl_matmul_desc_init(&md, &a, &b, NULL, &c) != dnnl_success ||
	    dnnl_primitive_attr_create(&attr) != dnnl_success ||
	    dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user) != dnnl_success ||
	    dnnl_primitive_desc_create(&pd, &md, attr, eng, NULL) != dnnl_success)
		pd = NULL;
	if (attr) dnnl_primitive_attr_destroy(attr);
	return pd;
}

// The row count the packed layout is chosen for; the layout of the
// weights does not depend on it, and a product whose kernel wants another
// layout falls back to reordering (see primitive).
#define PACK_M 256

// kormed_w8_pack packs q [n,k] (row-major: the weights [k,n] with strides
// {1,k}) in the layout oneDNN's int8 matmul chooses; NULL on failure.
kormed_w8 *kormed_w8_pack(const int8_t *q, long n, long k, int nt) {
	if (setup(nt)) return NULL;
	dnnl_primitive_desc_t pd = matmul_pd(PACK_M, n, k, NULL);
	if (!pd) return NULL;
	kormed_w8 *w = calloc(1, sizeof *w);
	int ok = 0;
	if (!w) goto out;
	w->n = n;
	w->k = k;
	packed_layout(pd, &w->md, w->impl, sizeof w->impl);
	w->data = malloc(dnnl_memory_desc_get_size(&w->md));
	if (!w->data) goto out;
	dnnl_memory_desc_t plain;
	dnnl_dims_t dims = {k, n}, strides = {1, k};
	ok = dnnl_memory_desc_init_by_strides(&plain, 2, dims, dnnl_s8, strides) == dnnl_success &&
	     reorder(eng, tstream, &plain, q, &w->md, w->data);
	// The AMX kernel's copy, where it runs (without it, if it cannot be
	// allocated, the tiles run on oneDNN's).
	if (ok && __atomic_load_n(&amx_on, __ATOMIC_RELAXED)) w->amx = kormed_amx_pack(q, n, k);
out:
	dnnl_primitive_desc_destroy(pd);
	if (!ok && w) {
		free(w->data);
		kormed_amx_free(w->amx);
		free(w);
		w = NULL;
	}
	return w;
}

// kormed_w8_wrap describes q [n,k] (row-major, the caller's, which must
// outlive the result) for the products as it is, unpacked: oneDNN's
// kernel then copies blocks of it into its own layout as it multiplies,
// which costs far less than kormed_w8_pack's reorder for weights used
// once (a prompt through quantized decoder weights: a 14336×2560 matrix
// packs in 140 ms, its 512-row product takes 50). NULL on failure.
kormed_w8 *kormed_w8_wrap(const int8_t *q, long n, long k) {
	pthread_once(&once, init_engine);
	if (!eng_ok) return NULL;
	kormed_w8 *w = calloc(1, sizeof *w);
	if (!w) return NULL;
	dnnl_dims_t dims = {k, n}, strides = {1, k};
	if (dnnl_memory_desc_init_by_strides(&w->md, 2, dims, dnnl_s8, strides) != dnnl_success) {
		free(w);
		return NULL;
	}
	w->n = n, w->k = k, w->data = (void *)q, w->borrowed = 1;
	dnnl_primitive_desc_t pd = matmul_pd(PACK_M, n, k, &w->md);
	if (!pd) {
		free(w);
		return NULL;
	}
	const char *impl = NULL;
	if (dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl) == dnnl_success && impl)
		strncpy(w->impl, impl, sizeof w->impl - 1);
	dnnl_primitive_desc_destroy(pd);
	return w;
}

void kormed_w8_free(kormed_w8 *w) {
	if (!w) return;
	if (!w->borrowed) free(w->data);
	kormed_amx_free(w->amx);
	free(w);
}

const char *kormed_w8_impl(const kormed_w8 *w) { return w->impl; }

int kormed_w8_amx(const kormed_w8 *w) { return w->amx != NULL; }

typedef struct {
	long m, n, k;
	int nt; // the OpenMP threads it was made for (1 in a tile)
	dnnl_memory_desc_t wmd;
	dnnl_primitive_t p;
	size_t scratch;
	unsigned long used;
} entry;

#define CACHE 32
static __thread entry cache[CACHE];
static __thread unsigned long ticks;
static __thread void *scratch, *buf_q, *buf_acc, *buf_s, *buf_h;
static __thread size_t scratch_cap, cap_q, cap_acc, cap_s, cap_h;

static void *grow_bytes(void **buf, size_t *cap, size_t n) {
	if (n > *cap) {
		free(*buf);
		*buf = malloc(n);
		*cap = *buf ? n : 0;
	}
	return *buf;
}

// primitive returns this thread's matmul of m rows on the packed weights w,
// made for nt OpenMP threads (omp_get_max_threads() is nt).
static entry *primitive(long m, const kormed_w8 *w, int nt) {
	for (int i = 0; i < CACHE; i++) {
		entry *e = &cache[i];
		if (e->p && e->m == m && e->n == w->n && e->k == w->k && e->nt == nt &&
		    dnnl_memory_desc_equal(&e->wmd, &w->md)) {
			e->used = ++ticks;
			return e;
		}
	}
	dnnl_primitive_desc_t pd = matmul_pd(m, w->n, w->k, &w->md);
	if (!pd) return NULL;
	dnnl_primitive_t p = NULL;
	size_t sb = dnnl_memory_desc_get_size(dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0));
	if (dnnl_primitive_create(&p, pd) != dnnl_success) p = NULL;
	dnnl_primitive_desc_destroy(pd);
	if (!p) return NULL;
	int victim = 0;
	for (int i = 1; i < CACHE; i++)
		if (cache[i].used < cache[victim].used) victim = i;
	if (cache[victim].p) dnnl_primitive_destroy(cache[victim].p);
	cache[victim] = (entry){m, w->n, w->k, nt, w->md, p, sb, ++ticks};
	return &cache[victim];
}

// run executes e on s8 A [m,k] and the packed weights into s32 acc [m,n].
static int run(entry *e, const int8_t *qa, const kormed_w8 *w, int32_t *acc) {
	void *S = e->scratch ? grow_bytes(&scratch, &scratch_cap, e->scratch) : NULL;
	if (e->scratch && !S) return 4;
	const_dnnl_primitive_desc_t pd;
	if (dnnl_primitive_get_primitive_desc(e->p, &pd) != dnnl_success) return 5;
	const dnnl_memory_desc_t *ma = dnnl_primitive_desc_query_md(pd, dnnl_query_src_md, 0),
				 *mc = dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0),
				 *ms = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
	dnnl_memory_t xa = NULL, xb = NULL, xc = NULL, xs = NULL;
	int st = 6;
	if (dnnl_memory_create(&xa, ma, eng, (void *)qa) == dnnl_success &&
	    dnnl_memory_create(&xb, &w->md, eng, w->data) == dnnl_success &&
	    dnnl_memory_create(&xc, mc, eng, acc) == dnnl_success && dnnl_memory_create(&xs, ms, eng, S) == dnnl_success) {
		dnnl_exec_arg_t args[4] = {{DNNL_ARG_SRC, xa}, {DNNL_ARG_WEIGHTS, xb}, {DNNL_ARG_DST, xc}, {DNNL_ARG_SCRATCHPAD, xs}};
		st = dnnl_primitive_execute(e->p, tstream, 4, args) == dnnl_success && dnnl_stream_wait(tstream) == dnnl_success ? 0 : 7;
	}
	if (xa) dnnl_memory_destroy(xa);
	if (xb) dnnl_memory_destroy(xb);
	if (xc) dnnl_memory_destroy(xc);
	if (xs) dnnl_memory_destroy(xs);
	return st;
}

// quant_row is blas.quantizeRow: q = round(x·(127/amax)) to nearest even
// (cvtps2dq under the default rounding mode), scale amax/127, in the same
// float32 operations so that the integers agree with the Go code's. The
// maximum of |x| is exact in any order, so the vector loops find the same
// amax as a scalar one.
__attribute__((target("avx2"))) static float quant_row_avx2(int8_t *restrict q, const float *restrict x, long k) {
	__m256 vmax = _mm256_setzero_ps(), vabs = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	__m256 vnan = _mm256_setzero_ps();
	long i = 0;
	for (; i + 8 <= k; i += 8) {
		__m256 v = _mm256_loadu_ps(x + i);
		vnan = _mm256_or_ps(vnan, _mm256_cmp_ps(v, v, _CMP_UNORD_Q));
		vmax = _mm256_max_ps(_mm256_and_ps(v, vabs), vmax); // a NaN lane keeps vmax
	}
	float lanes[8];
	_mm256_storeu_ps(lanes, vmax);
	float amax = 0;
	for (int l = 0; l < 8; l++) amax = lanes[l] > amax ? lanes[l] : amax;
	int nan = _mm256_movemask_ps(vnan) != 0;
	for (; i < k; i++) {
		float a = x[i] < 0 ? -x[i] : x[i];
		nan |= a != a;
		amax = a > amax ? a : amax;
	}
	if (nan || !(amax > 0 && amax <= FLT_MAX)) { // zero, NaN or infinite: all 0
		memset(q, 0, k);
		return 0;
	}
	float inv = 127.f / amax;
	__m256 vi = _mm256_set1_ps(inv), lo = _mm256_set1_ps(-127.f), hi = _mm256_set1_ps(127.f);
	i = 0;
	for (; i + 8 <= k; i += 8) {
		__m256 v = _mm256_mul_ps(_mm256_loadu_ps(x + i), vi);
		v = _mm256_max_ps(lo, _mm256_min_ps(hi, v));
		__m256i d = _mm256_cvtps_epi32(v);
		__m128i w = _mm_packs_epi32(_mm256_castsi256_si128(d), _mm256_extracti128_si256(d, 1));
		_mm_storel_epi64((__m128i *)(q + i), _mm_packs_epi16(w, w));
	}
	for (; i < k; i++) {
		float v = x[i] * inv;
		v = v < -127.f ? -127.f : v > 127.f ? 127.f : v;
		q[i] = (int8_t)_mm_cvtss_si32(_mm_set_ss(v));
	}
	return amax / 127.f;
}

// quant_row_avx512 is quant_row_avx2 16 lanes at a time.
__attribute__((target("avx512f"))) static float quant_row_avx512(int8_t *restrict q, const float *restrict x, long k) {
	__m512 vmax = _mm512_setzero_ps();
	__mmask16 nan = 0;
	long i = 0;
	for (; i + 16 <= k; i += 16) {
		__m512 v = _mm512_loadu_ps(x + i);
		nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
		vmax = _mm512_max_ps(_mm512_abs_ps(v), vmax); // a NaN lane keeps vmax
	}
	if (i < k) {
		__mmask16 m = (__mmask16)((1u << (k - i)) - 1);
		__m512 v = _mm512_maskz_loadu_ps(m, x + i);
		nan |= _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
		vmax = _mm512_max_ps(_mm512_abs_ps(v), vmax);
	}
	float amax = _mm512_reduce_max_ps(vmax);
	if (nan || !(amax > 0 && amax <= FLT_MAX)) { // zero, NaN or infinite: all 0
		memset(q, 0, k);
		return 0;
	}
	float inv = 127.f / amax;
	__m512 vi = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.f), hi = _mm512_set1_ps(127.f);
	for (i = 0; i + 16 <= k; i += 16) {
		__m512 v = _mm512_mul_ps(_mm512_loadu_ps(x + i), vi);
		v = _mm512_max_ps(lo, _mm512_min_ps(hi, v));
		_mm_storeu_si128((__m128i *)(q + i), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(v)));
	}
	for (; i < k; i++) {
		float v = x[i] * inv;
		v = v < -127.f ? -127.f : v > 127.f ? 127.f : v;
		q[i] = (int8_t)_mm_cvtss_si32(_mm_set_ss(v));
	}
	return amax / 127.f;
}

// dequant_row is blas.dequantRow: c = float(acc)·(sa·ws), multiply then
// multiply (no FMA), as the Go code computes it; with a bias b, then + b
// (what nn's bias pass would add to c afterwards).
__attribute__((target("avx2"))) static void dequant_row_avx2(float *restrict c, const int32_t *restrict acc, float sa,
							      const float *restrict ws, const float *restrict b, long n) {
	__m256 vs = _mm256_set1_ps(sa);
	long j = 0;
	for (; j + 8 <= n; j += 8) {
		__m256 s = _mm256_mul_ps(vs, _mm256_loadu_ps(ws + j));
		__m256 a = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_loadu_si256((const __m256i *)(acc + j))), s);
		if (b) a = _mm256_add_ps(a, _mm256_loadu_ps(b + j));
		_mm256_storeu_ps(c + j, a);
	}
	for (; j < n; j++) {
		float v = (float)acc[j] * (sa * ws[j]);
		c[j] = b ? v + b[j] : v;
	}
}

// dequant_row_avx512 is dequant_row_avx2 16 lanes at a time. The products
// and sums are separate instructions; fp-contract is off so the compiler
// does not fuse them into an FMA (which would round once, not twice).
__attribute__((target("avx512f"), optimize("fp-contract=off"))) static void
dequant_row_avx512(float *restrict c, const int32_t *restrict acc, float sa, const float *restrict ws,
		   const float *restrict b, long n) {
	__m512 vs = _mm512_set1_ps(sa);
	long j = 0;
	for (; j + 16 <= n; j += 16) {
		__m512 s = _mm512_mul_ps(vs, _mm512_loadu_ps(ws + j));
		__m512 a = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_loadu_si512(acc + j)), s);
		if (b) a = _mm512_add_ps(a, _mm512_loadu_ps(b + j));
		_mm512_storeu_ps(c + j, a);
	}
	for (; j < n; j++) {
		float v = (float)acc[j] * (sa * ws[j]);
		c[j] = b ? v + b[j] : v;
	}
}

// have_avx512 says whether the CPU has AVX-512F (a VNNI CPU may have only
// AVX-VNNI, as Alder Lake does).
static int have_avx512(void) { return __builtin_cpu_supports("avx512f"); }

static float quant_row(int8_t *restrict q, const float *restrict x, long k) {
	return have_avx512() ? quant_row_avx512(q, x, k) : quant_row_avx2(q, x, k);
}

static void dequant_row(float *restrict c, const int32_t *restrict acc, float sa, const float *restrict ws,
			const float *restrict b, long n) {
	if (have_avx512()) dequant_row_avx512(c, acc, sa, ws, b, n);
	else dequant_row_avx2(c, acc, sa, ws, b, n);
}

// kormed_quant_rows quantizes rows of a [m,k] (row stride lda) into q
// [m,k] and scales s [m].
void kormed_quant_rows(long m, long k, const float *a, long lda, int8_t *q, float *s, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (m * k >= 65536)
	for (long i = 0; i < m; i++) s[i] = quant_row(q + i * k, a + i * lda, k);
}

// kormed_gemm_s8 sets acc [m,n] = qa [m,k] · Wᵀ exactly (int32); 0 or an
// error status.
int kormed_gemm_s8(long m, const kormed_w8 *w, const int8_t *qa, int32_t *acc, int nt) {
	int st = setup(nt);
	if (st) return st;
	entry *e = primitive(m, w, nt);
	if (!e) return 3;
	return run(e, qa, w, acc);
}

// TILE is the rows of one tile of kormed_matmul_int8: its int32 sums
// (TILE·n·4 bytes) stay in the core's cache between the product and the
// dequantization.
#define TILE 64

// amxOut is where amx_block dequantizes kormed_amx_s8's blocks to.
typedef struct {
	float *c;
	long ldc, m, n;
	const float *s, *ws, *b;
} amxOut;

static void amx_block(void *ctx, long i0, long j0, const int32_t *acc) {
	const amxOut *o = ctx;
	long rows = o->m - i0 < 32 ? o->m - i0 : 32, cols = o->n - j0 < 32 ? o->n - j0 : 32;
	for (long i = 0; i < rows; i++)
		dequant_row(o->c + (i0 + i) * o->ldc + j0, acc + i * 32, o->s[i0 + i], o->ws + j0, o->b ? o->b + j0 : NULL,
			    cols);
}

// amx_tile is tile on kormed's AMX kernel: the rows quantized with their
// padding (to 64 columns and 32 rows) zeroed, each 32×32 block of sums
// dequantized as it comes out of the tiles. The same result as tile's,
// bit for bit: the sums are exact either way.
static int amx_tile(long i0, long mb, const float *a, long lda, const kormed_w8 *w, const float *ws, const float *b,
		    float *c, long ldc) {
	long k = w->k, kp = w->amx->kb * 64, mp = (mb + 31) & ~31L;
	int8_t *q = grow_bytes(&buf_q, &cap_q, (size_t)mp * kp);
	float *s = grow_bytes(&buf_s, &cap_s, (size_t)mb * sizeof(float));
	if (!q || !s) return 4;
	for (long i = 0; i < mb; i++) {
		s[i] = quant_row(q + i * kp, a + (i0 + i) * lda, k);
		if (kp > k) memset(q + i * kp + k, 0, kp - k);
	}
	if (mp > mb) memset(q + mb * kp, 0, (mp - mb) * kp);
	amxOut o = {c + i0 * ldc, ldc, mb, w->n, s, ws, b};
	kormed_amx_s8(mb, q, kp, w->amx, amx_block, &o);
	return 0;
}

// tile computes rows [i0,i0+mb) of kormed_matmul_int8 on this thread
// alone: quantize, oneDNN's matmul on one thread (or kormed's AMX
// kernel), dequantize.
static int tile(long i0, long mb, const float *a, long lda, const kormed_w8 *w, const float *ws, const float *b,
		float *c, long ldc) {
	long n = w->n, k = w->k;
	if (w->amx && __atomic_load_n(&amx_on, __ATOMIC_RELAXED)) return amx_tile(i0, mb, a, lda, w, ws, b, c, ldc);
	if (!tstream && dnnl_stream_create(&tstream, eng, dnnl_stream_default_flags) != dnnl_success) {
		tstream = NULL;
		return 2;
	}
	entry *e = primitive(mb, w, 1);
	if (!e) return 3;
	int8_t *q = grow_bytes(&buf_q, &cap_q, (size_t)mb * k);
	float *s = grow_bytes(&buf_s, &cap_s, (size_t)mb * sizeof(float));
	int32_t *acc = grow_bytes(&buf_acc, &cap_acc, (size_t)mb * n * sizeof(int32_t));
	if (!q || !s || !acc) return 4;
	for (long i = 0; i < mb; i++) s[i] = quant_row(q + i * k, a + (i0 + i) * lda, k);
	int st = run(e, q, w, acc);
	if (st) return st;
	for (long i = 0; i < mb; i++) dequant_row(c + (i0 + i) * ldc, acc + i * n, s[i], ws, b, n);
	return 0;
}

// kormed_int8_rows computes rows [0,rows) of kormed_matmul_int8 on the
// calling thread alone, as one of its tiles: for a caller's fused kernel
// run by kormed_int8_each (package nn's encoder block). 0 or an error
// status.
int kormed_int8_rows(long rows, const float *a, long lda, const void *w, const float *ws, const float *b, float *c,
		     long ldc) {
	if (rows <= 0) return 0;
	pthread_once(&once, init_engine);
	if (!eng_ok) return 1;
	return tile(0, rows, a, lda, (const kormed_w8 *)w, ws, b, c, ldc);
}

// whole computes kormed_matmul_int8 as one oneDNN product on nt threads
// (for fewer rows than tiles for every thread).
static int whole(long m, const float *a, long lda, const kormed_w8 *w, const float *ws, const float *b, float *c,
		 long ldc, int nt) {
	long n = w->n, k = w->k;
	entry *e = primitive(m, w, nt);
	if (!e) return 3;
	int8_t *q = grow_bytes(&buf_q, &cap_q, (size_t)m * k);
	float *s = grow_bytes(&buf_s, &cap_s, (size_t)m * sizeof(float));
	int32_t *acc = grow_bytes(&buf_acc, &cap_acc, (size_t)m * n * sizeof(int32_t));
	if (!q || !s || !acc) return 4;
	kormed_quant_rows(m, k, a, lda, q, s, nt);
	int st = run(e, q, w, acc);
	if (st) return st;
#pragma omp parallel for num_threads(nt) schedule(static) if (m * n >= 65536)
	for (long i = 0; i < m; i++) dequant_row(c + i * ldc, acc + i * n, s[i], ws, b, n);
	return 0;
}

// kormed_int8_each runs fn(ctx, i) for i in [0,n) on nt OpenMP threads
// (a static schedule: thread t takes the t-th run of consecutive i), each
// thread set to run oneDNN on itself alone (omp_set_num_threads(1)), as
// tile and kormed_int8_rows want; after an error the items not yet begun
// are skipped. The first error status, or 0.
int kormed_int8_each(long n, int nt, int (*fn)(const void *ctx, long i), const void *ctx) {
	int err = 0;
#pragma omp parallel num_threads(nt)
	{
		omp_set_num_threads(1);
#pragma omp for schedule(static)
		for (long i = 0; i < n; i++) {
			int e;
#pragma omp atomic read
			e = err;
			if (e) continue;
			e = fn(ctx, i);
			if (e) {
#pragma omp atomic write
				err = e;
			}
		}
	}
	return err;
}

typedef struct {
	int (*fn)(const void *ctx, long i0, long mb);
	const void *ctx;
	long m;
} tilesArgs;

static int tileAt(const void *ctx, long t) {
	const tilesArgs *x = ctx;
	long i0 = t * TILE;
	return x->fn(x->ctx, i0, x->m - i0 < TILE ? x->m - i0 : TILE);
}

// tiled runs fn(ctx, i0, rows) for the tiles of TILE rows of m rows on nt
// OpenMP threads (kormed_int8_each); the first error status, or 0.
static int tiled(long m, int nt, int (*fn)(const void *ctx, long i0, long mb), const void *ctx) {
	tilesArgs x = {fn, ctx, m};
	return kormed_int8_each((m + TILE - 1) / TILE, nt, tileAt, &x);
}

typedef struct {
	const float *a, *ws, *b;
	long lda, ldc;
	const kormed_w8 *w;
	float *c;
} matmulArgs;

static int matmulTile(const void *ctx, long i0, long mb) {
	const matmulArgs *x = ctx;
	return tile(i0, mb, x->a, x->lda, x->w, x->ws, x->b, x->c, x->ldc);
}

// kormed_matmul_int8 computes c [m,n] (row stride ldc) = dequant(quant(a)
// · Wᵀ) (+ b, when b is not NULL) for float a [m,k] (row stride lda); 0 or
// an error status (c then may be partly written). The rows go in tiles of
// TILE to the nt OpenMP threads, each tile quantized, multiplied (oneDNN
// on that one thread) and dequantized by the same thread while its sums
// are in cache: one pass over the int32 sums through memory, and no
// handing them from the thread whose kernel wrote them to another, costs
// more than oneDNN splitting one product over the threads saves.
int kormed_matmul_int8(long m, const float *a, long lda, const kormed_w8 *w, const float *ws, const float *b, float *c,
		       long ldc, int nt) {
	int st = setup(nt);
	if (st) return st;
	if ((m + TILE - 1) / TILE < 2 * nt) return whole(m, a, lda, w, ws, b, c, ldc, nt);
	matmulArgs x = {a, ws, b, lda, ldc, w, c};
	return tiled(m, nt, matmulTile, &x);
}

// ---- a feed-forward block's two products, tile by tile ----

// kormed_rows_fn is the caller's step between the two products of
// kormed_ffn_int8, in place on rows rows of the hidden layer h [rows,n]
// with its bias b (nn's bias and GELU).
typedef void (*kormed_rows_fn)(float *h, const float *b, long rows, long n);

// ffn_tile is rows [i0,i0+mb) of kormed_ffn_int8 on this thread alone:
// tile for W1 into the hidden rows, act, then tile for W2 from them, while
// they stay in the core's cache.
static int ffn_tile(long i0, long mb, const float *a, long lda, const kormed_w8 *w1, const float *ws1, const float *b1,
		    kormed_rows_fn act, const kormed_w8 *w2, const float *ws2, float *c, long ldc) {
	long f = w1->n;
	float *h = grow_bytes(&buf_h, &cap_h, (size_t)mb * f * sizeof(float));
	if (!h) return 4;
	int st = tile(0, mb, a + i0 * lda, lda, w1, ws1, NULL, h, f);
	if (st) return st;
	act(h, b1, mb, f);
	return tile(0, mb, h, f, w2, ws2, NULL, c + i0 * ldc, ldc);
}

typedef struct {
	const float *a, *ws1, *b1, *ws2;
	long lda, ldc;
	const kormed_w8 *w1, *w2;
	kormed_rows_fn act;
	float *c;
} ffnArgs;

static int ffnTile(const void *ctx, long i0, long mb) {
	const ffnArgs *x = ctx;
	return ffn_tile(i0, mb, x->a, x->lda, x->w1, x->ws1, x->b1, x->act, x->w2, x->ws2, x->c, x->ldc);
}

// kormed_ffn_int8 computes c [m,n2] (row stride ldc) = int8(act(int8(a ·
// W1ᵀ), b1) · W2ᵀ) for float a [m,k] (row stride lda): kormed_matmul_int8
// of a and W1 without a bias, act on its result, kormed_matmul_int8 of
// that and W2 without a bias, bit for bit, but in tiles of TILE rows, each
// on one of nt OpenMP threads from a through c: the hidden layer [TILE,
// W1's n] never goes through memory. 0, an error status (c then may be
// partly written), or 9 when m has fewer tiles than 2·nt (the caller then
// runs the three steps one after another, each on every thread).
int kormed_ffn_int8(long m, const float *a, long lda, const kormed_w8 *w1, const float *ws1, const float *b1, void *act,
		    const kormed_w8 *w2, const float *ws2, float *c, long ldc, int nt) {
	int st = setup(nt);
	if (st) return st;
	if ((m + TILE - 1) / TILE < 2 * nt) return 9;
	ffnArgs x = {a, ws1, b1, ws2, lda, ldc, w1, w2, (kormed_rows_fn)act, c};
	return tiled(m, nt, ffnTile, &x);
}
