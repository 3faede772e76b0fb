// int8 products on AMX tiles (amx.c): kormed's own kernel for one
// thread's rows, used by int8.c's tiles where the CPU has AMX-INT8.
#ifndef KORMED_AMX_H
#define KORMED_AMX_H
#include <stdint.h>

// kormed_amx is a weight matrix W [n,k] (int8, row-major) packed as AMX
// TDPBSSD reads its second operand: column blocks of 16 (n rounded up to
// 32), each as blocks of 64 along k (k rounded up), each a 1 KB tile of
// 16 rows of 4 consecutive k for each of the 16 columns; padding is 0.
typedef struct {
	long n, k, kb, nb; // kb blocks of 64 along k, nb blocks of 16 columns (even)
	int8_t *data;      // nb·kb tiles of 1024 bytes
} kormed_amx;

// kormed_amx_init asks the kernel for the tile state (arch_prctl) and
// reports whether the AMX kernel can run: 1 or 0.
int kormed_amx_init(void);

// kormed_amx_pack packs q [n,k]; NULL on failure. Free with
// kormed_amx_free.
kormed_amx *kormed_amx_pack(const int8_t *q, long n, long k);
void kormed_amx_free(kormed_amx *p);

// kormed_amx_block receives one block of kormed_amx_s8's sums: rows
// [i0,i0+32), columns [j0,j0+32) in acc [32][32].
typedef void (*kormed_amx_block)(void *ctx, long i0, long j0, const int32_t *acc);

// kormed_amx_s8 computes the exact int32 sums qa · Wᵀ for qa [m,64·kb]
// (row stride lda bytes, m rounded up to 32 rows readable, the padding
// columns and rows 0) in blocks of 32×32 on the calling thread, handing
// each block to done as soon as it is complete (its sums in the thread's
// cache). Rows and columns past m and n hold the padding's sums (0).
void kormed_amx_s8(long m, const int8_t *qa, long lda, const kormed_amx *w, kormed_amx_block done, void *ctx);
#endif
