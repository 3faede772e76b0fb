//go:build cgo && !nodnnl

// int8 products on AMX tiles (see amx.h; GCC 11 or later). oneDNN 2.6's AMX-INT8 matmul
// reaches about a sixth of the tile unit's rate on the encoder's products
// of one thread's 64 rows (measured on a Xeon with AMX, 1 thread:
// 64×1152×384 at 0.5 TMAC/s, against 2.9 for TDPBSSD alone, its operands
// in tiles); the per-call setup of a oneDNN primitive is much of it at
// this size. This kernel keeps four 16×16 blocks of sums in tiles, two
// tiles of rows and two of columns, and hands each finished 32×32 block
// back while it is in the core's cache: with the quantization and the
// dequantization, BenchmarkInt8Tiles gives 2.0–2.4× oneDNN's tiles on
// e5-small's four products (520–650 against 270–295 GMAC/s).
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "amx.h"

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18

int kormed_amx_init(void) { return syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) == 0; }

kormed_amx *kormed_amx_pack(const int8_t *q, long n, long k) {
	kormed_amx *p = calloc(1, sizeof *p);
	if (!p) return NULL;
	p->n = n, p->k = k, p->kb = (k + 63) / 64, p->nb = ((n + 31) / 32) * 2;
	p->data = aligned_alloc(64, (size_t)p->nb * p->kb * 1024);
	if (!p->data) {
		free(p);
		return NULL;
	}
	memset(p->data, 0, (size_t)p->nb * p->kb * 1024);
	for (long jb = 0; jb < p->nb; jb++)
		for (long c = 0; c < 16; c++) {
			long j = jb * 16 + c;
			if (j >= n) break;
			const int8_t *row = q + j * k;
			for (long kk = 0; kk < k; kk++) {
				long kb = kk / 64, r = kk % 64 / 4, e = kk % 4;
				p->data[(jb * p->kb + kb) * 1024 + r * 64 + c * 4 + e] = row[kk];
			}
		}
	return p;
}

void kormed_amx_free(kormed_amx *p) {
	if (!p) return;
	free(p->data);
	free(p);
}

// The tile configuration (LDTILECFG's 64 bytes): eight tiles of 16 rows
// of 64 bytes (0-3 the sums, 4-5 rows of qa, 6-7 columns of W).
typedef struct {
	uint8_t palette, start;
	uint8_t reserved[14];
	uint16_t colsb[16];
	uint8_t rows[16];
} __attribute__((packed, aligned(64))) tilecfg;

static const tilecfg cfg = {
    .palette = 1,
    .colsb = {64, 64, 64, 64, 64, 64, 64, 64},
    .rows = {16, 16, 16, 16, 16, 16, 16, 16},
};

__attribute__((target("amx-tile,amx-int8"))) void kormed_amx_s8(long m, const int8_t *qa, long lda, const kormed_amx *w,
								 kormed_amx_block done, void *ctx) {
	_tile_loadconfig(&cfg);
	int32_t acc[32 * 32] __attribute__((aligned(64)));
	long kb = w->kb;
	for (long jb = 0; jb < w->nb; jb += 2) {
		const int8_t *b0 = w->data + jb * kb * 1024, *b1 = b0 + kb * 1024;
		for (long i0 = 0; i0 < m; i0 += 32) {
			const int8_t *a0 = qa + i0 * lda, *a1 = a0 + 16 * lda;
			_tile_zero(0);
			_tile_zero(1);
			_tile_zero(2);
			_tile_zero(3);
			for (long p = 0; p < kb; p++) {
				_tile_loadd(4, a0 + p * 64, lda);
				_tile_loadd(6, b0 + p * 1024, 64);
				_tile_dpbssd(0, 4, 6);
				_tile_loadd(7, b1 + p * 1024, 64);
				_tile_dpbssd(1, 4, 7);
				_tile_loadd(5, a1 + p * 64, lda);
				_tile_dpbssd(2, 5, 6);
				_tile_dpbssd(3, 5, 7);
			}
			_tile_stored(0, acc, 128);
			_tile_stored(1, acc + 16, 128);
			_tile_stored(2, acc + 16 * 32, 128);
			_tile_stored(3, acc + 16 * 32 + 16, 128);
			done(ctx, i0, jb * 16, acc);
		}
	}
	_tile_release();
}
