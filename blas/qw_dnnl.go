//go:build cgo && !nodnnl

package blas

/*
#include <stdint.h>
int kormed_gemv_qw(int fmt, long m, long n, long k, const float *a, long lda, const uint8_t *q, const float *scale,
                   float beta, float *c, long ldc, int nt);
void kormed_dequant_qw(int fmt, long j0, long nr, long k, const uint8_t *q, const float *scale, float *dst, int nt);
*/
import "C"

import "unsafe"

// scalePtr is q's Int8 scales for C (nil for Q4).
func scalePtr(q *QMatrix) *C.float {
	if len(q.Scale) == 0 {
		return nil
	}
	return (*C.float)(unsafe.Pointer(&q.Scale[0]))
}

// gemvQ runs kormed_gemv_qw (qw.c), capped as gemvBF16 by setGEMVISA.
func gemvQ(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	st := C.kormed_gemv_qw(C.int(q.Format), C.long(m), C.long(q.Rows), C.long(q.Cols),
		(*C.float)(unsafe.Pointer(&a[0])), C.long(lda), (*C.uint8_t)(unsafe.Pointer(&q.Data[0])), scalePtr(q),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
	if st != 0 {
		goGemvQ(m, a, lda, q, beta, c, ldc) // out of memory for a row buffer: Go's own
	}
}

// dequantRows is goDequantRows in C on OpenMP threads.
func dequantRows(q *QMatrix, j0, nr int, dst []float32) {
	C.kormed_dequant_qw(C.int(q.Format), C.long(j0), C.long(nr), C.long(q.Cols),
		(*C.uint8_t)(unsafe.Pointer(&q.Data[0])), scalePtr(q), (*C.float)(unsafe.Pointer(&dst[0])), C.int(Threads()))
}
