//go:build cgo && !nodnnl

package blas

/*
#cgo CFLAGS: -O2 -fopenmp
#cgo LDFLAGS: -ldnnl -fopenmp
#include <omp.h>
#include <oneapi/dnnl/dnnl.h>

static int kormed_threads = 1;

static void kormed_set_threads(int n) { kormed_threads = n; }

// OpenMP's thread count is an ICV of the calling thread, and Go calls C
// from whichever OS thread runs the goroutine, so set it on every call.
static int kormed_sgemm(char ta, char tb, long m, long n, long k, float alpha,
		const float *a, long lda, const float *b, long ldb, float beta, float *c, long ldc, int serial) {
	int nt = serial ? 1 : kormed_threads;
	if (omp_get_max_threads() != nt) omp_set_num_threads(nt);
	return (int)dnnl_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

static void kormed_version(int *v) {
	const dnnl_version_t *d = dnnl_version();
	v[0] = d->major; v[1] = d->minor; v[2] = d->patch;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Backend names the matrix-product implementation in use.
func Backend() string {
	var v [3]C.int
	C.kormed_version(&v[0])
	return fmt.Sprintf("oneDNN %d.%d.%d (dnnl_sgemm)", v[0], v[1], v[2])
}

func setBackendThreads(n int) { C.kormed_set_threads(C.int(n)) }

func tchar(t bool) C.char {
	if t {
		return 'T'
	}
	return 'N'
}

func serialInt(s bool) C.int {
	if s {
		return 1
	}
	return 0
}

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemmOn(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// sgemmOn is sgemm on the calling thread alone when serial is set.
func sgemmOn(serial, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	st := C.kormed_sgemm(tchar(transA), tchar(transB), C.long(m), C.long(n), C.long(k), C.float(alpha),
		(*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
		(*C.float)(unsafe.Pointer(&b[0])), C.long(ldb), C.float(beta),
		(*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), serialInt(serial))
	if st != 0 {
		panic(fmt.Sprintf("blas.Sgemm: dnnl_sgemm status %d (m=%d n=%d k=%d lda=%d ldb=%d ldc=%d)", int(st), m, n, k, lda, ldb, ldc))
	}
}
