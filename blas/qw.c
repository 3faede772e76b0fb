//go:build cgo && !nodnnl

// Products with quantized weights for a few rows of float32 input (a
// generated token, a short batch): C = A·Wᵀ + beta·C, W [n,k] stored as
// Int8 (one int8 per weight, one float32 scale per row) or Q4 (llama.cpp's
// Q4_0 blocks: 32 weights of a row as an fp16 scale d and 16 bytes of
// 4-bit q, weight (q-8)·d, element i in the low nibble of byte i and
// element i+16 in its high nibble; nibbles and scales apart, qw.h). The weights are dequantized in
// registers and multiplied in float32, reading each weight once per call:
// the bf16 GEMV's streaming design (bf16w.c) at a half or a quarter of its
// bytes.
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "qw.h"

// halfc is half with F16C.
__attribute__((target("f16c"))) static inline float halfc(const uint8_t *p) {
	uint16_t h;
	memcpy(&h, p, 2);
	return _cvtsh_ss(h);
}

// ---- scalar ----

// The deq_* write a weight row as float32: Int8 row r times its scale s,
// or Q4 nibbles r with scales sc.
static void deq_scalar(int fmt, float *dst, const uint8_t *r, const uint8_t *sc, float s, long k) {
	if (fmt == fmtInt8) {
		for (long p = 0; p < k; p++) dst[p] = (float)(int8_t)r[p] * s;
		return;
	}
	for (long b = 0; b < k / 32; b++, r += 16, sc += 2, dst += 32) {
		float d = half(sc);
		for (int i = 0; i < 16; i++) {
			dst[i] = (float)((r[i] & 15) - 8) * d;
			dst[i + 16] = (float)((r[i] >> 4) - 8) * d;
		}
	}
}

static float dot_scalar(const float *a, const float *b, long k) {
	float s = 0;
	for (long p = 0; p < k; p++) s += a[p] * b[p];
	return s;
}

// ---- AVX2 ----

__attribute__((target("avx2,fma,f16c"))) static inline float hsum8(__m256 v) {
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

__attribute__((target("avx2,fma,f16c"))) static inline __m256 i8x8(const uint8_t *p) {
	return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)p)));
}

// q4x32 unpacks one Q4 block's 32 q-8 values (its nibbles nib) as four
// vectors of 8.
__attribute__((target("avx2,fma,f16c"))) static inline void q4x32(const uint8_t *nib, __m256 f[4]) {
	const __m128i m4 = _mm_set1_epi8(15), e8 = _mm_set1_epi8(8);
	__m128i x = _mm_loadu_si128((const __m128i *)nib);
	__m128i lo = _mm_sub_epi8(_mm_and_si128(x, m4), e8);
	__m128i hi = _mm_sub_epi8(_mm_and_si128(_mm_srli_epi16(x, 4), m4), e8);
	f[0] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(lo));
	f[1] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(lo, 8)));
	f[2] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(hi));
	f[3] = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(hi, 8)));
}

__attribute__((target("avx2,fma,f16c"))) static void deq_avx2(int fmt, float *dst, const uint8_t *r, const uint8_t *sc,
                                                        float s, long k) {
	if (fmt == fmtInt8) {
		__m256 sv = _mm256_set1_ps(s);
		long p = 0;
		for (; p + 8 <= k; p += 8) _mm256_storeu_ps(dst + p, _mm256_mul_ps(i8x8(r + p), sv));
		for (; p < k; p++) dst[p] = (float)(int8_t)r[p] * s;
		return;
	}
	for (long b = 0; b < k / 32; b++, r += 16, sc += 2, dst += 32) {
		__m256 f[4], d = _mm256_set1_ps(halfc(sc));
		q4x32(r, f);
		for (int i = 0; i < 4; i++) _mm256_storeu_ps(dst + 8 * i, _mm256_mul_ps(f[i], d));
	}
}

__attribute__((target("avx2,fma,f16c"))) static float dot_avx2(const float *a, const float *b, long k) {
	__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	long p = 0;
	for (; p + 32 <= k; p += 32) {
		s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), s0);
		s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 8), _mm256_loadu_ps(b + p + 8), s1);
		s2 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 16), _mm256_loadu_ps(b + p + 16), s2);
		s3 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p + 24), _mm256_loadu_ps(b + p + 24), s3);
	}
	for (; p + 8 <= k; p += 8) s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + p), _mm256_loadu_ps(b + p), s0);
	float r = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
	for (; p < k; p++) r += a[p] * b[p];
	return r;
}

// One input row against Int8 weight rows j0…j1-1: Σ a·q in float32, times
// the row's scale.
__attribute__((target("avx2,fma,f16c"))) static void i8rows1_avx2(long j0, long j1, long k, const float *a,
                                                            const uint8_t *q, const float *scale, float beta,
                                                            float *c) {
	long k32 = k & ~31L;
	for (long j = j0; j < j1; j++) {
		const uint8_t *wr = q + j * k;
		__m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
		for (long p = 0; p < k32; p += 32) {
			s0 = _mm256_fmadd_ps(i8x8(wr + p), _mm256_loadu_ps(a + p), s0);
			s1 = _mm256_fmadd_ps(i8x8(wr + p + 8), _mm256_loadu_ps(a + p + 8), s1);
			s2 = _mm256_fmadd_ps(i8x8(wr + p + 16), _mm256_loadu_ps(a + p + 16), s2);
			s3 = _mm256_fmadd_ps(i8x8(wr + p + 24), _mm256_loadu_ps(a + p + 24), s3);
		}
		float r = hsum8(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
		for (long p = k32; p < k; p++) r += a[p] * (float)(int8_t)wr[p];
		store(c + j, r * scale[j], beta);
	}
}

// One input row against Q4 weight rows: per block Σ a·(q-8), times d.
__attribute__((target("avx2,fma,f16c"))) static void q4rows1_avx2(long j0, long j1, long k, const float *a,
                                                            const uint8_t *q, const float *scale, float beta,
                                                            float *c) {
	long nb = k / 32;
	for (long j = j0; j < j1; j++) {
		const uint8_t *blk = q4nib(q, j, k), *sc = q4sc(scale, j, k);
		__m256 s0 = _mm256_setzero_ps(), s1 = s0;
		for (long b = 0; b < nb; b++, blk += 16, sc += 2) {
			__m256 f[4];
			const float *ab = a + 32 * b;
			q4x32(blk, f);
			__m256 t0 = _mm256_mul_ps(f[0], _mm256_loadu_ps(ab));
			__m256 t1 = _mm256_mul_ps(f[1], _mm256_loadu_ps(ab + 8));
			t0 = _mm256_fmadd_ps(f[2], _mm256_loadu_ps(ab + 16), t0);
			t1 = _mm256_fmadd_ps(f[3], _mm256_loadu_ps(ab + 24), t1);
			__m256 d = _mm256_set1_ps(halfc(sc));
			if (b & 1)
				s1 = _mm256_fmadd_ps(_mm256_add_ps(t0, t1), d, s1);
			else
				s0 = _mm256_fmadd_ps(_mm256_add_ps(t0, t1), d, s0);
		}
		store(c + j, hsum8(_mm256_add_ps(s0, s1)), beta);
	}
}

// ---- AVX-512 ----

__attribute__((target("avx512f,avx512bw,f16c"))) static inline __m512 i8x16(const uint8_t *p) {
	return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
}

// q4x32_512 unpacks one Q4 block's 32 q-8 values (its nibbles nib) as two
// vectors of 16: a table look-up on each 32-bit lane's low 4 bits.
__attribute__((target("avx512f,avx512bw,f16c"))) static inline void q4x32_512(const uint8_t *nib, __m512 *lo, __m512 *hi) {
	const __m512 tab = _mm512_setr_ps(-8, -7, -6, -5, -4, -3, -2, -1, 0, 1, 2, 3, 4, 5, 6, 7);
	__m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)nib));
	*lo = _mm512_permutexvar_ps(v, tab);
	*hi = _mm512_permutexvar_ps(_mm512_srli_epi32(v, 4), tab);
}

__attribute__((target("avx512f,avx512bw,f16c"))) static void deq_avx512(int fmt, float *dst, const uint8_t *r,
                                                                  const uint8_t *sc, float s, long k) {
	if (fmt == fmtInt8) {
		__m512 sv = _mm512_set1_ps(s);
		long p = 0;
		for (; p + 16 <= k; p += 16) _mm512_storeu_ps(dst + p, _mm512_mul_ps(i8x16(r + p), sv));
		for (; p < k; p++) dst[p] = (float)(int8_t)r[p] * s;
		return;
	}
	for (long b = 0; b < k / 32; b++, r += 16, sc += 2, dst += 32) {
		__m512 lo, hi, d = _mm512_set1_ps(halfc(sc));
		q4x32_512(r, &lo, &hi);
		_mm512_storeu_ps(dst, _mm512_mul_ps(lo, d));
		_mm512_storeu_ps(dst + 16, _mm512_mul_ps(hi, d));
	}
}

__attribute__((target("avx512f,avx512bw,f16c"))) static float dot_avx512(const float *a, const float *b, long k) {
	__m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
	long p = 0;
	for (; p + 64 <= k; p += 64) {
		s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p), _mm512_loadu_ps(b + p), s0);
		s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p + 16), _mm512_loadu_ps(b + p + 16), s1);
		s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p + 32), _mm512_loadu_ps(b + p + 32), s2);
		s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p + 48), _mm512_loadu_ps(b + p + 48), s3);
	}
	for (; p + 16 <= k; p += 16) s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + p), _mm512_loadu_ps(b + p), s0);
	float r = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
	for (; p < k; p++) r += a[p] * b[p];
	return r;
}

__attribute__((target("avx512f,avx512bw,f16c"))) static void i8rows1_avx512(long j0, long j1, long k, const float *a,
                                                                      const uint8_t *q, const float *scale,
                                                                      float beta, float *c) {
	long k64 = k & ~63L;
	for (long j = j0; j < j1; j++) {
		const uint8_t *wr = q + j * k;
		__m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
		for (long p = 0; p < k64; p += 64) {
			s0 = _mm512_fmadd_ps(i8x16(wr + p), _mm512_loadu_ps(a + p), s0);
			s1 = _mm512_fmadd_ps(i8x16(wr + p + 16), _mm512_loadu_ps(a + p + 16), s1);
			s2 = _mm512_fmadd_ps(i8x16(wr + p + 32), _mm512_loadu_ps(a + p + 32), s2);
			s3 = _mm512_fmadd_ps(i8x16(wr + p + 48), _mm512_loadu_ps(a + p + 48), s3);
		}
		float r = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
		for (long p = k64; p < k; p++) r += a[p] * (float)(int8_t)wr[p];
		store(c + j, r * scale[j], beta);
	}
}

__attribute__((target("avx512f,avx512bw,f16c"))) static void q4rows1_avx512(long j0, long j1, long k, const float *a,
                                                                      const uint8_t *q, const float *scale,
                                                                      float beta, float *c) {
	long nb = k / 32;
	for (long j = j0; j < j1; j++) {
		const uint8_t *blk = q4nib(q, j, k), *sc = q4sc(scale, j, k);
		__m512 s0 = _mm512_setzero_ps(), s1 = s0;
		long b = 0;
		for (; b + 2 <= nb; b += 2, blk += 32, sc += 4) {
			__m512 l0, h0, l1, h1;
			const float *ab = a + 32 * b;
			q4x32_512(blk, &l0, &h0);
			q4x32_512(blk + 16, &l1, &h1);
			__m512 t0 = _mm512_fmadd_ps(h0, _mm512_loadu_ps(ab + 16), _mm512_mul_ps(l0, _mm512_loadu_ps(ab)));
			__m512 t1 = _mm512_fmadd_ps(h1, _mm512_loadu_ps(ab + 48), _mm512_mul_ps(l1, _mm512_loadu_ps(ab + 32)));
			s0 = _mm512_fmadd_ps(t0, _mm512_set1_ps(halfc(sc)), s0);
			s1 = _mm512_fmadd_ps(t1, _mm512_set1_ps(halfc(sc + 2)), s1);
		}
		if (b < nb) {
			__m512 l0, h0;
			const float *ab = a + 32 * b;
			q4x32_512(blk, &l0, &h0);
			__m512 t0 = _mm512_fmadd_ps(h0, _mm512_loadu_ps(ab + 16), _mm512_mul_ps(l0, _mm512_loadu_ps(ab)));
			s0 = _mm512_fmadd_ps(t0, _mm512_set1_ps(halfc(sc)), s0);
		}
		store(c + j, _mm512_reduce_add_ps(_mm512_add_ps(s0, s1)), beta);
	}
}

// ---- dispatch ----

// isa returns 0 scalar, 1 AVX2, 2 AVX-512, capped by kormed_gemv_isa.
static int isa(void) {
	int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
	int avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw");
	if (kormed_gemv_isa == 1) return 0;
	if (kormed_gemv_isa == 2) return avx2;
	return avx512 ? 2 : avx2;
}

// deq writes row j of W (format fmt, [·,k], scale as kormed_gemv_qw's) to
// dst [k] as float32.
static void deq(int level, int fmt, float *dst, const uint8_t *q, const float *scale, long j, long k) {
	const uint8_t *r = fmt == fmtInt8 ? q + j * k : q4nib(q, j, k), *sc = fmt == fmtInt8 ? NULL : q4sc(scale, j, k);
	float s = fmt == fmtInt8 ? scale[j] : 0;
	if (level == 2)
		deq_avx512(fmt, dst, r, sc, s, k);
	else if (level == 1)
		deq_avx2(fmt, dst, r, sc, s, k);
	else
		deq_scalar(fmt, dst, r, sc, s, k);
}

static float dot(int level, const float *a, const float *b, long k) {
	return level == 2 ? dot_avx512(a, b, k) : level == 1 ? dot_avx2(a, b, k) : dot_scalar(a, b, k);
}

// qwJob is kormed_gemv_qw's loop for the pool (pool.h): blocks of 128
// weight rows, handed out one at a time.
typedef struct {
	int fmt, level;
	long m, n, k, lda, ldc;
	const float *a;
	const uint8_t *q;
	const float *scale;
	float beta;
	float *c;
	_Atomic int failed;
} qwJob;

static void qwBlock(void *ctx, long b) {
	qwJob *g = ctx;
	long m = g->m, k = g->k, j0 = b * 128, j1 = j0 + 128 < g->n ? j0 + 128 : g->n;
	const float *a = g->a;
	float beta = g->beta, *c = g->c;
	if (m == 1 && g->level == 2 && g->fmt == fmtInt8) {
		i8rows1_avx512(j0, j1, k, a, g->q, g->scale, beta, c);
	} else if (m == 1 && g->level == 2) {
		q4rows1_avx512(j0, j1, k, a, g->q, g->scale, beta, c);
	} else if (m == 1 && g->level == 1 && g->fmt == fmtInt8) {
		i8rows1_avx2(j0, j1, k, a, g->q, g->scale, beta, c);
	} else if (m == 1 && g->level == 1) {
		q4rows1_avx2(j0, j1, k, a, g->q, g->scale, beta, c);
	} else {
		float *w = malloc(k * sizeof(float));
		if (!w) {
			g->failed = 1;
			return;
		}
		for (long j = j0; j < j1; j++) {
			deq(g->level, g->fmt, w, g->q, g->scale, j, k);
			for (long i = 0; i < m; i++) store(c + i * g->ldc + j, dot(g->level, a + i * g->lda, w, k), beta);
		}
		free(w);
	}
}

// kormed_gemv_qw computes C = A·Wᵀ + beta·C for float32 A [m,k] and W
// [n,k] in format fmt (scale: Int8's row scales, Q4's block scales),
// splitting W's rows among
// nt threads. One input row runs in the fused kernels; more dequantize
// each weight row once into a buffer that every input row then reads.
// It returns non-zero when that buffer cannot be allocated.
int kormed_gemv_qw(int fmt, long m, long n, long k, const float *a, long lda, const uint8_t *q, const float *scale,
                   float beta, float *c, long ldc, int nt) {
	qwJob g = {fmt, isa(), m, n, k, lda, ldc, a, q, scale, beta, c, 0};
	kormed_pool_run(m * n * k >= (1L << 16) ? nt : 1, (n + 127) / 128, qwBlock, &g);
	return g.failed;
}

// kormed_dequant_qw_row writes row j of W (format fmt, [·,k]) to dst [k]
// as float32 on the calling thread (bf16.c's quantized bf16 products).
void kormed_dequant_qw_row(int fmt, long j, long k, const uint8_t *q, const float *scale, float *dst) {
	deq(isa(), fmt, dst, q, scale, j, k);
}

// kormed_dequant_qw writes rows j0…j0+nr-1 of W (format fmt, [·,k]) to
// dst [nr,k] as float32, on nt threads.
void kormed_dequant_qw(int fmt, long j0, long nr, long k, const uint8_t *q, const float *scale, float *dst, int nt) {
	int level = isa();
#pragma omp parallel for num_threads(nt) schedule(static) if (nr * k >= (1L << 16))
	for (long r = 0; r < nr; r++) deq(level, fmt, dst + r * k, q, scale, j0 + r, k);
}

// ---- Q4 as int8 per row (MatMulQ's int8 prompts) ----

// q4s8_row writes the Q4 row of nibbles r and scales sc [k/32 blocks] as
// int8 dst [k] with one scale, returned: s = 8·max|d|/127 over the row's
// block scales d, each weight round-to-even((q-8)·(d/s)) in float32
// (|·| ≤ 127); Go's q4RowInt8.
static float q4s8_row(const uint8_t *r, const uint8_t *sc, long k, int8_t *dst, int avx512);

__attribute__((target("avx512f,avx512bw,f16c"))) static void q4s8_blocks_avx512(const uint8_t *r, const uint8_t *sc,
                                                                          long nb, float s, int8_t *dst) {
	const __m512i e8 = _mm512_set1_epi32(8);
	for (long b = 0; b < nb; b++, r += 16, sc += 2, dst += 32) {
		__m512 f = _mm512_set1_ps(halfc(sc) / s);
		__m512i v = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)r));
		__m512i lo = _mm512_sub_epi32(_mm512_and_si512(v, _mm512_set1_epi32(15)), e8);
		__m512i hi = _mm512_sub_epi32(_mm512_srli_epi32(v, 4), e8);
		// The product rounded to even by the conversion (MXCSR's default).
		_mm_storeu_si128((__m128i *)dst, _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(lo), f))));
		_mm_storeu_si128((__m128i *)(dst + 16),
		                 _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_cvtepi32_ps(hi), f))));
	}
}

static float q4s8_row(const uint8_t *r, const uint8_t *sc, long k, int8_t *dst, int avx512) {
	long nb = k / 32;
	float m = 0;
	for (long b = 0; b < nb; b++) m = fmaxf(m, fabsf(half(sc + 2 * b)));
	float s = m * 8 / 127;
	if (!(s > 0) || s != s || s > 3.4e38f) { // all zero (or not finite): zeros
		memset(dst, 0, k);
		return 0;
	}
	if (avx512) {
		q4s8_blocks_avx512(r, sc, nb, s, dst);
		return s;
	}
	for (long b = 0; b < nb; b++, r += 16, sc += 2, dst += 32) {
		float f = half(sc) / s;
		for (int i = 0; i < 16; i++) {
			dst[i] = (int8_t)rintf((float)((r[i] & 15) - 8) * f);
			dst[i + 16] = (int8_t)rintf((float)((r[i] >> 4) - 8) * f);
		}
	}
	return s;
}

// kormed_q4_s8 writes Q4 rows W [n,k] (nibbles q, block scales qs) as
// int8 dst [n,k] with per-row scales (q4s8_row) on nt threads.
void kormed_q4_s8(long n, long k, const uint8_t *q, const float *qs, int8_t *dst, float *scale, int nt) {
	int avx512 = isa() == 2;
#pragma omp parallel for num_threads(nt) schedule(static) if (n * k >= (1L << 16))
	for (long j = 0; j < n; j++) scale[j] = q4s8_row(q4nib(q, j, k), q4sc(qs, j, k), k, dst + j * k, avx512);
}
