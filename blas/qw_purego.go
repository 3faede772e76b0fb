//go:build !cgo || nodnnl

package blas

func gemvQ(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	goGemvQ(m, a, lda, q, beta, c, ldc)
}

func dequantRows(q *QMatrix, j0, nr int, dst []float32) { goDequantRows(q, j0, nr, dst) }

func qdot(m int, a []float32, lda int, q *QMatrix, beta float32, c []float32, ldc int) {
	goQDot(m, a, lda, q, beta, c, ldc)
}

func quantAct(f QFormat, m, k int, a []float32, lda int) *q8Act { return goQuantAct(f, m, k, a, lda) }

func gemmQBF16(int, []float32, int, *QMatrix, float32, []float32, int) bool { return false }

func gemvInt([]float32, *QMatrix, float32, []float32) bool { return false }

func q4ToInt8(q *QMatrix, dst []int8, scale []float32) { goQ4ToInt8(q, dst, scale) }
