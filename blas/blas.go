package blas

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

var threads atomic.Int64

func init() {
	threads.Store(int64(runtime.NumCPU()))
	setBackendThreads(runtime.NumCPU())
}

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
// When beta is 0, C is not read (NaNs in it do not propagate). Under
// SetPrecision(BF16) the larger products round their operands to bfloat16.
//
// Example: with transB true, A = in[N,C] and B = W[OC,C], Sgemm computes
// in·Wᵀ, the product of a PyTorch nn.Linear.
//
// Sgemm panics if a stride is smaller than its row or a slice is too short
// for the shape, so that bad shapes never reach the C library.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(false, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SgemmF32 is Sgemm in float32 whatever SetPrecision says, on the calling
// thread alone: for the many small products that run side by side in
// goroutines (attention's per-head products), where bf16's operand
// conversion and a thread team cost more than they save (a team per
// goroutine also oversubscribes the cores: with oneDNN's OpenMP teams
// spinning beside each other a one-token attention ran 10× slower).
func SgemmF32(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// gemm is Sgemm, or SgemmF32 with small set.
func gemm(small, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	yield()
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas.Sgemm: negative shape m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	check("C", false, m, n, c, ldc)
	if k == 0 || alpha == 0 {
		scale(m, n, beta, c, ldc)
		if k == 0 {
			return
		}
	}
	check("A", transA, m, k, a, lda)
	check("B", transB, k, n, b, ldb)
	if alpha == 0 {
		return
	}
	if small {
		sgemmOn(true, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
		return
	}
	if Precision(precision.Load()) == BF16 && m*n*k >= bf16MinWork &&
		gemmBF16(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc) {
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// check panics unless x holds an op(X) of rows×cols with row stride ld.
func check(name string, trans bool, rows, cols int, x []float32, ld int) {
	if trans {
		rows, cols = cols, rows
	}
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("blas.Sgemm: ld%s=%d smaller than its row length %d", name, ld, cols))
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("blas.Sgemm: %s has %d elements, needs %d (%d rows, %d cols, stride %d)", name, len(x), need, rows, cols, ld))
	}
}

// scale sets C = beta·C (C = 0 when beta is 0).
func scale(m, n int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		r := c[i*ldc : i*ldc+n]
		if beta == 0 {
			clear(r)
			continue
		}
		for j := range r {
			r[j] *= beta
		}
	}
}
