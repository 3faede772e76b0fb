//go:build !cgo

package nn

import "github.com/kormed/kormed/blas"

// kernelBackend names the elementwise/attention kernels in use.
const kernelBackend = "pure Go (goroutines)"

func kBias(out, b []float32, N, OC int)           { goBias(out, b, N, OC) }
func kBiasGELU(out, pre, b []float32, N, OC int)  { goBiasGELU(out, pre, b, N, OC) }
func kGELU(out, in []float32)                     { goGELU(out, in) }
func kAdd(out, a, b []float32)                    { goAdd(out, a, b) }
func kGELUBackward(din, pre, dout []float32)      { goGELUBackward(din, pre, dout) }
func kBiasBackward(db, dout []float32, N, OC int) { goBiasBackward(db, dout, N, OC) }
func kLayerNormBackward(din, dw, db, dout, in, w, mean, rstd []float32, N, C int) {
	goLayerNormBackward(din, dw, db, dout, in, w, mean, rstd, N, C)
}
func kDropRows(x []float32, B, T, C int, keys []uint64, th uint64, scale float32) {
	goDropRows(x, B, T, C, keys, th, scale)
}
func kDropProbs(dst, src []float32, T, h int, key, th uint64, scale float32) {
	goDropProbs(dst, src, T, h, key, th, scale)
}
func kAttention(out, att, qkv, mask []float32, B, T, C, NH int) {
	goAttention(out, att, qkv, mask, B, T, C, NH)
}
func kLayerNorm(out, sum, mean, rstd, a, ab, r, w, b []float32, N, C int, eps float32) {
	goLayerNorm(out, sum, mean, rstd, a, ab, r, w, b, N, C, eps)
}
func kAdamW(p, g, m, v []float32, a AdamWParams) { goAdamW(p, g, m, v, a) }
func kSumSquares(x []float32) float64            { return goSumSquares(x) }
func kSwiGLU(out, gu []float32, N, F int)        { goSwiGLU(out, gu, N, F) }
func kDecodeAttention(out, q, k, v []float32, ldkv, S, NKV, rep, hs int, scale float32) {
	goDecodeAttention(out, q, k, v, ldkv, S, NKV, rep, hs, scale)
}

func kFFNInt8([]float32, []float32, *blas.Int8Weights, []float32, *blas.Int8Weights, int) bool {
	return false
}

func kBlockInt8([]float32, []float32, []float32, *BlockInt8, int, int, int, int, int, float32) bool {
	return false
}
