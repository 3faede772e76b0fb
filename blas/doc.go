// Package blas provides the float32 matrix product used by the encoder
// engine. With cgo it calls oneDNN's dnnl_sgemm (OpenMP threads; needs
// Debian's libdnnl-dev); without cgo, or with the build tag nodnnl, it uses
// a blocked, goroutine-parallel pure-Go product whose inner 6×16 tile is
// AVX2/FMA Go assembly where the CPU has it (4×4 Go code elsewhere). The
// layout is row-major throughout.
//
// MatMulInt8 is the int8 product of encoder inference under INT8
// precision: weights quantized once per output channel (QuantizeInt8),
// activations per row at run time, exact int32 sums — oneDNN's int8
// matmul where the CPU has VNNI or AMX, pure Go elsewhere. Products run
// in tiles of 64 rows a thread (quantize, multiply, dequantize while the
// sums are in cache); where the CPU has AMX-INT8 the tiles run on
// kormed's own AMX kernel (amx.c; about 2× oneDNN 2.6's on these shapes,
// the same exact sums). MatMulInt8FFN runs a feed-forward block's two
// such products tile by tile, with the caller's step (nn's bias and GELU)
// between them in cache; Int8Rows hands the tile itself to C kernels of
// other packages (nn's whole encoder block).
//
// PackBF16 rounds a weight matrix to bfloat16 and lays it out for
// oneDNN's bf16 matmul once, so that MatMulBF16Packed converts only its
// input: the encoder's inference products under BF16, up to
// BF16PackedRows rows (more rows run Sgemm, faster there).
//
// Beside it, products with weights kept compact: bfloat16 (MatMulBF16) and
// quantized, int8 per row or llama.cpp's 4-bit Q4_0 blocks (QMatrix,
// MatMulQ; Q4 scales searched for the least squared error), each widened
// or dequantized inside a weight-streaming kernel (AVX-512, AVX2 or
// scalar C with cgo; Go without) for a few input rows, and block by block
// into float32 for Sgemm for more — or, for quantized weights (SetQDot),
// multiplied in integers with the input rows quantized to int8 blocks of
// 32, llama.cpp's Q8_0 way (AVX512-VNNI, AVX2, scalar C; Go).
//
// The weight-streaming kernels of a few input rows run on kormed's own
// thread pool (pool.h), not OpenMP's: libgomp keeps a pool per calling OS
// thread, Go calls C from several, and with more pooled threads than CPUs
// libgomp makes every short region pay futex wake-ups. The products also
// give Go's scheduler a turn every 2 ms (yield.go), so that sysmon does not
// retake the P of a goroutine that runs them back to back.
package blas
