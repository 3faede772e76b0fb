//go:build !cgo || nodnnl

package blas

import "unsafe"

// packedInt8 has no pure-Go counterpart: the Go product reads Q as is.
type packedInt8 struct {
	impl string
	amx  bool
}

func setAMX(bool) bool { return false }

func packInt8(*Int8Weights) *packedInt8 { return nil }

func (*packedInt8) free() {}

func wrapInt8(*Int8Weights) *packedInt8 { return nil }

func int8RowsFunc() unsafe.Pointer { return nil }

func int8EachFunc() unsafe.Pointer { return nil }

func (*packedInt8) handle() unsafe.Pointer { return nil }

// int8Supported: the pure-Go int8 product runs on every CPU (slowly).
func int8Supported() error { return nil }

func int8ISA() string { return "pure-go" }

func matMulInt8(int, []float32, int, *Int8Weights, []float32, []float32, int) bool { return false }

func gemmS8(int, *Int8Weights, []int8, []int32) int { return -1 }

func ffnInt8(int, []float32, int, *Int8Weights, []float32, unsafe.Pointer, *Int8Weights, []float32, int) bool {
	return false
}

func quantizeRowsC(m, k int, a []float32, lda int, q []int8, s []float32) {
	for i := 0; i < m; i++ {
		s[i] = quantizeRow(q[i*k:(i+1)*k], a[i*lda:i*lda+k])
	}
}
