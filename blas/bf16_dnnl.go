//go:build cgo && !nodnnl

package blas

/*
#cgo CFLAGS: -O2 -fopenmp
#cgo LDFLAGS: -ldnnl -fopenmp
int kormed_gemm_bf16(char ta, char tb, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, int nt);
*/
import "C"

import (
	"errors"
	"unsafe"

	"golang.org/x/sys/cpu"
)

func bf16Supported() error {
	if !cpu.X86.HasAVX512BF16 && !cpu.X86.HasAMXBF16 {
		return errors.New("bf16 matrix products need a CPU with AVX512-BF16 or AMX-BF16; this one has neither (use fp32)")
	}
	return nil
}

// gemmBF16 runs the product in bf16; false when oneDNN could not (the
// caller computes it in float32).
func gemmBF16(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) bool {
	st := C.kormed_gemm_bf16(tchar(transA), tchar(transB), C.long(m), C.long(n), C.long(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.long(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
	return st == 0
}
