//go:build cgo && !nodnnl

package blas

/*
#cgo CFLAGS: -O2 -fopenmp
#cgo LDFLAGS: -ldnnl -fopenmp
typedef struct kormed_wb kormed_wb;
kormed_wb *kormed_wb_pack(const float *w, long ldw, int tb, long n, long k, int nt);
void kormed_wb_free(kormed_wb *p);
const char *kormed_wb_impl(const kormed_wb *p);
int kormed_gemm_bf16p(long m, const float *a, long lda, const kormed_wb *w, float *c, long ldc, int nt);
int kormed_gemm_bf16(char ta, char tb, long m, long n, long k, float alpha, const float *a, long lda,
                     const float *b, long ldb, float beta, float *c, long ldc, int nt);
*/
import "C"

import (
	"errors"
	"runtime"
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

// packedBF16 is oneDNN's packed bf16 copy of a weight matrix B [k,n].
type packedBF16 struct {
	w    *C.kormed_wb
	impl string
	k, n int
}

func packBF16(w []float32, k, n int, transposed bool) *packedBF16 {
	ldw, tb := n, C.int(0)
	if transposed {
		ldw, tb = k, 1
	}
	p := C.kormed_wb_pack((*C.float)(unsafe.Pointer(&w[0])), C.long(ldw), tb, C.long(n), C.long(k), C.int(Threads()))
	if p == nil {
		return nil
	}
	q := &packedBF16{w: p, impl: C.GoString(C.kormed_wb_impl(p))}
	runtime.SetFinalizer(q, func(q *packedBF16) { C.kormed_wb_free(q.w) })
	return q
}

func gemmBF16Packed(m int, a []float32, lda int, p *packedBF16, c []float32, ldc int) bool {
	st := C.kormed_gemm_bf16p(C.long(m), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda), p.w,
		(*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
	runtime.KeepAlive(p)
	return st == 0
}
