//go:build !cgo || nodnnl

package blas

func gemvQ(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	goGemvQ(m, a, lda, q, beta, c, ldc)
}

func dequantRows(q *QMatrix, j0, nr int, dst []float32) { goDequantRows(q, j0, nr, dst) }
