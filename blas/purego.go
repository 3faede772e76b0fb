//go:build !cgo || nodnnl

package blas

import "errors"

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

// sgemmOn is sgemm: Go's scheduler shares the cores among nested
// goroutines, so serial changes nothing.
func sgemmOn(_, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func bf16Supported() error {
	return errors.New("bf16 matrix products need the cgo build with oneDNN (this binary is pure Go; use fp32)")
}

func gemmBF16(bool, bool, int, int, int, float32, []float32, int, []float32, int, float32, []float32, int) bool {
	return false
}

type packedBF16 struct {
	impl string
	k, n int
}

func packBF16([]float32, int, int, bool) *packedBF16 { return nil }

func gemmBF16Packed(int, []float32, int, *packedBF16, []float32, int) bool { return false }

func gemvBF16(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	goGemvBF16(m, n, k, a, lda, w, ldw, beta, c, ldc)
}

func gemmBF16W(int, int, int, []float32, int, []uint16, int, float32, []float32, int) bool {
	return false
}

func widenGemm(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	goWidenGemm(m, n, k, a, lda, w, ldw, beta, c, ldc)
}

var gemvISAs = []int{0}

func setGEMVISA(int) {}
