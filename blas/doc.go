// Package blas provides the float32 matrix product used by the encoder
// engine. With cgo it calls oneDNN's dnnl_sgemm (OpenMP threads; needs
// Debian's libdnnl-dev); without cgo, or with the build tag nodnnl, it uses
// a blocked, goroutine-parallel pure-Go product whose inner 6×16 tile is
// AVX2/FMA Go assembly where the CPU has it (4×4 Go code elsewhere). The
// layout is row-major throughout.
package blas
