//go:build cgo && !nodnnl

// One row of float32 input (a generated token) against quantized weights
// in integers, on AVX512-VNNI: c = a·Wᵀ + beta·c for W [n,k] stored as
// Int8 (per row) or Q4 (Q4_0 blocks, nibbles and scales apart: qw.h). The float kernels of qw.c
// spend more instructions per weight byte than a core can issue while
// memory streams the next (sign-extend, convert and FMA per 16 int8
// weights; two table look-ups per 32 Q4 weights), so they fall behind the
// bf16 kernel's rate in bytes; these spend one or two integer dot
// instructions per 64 weights.
//
//	Int8  the input is rounded to int16 per block of 512 (one float32
//	      scale per block, d = max|x|/32767, q = round-to-even(x/d)):
//	      vpdpwssd multiplies int16 pairs into int32, the weights widened
//	      from bytes. The rounding, |x − q·d| ≤ d/2 = max|x|/65534, is
//	      below float32 summation's error on these rows, so the product
//	      is as accurate as the float kernel (QDotAuto picks it); block
//	      sums are exact in int32 (|Σ| ≤ 512·32767·127 < 2³¹).
//	Q4    the input is Q8_0 (qdot.c's kormed_quant_act: the integers of
//	      QDotInt) laid out per group of four blocks as the weights'
//	      nibbles come out of one 64-byte load: the low nibbles of the
//	      four blocks (elements 0–15 of each), then the high ones (16–31).
//	      A group's nibbles are one 64-byte load; two vpdpbusd give its
//	      int32 block sums, lanes 4b…4b+3 for block b, and one FMA scales
//	      them by the block scales, converted sixteen at a time from the
//	      separate stream of scales and spread to the lanes by one permute.
#include <immintrin.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "qw.h"

#define VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,fma,f16c")))

static long q4Ahead, i8Ahead; // the prefetch distances (gemvPrefetch, below)

// ---- Int8: int16 activations ----

enum { blk16 = 512 };

// quant16 rounds x [k] to int16 q [kp] (zero past k) with one scale per
// block of 512, d[b] = max|x|/32767 over the block.
VNNI static void quant16(const float *x, long k, int16_t *q, float *d, long kp) {
	for (long b = 0; b < kp / blk16; b++) {
		long p0 = b * blk16, e = k - p0 < blk16 ? k - p0 : blk16;
		__m512 m = _mm512_setzero_ps();
		long p = 0;
		for (; p + 16 <= e; p += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(x + p0 + p)));
		if (p < e) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_maskz_loadu_ps((__mmask16)((1u << (e - p)) - 1), x + p0 + p)));
		float s = _mm512_reduce_max_ps(m) / 32767, id = s != 0 ? 1 / s : 0;
		d[b] = s;
		__m512 iv = _mm512_set1_ps(id);
		const __m512 hi = _mm512_set1_ps(32767), lo = _mm512_set1_ps(-32767);
		for (p = 0; p < blk16; p += 16) {
			long r = e - p;
			__mmask16 mk = r >= 16 ? 0xffff : r <= 0 ? 0 : (__mmask16)((1u << r) - 1);
			__m512 v = _mm512_mul_ps(_mm512_maskz_loadu_ps(mk, x + p0 + p), iv);
			__m512i qi = _mm512_cvtps_epi32(_mm512_min_ps(hi, _mm512_max_ps(lo, v))); // round to even
			_mm256_storeu_si256((__m256i *)(q + p0 + p), _mm512_cvtepi32_epi16(qi));
		}
	}
}

// i8rows16 writes rows j0…j1-1 of W·x for int16 x (quant16's).
VNNI static void i8rows16(long j0, long j1, long k, const int16_t *x, const float *d, const uint8_t *w,
                          const float *scale, float beta, float *c) {
	const long ahead = i8Ahead;
	for (long j = j0; j < j1; j++) {
		const uint8_t *wr = w + j * k;
		__m512 acc = _mm512_setzero_ps();
		for (long p0 = 0; p0 < k; p0 += blk16) {
			long e = k - p0 < blk16 ? k : p0 + blk16, p = p0;
			__m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
#define W16(o) _mm512_cvtepi8_epi16(_mm256_loadu_si256((const __m256i *)(wr + p + (o))))
			for (; p + 128 <= e; p += 128) {
				_mm_prefetch((const char *)(wr + p + ahead), _MM_HINT_T0); // 0: the line about to be read
				_mm_prefetch((const char *)(wr + p + ahead + 64), _MM_HINT_T0);
				a0 = _mm512_dpwssd_epi32(a0, W16(0), _mm512_loadu_si512(x + p));
				a1 = _mm512_dpwssd_epi32(a1, W16(32), _mm512_loadu_si512(x + p + 32));
				a2 = _mm512_dpwssd_epi32(a2, W16(64), _mm512_loadu_si512(x + p + 64));
				a3 = _mm512_dpwssd_epi32(a3, W16(96), _mm512_loadu_si512(x + p + 96));
			}
#undef W16
			for (; p < e; p += 32) { // x is zero past k: load only the row's bytes
				long r = e - p;
				__mmask32 mk = r >= 32 ? 0xffffffffu : (__mmask32)((1u << r) - 1);
				__m512i wv = _mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(mk, wr + p));
				a0 = _mm512_dpwssd_epi32(a0, wv, _mm512_loadu_si512(x + p));
			}
			__m512i s = _mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3));
			acc = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_set1_ps(d[p0 / blk16]), acc);
		}
		store(c + j, _mm512_reduce_add_ps(acc) * scale[j], beta);
	}
}

// ---- Q4: Q8_0 activations in nibble order ----

// q4x is the Q8_0 input laid out for q4rows: per group g of four blocks
// xp[128g…] = blocks' elements 0–15 then 16–31, c4[16g+l] = -8·(the sum
// of the 8 q that lane l multiplies) seeding vpdpbusd, dl4[16g+l] the
// scale of block 4g + l/4; blocks past the last whole group stay in block
// order in xp, with their scales in dt.
typedef struct {
	int8_t *xp;
	int32_t *c4;
	float *dl4, *dt;
} q4x;

static void q4layout(const int8_t *q, const float *d, long k, q4x *o) {
	long ng = k / 128;
	for (long g = 0; g < ng; g++) {
		const int8_t *s = q + 128 * g;
		int8_t *t = o->xp + 128 * g;
		for (int b = 0; b < 4; b++)
			for (int i = 0; i < 16; i++) t[16 * b + i] = s[32 * b + i], t[64 + 16 * b + i] = s[32 * b + 16 + i];
		for (int l = 0; l < 16; l++) {
			int32_t sum = 0;
			for (int i = 0; i < 4; i++) sum += t[4 * l + i] + t[64 + 4 * l + i];
			o->c4[16 * g + l] = -8 * sum;
			o->dl4[16 * g + l] = d[4 * g + l / 4];
		}
	}
	memcpy(o->xp + 128 * ng, q + 128 * ng, k - 128 * ng);
	for (long b = 4 * ng; b < k / 32; b++) o->dt[b - 4 * ng] = d[b];
}

// q4tail is the sum of weight row j's blocks past the last group (wr
// its nibbles, sr its scales).
static float q4tail(const uint8_t *wr, const uint8_t *sr, long k, const q4x *x) {
	long ng = k / 128;
	float r = 0;
	for (long b = 4 * ng; b < k / 32; b++) {
		const uint8_t *blk = wr + 16 * b;
		const int8_t *xb = x->xp + 32 * b;
		int32_t s = 0;
		for (int i = 0; i < 16; i++) s += ((blk[i] & 15) - 8) * xb[i] + ((blk[i] >> 4) - 8) * xb[i + 16];
		r += (float)s * (half(sr + 2 * b) * x->dt[b - 4 * ng]);
	}
	return r;
}

// q4Ahead and i8Ahead are how far ahead of their reads q4rows and
// i8rows16 prefetch the weights, by CPU maker (gemvPrefetch), measured
// from memory on 2 threads. i8Ahead 0 (AMD) prefetches the line about to
// be read: i8rows16 always issues it, as behind a branch GCC's loop lost
// the gain on Intel; on AMD that prefetch is unmeasured.
//   - AMD Zen 5, Q4 (8 gate|up matrices of the 2.4B shape in turn): 4 KiB
//     ran at 32–40 GB/s against 19–34 without (1, 2, 3, 6, 8 and 16 KiB
//     between); int8: no difference.
//   - Intel Xeon (Granite Rapids, AMX), Q4 (one token through the four
//     products of 8 layers of the 2.4B shape in turn): 12 KiB 18.1–18.2
//     GB/s, 16 KiB 17.8–18.5, 4 or 8 KiB 15.7–16.0, 20–32 KiB 17.0–17.7,
//     none 13.6–14.1. int8 (the 2.4B shape's LM head, 102400 × 2560):
//     12 KiB 21.1–21.7 GB/s, 16 KiB 20.7–21.6, none 20.1–20.2, 4 KiB
//     19.3–19.4.
static long q4Ahead = 4096, i8Ahead = 0;

__attribute__((constructor)) static void gemvPrefetch(void) {
	__builtin_cpu_init();
	if (__builtin_cpu_is("intel")) q4Ahead = i8Ahead = 12288;
}

// q4rows writes rows j0…j1-1 of W·x (nibbles w, block scales sc: qw.h),
// prefetching q4Ahead bytes ahead in the nibbles and an eighth of that in
// the scales (past a row's end into the next row of the block, or
// harmlessly past the matrix). A group's nibbles are one 64-byte
// load in the order q4layout puts the input in; its four scales are lanes
// of a vector of sixteen (four groups) converted once. Two weight rows per
// pass, sharing the input's loads, ran at half the rate from memory.
VNNI static void q4rows(long j0, long j1, long k, const q4x *x, const uint8_t *w, const uint8_t *sc, float beta,
                        float *c) {
	const __m512i m4 = _mm512_set1_epi8(15);
	__m512i sidx[4]; // group g's lanes: its block l/4's scale, of the sixteen from group g & ~3
	for (int t = 0; t < 4; t++) {
		int32_t ix[16];
		for (int l = 0; l < 16; l++) ix[l] = 4 * t + l / 4;
		sidx[t] = _mm512_loadu_si512(ix);
	}
	const long ng = k / 128, ahead = q4Ahead;
	for (long j = j0; j < j1; j++) {
		const uint8_t *wr = q4nib(w, j, k), *sr = q4sc(sc, j, k);
		__m512 a0 = _mm512_setzero_ps(), a1 = a0, s16 = a0;
		for (long g = 0; g < ng; g++) {
			if ((g & 3) == 0) {
				__m256i h = g + 4 <= ng ? _mm256_loadu_si256((const __m256i *)(sr + 8 * g))
				                        : _mm256_maskz_loadu_epi16((__mmask16)((1u << (4 * (ng - g))) - 1), sr + 8 * g);
				s16 = _mm512_cvtph_ps(h);
				_mm_prefetch((const char *)(sr + 8 * g + ahead / 8), _MM_HINT_T0);
			}
			__m512i cg = _mm512_load_si512(x->c4 + 16 * g), xl = _mm512_load_si512(x->xp + 128 * g),
			        xh = _mm512_load_si512(x->xp + 128 * g + 64);
			__m512 dl = _mm512_load_ps(x->dl4 + 16 * g);
			_mm_prefetch((const char *)(wr + 64 * g + ahead), _MM_HINT_T0);
			__m512i v = _mm512_loadu_si512(wr + 64 * g);
			__m512i lo = _mm512_and_si512(v, m4), hi = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
			__m512i s = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(cg, lo, xl), hi, xh);
			__m512 d = _mm512_mul_ps(_mm512_permutexvar_ps(sidx[g & 3], s16), dl);
			if (g & 1)
				a1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), d, a1);
			else
				a0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), d, a0);
		}
		store(c + j, _mm512_reduce_add_ps(_mm512_add_ps(a0, a1)) + q4tail(wr, sr, k, x), beta);
	}
}

// ---- dispatch ----

// Blocks of 128 weight rows are the pool's items (pool.h): a thread whose
// core is busy elsewhere does not hold the others up.
typedef struct {
	long n, k;
	const int16_t *x16; // Int8: the input as int16 (quant16), scales d
	const float *d;
	const q4x *x4; // Q4: the input as Q8_0 in nibble order (q4layout)
	const uint8_t *w;
	const float *scale;
	float beta;
	float *c;
} gemvJob;

static void i8block(void *ctx, long b) {
	const gemvJob *j = ctx;
	i8rows16(b * 128, b * 128 + 128 < j->n ? b * 128 + 128 : j->n, j->k, j->x16, j->d, j->w, j->scale, j->beta,
	         j->c);
}

static void q4block(void *ctx, long b) {
	const gemvJob *j = ctx;
	q4rows(b * 128, b * 128 + 128 < j->n ? b * 128 + 128 : j->n, j->k, j->x4, j->w, (const uint8_t *)j->scale, j->beta,
	       j->c);
}

// amalloc is malloc aligned to a cache line (the kernels' 64-byte loads of
// the input would otherwise each span two lines).
static void *amalloc(size_t n) { return aligned_alloc(64, (n + 63) & ~(size_t)63); }

void kormed_quant_act(int fmt, long m, long k, const float *a, long lda, int8_t *q, float *d, int32_t *c, int nt);

// kormed_gemv_int computes c = a·Wᵀ + beta·c for one row a [k] and W
// [n,k] in format fmt on nt threads, as above. It returns 1 when it did,
// 0 when the CPU lacks the instructions (or kormed_gemv_isa caps them) or
// the buffers cannot be allocated: the caller then takes another path.
int kormed_gemv_int(int fmt, long n, long k, const float *a, const uint8_t *w, const float *scale, float beta,
                    float *c, int nt) {
	if (kormed_gemv_isa != 0 || !__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
	    !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("avx512vnni") ||
	    !__builtin_cpu_supports("f16c"))
		return 0;
	long blocks = (n + 127) / 128;
	if (fmt == fmtInt8) {
		long kp = (k + blk16 - 1) / blk16 * blk16;
		int16_t *x = amalloc(kp * sizeof(int16_t));
		float *d = malloc(kp / blk16 * sizeof(float));
		if (!x || !d) {
			free(x), free(d);
			return 0;
		}
		quant16(a, k, x, d, kp);
		gemvJob j = {n, k, x, d, NULL, w, scale, beta, c};
		kormed_pool_run(n * k >= (1L << 16) ? nt : 1, blocks, i8block, &j);
		free(x), free(d);
		return 1;
	}
	long kp = (k + 63) & ~63L;
	int8_t *q = malloc(kp);
	float *d = malloc(kp / 32 * sizeof(float));
	int32_t *cq = malloc(kp / 4 * sizeof(int32_t));
	q4x x = {amalloc(k), amalloc(k / 8 * sizeof(int32_t)), amalloc(k / 8 * sizeof(float)), malloc(4 * sizeof(float))};
	if (!q || !d || !cq || !x.xp || !x.c4 || !x.dl4 || !x.dt) {
		free(q), free(d), free(cq), free(x.xp), free(x.c4), free(x.dl4), free(x.dt);
		return 0;
	}
	kormed_quant_act(fmt, 1, k, a, k, q, d, cq, 1);
	q4layout(q, d, k, &x);
	gemvJob j = {n, k, NULL, NULL, &x, w, scale, beta, c};
	kormed_pool_run(n * k >= (1L << 16) ? nt : 1, blocks, q4block, &j);
	free(q), free(d), free(cq), free(x.xp), free(x.c4), free(x.dl4), free(x.dt);
	return 1;
}
