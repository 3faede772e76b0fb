//go:build cgo && !nodnnl

package blas

/*
#cgo CFLAGS: -O2 -fopenmp
#cgo LDFLAGS: -ldnnl -fopenmp
#include <stdint.h>
void kormed_gemv_bf16w(long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw, float beta,
                       float *c, long ldc, int nt);
int kormed_gemm_widen(long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw, float beta,
                      float *c, long ldc, long block, int nt);
extern int kormed_gemv_isa;
int kormed_gemm_bf16w(long m, long n, long k, const float *a, long lda, const uint16_t *w, long ldw, float beta,
                      float *c, long ldc, int nt);
*/
import "C"

import "unsafe"

// gemvISAs are the kernel levels a test can cap gemvBF16 at (setGEMVISA):
// the CPU's best, scalar, AVX2.
var gemvISAs = []int{0, 1, 2}

func setGEMVISA(level int) { C.kormed_gemv_isa = C.int(level) }

func gemvBF16(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	C.kormed_gemv_bf16w(C.long(m), C.long(n), C.long(k), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
		(*C.uint16_t)(unsafe.Pointer(&w[0])), C.long(ldw), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
}

// gemmBF16W runs the product as a oneDNN bf16 matmul on the weights as
// stored; false when the CPU or oneDNN cannot.
func gemmBF16W(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) bool {
	if bf16Supported() != nil {
		return false
	}
	st := C.kormed_gemm_bf16w(C.long(m), C.long(n), C.long(k), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
		(*C.uint16_t)(unsafe.Pointer(&w[0])), C.long(ldw), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
	return st == 0
}

// widenGemm is goWidenGemm in C: blocks of W widened by OpenMP threads,
// then dnnl_sgemm, one team for both.
func widenGemm(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	st := C.kormed_gemm_widen(C.long(m), C.long(n), C.long(k), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
		(*C.uint16_t)(unsafe.Pointer(&w[0])), C.long(ldw), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.long(widenBlock), C.int(Threads()))
	if st != 0 {
		goWidenGemm(m, n, k, a, lda, w, ldw, beta, c, ldc) // out of memory for the block: Go's own
	}
}
