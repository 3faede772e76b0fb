// qw.h: what the quantized-weight kernels (qw.c: dequantizing products,
// qdot.c: integer dot products) share: the formats, the ISA switch and
// exact fp16 → float32.
#ifndef KORMED_QW_H
#define KORMED_QW_H
#include <stdint.h>
#include <string.h>

enum { fmtInt8 = 1, fmtQ4 = 2 };

// A Q4 matrix [n,k] (blas.QMatrix.Data) keeps its blocks' nibbles and
// scales apart: block b of row j has its 16 bytes of nibbles at
// q + 16·(j·k/32 + b) and its fp16 scale at sc + 2·(j·k/32 + b), sc being
// where the nibbles end, which the Go code passes as the scale pointer
// (blas's scalePtr). q4nib and q4sc are row j's.
static inline const uint8_t *q4nib(const uint8_t *q, long j, long k) { return q + j * (k / 2); }
static inline const uint8_t *q4sc(const void *sc, long j, long k) { return (const uint8_t *)sc + j * (k / 16); }

extern int kormed_gemv_isa; // bf16w.c: 0 best, 1 scalar, 2 AVX2

static inline void store(float *o, float s, float beta) { *o = beta == 0.f ? s : s + beta * *o; }

// half is an IEEE fp16 converted to float32 exactly.
static inline float half(const uint8_t *p) {
	uint16_t h;
	memcpy(&h, p, 2);
	uint32_t sign = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 0x1f, m = h & 0x3ff, u;
	if (e == 0x1f) {
		u = sign | 0x7f800000u | (m << 13);
	} else if (e != 0) {
		u = sign | ((e + 112) << 23) | (m << 13);
	} else if (m == 0) {
		u = sign;
	} else { // subnormal: normalise
		e = 113;
		while (!(m & 0x400)) {
			m <<= 1;
			e--;
		}
		u = sign | (e << 23) | ((m & 0x3ff) << 13);
	}
	float f;
	memcpy(&f, &u, 4);
	return f;
}

#endif
