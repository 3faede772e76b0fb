//go:build cgo && !nodnnl

// Products with bfloat16 weights for a few rows of float32 input (a
// generated token, a short batch): C = A·Wᵀ + beta·C, W [n,k] bf16. Each
// weight is widened to float32 exactly (a 16-bit shift) and multiplied by
// the float32 input, so the result is the float32 product with the bf16
// weights, to summation order. These products read every weight once per
// call and are bound by memory bandwidth, which halving the weight bytes
// helps; the widening costs nothing measurable there.
#include <immintrin.h>
#include <omp.h>
#include <stdint.h>
#include <string.h>

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

// One input row: four weight rows at a time, two accumulators each, so
// that eight independent FMA chains hide the latency.
__attribute__((target("avx2,fma"))) static void rows1_avx2(long j0, long j1, long k, const float *a, const uint16_t *w,
                                                          long ldw, float beta, float *c) {
	long k16 = k & ~15L, j = j0;
	for (; j + 4 <= j1; j += 4) {
		const uint16_t *w0 = w + j * ldw, *w1 = w0 + ldw, *w2 = w1 + ldw, *w3 = w2 + ldw;
		__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0, t0 = s0, t1 = s0, t2 = s0, t3 = s0;
		for (long p = 0; p < k16; p += 16) {
			__m256 x0 = _mm256_loadu_ps(a + p), x1 = _mm256_loadu_ps(a + p + 8);
			s0 = _mm256_fmadd_ps(widen8(w0 + p), x0, s0);
			t0 = _mm256_fmadd_ps(widen8(w0 + p + 8), x1, t0);
			s1 = _mm256_fmadd_ps(widen8(w1 + p), x0, s1);
			t1 = _mm256_fmadd_ps(widen8(w1 + p + 8), x1, t1);
			s2 = _mm256_fmadd_ps(widen8(w2 + p), x0, s2);
			t2 = _mm256_fmadd_ps(widen8(w2 + p + 8), x1, t2);
			s3 = _mm256_fmadd_ps(widen8(w3 + p), x0, s3);
			t3 = _mm256_fmadd_ps(widen8(w3 + p + 8), x1, t3);
		}
		float r0 = hsum8(_mm256_add_ps(s0, t0)), r1 = hsum8(_mm256_add_ps(s1, t1));
		float r2 = hsum8(_mm256_add_ps(s2, t2)), r3 = hsum8(_mm256_add_ps(s3, t3));
		for (long p = k16; p < k; p++) {
			r0 += a[p] * widen1(w0[p]);
			r1 += a[p] * widen1(w1[p]);
			r2 += a[p] * widen1(w2[p]);
			r3 += a[p] * widen1(w3[p]);
		}
		store(c + j, r0, beta);
		store(c + j + 1, r1, beta);
		store(c + j + 2, r2, beta);
		store(c + j + 3, r3, beta);
	}
	for (; j < j1; j++) {
		const uint16_t *wr = w + j * ldw;
		__m256 s = _mm256_setzero_ps(), t = s;
		for (long p = 0; p < k16; p += 16) {
			s = _mm256_fmadd_ps(widen8(wr + p), _mm256_loadu_ps(a + p), s);
			t = _mm256_fmadd_ps(widen8(wr + p + 8), _mm256_loadu_ps(a + p + 8), t);
		}
		float r = hsum8(_mm256_add_ps(s, t));
		for (long p = k16; p < k; p++) r += a[p] * widen1(wr[p]);
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

// kormed_gemv_bf16w computes C = A·Wᵀ + beta·C for float32 A [m,k] and
// bfloat16 W [n,k], splitting W's rows among nt threads.
void kormed_gemv_bf16w(long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw, float beta,
                       float *c, long ldc, int nt) {
	static int avx2 = -1;
	if (avx2 < 0) avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
	// Blocks of 32 weight rows handed out dynamically: a thread whose core
	// is busy elsewhere does not hold the others up.
	long blocks = (n + 31) / 32;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) if (m * n * k >= (1L << 16))
	for (long b = 0; b < blocks; b++) {
		long j0 = b * 32, j1 = j0 + 32 < n ? j0 + 32 : n;
		if (!avx2) {
			rows_scalar(m, j0, j1, k, a, lda, w, ldw, beta, c, ldc);
		} else if (m == 1) {
			rows1_avx2(j0, j1, k, a, w, ldw, beta, c);
		} else {
			for (long i = 0; i < m; i += 4)
				rows4_avx2(m - i < 4 ? m - i : 4, j0, j1, k, a + i * lda, lda, w, ldw, beta, c + i * ldc, ldc);
		}
	}
}
