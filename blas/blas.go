// Package blas provides the float32 matrix product used by the encoder
// engine. With cgo it calls oneDNN's dnnl_sgemm; without cgo it falls back
// to a pure-Go kernel. The layout is row-major throughout.
package blas

import (
	"runtime"
	"sync/atomic"
)

var threads atomic.Int64

func init() { threads.Store(int64(runtime.NumCPU())) }

// SetThreads sets the number of threads matrix products (and the nn
// kernels) may use. n <= 0 means all cores.
func SetThreads(n int) {
	if n <= 0 {
		n = runtime.NumCPU()
	}
	threads.Store(int64(n))
	setBackendThreads(n)
}

// Threads reports the thread count set by SetThreads (default: all cores).
func Threads() int { return int(threads.Load()) }

// Sgemm computes C = alpha·op(A)·op(B) + beta·C for row-major matrices,
// where op(X) is X or Xᵀ as transA/transB say. op(A) is m×k, op(B) is k×n,
// C is m×n; lda, ldb, ldc are the row strides of A, B and C as stored.
//
// Example: with transB true, A = in[N,C] and B = W[OC,C], Sgemm computes
// in·Wᵀ, the product of a PyTorch nn.Linear.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
