//go:build !amd64 || purego

package vector

// useAVX is false: no assembly kernels on this platform.
const useAVX = false

func dot1AVX(q, r *float32, n int) float32                       { panic("vector: no assembly kernel") }
func dot4AVX(q, r0, r1, r2, r3 *float32, n int, out *[4]float32) { panic("vector: no assembly kernel") }
func dot4BF16AVX(q *float32, r0, r1, r2, r3 *uint16, n int, out *[4]float32) {
	panic("vector: no assembly kernel")
}
func dot4I8AVX(q *float32, r0, r1, r2, r3 *int8, n int, out *[4]float32) {
	panic("vector: no assembly kernel")
}
