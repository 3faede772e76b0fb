//go:build cgo && !nodnnl

package blas

/*
#cgo LDFLAGS: -lm
#include <stdint.h>
int kormed_gemv_qw(int fmt, long m, long n, long k, const float *a, long lda, const uint8_t *q, const float *scale,
                   float beta, float *c, long ldc, int nt);
int kormed_gemm_qw_bf16(int fmt, long m, long n, long k, const float *a, long lda, const uint8_t *q, const float *scale,
                        float beta, float *c, long ldc, long block, int nt);
void kormed_dequant_qw(int fmt, long j0, long nr, long k, const uint8_t *q, const float *scale, float *dst, int nt);
int kormed_qdot(int fmt, long m, long n, long k, const float *a, long lda, const uint8_t *w, const float *scale,
                float beta, float *c, long ldc, int nt);
void kormed_quant_act(int fmt, long m, long k, const float *a, long lda, int8_t *q, float *d, int32_t *c, int nt);
void kormed_q4_s8(long n, long k, const uint8_t *q, const float *qs, int8_t *dst, float *scale, int nt);
int kormed_gemv_int(int fmt, long n, long k, const float *a, const uint8_t *w, const float *scale, float beta,
                    float *c, int nt);
*/
import "C"

import "unsafe"

// scalePtr is q's scales for C: Int8's float32 row scales, or where Q4's
// fp16 block scales start in q.Data (qw.h's q4 layout).
func scalePtr(q *QMatrix) *C.float {
	if q.Format == Q4 {
		off := q.Rows * (q.Cols / Q4Block) * (Q4Block / 2)
		if off >= len(q.Data) {
			return nil
		}
		return (*C.float)(unsafe.Pointer(&q.Data[off]))
	}
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

// gemmQBF16 runs kormed_gemm_qw_bf16 (bf16.c) where the CPU has bf16
// products; false: the caller multiplies in float32.
func gemmQBF16(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) bool {
	if bf16Supported() != nil {
		return false
	}
	st := C.kormed_gemm_qw_bf16(C.int(q.Format), C.long(m), C.long(q.Rows), C.long(q.Cols),
		(*C.float)(unsafe.Pointer(&a[0])), C.long(lda), (*C.uint8_t)(unsafe.Pointer(&q.Data[0])), scalePtr(q),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.long(widenBlock), C.int(Threads()))
	return st == 0
}

// dequantRows is goDequantRows in C on OpenMP threads.
func dequantRows(q *QMatrix, j0, nr int, dst []float32) {
	C.kormed_dequant_qw(C.int(q.Format), C.long(j0), C.long(nr), C.long(q.Cols),
		(*C.uint8_t)(unsafe.Pointer(&q.Data[0])), scalePtr(q), (*C.float)(unsafe.Pointer(&dst[0])), C.int(Threads()))
}

// qdot runs kormed_qdot (qdot.c), capped as gemvQ by setGEMVISA.
func qdot(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	st := C.kormed_qdot(C.int(q.Format), C.long(m), C.long(q.Rows), C.long(q.Cols),
		(*C.float)(unsafe.Pointer(&a[0])), C.long(lda), (*C.uint8_t)(unsafe.Pointer(&q.Data[0])), scalePtr(q),
		C.float(beta), (*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
	if st != 0 {
		goQDot(m, a, lda, q, beta, c, ldc) // out of memory for the quantized A: Go's own
	}
}

// q4ToInt8 is goQ4ToInt8 in C (qw.c) on OpenMP threads.
func q4ToInt8(q *QMatrix, dst []int8, scale []float32) {
	C.kormed_q4_s8(C.long(q.Rows), C.long(q.Cols), (*C.uint8_t)(unsafe.Pointer(&q.Data[0])), scalePtr(q),
		(*C.int8_t)(unsafe.Pointer(&dst[0])), (*C.float)(unsafe.Pointer(&scale[0])), C.int(Threads()))
}

// gemvInt runs kormed_gemv_int (qgemv.c): false where the CPU lacks its
// instructions (or setGEMVISA caps the kernels).
func gemvInt(a []float32, q *QMatrix, beta float32, c []float32) bool {
	return C.kormed_gemv_int(C.int(q.Format), C.long(q.Rows), C.long(q.Cols), (*C.float)(unsafe.Pointer(&a[0])),
		(*C.uint8_t)(unsafe.Pointer(&q.Data[0])), scalePtr(q), C.float(beta), (*C.float)(unsafe.Pointer(&c[0])),
		C.int(Threads())) == 1
}

// quantAct is kormed_quant_act: A quantized for the integer products, for
// the tests to compare with goQuantAct.
func quantAct(f QFormat, m, k int, a []float32, lda int) *q8Act {
	qa := newQ8Act(m, k)
	C.kormed_quant_act(C.int(f), C.long(m), C.long(k), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
		(*C.int8_t)(unsafe.Pointer(&qa.q[0])), (*C.float)(unsafe.Pointer(&qa.d[0])), (*C.int32_t)(unsafe.Pointer(&qa.c[0])), C.int(Threads()))
	return qa
}
