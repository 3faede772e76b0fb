//go:build !cgo || nodnnl

package blas

// Backend names the matrix-product implementation in use.
func Backend() string {
	if useAsm {
		return "pure-go (blocked, AVX2/FMA 6x16 assembly tile, goroutines)"
	}
	return "pure-go (blocked 4x4, goroutines)"
}

func setBackendThreads(int) {}

func sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	blockedSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
