//go:build cgo

#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "kernels.h"

// Below this many elements a kernel runs on the calling thread: waking the
// OpenMP team costs more than the work (results do not depend on it).
#define PAR_MIN 65536

#if defined(__x86_64__) && !defined(__clang__)
#define TC __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define TC
#endif

// erf: the rational approximation used by Eigen, XLA and TVM (x clamped
// to [-4, 4], where float32 erf is already ±1); a few ulp.
static inline float erf_f(float x) {
	x = x > 4.f ? 4.f : (x < -4.f ? -4.f : x);
	float x2 = x * x;
	float p = x2 * -2.72614225801306e-10f + 2.77068142495902e-08f;
	p = x2 * p + -2.10102402082508e-06f;
	p = x2 * p + -5.69250639462346e-05f;
	p = x2 * p + -7.34990630326855e-04f;
	p = x2 * p + -2.95459980854025e-03f;
	p = x2 * p + -1.60960333262415e-02f;
	float q = x2 * -1.45660718464996e-05f + -2.13374055278905e-04f;
	q = x2 * q + -1.68282697438203e-03f;
	q = x2 * q + -7.37332916720468e-03f;
	q = x2 * q + -1.42647390514189e-02f;
	return x * p / q;
}

static inline float gelu_f(float x) { return 0.5f * x * (1.f + erf_f(x * 0.70710678118654752f)); }

// exp: Cephes expf (range reduction by ln2 in two parts, degree-5
// polynomial, 2^n by exponent bits); 0 below -87.3, ~1 ulp elsewhere.
static inline float exp_f(float x) {
	float xc = x > 88.3762626647949f ? 88.3762626647949f : (x < -87.3f ? -87.3f : x);
	float n = __builtin_rintf(xc * 1.44269504088896341f);
	float r = xc - n * 0.693359375f;
	r = r - n * -2.12194440e-4f;
	float p = 1.9875691500e-4f;
	p = p * r + 1.3981999507e-3f;
	p = p * r + 8.3334519073e-3f;
	p = p * r + 4.1665795894e-2f;
	p = p * r + 1.6666665459e-1f;
	p = p * r + 5.0000001201e-1f;
	float y = p * r * r + r + 1.f;
	int32_t bits = ((int32_t)n + 127) << 23;
	float s;
	memcpy(&s, &bits, 4);
	y *= s;
	return x < -87.3f ? 0.f : y;
}

TC static void bias_row(float *restrict o, const float *restrict b, long n) {
	for (long j = 0; j < n; j++) o[j] += b[j];
}

TC static void bias_gelu_row(float *restrict o, float *restrict pre, const float *restrict b, long n) {
	if (pre) {
		for (long j = 0; j < n; j++) {
			float x = o[j] + (b ? b[j] : 0.f);
			pre[j] = x;
			o[j] = gelu_f(x);
		}
	} else if (b) {
		for (long j = 0; j < n; j++) o[j] = gelu_f(o[j] + b[j]);
	} else {
		for (long j = 0; j < n; j++) o[j] = gelu_f(o[j]);
	}
}

TC static void gelu_span(float *o, const float *in, long n) {
	for (long j = 0; j < n; j++) o[j] = gelu_f(in[j]);
}

TC static void add_span(float *o, const float *a, const float *b, long n) {
	for (long j = 0; j < n; j++) o[j] = a[j] + b[j];
}

void kn_bias(float *out, const float *b, long N, long OC, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (N * OC >= PAR_MIN)
	for (long i = 0; i < N; i++) bias_row(out + i * OC, b, OC);
}

// kn_bias_gelu_rows is kn_bias_gelu without pre on the calling thread:
// blas.MatMulInt8FFN's step between its two products, per tile.
void kn_bias_gelu_rows(float *h, const float *b, long rows, long n) {
	for (long i = 0; i < rows; i++) bias_gelu_row(h + i * n, NULL, b, n);
}

void kn_bias_gelu(float *out, float *pre, const float *b, long N, long OC, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (N * OC >= PAR_MIN / 4)
	for (long i = 0; i < N; i++) bias_gelu_row(out + i * OC, pre ? pre + i * OC : NULL, b, OC);
}

#define SPAN 4096

void kn_gelu(float *out, const float *in, long n, int nt) {
	long chunks = (n + SPAN - 1) / SPAN;
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= PAR_MIN / 4)
	for (long c = 0; c < chunks; c++) {
		long lo = c * SPAN, hi = lo + SPAN < n ? lo + SPAN : n;
		gelu_span(out + lo, in + lo, hi - lo);
	}
}

// GELU's derivative, Φ(x) + x·φ(x), accumulated: din += dout·GELU'(pre).
TC static void gelu_backward_span(float *restrict din, const float *restrict pre, const float *restrict dout, long n) {
	for (long j = 0; j < n; j++) {
		float x = pre[j];
		float cdf = 0.5f * (1.f + erf_f(x * 0.70710678118654752f));
		float pdf = 0.3989422804014327f * exp_f(-0.5f * x * x);
		din[j] += dout[j] * (cdf + x * pdf);
	}
}

void kn_gelu_backward(float *din, const float *pre, const float *dout, long n, int nt) {
	long chunks = (n + SPAN - 1) / SPAN;
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= PAR_MIN / 4)
	for (long c = 0; c < chunks; c++) {
		long lo = c * SPAN, hi = lo + SPAN < n ? lo + SPAN : n;
		gelu_backward_span(din + lo, pre + lo, dout + lo, hi - lo);
	}
}

// Dropout masks: splitmix64's finaliser of key + index·0xD6E8FEB86659FD93
// at or above the threshold p·2⁶⁴ keeps the element (nn/dropout.go's kept;
// the Go and C kernels drop the same elements).
static inline uint64_t mix64(uint64_t z) {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

// o may be in (dropout in place): elementwise, so no restrict.
TC static void drop_span(float *o, const float *in, long n, uint64_t key, uint64_t base,
                         uint64_t th, float scale) {
	for (long j = 0; j < n; j++) {
		uint64_t h = mix64(key + (base + (uint64_t)j) * 0xD6E8FEB86659FD93ULL);
		o[j] = h >= th ? in[j] * scale : 0.f;
	}
}

// Dropout of x [B,T,C] in place: element (b,t,c) has index t·C+c under keys[b].
void kn_dropout_rows(float *x, long B, long T, long C, const uint64_t *keys, uint64_t th, float scale, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (B * T * C >= PAR_MIN / 4)
	for (long r = 0; r < B * T; r++) {
		long b = r / T, t = r % T;
		drop_span(x + r * C, x + r * C, C, keys[b], (uint64_t)(t * C), th, scale);
	}
}

// dst = src ⊙ mask·scale for head h's [T,T] attention probabilities:
// element (i,j) has index h<<42 | i<<21 | j (nn/dropout.go's attnIndex).
void kn_drop_probs(float *dst, const float *src, long T, long h, uint64_t key, uint64_t th, float scale) {
	for (long i = 0; i < T; i++)
		drop_span(dst + i * T, src + i * T, T, key, (uint64_t)h << 42 | (uint64_t)i << 21, th, scale);
}

void kn_add(float *out, const float *a, const float *b, long n, int nt) {
	long chunks = (n + SPAN - 1) / SPAN;
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= PAR_MIN)
	for (long c = 0; c < chunks; c++) {
		long lo = c * SPAN, hi = lo + SPAN < n ? lo + SPAN : n;
		add_span(out + lo, a + lo, b + lo, hi - lo);
	}
}

// One row of (optionally residual-added) LayerNorm; statistics in float32
// with 16 partial sums, two passes over the row (it is in L1).
TC static void layernorm_row(float *o, float *sum, float *mean, float *rstd, const float *a, const float *ab,
                             const float *r, const float *restrict w, const float *restrict b, long C, float eps) {
	const float *x = a;
	if (r && ab) {
		float *s = sum ? sum : o;
		for (long j = 0; j < C; j++) s[j] = (a[j] + ab[j]) + r[j];
		x = s;
	} else if (r) {
		float *s = sum ? sum : o;
		for (long j = 0; j < C; j++) s[j] = a[j] + r[j];
		x = s;
	}
	float acc[16] = {0};
	long j = 0;
	for (; j + 16 <= C; j += 16)
		for (int l = 0; l < 16; l++) acc[l] += x[j + l];
	float m = 0;
	for (; j < C; j++) m += x[j];
	for (int l = 0; l < 16; l++) m += acc[l];
	m /= (float)C;
	float acc2[16] = {0};
	j = 0;
	for (; j + 16 <= C; j += 16)
		for (int l = 0; l < 16; l++) {
			float d = x[j + l] - m;
			acc2[l] += d * d;
		}
	float v = 0;
	for (; j < C; j++) v += (x[j] - m) * (x[j] - m);
	for (int l = 0; l < 16; l++) v += acc2[l];
	v /= (float)C;
	float s = 1.f / sqrtf(v + eps);
	for (j = 0; j < C; j++) o[j] = (x[j] - m) * s * w[j] + b[j];
	if (mean) *mean = m;
	if (rstd) *rstd = s;
}

void kn_layernorm(float *out, float *sum, float *mean, float *rstd, const float *a, const float *ab,
                  const float *r, const float *w, const float *b, long N, long C, float eps, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (N * C >= PAR_MIN / 4)
	for (long i = 0; i < N; i++)
		layernorm_row(out + i * C, sum ? sum + i * C : NULL, mean ? mean + i : NULL, rstd ? rstd + i : NULL,
		              a + i * C, ab, r ? r + i * C : NULL, w, b, C, eps);
}

// Column sums, the gradient of a bias: db[j] += Σ_i dout[i,j], in double,
// rows in order, over blocks of 64 columns (one thread each). The pure-Go
// kernel sums the same way, so both give the same bits.
TC static void colsum_block(double *restrict acc, const float *restrict dout, long N, long OC, long c0, long n) {
	for (long i = 0; i < N; i++) {
		const float *r = dout + i * OC + c0;
		for (long j = 0; j < n; j++) acc[j] += (double)r[j];
	}
}

void kn_bias_backward(float *db, const float *dout, long N, long OC, int nt) {
	long nb = (OC + 63) / 64;
#pragma omp parallel for num_threads(nt) schedule(static) if (N * OC >= PAR_MIN)
	for (long cb = 0; cb < nb; cb++) {
		double acc[64] = {0};
		long c0 = cb * 64, n = c0 + 64 < OC ? 64 : OC - c0;
		colsum_block(acc, dout, N, OC, c0, n);
		for (long j = 0; j < n; j++) db[c0 + j] += (float)acc[j];
	}
}

// One row of LayerNorm's backward (nn.LayerNormBackward's formulas): the
// row means of w·g and w·g·x̂ in double over 8 interleaved partial sums,
// din += (w·g − mean(w·g) − x̂·mean(w·g·x̂))·rstd, and the row's share of
// dw (x̂·g) and db (g) added to the thread's double partials.
TC static void ln_backward_row(float *din, double *restrict pw, double *restrict pb, const float *restrict g,
                               const float *restrict x, const float *restrict w, float m, float rs, long C) {
	double s1[8] = {0}, s2[8] = {0};
	long j = 0;
	for (; j + 8 <= C; j += 8)
		for (int k = 0; k < 8; k++) {
			float norm = (x[j + k] - m) * rs;
			double dn = (double)(w[j + k] * g[j + k]);
			s1[k] += dn;
			s2[k] += dn * (double)norm;
		}
	for (; j < C; j++) {
		float norm = (x[j] - m) * rs;
		double dn = (double)(w[j] * g[j]);
		s1[0] += dn;
		s2[0] += dn * (double)norm;
	}
	double dnMean = 0, dnNormMean = 0;
	for (int k = 0; k < 8; k++) {
		dnMean += s1[k];
		dnNormMean += s2[k];
	}
	dnMean /= (double)C;
	dnNormMean /= (double)C;
	for (j = 0; j < C; j++) {
		float norm = (x[j] - m) * rs;
		pb[j] += (double)g[j];
		pw[j] += (double)norm * (double)g[j];
		if (din) {
			double dn = (double)(w[j] * g[j]);
			din[j] += (float)((dn - dnMean - (double)norm * dnNormMean) * (double)rs);
		}
	}
}

// LayerNorm's backward over N rows: each thread takes a contiguous block of
// rows and keeps its own dw/db partials, added in thread order at the end
// (the same result on every run with the same thread count).
void kn_layernorm_backward(float *din, float *dw, float *db, const float *dout, const float *in, const float *w,
                           const float *mean, const float *rstd, long N, long C, int nt) {
	int T = N * C >= PAR_MIN / 4 ? nt : 1;
	if (T < 1) T = 1;
	double *part = calloc((size_t)T * 2 * (size_t)C, sizeof(double));
	if (!part) abort(); // out of memory for a few KB of partial sums
#pragma omp parallel num_threads(T)
	{
		int t = omp_get_thread_num(), nth = omp_get_num_threads();
		long lo = N * t / nth, hi = N * (t + 1) / nth;
		double *pw = part + (size_t)t * 2 * (size_t)C, *pb = pw + C;
		for (long i = lo; i < hi; i++)
			ln_backward_row(din ? din + i * C : NULL, pw, pb, dout + i * C, in + i * C, w, mean[i], rstd[i], C);
	}
	for (int t = 0; t < T; t++) {
		const double *pw = part + (size_t)t * 2 * (size_t)C, *pb = pw + C;
		for (long j = 0; j < C; j++) {
			if (dw) dw[j] += (float)pw[j];
			if (db) db[j] += (float)pb[j];
		}
	}
	free(part);
}

// One AdamW step over n elements (train.AdamW's formula, PyTorch's order
// of operations in float32): decay < 1 applies decoupled weight decay.
TC static void adamw_span(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, long n,
                          float decay, float b1, float b2, float c1, float c2, float bc2s, float eps, float step) {
	for (long j = 0; j < n; j++) {
		float pj = p[j] * decay;
		float gj = g[j];
		m[j] = m[j] * b1 + gj * c1;
		v[j] = v[j] * b2 + c2 * gj * gj;
		float denom = sqrtf(v[j]) / bc2s + eps;
		p[j] = pj + -step * (m[j] / denom);
	}
}

void kn_adamw(float *p, const float *g, float *m, float *v, long n, float decay, float b1, float b2, float c1,
              float c2, float bc2s, float eps, float step, int nt) {
	long chunks = (n + SPAN - 1) / SPAN;
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= PAR_MIN)
	for (long c = 0; c < chunks; c++) {
		long lo = c * SPAN, hi = lo + SPAN < n ? lo + SPAN : n;
		adamw_span(p + lo, g + lo, m + lo, v + lo, hi - lo, decay, b1, b2, c1, c2, bc2s, eps, step);
	}
}

// Σ x² in double: fixed blocks of SPAN elements (8 interleaved partial
// sums each), block sums added in order — the same value for any thread count.
TC static double sumsq_span(const float *x, long n) {
	double s[8] = {0};
	long j = 0;
	for (; j + 8 <= n; j += 8)
		for (int k = 0; k < 8; k++) s[k] += (double)x[j + k] * (double)x[j + k];
	for (; j < n; j++) s[0] += (double)x[j] * (double)x[j];
	double t = 0;
	for (int k = 0; k < 8; k++) t += s[k];
	return t;
}

double kn_sumsq(const float *x, long n, int nt) {
	long chunks = (n + SPAN - 1) / SPAN;
	double *part = malloc((size_t)(chunks > 0 ? chunks : 1) * sizeof(double));
	if (!part) abort();
#pragma omp parallel for num_threads(nt) schedule(static) if (n >= PAR_MIN)
	for (long c = 0; c < chunks; c++) {
		long lo = c * SPAN, hi = lo + SPAN < n ? lo + SPAN : n;
		part[c] = sumsq_span(x + lo, hi - lo);
	}
	double t = 0;
	for (long c = 0; c < chunks; c++) t += part[c];
	free(part);
	return t;
}

// exp_sum writes dst = exp(src − mx) and returns its sum (dst may be src).
static inline __attribute__((always_inline)) float exp_sum(float *dst, const float *src, long n, float mx) {
	float sum = 0;
#pragma omp simd reduction(+ : sum)
	for (long t = 0; t < n; t++) {
		float e = exp_f(src[t] - mx);
		dst[t] = e;
		sum += e;
	}
	return sum;
}

// exp_norm writes dst = softmax(src) given src's maximum mx (dst may be
// src): e = exp(src − mx), summed, then scaled by 1/sum.
static inline __attribute__((always_inline)) void exp_norm(float *dst, const float *src, long n, float mx) {
	float sum = exp_sum(dst, src, n, mx);
	float inv = 1.f / sum;
	for (long t = 0; t < n; t++) dst[t] *= inv;
}

// One (batch, head): scores = q·kᵀ/sqrt(hs) + (1-mask)·FLT_MIN_NEG (as HF
// BERT), softmax over keys, out = probs·v. q, k, v have row stride ld; out
// has row stride ldo; att is [T,T]. Scratch: kt [hs,Tp] (kᵀ, columns
// zero-padded to Tp, a multiple of 16), sc [RB,Tp] scores, pr [RB,Tp] probs,
// madd [Tp]. RB = 6 query rows at a time are kept in vector registers
// (GCC vector extensions: 16 floats, split by the compiler when the
// target has narrower vectors), so no accumulator round-trips memory.
typedef float v16 __attribute__((vector_size(64)));

// Written by the attention block sweep so the loads are not optimised away.
static volatile float touch_sink;
typedef float v16u __attribute__((vector_size(64), aligned(4)));

#define RB 6

static inline __attribute__((always_inline)) void qk_tile(float *sc, long Tp, const float *q, long ld,
                                                          const float *kt, long hs, long c, int rows,
                                                          const int nch) {
	v16 acc[RB][4];
	for (int r = 0; r < RB; r++)
		for (int j = 0; j < nch; j++) acc[r][j] = (v16){0};
	const float *qr[RB];
	for (int r = 0; r < RB; r++) qr[r] = q + (r < rows ? r : rows - 1) * ld;
	for (long i = 0; i < hs; i++) {
		v16 kv[4];
		for (int j = 0; j < nch; j++) kv[j] = *(const v16 *)(kt + i * Tp + c + 16 * j);
		for (int r = 0; r < RB; r++) {
			float qv = qr[r][i];
			for (int j = 0; j < nch; j++) acc[r][j] += qv * kv[j];
		}
	}
	for (int r = 0; r < RB; r++)
		for (int j = 0; j < nch; j++) *(v16 *)(sc + r * Tp + c + 16 * j) = acc[r][j];
}

static inline __attribute__((always_inline)) void pv_tile(float *o, long ldo, const float *pr, long Tp,
                                                          const float *v, long ld, long T, long c, int rows,
                                                          const int nch) {
	v16 acc[RB][4];
	for (int r = 0; r < RB; r++)
		for (int j = 0; j < nch; j++) acc[r][j] = (v16){0};
	for (long t2 = 0; t2 < T; t2++) {
		v16 vv[4];
		for (int j = 0; j < nch; j++) vv[j] = *(const v16u *)(v + t2 * ld + c + 16 * j);
		for (int r = 0; r < RB; r++) {
			float p = pr[r * Tp + t2];
			for (int j = 0; j < nch; j++) acc[r][j] += p * vv[j];
		}
	}
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < nch; j++) *(v16u *)(o + r * ldo + c + 16 * j) = acc[r][j];
}

TC static void attention_head16(float *restrict out, float *restrict att, const float *restrict q,
                                const float *restrict k, const float *restrict v, const float *restrict mask,
                                long T, long Tk, long hs, long ld, long ldo, float scale, float *restrict kt,
                                float *restrict sc, float *restrict pr, float *restrict madd) {
	long Tp = (Tk + 15) & ~15L;
	for (long i = 0; i < hs; i++)
		for (long t2 = Tk; t2 < Tp; t2++) kt[i * Tp + t2] = 0;
	for (long t2 = 0; t2 < Tk; t2++)
		for (long i = 0; i < hs; i++) kt[i * Tp + t2] = k[t2 * ld + i];
	for (long t2 = 0; t2 < Tk; t2++) madd[t2] = mask ? (1.f - mask[t2]) * -3.4028234663852886e38f : 0.f;
	for (long t = 0; t < T; t += RB) {
		int rows = T - t < RB ? (int)(T - t) : RB;
		for (long c = 0; c < Tp; c += 64) {
			long left = (Tp - c) / 16;
			if (left >= 4)
				qk_tile(sc, Tp, q + t * ld, ld, kt, hs, c, rows, 4);
			else if (left == 3)
				qk_tile(sc, Tp, q + t * ld, ld, kt, hs, c, rows, 3);
			else if (left == 2)
				qk_tile(sc, Tp, q + t * ld, ld, kt, hs, c, rows, 2);
			else
				qk_tile(sc, Tp, q + t * ld, ld, kt, hs, c, rows, 1);
		}
		for (int r = 0; r < rows; r++) {
			float *s = sc + r * Tp, *p = pr + r * Tp;
			float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
			for (long t2 = 0; t2 < Tk; t2++) {
				float x = s[t2] * scale + madd[t2];
				s[t2] = x;
				mx = x > mx ? x : mx;
			}
			exp_norm(p, s, Tk, mx);
			if (att) {
				memcpy(att + (t + r) * T, p, sizeof(float) * Tk);
				memset(att + (t + r) * T + Tk, 0, sizeof(float) * (T - Tk));
			}
		}
		for (long c = 0; c < hs; c += 64) {
			long left = (hs - c) / 16;
			if (left >= 4)
				pv_tile(out + t * ldo, ldo, pr, Tp, v, ld, Tk, c, rows, 4);
			else if (left == 3)
				pv_tile(out + t * ldo, ldo, pr, Tp, v, ld, Tk, c, rows, 3);
			else if (left == 2)
				pv_tile(out + t * ldo, ldo, pr, Tp, v, ld, Tk, c, rows, 2);
			else
				pv_tile(out + t * ldo, ldo, pr, Tp, v, ld, Tk, c, rows, 1);
		}
	}
}

// Generic head (any hs): the same math with plain loops.
TC static void attention_head(float *restrict out, float *restrict att, const float *restrict q,
                              const float *restrict k, const float *restrict v, const float *restrict mask,
                              long T, long Tk, long hs, long ld, long ldo, float scale,
                              float *restrict kt, float *restrict row, float *restrict madd) {
	for (long t2 = 0; t2 < Tk; t2++)
		for (long i = 0; i < hs; i++) kt[i * Tk + t2] = k[t2 * ld + i];
	for (long t2 = 0; t2 < Tk; t2++) madd[t2] = mask ? (1.f - mask[t2]) * -3.4028234663852886e38f : 0.f;
	for (long t = 0; t < T; t++) {
		const float *qt = q + t * ld;
		for (long t2 = 0; t2 < Tk; t2++) row[t2] = 0;
		for (long i = 0; i < hs; i++) {
			float qi = qt[i];
			const float *kr = kt + i * Tk;
			for (long t2 = 0; t2 < Tk; t2++) row[t2] += qi * kr[t2];
		}
		float mx = -INFINITY;
		for (long t2 = 0; t2 < Tk; t2++) {
			float s = row[t2] * scale + madd[t2];
			row[t2] = s;
			mx = s > mx ? s : mx;
		}
		exp_norm(row, row, Tk, mx);
		if (att) {
			memcpy(att + t * T, row, sizeof(float) * Tk);
			memset(att + t * T + Tk, 0, sizeof(float) * (T - Tk));
		}
		float *restrict o = out + t * ldo;
		for (long i = 0; i < hs; i++) o[i] = 0;
		for (long t2 = 0; t2 < Tk; t2++) {
			float p = row[t2];
			const float *vr = v + t2 * ld;
			for (long i = 0; i < hs; i++) o[i] += p * vr[i];
		}
	}
}

// attend is one (batch, head) of kn_attention: o [T,hs] (row stride C)
// from the head's q at base, k at base + C and v at base + 2C (row stride
// 3C), the sequence's mask m [T] (or NULL), probabilities to a [T,T]
// unless NULL; scratch as attention_head16's, for T. Keys past the last
// unmasked one get probability exactly 0 (exp of finfo.min underflows),
// so they are skipped; a fully masked row keeps all keys (HF then
// averages uniformly).
static void attend(float *o, float *a, const float *base, const float *m, long T, long C, long hs, float scale,
                   float *kt, float *sc, float *pr, float *madd) {
	long Tk = T;
	if (m) {
		while (Tk > 0 && m[Tk - 1] == 0) Tk--;
		if (Tk == 0) Tk = T;
	}
	if (hs % 16 == 0)
		attention_head16(o, a, base, base + C, base + 2 * C, m, T, Tk, hs, 3 * C, C, scale, kt, sc, pr, madd);
	else
		attention_head(o, a, base, base + C, base + 2 * C, m, T, Tk, hs, 3 * C, C, scale, kt, sc, madd);
}

void kn_attention(float *out, float *att, const float *qkv, const float *mask,
                  long B, long T, long C, long NH, int nt) {
	long hs = C / NH;
	float scale = 1.f / sqrtf((float)hs);
	long Tp = (T + 15) & ~15L;
#pragma omp parallel num_threads(nt) if (B * NH >= 2)
	{
		// kt [hs,Tp] | sc [RB,Tp] | pr [RB,Tp] | madd [Tp], 64-byte aligned.
		size_t n = (size_t)(hs * Tp + 2 * RB * Tp + Tp);
		size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
		float *scratch = aligned_alloc(64, bytes);
		memset(scratch, 0, bytes); // rows past T in a last partial block are read (not stored)
		float *kt = scratch, *sc = kt + hs * Tp, *pr = sc + RB * Tp, *madd = pr + RB * Tp;
		long first = -1;
#pragma omp for schedule(static)
		for (long bh = 0; bh < B * NH; bh++) {
			if (first < 0) first = bh;
			long b = bh / NH, h = bh % NH;
			const float *base = qkv + b * T * 3 * C + h * hs;
			float *o = out + b * T * C + h * hs, *a = att ? att + bh * T * T : NULL;
			const float *m = mask ? mask + b * T : NULL;
			// Heads read 3·hs-float slices of rows strided by 3C, a pattern
			// the hardware prefetcher misses; pull the batch's whole [T,3C]
			// block (a few hundred KB, L2-sized) in one sequential sweep
			// when a thread starts on it.
			if (h == 0 || bh == first) {
				const float *p = qkv + b * T * 3 * C;
				float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
				long n = T * 3 * C, i = 0;
				for (; i + 64 <= n; i += 64) {
					s0 += p[i];
					s1 += p[i + 16];
					s2 += p[i + 32];
					s3 += p[i + 48];
				}
				for (; i < n; i += 16) s0 += p[i];
				touch_sink = s0 + s1 + s2 + s3;
			}
			attend(o, a, base, m, T, C, hs, scale, kt, sc, pr, madd);
		}
		free(scratch);
	}
}

// ---- an encoder block at inference, int8 projections, sequence by sequence ----

// BLK_ROWS is the most rows of one int8 product call of kn_block_int8. A
// group of sequences is one sequence of T ≥ BLK_ROWS/2 rows (products in
// calls of BLK_ROWS rows and a remainder), or ⌊BLK_ROWS/T⌋ shorter ones.
#define BLK_ROWS 64

static __thread float *blk_buf;
static __thread size_t blk_cap;

// blk_scratch returns this thread's scratch of n floats, 64-byte aligned,
// kept for the thread's next call (as blas keeps its tile buffers: at
// e5-small's shape and 64 tokens about 1 MB a thread). It is zeroed when
// it grows: the attention reads, without storing, rows of its score
// blocks past the last query row, and zeros keep those reads from
// meeting NaNs or subnormals.
static float *blk_scratch(size_t n) {
	size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
	if (bytes > blk_cap) {
		free(blk_buf);
		blk_buf = aligned_alloc(64, bytes);
		blk_cap = blk_buf ? bytes : 0;
		if (blk_buf) memset(blk_buf, 0, bytes);
	}
	return blk_buf;
}

// ceil64 rounds a float count up to whole 64-byte lines.
static inline long ceil64(long n) { return (n + 15) & ~15L; }

// block_group runs kn_block_int8 on the ns sequences from s0, rows r0 =
// s0·T on, on this thread alone: every intermediate lives in this
// thread's scratch (qkv [R,3C], y and ln1 [R,C] for R = ns·T rows, and
// per BLK_ROWS rows t [·,C] and h [·,F]), which stays in its cache; in is
// read and out written only in the group's rows, so out may be in.
static int block_group(float *out, const float *in, const float *mask, long s0, long ns, long T, long C, long F,
                       long NH, float eps, const kn_block8 *k, kn_int8_rows prod) {
	long R = ns * T, r0 = s0 * T, hs = C / NH, Tp = (T + 15) & ~15L;
	long nqkv = ceil64(R * 3 * C), ny = ceil64(R * C), nr = ceil64(BLK_ROWS * C), nh = ceil64(BLK_ROWS * F),
	     natt = ceil64(hs * Tp + 2 * RB * Tp + Tp);
	float *buf = blk_scratch((size_t)(nqkv + 2 * ny + nr + nh + natt));
	if (!buf) return 100;
	float *qkv = buf, *y = qkv + nqkv, *ln1 = y + ny, *t = ln1 + ny, *h = t + nr, *kt = h + nh;
	float *sc = kt + hs * Tp, *pr = sc + RB * Tp, *madd = pr + RB * Tp;
	float scale = 1.f / sqrtf((float)hs);
	int st;
	for (long c0 = 0; c0 < R; c0 += BLK_ROWS) {
		long n = R - c0 < BLK_ROWS ? R - c0 : BLK_ROWS;
		if ((st = prod(n, in + (r0 + c0) * C, C, k->qkv.w, k->qkv.s, k->qkv.b, qkv + c0 * 3 * C, 3 * C))) return st;
	}
	for (long s = 0; s < ns; s++)
		for (long hd = 0; hd < NH; hd++)
			attend(y + s * T * C + hd * hs, NULL, qkv + s * T * 3 * C + hd * hs, mask ? mask + (s0 + s) * T : NULL,
			       T, C, hs, scale, kt, sc, pr, madd);
	for (long c0 = 0; c0 < R; c0 += BLK_ROWS) {
		long n = R - c0 < BLK_ROWS ? R - c0 : BLK_ROWS;
		const float *x = in + (r0 + c0) * C;
		float *l1 = ln1 + c0 * C, *o = out + (r0 + c0) * C;
		if ((st = prod(n, y + c0 * C, C, k->attn_out.w, k->attn_out.s, NULL, t, C))) return st;
		for (long i = 0; i < n; i++)
			layernorm_row(l1 + i * C, NULL, NULL, NULL, t + i * C, k->attn_out.b, x + i * C, k->ln1_w, k->ln1_b, C, eps);
		if ((st = prod(n, l1, C, k->inter.w, k->inter.s, NULL, h, F))) return st;
		kn_bias_gelu_rows(h, k->inter.b, n, F);
		if ((st = prod(n, h, F, k->out.w, k->out.s, NULL, t, C))) return st;
		for (long i = 0; i < n; i++)
			layernorm_row(o + i * C, NULL, NULL, NULL, t + i * C, k->out.b, l1 + i * C, k->ln2_w, k->ln2_b, C, eps);
	}
	return 0;
}

typedef struct {
	float *out;
	const float *in, *mask;
	long B, T, C, F, NH, g;
	float eps;
	const kn_block8 *k;
	kn_int8_rows prod;
} blockArgs;

static int blockGroup(const void *ctx, long G) {
	const blockArgs *x = ctx;
	long s0 = G * x->g;
	return block_group(x->out, x->in, x->mask, s0, x->B - s0 < x->g ? x->B - s0 : x->g, x->T, x->C, x->F, x->NH,
	                   x->eps, x->k, x->prod);
}

int kn_block_int8(float *out, const float *in, const float *mask, long B, long T, long C, long F, long NH, float eps,
                  const kn_block8 *k, void *prod, void *each, int nt) {
	long g = T >= BLK_ROWS ? 1 : BLK_ROWS / T; // sequences a group
	long groups = (B + g - 1) / g;
	if (nt > 1 && groups % nt != 0 && groups < 2 * nt) return -1;
	blockArgs x = {out, in, mask, B, T, C, F, NH, g, eps, k, (kn_int8_rows)prod};
	return ((kn_int8_each)each)(groups, nt, blockGroup, &x);
}

// ---- decoder: SwiGLU and one generated token's attention ----

TC static void swiglu_row(float *restrict o, const float *restrict g, const float *restrict u, long n) {
	for (long j = 0; j < n; j++) o[j] = g[j] / (1.f + exp_f(-g[j])) * u[j];
}

void kn_swiglu(float *out, const float *gu, long N, long F, int nt) {
#pragma omp parallel for num_threads(nt) schedule(static) if (N * F >= PAR_MIN)
	for (long i = 0; i < N; i++) swiglu_row(out + i * F, gu + i * 2 * F, gu + i * 2 * F + F, F);
}

// One generated token's attention (T = 1): each key/value head g's rep
// query heads q [rep,hs] (contiguous, as repeat_kv orders them) against
// the S cached keys k and values v (row stride ld, head g at column g·hs),
// out [rep,hs] per group. The cache is split by position into chunks of
// DB rows (flash-decoding): a chunk's item takes every head over its rows,
// reading them as one contiguous run, and leaves per query head its
// scores' maximum m, the sum l of exp(score − m) and the value sum o
// weighted by those exponentials; kn_decode_attention then combines the
// chunks in order, out = Σ o·e^(m−M) / Σ l·e^(m−M) for M the largest m.
// The chunks do not depend on the thread count, so neither do the
// results. Split by key/value head instead, each thread read half of
// every 2.5 KB cache row at the 2.4B shape, and the attention ran at
// 11 GB/s. The query rows and the value sums stay in vector registers for
// a chunk (hs a multiple of 16, up to 128; other head sizes take plain
// loops).
#define DB 64
#define DR 4
// DPF is how many rows ahead dec_qk and dec_pv prefetch their head's
// columns: a head's 320 bytes every 2.5 KB defeat the hardware's
// prefetchers. One token's attention over 30 layers of 544 cached
// positions at the 2.4B shape (Intel Xeon, AMX; 2 threads): 7.2 GB/s
// without, 9.6–11.0 at 4 rows, 10.6–11.9 at 8, 10.5–12.6 at 16, 10.3–11.7
// at 24, 8.5–10.1 at 32.
#define DPF 16

static inline __attribute__((always_inline)) float hsum16(const v16 *p) {
	v16 a = *p;
	typedef float v8 __attribute__((vector_size(32)));
	typedef float v4 __attribute__((vector_size(16)));
	v8 b = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +
	       __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);
	v4 c = __builtin_shufflevector(b, b, 0, 1, 2, 3) + __builtin_shufflevector(b, b, 4, 5, 6, 7);
	return (c[0] + c[2]) + (c[1] + c[3]);
}

// dec_qk writes sc[r·S + t − t0] = scale·(q_r · k_t) for rows < DR query
// heads and keys t0…t1-1.
static inline __attribute__((always_inline)) void dec_qk(float *sc, long S, const float *q, long hs,
                                                         const float *k, long ld, long t0, long t1,
                                                         float scale, int rows, const int nch) {
	v16 qv[DR][8];
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < nch; j++) qv[r][j] = *(const v16u *)(q + r * hs + 16 * j);
	for (long t = t0; t < t1; t++) {
		v16 kv[8];
		if (t + DPF < t1)
			for (int j = 0; j < nch; j++) __builtin_prefetch(k + (t + DPF) * ld + 16 * j);
		for (int j = 0; j < nch; j++) kv[j] = *(const v16u *)(k + t * ld + 16 * j);
		for (int r = 0; r < rows; r++) {
			v16 a = qv[r][0] * kv[0];
			for (int j = 1; j < nch; j++) a += qv[r][j] * kv[j];
			sc[r * S + t - t0] = hsum16(&a) * scale;
		}
	}
}

// dec_pv sets o's rows < DR to Σ_t pr[r·S + t − t0]·v_t over keys t0…t1-1.
static inline __attribute__((always_inline)) void dec_pv(float *o, long hs, const float *pr, long S,
                                                         const float *v, long ld, long t0, long t1, int rows,
                                                         const int nch) {
	v16 acc[DR][8];
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < nch; j++) acc[r][j] = (v16){0};
	for (long t = t0; t < t1; t++) {
		v16 vv[8];
		if (t + DPF < t1)
			for (int j = 0; j < nch; j++) __builtin_prefetch(v + (t + DPF) * ld + 16 * j);
		for (int j = 0; j < nch; j++) vv[j] = *(const v16u *)(v + t * ld + 16 * j);
		for (int r = 0; r < rows; r++) {
			float p = pr[r * S + t - t0];
			for (int j = 0; j < nch; j++) acc[r][j] += p * vv[j];
		}
	}
	for (int r = 0; r < rows; r++)
		for (int j = 0; j < nch; j++) *(v16u *)(o + r * hs + 16 * j) = acc[r][j];
}

#define NCH_CASES(CALL)                                                                                      \
	switch (nch) {                                                                                       \
	case 1: CALL(1); break;                                                                              \
	case 2: CALL(2); break;                                                                              \
	case 3: CALL(3); break;                                                                              \
	case 4: CALL(4); break;                                                                              \
	case 5: CALL(5); break;                                                                              \
	case 6: CALL(6); break;                                                                              \
	case 7: CALL(7); break;                                                                              \
	default: CALL(8);                                                                                    \
	}

// decode_chunk16 is keys t0…t1-1 of every group for hs = 16·nch: the
// scores into sc [NH, t1−t0], then their exponentials, m, l and o.
TC static void decode_chunk16(float *restrict o, float *restrict m, float *restrict l, const float *restrict q,
                              const float *restrict k, const float *restrict v, long ld, long t0, long t1,
                              long NKV, long rep, long hs, float scale, float *restrict sc) {
	const int nch = (int)(hs / 16);
	long n = t1 - t0;
	for (long g = 0; g < NKV; g++)
		for (long r0 = 0; r0 < rep; r0 += DR) {
			int rows = rep - r0 < DR ? (int)(rep - r0) : DR;
			long h = g * rep + r0;
#define QK(N) dec_qk(sc + h * n, n, q + h * hs, hs, k + g * hs, ld, t0, t1, scale, rows, N)
			NCH_CASES(QK)
#undef QK
		}
	for (long h = 0; h < NKV * rep; h++) {
		float *s = sc + h * n, mx = -INFINITY;
#pragma omp simd reduction(max : mx)
		for (long t = 0; t < n; t++) mx = s[t] > mx ? s[t] : mx;
		m[h] = mx;
		l[h] = exp_sum(s, s, n, mx);
	}
	for (long g = 0; g < NKV; g++)
		for (long r0 = 0; r0 < rep; r0 += DR) {
			int rows = rep - r0 < DR ? (int)(rep - r0) : DR;
			long h = g * rep + r0;
#define PV(N) dec_pv(o + h * hs, hs, sc + h * n, n, v + g * hs, ld, t0, t1, rows, N)
			NCH_CASES(PV)
#undef PV
		}
}

// decode_chunk is decode_chunk16 for any hs (plain loops).
TC static void decode_chunk(float *restrict o, float *restrict m, float *restrict l, const float *restrict q,
                            const float *restrict k, const float *restrict v, long ld, long t0, long t1, long NKV,
                            long rep, long hs, float scale, float *restrict sc) {
	long n = t1 - t0, NH = NKV * rep;
	for (long t = t0; t < t1; t++)
		for (long h = 0; h < NH; h++) {
			const float *qh = q + h * hs, *kt = k + t * ld + h / rep * hs;
			float d = 0;
			for (long i = 0; i < hs; i++) d += qh[i] * kt[i];
			sc[h * n + t - t0] = d * scale;
		}
	for (long h = 0; h < NH; h++) {
		float *s = sc + h * n, mx = -INFINITY;
		for (long t = 0; t < n; t++) mx = s[t] > mx ? s[t] : mx;
		m[h] = mx;
		l[h] = exp_sum(s, s, n, mx);
	}
	memset(o, 0, sizeof(float) * NH * hs);
	for (long t = t0; t < t1; t++)
		for (long h = 0; h < NH; h++) {
			const float *vt = v + t * ld + h / rep * hs;
			float p = sc[h * n + t - t0], *oh = o + h * hs;
			for (long i = 0; i < hs; i++) oh[i] += p * vt[i];
		}
}

// kn_pool is blas's kormed_pool_run (blas/pool.h), set by kn_set_pool:
// one thread pool for the products and this attention, which alternate
// within a generated token. NULL: OpenMP.
static void (*kn_pool)(int nt, long n, void (*body)(void *ctx, long i), void *ctx);

void kn_set_pool(void *run) { kn_pool = (void (*)(int, long, void (*)(void *, long), void *))run; }

typedef struct {
	const float *q, *k, *v;
	float *o, *m, *l; // per chunk c: o [NH,hs], m and l [NH] at c·NH·hs and c·NH
	long ld, S, NKV, rep, hs;
	float scale;
	int fast, ok;
} decodeJob;

// decodeChunk is chunk c: keys c·DB… of every head.
static void decodeChunk(void *ctx, long c) {
	decodeJob *j = ctx;
	long NH = j->NKV * j->rep, t0 = c * DB, t1 = t0 + DB < j->S ? t0 + DB : j->S;
	float *sc = malloc(sizeof(float) * NH * (t1 - t0));
	if (!sc) {
		__atomic_store_n(&j->ok, 0, __ATOMIC_RELAXED);
		return;
	}
	float *o = j->o + c * NH * j->hs, *m = j->m + c * NH, *l = j->l + c * NH;
	if (j->fast)
		decode_chunk16(o, m, l, j->q, j->k, j->v, j->ld, t0, t1, j->NKV, j->rep, j->hs, j->scale, sc);
	else
		decode_chunk(o, m, l, j->q, j->k, j->v, j->ld, t0, t1, j->NKV, j->rep, j->hs, j->scale, sc);
	free(sc);
}

int kn_decode_attention(float *out, const float *q, const float *k, const float *v, long ld, long S, long NKV,
                        long rep, long hs, float scale, int nt) {
	long NH = NKV * rep, chunks = (S + DB - 1) / DB;
	float *buf = malloc(sizeof(float) * chunks * NH * (hs + 2));
	if (!buf) return 0;
	decodeJob j = {q, k, v, buf, buf + chunks * NH * hs, buf + chunks * NH * (hs + 1), ld, S, NKV, rep, hs, scale,
	               hs % 16 == 0 && hs <= 128, 1};
	int par = chunks > 1 && NH * S * hs >= PAR_MIN ? (nt < chunks ? nt : (int)chunks) : 1;
	if (kn_pool) {
		kn_pool(par, chunks, decodeChunk, &j);
	} else {
#pragma omp parallel for num_threads(par) schedule(dynamic, 1) if (par > 1)
		for (long c = 0; c < chunks; c++) decodeChunk(&j, c);
	}
	if (j.ok)
		for (long h = 0; h < NH; h++) {
			float M = -INFINITY, L = 0, *oh = out + h * hs;
			for (long c = 0; c < chunks; c++) M = j.m[c * NH + h] > M ? j.m[c * NH + h] : M;
			memset(oh, 0, sizeof(float) * hs);
			for (long c = 0; c < chunks; c++) {
				if (j.m[c * NH + h] == -INFINITY && M != -INFINITY) continue; // weight 0; its o may be NaN
				float e = exp_f(j.m[c * NH + h] - M);
				const float *oc = j.o + (c * NH + h) * hs;
				L += j.l[c * NH + h] * e;
				for (long i = 0; i < hs; i++) oh[i] += oc[i] * e;
			}
			float inv = 1.f / L;
			for (long i = 0; i < hs; i++) oh[i] *= inv;
		}
	free(buf);
	return j.ok;
}
