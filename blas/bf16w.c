//go:build cgo && !nodnnl

// Products with bfloat16 weights for a few rows of float32 input (a
// generated token, a short batch): C = A·Wᵀ + beta·C, W [n,k] bf16. Each
// weight is widened to float32 exactly (a 16-bit shift) and multiplied by
// the float32 input, so the result is the float32 product with the bf16
// weights, to summation order. These products read every weight once per
// call and are bound by memory bandwidth, which halving the weight bytes
// helps; the widening costs nothing measurable there.
#include <immintrin.h>
#include <oneapi/dnnl/dnnl.h>
#include <omp.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

#include "pool.h"

static inline float widen1(uint16_t h) {
	uint32_t u = (uint32_t)h << 16;
	float f;
	memcpy(&f, &u, 4);
	return f;
}

static inline void store(float *o, float s, float beta) { *o = beta == 0.f ? s : s + beta * *o; }

static void rows_scalar(long m, long j0, long j1, long k, const float *a, long lda, const uint16_t *w, long ldw,
                        float beta, float *c, long ldc) {
	for (long j = j0; j < j1; j++) {
		const uint16_t *wr = w + j * ldw;
		for (long i = 0; i < m; i++) {
			const float *ar = a + i * lda;
			float s = 0;
			for (long p = 0; p < k; p++) s += ar[p] * widen1(wr[p]);
			store(c + i * ldc + j, s, beta);
		}
	}
}

__attribute__((target("avx2,fma"))) static inline __m256 widen8(const uint16_t *p) {
	return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p)), 16));
}

__attribute__((target("avx2,fma"))) static inline float hsum8(__m256 v) {
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

// One input row: one weight row at a time, four accumulators. Reading W
// as the single stream it is in memory lets the hardware prefetcher run
// ahead (interleaving four rows' streams measured 26 GB/s against 40 on
// 2 Zen 4 cores).
__attribute__((target("avx2,fma"))) static void rows1_avx2(long j0, long j1, long k, const float *a, const uint16_t *w,
                                                          long ldw, float beta, float *c) {
	long k32 = k & ~31L;
	for (long j = j0; j < j1; j++) {
		const uint16_t *wr = w + j * ldw;
		__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
		for (long p = 0; p < k32; p += 32) {
			s0 = _mm256_fmadd_ps(widen8(wr + p), _mm256_loadu_ps(a + p), s0);
			s1 = _mm256_fmadd_ps(widen8(wr + p + 8), _mm256_loadu_ps(a + p + 8), s1);
			s2 = _mm256_fmadd_ps(widen8(wr + p + 16), _mm256_loadu_ps(a + p + 16), s2);
			s3 = _mm256_fmadd_ps(widen8(wr + p + 24), _mm256_loadu_ps(a + p + 24), s3);
		}
		float r = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
		for (long p = k32; p < k; p++) r += a[p] * widen1(wr[p]);
		store(c + j, r, beta);
	}
}

__attribute__((target("avx512f,avx512bw"))) static inline __m512 widen16(const uint16_t *p) {
	return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)p)), 16));
}

// rows1_avx2 in AVX-512 (48 against 42 GB/s).
__attribute__((target("avx512f,avx512bw"))) static void rows1_avx512(long j0, long j1, long k, const float *a,
                                                                    const uint16_t *w, long ldw, float beta, float *c) {
	long k64 = k & ~63L;
	for (long j = j0; j < j1; j++) {
		const uint16_t *wr = w + j * ldw;
		__m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
		for (long p = 0; p < k64; p += 64) {
			s0 = _mm512_fmadd_ps(widen16(wr + p), _mm512_loadu_ps(a + p), s0);
			s1 = _mm512_fmadd_ps(widen16(wr + p + 16), _mm512_loadu_ps(a + p + 16), s1);
			s2 = _mm512_fmadd_ps(widen16(wr + p + 32), _mm512_loadu_ps(a + p + 32), s2);
			s3 = _mm512_fmadd_ps(widen16(wr + p + 48), _mm512_loadu_ps(a + p + 48), s3);
		}
		float r = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
		for (long p = k64; p < k; p++) r += a[p] * widen1(wr[p]);
		store(c + j, r, beta);
	}
}

// Up to four input rows against one weight row at a time (a missing row
// repeats row 0 and its result is dropped).
__attribute__((target("avx2,fma"))) static void rows4_avx2(long m, long j0, long j1, long k, const float *a, long lda,
                                                          const uint16_t *w, long ldw, float beta, float *c, long ldc) {
	long k8 = k & ~7L;
	const float *a0 = a, *a1 = m > 1 ? a + lda : a, *a2 = m > 2 ? a + 2 * lda : a, *a3 = m > 3 ? a + 3 * lda : a;
	for (long j = j0; j < j1; j++) {
		const uint16_t *wr = w + j * ldw;
		__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
		for (long p = 0; p < k8; p += 8) {
			__m256 x = widen8(wr + p);
			s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a0 + p), s0);
			s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a1 + p), s1);
			s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a2 + p), s2);
			s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(a3 + p), s3);
		}
		float r[4] = {hsum8(s0), hsum8(s1), hsum8(s2), hsum8(s3)};
		const float *rows[4] = {a0, a1, a2, a3};
		for (long i = 0; i < m; i++) {
			for (long p = k8; p < k; p++) r[i] += rows[i][p] * widen1(wr[p]);
			store(c + i * ldc + j, r[i], beta);
		}
	}
}

// kormed_gemv_isa caps the kernels for tests: 0 the best the CPU has, 1
// scalar, 2 AVX2.
int kormed_gemv_isa;

// gemvJob is kormed_gemv_bf16w's loop for the pool (pool.h): blocks of
// 128 weight rows handed out one at a time, so that a thread whose core is
// busy elsewhere does not hold the others up.
typedef struct {
	long m, n, k, lda, ldw, ldc;
	const float *a;
	const uint16_t *w;
	float beta;
	float *c;
	int avx2, avx512;
} gemvJob;

static void gemvBlock(void *ctx, long b) {
	const gemvJob *g = ctx;
	long m = g->m, k = g->k, lda = g->lda, ldw = g->ldw, ldc = g->ldc;
	long j0 = b * 128, j1 = j0 + 128 < g->n ? j0 + 128 : g->n;
	if (!g->avx2) {
		rows_scalar(m, j0, j1, k, g->a, lda, g->w, ldw, g->beta, g->c, ldc);
	} else if (m == 1 && g->avx512) {
		rows1_avx512(j0, j1, k, g->a, g->w, ldw, g->beta, g->c);
	} else if (m == 1) {
		rows1_avx2(j0, j1, k, g->a, g->w, ldw, g->beta, g->c);
	} else {
		for (long i = 0; i < m; i += 4)
			rows4_avx2(m - i < 4 ? m - i : 4, j0, j1, k, g->a + i * lda, lda, g->w, ldw, g->beta, g->c + i * ldc,
			           ldc);
	}
}

// kormed_gemv_bf16w computes C = A·Wᵀ + beta·C for float32 A [m,k] and
// bfloat16 W [n,k], splitting W's rows among nt threads.
void kormed_gemv_bf16w(long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw, float beta,
                       float *c, long ldc, int nt) {
	int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
	if (kormed_gemv_isa == 1) avx2 = avx512 = 0;
	if (kormed_gemv_isa == 2) avx512 = 0;
	gemvJob g = {m, n, k, lda, ldw, ldc, a, w, beta, c, avx2, avx512};
	kormed_pool_run(m * n * k >= (1L << 16) ? nt : 1, (n + 127) / 128, gemvBlock, &g);
}

__attribute__((target("avx2,fma"))) static void widen_row_avx2(float *dst, const uint16_t *src, long k) {
	long p = 0;
	for (; p + 8 <= k; p += 8) _mm256_storeu_ps(dst + p, widen8(src + p));
	for (; p < k; p++) dst[p] = widen1(src[p]);
}

static void widen_row(float *dst, const uint16_t *src, long k, int avx2) {
	if (avx2) {
		widen_row_avx2(dst, src, k);
		return;
	}
	for (long p = 0; p < k; p++) dst[p] = widen1(src[p]);
}

static __thread float *wbuf;
static __thread size_t wcap;

// kormed_gemm_widen computes C = A·Wᵀ + beta·C in float32: blocks of
// about block elements of W's rows widened to float32 by the OpenMP team,
// each multiplied by dnnl_sgemm. It returns non-zero when the block
// buffer cannot be allocated.
int kormed_gemm_widen(long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw, float beta,
                      float *c, long ldc, long block, int nt) {
	int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	long rows = block / k;
	if (rows < 64) rows = 64;
	if (rows > n) rows = n;
	size_t need = (size_t)rows * k;
	if (need > wcap) {
		free(wbuf);
		wbuf = malloc(need * sizeof(float));
		wcap = wbuf ? need : 0;
		if (!wbuf) return 1;
	}
	if (omp_get_max_threads() != nt) omp_set_num_threads(nt);
	for (long j0 = 0; j0 < n; j0 += rows) {
		long nr = j0 + rows < n ? rows : n - j0;
		float *buf = wbuf;
#pragma omp parallel for num_threads(nt) schedule(static)
		for (long r = 0; r < nr; r++) widen_row(buf + r * k, w + (j0 + r) * ldw, k, avx2);
		if (dnnl_sgemm('N', 'T', m, nr, k, 1.f, a, lda, buf, k, beta, c + j0, ldc) != dnnl_success) return 2;
	}
	return 0;
}
