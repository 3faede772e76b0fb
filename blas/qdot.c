//go:build cgo && !nodnnl

// Integer-dot products with quantized weights, llama.cpp's way (its
// ggml_vec_dot_q4_0_q8_0 and q8_0_q8_0): C = A·Wᵀ + beta·C for float32 A
// [m,k] and W [n,k] stored as Int8 (per row) or Q4 (Q4_0 blocks), with A's
// rows quantized once per call to int8 blocks of 32 (one float32 scale
// per block, round to nearest even; see qact below). Each block's dot
// product is an exact int32 sum, scaled by the weight block's and the
// activation block's scales and accumulated in float32; an Int8 row's own
// scale multiplies its sum at the end. The levels compute the same int32
// block sums (the scalar level and Go's goQDot also the same float32
// result, in the same order); AVX-512 and AVX2 sum the float32 terms in
// another order.
//
//	level 2  AVX512-VNNI (vpdpbusd): unsigned × signed bytes, so the
//	         weights are made unsigned (Q4's nibble q, Int8's w+128) and
//	         off·Σx (off 8 or 128), kept per 4 activations in qact.c,
//	         seeds the int32 sums.
//	level 1  AVX2 (vpmaddubsw, vpmaddwd) with the sign trick: |w| × x·sign(w).
//	level 0  scalar.
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "qw.h"

// qact is A's rows quantized: row i's kp = k rounded up to 64 int8 q
// (zero past k), kp/32 block scales d (d = max|x|/127 over the block,
// q = round-to-even(x·(1/d))) and kp/4 int32 c = -off·(sum of each 4 q)
// for level 2's unsigned weights.
typedef struct {
	long kp;
	int8_t *q;
	float *d;
	int32_t *c;
	float *dl; // level 2: d spread over c's lanes, dl[l] = d[l/8]
} qact;

// quant_row quantizes x [k] into row i of a (scalar; the same numbers as
// quant_row_avx512 and Go's quantizeQ8Row).
static void quant_row(const float *x, long k, int off, int8_t *q, float *d, int32_t *c, long kp) {
	for (long b = 0; b < kp / 32; b++) {
		long e = k - 32 * b;
		e = e < 0 ? 0 : e > 32 ? 32 : e;
		float amax = 0;
		for (long i = 0; i < e; i++) amax = fmaxf(amax, fabsf(x[32 * b + i]));
		float s = amax / 127, id = s != 0 ? 1 / s : 0;
		d[b] = s;
		for (long i = 0; i < 32; i++) {
			float r = i < e ? rintf(x[32 * b + i] * id) : 0;
			q[32 * b + i] = (int8_t)(r > 127 ? 127 : r < -127 ? -127 : r);
		}
	}
	for (long l = 0; l < kp / 4; l++) c[l] = -off * (q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3]);
}

__attribute__((target("avx512f,avx512bw"))) static void quant_row_avx512(const float *x, long k, int off, int8_t *q,
                                                                        float *d, int32_t *c, long kp) {
	long b = 0;
	for (; 32 * b + 32 <= k; b++) {
		__m512 x0 = _mm512_loadu_ps(x + 32 * b), x1 = _mm512_loadu_ps(x + 32 * b + 16);
		float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
		float s = amax / 127, id = s != 0 ? 1 / s : 0;
		d[b] = s;
		__m512 iv = _mm512_set1_ps(id);
		const __m512 hi = _mm512_set1_ps(127), lo = _mm512_set1_ps(-127);
		// The product, rounded to even by the conversion (MXCSR's default).
		__m512i q0 = _mm512_cvtps_epi32(_mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_mul_ps(x0, iv))));
		__m512i q1 = _mm512_cvtps_epi32(_mm512_min_ps(hi, _mm512_max_ps(lo, _mm512_mul_ps(x1, iv))));
		_mm_storeu_si128((__m128i *)(q + 32 * b), _mm512_cvtepi32_epi8(q0));
		_mm_storeu_si128((__m128i *)(q + 32 * b + 16), _mm512_cvtepi32_epi8(q1));
	}
	if (32 * b < kp) { // the partial block and the zero padding: scalar
		quant_row(x + 32 * b, k - 32 * b, off, q + 32 * b, d + b, c + 8 * b, kp - 32 * b);
	}
	for (long l = 0; l < 8 * b; l++) c[l] = -off * (q[4 * l] + q[4 * l + 1] + q[4 * l + 2] + q[4 * l + 3]);
}

// ---- scalar ----

// dot_scalar is row w's sum (Q4: nibbles w, block scales ws) against
// activation row (q, d): Int8's before its row scale.
static float dot_scalar(int fmt, const uint8_t *w, const uint8_t *ws, long k, const int8_t *q, const float *d) {
	float acc = 0;
	if (fmt == fmtInt8) {
		for (long b = 0; 32 * b < k; b++) {
			long e = k - 32 * b < 32 ? k - 32 * b : 32;
			int32_t s = 0;
			for (long i = 0; i < e; i++) s += (int8_t)w[32 * b + i] * q[32 * b + i];
			acc += (float)s * d[b];
		}
		return acc;
	}
	for (long b = 0; b < k / 32; b++, w += 16, ws += 2) {
		const int8_t *x = q + 32 * b;
		int32_t s = 0;
		for (int i = 0; i < 16; i++) s += ((w[i] & 15) - 8) * x[i] + ((w[i] >> 4) - 8) * x[i + 16];
		acc += (float)s * (half(ws) * d[b]);
	}
	return acc;
}

// ---- AVX2 ----

__attribute__((target("avx2,fma,f16c"))) static inline float qhsum8(__m256 v) {
	__m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
	s = _mm_add_ps(s, _mm_movehl_ps(s, s));
	s = _mm_add_ss(s, _mm_movehdup_ps(s));
	return _mm_cvtss_f32(s);
}

// idot32 is the 8 int32 partial sums of 32 signed w·x (|w| ≤ 127 or q-8).
__attribute__((target("avx2,fma,f16c"))) static inline __m256i idot32(__m256i w, __m256i x) {
	__m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(x, w));
	return _mm256_madd_epi16(p, _mm256_set1_epi16(1));
}

// q4u32 is one Q4 block's 32 q-8 (its nibbles nib) as bytes in element
// order.
__attribute__((target("avx2,fma,f16c"))) static inline __m256i q4u32(const uint8_t *nib) {
	__m128i n = _mm_loadu_si128((const __m128i *)nib);
	__m256i v = _mm256_inserti128_si256(_mm256_castsi128_si256(n), _mm_srli_epi16(n, 4), 1);
	return _mm256_sub_epi8(_mm256_and_si256(v, _mm256_set1_epi8(15)), _mm256_set1_epi8(8));
}

#define AVX2 __attribute__((target("avx2,fma,f16c"), always_inline)) static inline

// rows_avx2 writes the R sums of weight row w (Q4: nibbles w, block
// scales ws) against activation rows q[r·ldq…], d[r·ldd…] to out[r].
AVX2 void rows_avx2(int R, int fmt, const uint8_t *w, const uint8_t *ws, long k, const int8_t *q, long ldq,
                    const float *d, long ldd, float *out) {
	__m256 acc[4];
	#pragma GCC unroll 4
	for (int r = 0; r < R; r++) acc[r] = _mm256_setzero_ps();
	if (fmt == fmtInt8) {
		long b = 0;
		for (; 32 * b + 32 <= k; b++) {
			__m256i wv = _mm256_loadu_si256((const __m256i *)(w + 32 * b));
			#pragma GCC unroll 4
			for (int r = 0; r < R; r++) {
				__m256i p = idot32(wv, _mm256_loadu_si256((const __m256i *)(q + r * ldq + 32 * b)));
				acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(d[r * ldd + b]), acc[r]);
			}
		}
		#pragma GCC unroll 4
		for (int r = 0; r < R; r++) {
			float s = qhsum8(acc[r]);
			if (32 * b < k) {
				int32_t t = 0;
				for (long i = 32 * b; i < k; i++) t += (int8_t)w[i] * q[r * ldq + i];
				s += (float)t * d[r * ldd + b];
			}
			out[r] = s;
		}
		return;
	}
	for (long b = 0; b < k / 32; b++, w += 16, ws += 2) {
		__m256i wv = q4u32(w);
		float dw = _cvtsh_ss(*(const uint16_t *)ws);
		#pragma GCC unroll 4
		for (int r = 0; r < R; r++) {
			__m256i p = idot32(wv, _mm256_loadu_si256((const __m256i *)(q + r * ldq + 32 * b)));
			acc[r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), _mm256_set1_ps(dw * d[r * ldd + b]), acc[r]);
		}
	}
	#pragma GCC unroll 4
	for (int r = 0; r < R; r++) out[r] = qhsum8(acc[r]);
}

// ---- AVX512-VNNI ----

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c"), always_inline)) static inline

// rows_vnni writes the sums of W weight rows w, w+rb… (Q4: nibbles, and
// block scales ws, ws+k/16…) against R activation rows to out[v·4+r]: every activation vector loaded once for
// the W weight rows, every weight vector once for the R activation rows.
// dl is the activation block scales spread over the int32 lanes (lane l
// of a 64-byte chunk: block 2·chunk + l/8).
VNNI void rows_vnni(int W, int R, int fmt, const uint8_t *w, long rb, const uint8_t *ws, long k, const int8_t *q,
                    long ldq, const float *dl, const int32_t *c, long ldc4, float *out) {
	__m512 acc[2][4];
	__m256 acc1[2][4];
	#pragma GCC unroll 4
	for (int v = 0; v < W; v++)
		#pragma GCC unroll 4
		for (int r = 0; r < R; r++) acc[v][r] = _mm512_setzero_ps(), acc1[v][r] = _mm256_setzero_ps();
	if (fmt == fmtInt8) {
		const __m512i flip = _mm512_set1_epi8((char)0x80);
		for (long p = 0; p < k; p += 64) {
			__m512i wv[2];
			#pragma GCC unroll 4
			for (int v = 0; v < W; v++) {
				if (p + 64 <= k) {
					wv[v] = _mm512_loadu_si512(w + v * rb + p);
				} else { // the last weights, zero beyond k (x is zero there too)
					wv[v] = _mm512_maskz_loadu_epi8(~0ULL >> (64 - (k - p)), w + v * rb + p);
				}
				wv[v] = _mm512_xor_si512(wv[v], flip);
			}
			#pragma GCC unroll 4
			for (int r = 0; r < R; r++) {
				__m512i cr = _mm512_loadu_si512(c + r * ldc4 + p / 4), xr = _mm512_loadu_si512(q + r * ldq + p);
				__m512 sc = _mm512_loadu_ps(dl + r * ldc4 + p / 4);
				#pragma GCC unroll 4
				for (int v = 0; v < W; v++)
					acc[v][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(cr, wv[v], xr)), sc, acc[v][r]);
			}
		}
	} else {
		const __m512i sh = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
		const __m512i m4 = _mm512_set1_epi8(15);
		const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
		long nb = k / 32, b = 0;
		for (; b + 2 <= nb; b += 2) {
			__m512i u[2];
			__m512 dw[2];
			#pragma GCC unroll 4
			for (int v = 0; v < W; v++) {
				const uint8_t *blk = w + v * rb + b * 16, *bs = ws + v * (k / 16) + 2 * b;
				__m128i n0 = _mm_loadu_si128((const __m128i *)blk),
				        n1 = _mm_loadu_si128((const __m128i *)(blk + 16));
				__m512i t = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_broadcastsi128_si256(n0)),
				                               _mm256_broadcastsi128_si256(n1), 1);
				u[v] = _mm512_and_si512(_mm512_srlv_epi64(t, sh), m4); // [lo0 hi0 lo1 hi1]
				uint32_t hh;
				memcpy(&hh, bs, 4);
				dw[v] = _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(_mm_cvtph_ps(_mm_cvtsi32_si128((int)hh))));
			}
			#pragma GCC unroll 4
			for (int r = 0; r < R; r++) {
				__m512i cr = _mm512_loadu_si512(c + r * ldc4 + 8 * b), xr = _mm512_loadu_si512(q + r * ldq + 32 * b);
				__m512 sc = _mm512_loadu_ps(dl + r * ldc4 + 8 * b);
				#pragma GCC unroll 4
				for (int v = 0; v < W; v++)
					acc[v][r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_dpbusd_epi32(cr, u[v], xr)),
					                            _mm512_mul_ps(dw[v], sc), acc[v][r]);
			}
		}
		if (b < nb) {
			#pragma GCC unroll 4
			for (int v = 0; v < W; v++) {
				const uint8_t *blk = w + v * rb + b * 16, *bs = ws + v * (k / 16) + 2 * b;
				__m128i n0 = _mm_loadu_si128((const __m128i *)blk);
				__m256i u = _mm256_and_si256(
				    _mm256_srlv_epi64(_mm256_broadcastsi128_si256(n0), _mm256_setr_epi64x(0, 0, 4, 4)), _mm256_set1_epi8(15));
				__m256 dw = _mm256_set1_ps(_cvtsh_ss(*(const uint16_t *)bs));
				#pragma GCC unroll 4
				for (int r = 0; r < R; r++) {
					__m256i s = _mm256_dpbusd_epi32(_mm256_loadu_si256((const __m256i *)(c + r * ldc4 + 8 * b)), u,
					                                _mm256_loadu_si256((const __m256i *)(q + r * ldq + 32 * b)));
					__m256 sc = _mm256_mul_ps(dw, _mm256_loadu_ps(dl + r * ldc4 + 8 * b));
					acc1[v][r] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, acc1[v][r]);
				}
			}
		}
	}
	#pragma GCC unroll 4
	for (int v = 0; v < W; v++)
		#pragma GCC unroll 4
		for (int r = 0; r < R; r++) {
			__m256 h = _mm256_add_ps(_mm512_castps512_ps256(acc[v][r]),
			                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[v][r]), 1)));
			h = _mm256_add_ps(h, acc1[v][r]);
			__m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
			s = _mm_add_ps(s, _mm_movehl_ps(s, s));
			out[v * 4 + r] = _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
		}
}

// The kernels for W weight rows and R activation rows, each its own
// function so that W and R are constants in it.
#define ROWS_AVX2(R)                                                                                                  \
	__attribute__((target("avx2,fma,f16c"))) static void rows##R##_avx2(                                           \
	    int fmt, const uint8_t *w, const uint8_t *ws, long k, const int8_t *q, long ldq, const float *d, long ldd, \
	    float *out) {                                                                                              \
		rows_avx2(R, fmt, w, ws, k, q, ldq, d, ldd, out);                                                        \
	}
#define ROWS_VNNI(W, R)                                                                                               \
	__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c"))) static void rows##W##x##R##_vnni(    \
	    int fmt, const uint8_t *w, long rb, const uint8_t *ws, long k, const int8_t *q, long ldq, const float *dl, \
	    const int32_t *c, long ldc4, float *out) {                                                                 \
		rows_vnni(W, R, fmt, w, rb, ws, k, q, ldq, dl, c, ldc4, out);                                            \
	}
ROWS_AVX2(1)
ROWS_AVX2(4)
ROWS_VNNI(1, 1)
ROWS_VNNI(1, 4)
ROWS_VNNI(2, 1)
ROWS_VNNI(2, 4)

// ---- dispatch ----

// qisa returns 0 scalar, 1 AVX2, 2 AVX512-VNNI, capped by kormed_gemv_isa.
static int qisa(void) {
	int avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
	int vnni = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
	           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
	if (kormed_gemv_isa == 1) return 0;
	if (kormed_gemv_isa == 2) return avx2;
	return vnni ? 2 : avx2;
}

// rows writes C[i,j] for activation rows i0…i1-1 and weight rows j…j+W-1
// (W 2 only at level 2), wr being row j.
static void rows(int level, int fmt, long j, int W, long i0, long i1, long k, const uint8_t *wr, long rb,
                 const float *scale, const qact *a, float beta, float *c, long ldc) {
	long kp = a->kp;
	const uint8_t *ws = fmt == fmtQ4 ? q4sc(scale, j, k) : NULL;
	float out[8];
	for (long i = i0; i < i1;) {
		int R = i1 - i >= 4 && level > 0 ? 4 : 1;
		const int8_t *q = a->q + i * kp;
		const float *d = a->d + i * (kp / 32);
		if (level == 2) {
			const int32_t *cc = a->c + i * (kp / 4);
			const float *dl = a->dl + i * (kp / 4);
			if (W == 2 && R == 4)
				rows2x4_vnni(fmt, wr, rb, ws, k, q, kp, dl, cc, kp / 4, out);
			else if (W == 2)
				rows2x1_vnni(fmt, wr, rb, ws, k, q, kp, dl, cc, kp / 4, out);
			else if (R == 4)
				rows1x4_vnni(fmt, wr, rb, ws, k, q, kp, dl, cc, kp / 4, out);
			else
				rows1x1_vnni(fmt, wr, rb, ws, k, q, kp, dl, cc, kp / 4, out);
		} else if (level == 1) {
			if (R == 4)
				rows4_avx2(fmt, wr, ws, k, q, kp, d, kp / 32, out);
			else
				rows1_avx2(fmt, wr, ws, k, q, kp, d, kp / 32, out);
		} else {
			out[0] = dot_scalar(fmt, wr, ws, k, q, d);
		}
		for (int v = 0; v < W; v++) {
			float ws = fmt == fmtInt8 ? scale[j + v] : 1;
			for (int r = 0; r < R; r++) {
				float s = out[v * 4 + r];
				store(c + (i + r) * ldc + j + v, fmt == fmtInt8 ? s * ws : s, beta);
			}
		}
		i += R;
	}
}

// kormed_quant_act quantizes A [m,k] (row stride lda) into q [m,kp], d
// [m,kp/32], c [m,kp/4] for weights of format fmt (kp = k rounded up to
// 64); for the tests, which compare it with Go's.
void kormed_quant_act(int fmt, long m, long k, const float *a, long lda, int8_t *q, float *d, int32_t *c, int nt) {
	long kp = (k + 63) & ~63L;
	int off = fmt == fmtInt8 ? 128 : 8, avx512 = qisa() == 2;
#pragma omp parallel for num_threads(nt) schedule(static) if (m * k >= (1L << 16))
	for (long i = 0; i < m; i++) {
		if (avx512)
			quant_row_avx512(a + i * lda, k, off, q + i * kp, d + i * (kp / 32), c + i * (kp / 4), kp);
		else
			quant_row(a + i * lda, k, off, q + i * kp, d + i * (kp / 32), c + i * (kp / 4), kp);
	}
}

// qdotJob is kormed_qdot's loop for the pool (pool.h): blocks of jb
// weight rows, handed out one at a time.
typedef struct {
	int level, fmt;
	long m, n, k, rb, jb, ldc;
	const uint8_t *w;
	const float *scale;
	const qact *qa;
	float beta;
	float *c;
} qdotJob;

static void qdotBlock(void *ctx, long blk) {
	const qdotJob *g = ctx;
	long ib = 64, j0 = blk * g->jb, j1 = j0 + g->jb < g->n ? j0 + g->jb : g->n;
	for (long i0 = 0; i0 < g->m; i0 += ib) {
		long i1 = i0 + ib < g->m ? i0 + ib : g->m;
		for (long j = j0; j < j1;) {
			int W = g->level == 2 && g->m > 8 && j + 1 < j1 ? 2 : 1;
			rows(g->level, g->fmt, j, W, i0, i1, g->k, g->w + j * g->rb, g->rb, g->scale, g->qa, g->beta, g->c,
			     g->ldc);
			j += W;
		}
	}
}

// kormed_qdot computes C = A·Wᵀ + beta·C (see the top of the file) on nt
// threads: A quantized once, then each thread takes blocks of W's rows and
// runs them against tiles of A's rows, up to two weight rows and four rows
// of A per pass. It returns non-zero when the quantized A cannot be allocated.
int kormed_qdot(int fmt, long m, long n, long k, const float *a, long lda, const uint8_t *w, const float *scale,
                float beta, float *c, long ldc, int nt) {
	int level = qisa();
	long kp = (k + 63) & ~63L, rb = fmt == fmtInt8 ? k : k / 2; // a weight row's bytes (Q4: its nibbles)
	qact qa = {kp, malloc(m * kp), malloc(m * (kp / 32) * sizeof(float)), malloc(m * (kp / 4) * sizeof(int32_t)),
	           malloc(m * (kp / 4) * sizeof(float))};
	if (!qa.q || !qa.d || !qa.c || !qa.dl) {
		free(qa.q), free(qa.d), free(qa.c), free(qa.dl);
		return 1;
	}
	kormed_quant_act(fmt, m, k, a, lda, qa.q, qa.d, qa.c, nt);
	for (long l = 0; l < m * (kp / 4); l++) qa.dl[l] = qa.d[l / 8];
	// Row blocks of W: 128 rows for a few rows of A (each weight read once),
	// 32 for a prompt, whose tiles of 64 rows of A stay in cache.
	long jb = m <= 8 ? 128 : 32;
	qdotJob g = {level, fmt, m, n, k, rb, jb, ldc, w, scale, &qa, beta, c};
	kormed_pool_run(m * n * k >= (1L << 16) ? nt : 1, (n + jb - 1) / jb, qdotBlock, &g);
	free(qa.q), free(qa.d), free(qa.c), free(qa.dl);
	return 0;
}
