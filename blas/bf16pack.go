package blas

import (
	"fmt"
	"runtime"
)

// BF16Packed is a weight matrix B [k,n] rounded to bfloat16 once and laid
// out as oneDNN's bf16 matmul reads it, for inference under BF16
// precision: a product on it rounds only its A, where Sgemm under BF16
// rounds and lays out both operands at every call. That per-call work
// costs more than the product itself for a few rows (a short query), and
// little for a batch of thousands of rows (BENCHMARKS.md, "Eighth pass").
// Its bits are those Sgemm under BF16 rounds B to.
type BF16Packed struct {
	K, N int
	p    *packedBF16
}

// PackBF16 packs B [k,n] = w: w is [k,n] row-major (nn.LinearT's
// transposed weight) or, with transposed set, [n,k] (PyTorch's [out,in])
// and B its transpose. It returns nil where packed bf16 products do not
// run: the pure-Go build, or a CPU without AVX512-BF16 or AMX-BF16.
func PackBF16(w []float32, k, n int, transposed bool) *BF16Packed {
	if k <= 0 || n <= 0 || len(w) < k*n {
		panic(fmt.Sprintf("blas.PackBF16: %d weights for a %dx%d matrix", len(w), k, n))
	}
	if bf16Supported() != nil {
		return nil
	}
	p := packBF16(w, k, n, transposed)
	if p == nil {
		return nil
	}
	p.k, p.n = k, n
	return &BF16Packed{K: k, N: n, p: p}
}

// Kernel names oneDNN's implementation the packed layout was chosen for.
func (w *BF16Packed) Kernel() string { return "oneDNN " + w.p.impl }

// BF16PackedRows is the most rows of A that MatMulBF16Packed runs: above
// it Sgemm under BF16, rounding and laying out the weights at every call,
// was faster (e5-small's QKV product on the Xeon with AMX, 2 threads:
// packed 1.17–3.7× Sgemm from 16 to 512 rows, 0.85–1.02× at 1024,
// 0.78–0.79× at 2048; BenchmarkBF16Packed).
const BF16PackedRows = 512

// MatMulBF16Packed sets C [m,N] (row stride ldc) = bf16(A)·B for float32 A
// [m,K] (row stride lda), A rounded to bfloat16 as Sgemm under BF16
// rounds it, the products summed in float32, whatever the precision in
// force and however small the product (Sgemm under BF16 keeps products
// below 2^18 multiply-adds in float32). It reports false where it does
// not run: more than BF16PackedRows rows (C not written), or oneDNN could
// not (C then undefined); the caller then runs Sgemm on the float32
// weights. It panics on a stride smaller than its row, a slice too short
// for the shape, or w not made by PackBF16.
func MatMulBF16Packed(m int, a []float32, lda int, w *BF16Packed, c []float32, ldc int) bool {
	yield()
	if m < 0 {
		panic(fmt.Sprintf("blas.MatMulBF16Packed: negative row count %d", m))
	}
	if m == 0 {
		return true
	}
	if w.p == nil || w.p.k != w.K || w.p.n != w.N {
		panic(fmt.Sprintf("blas.MatMulBF16Packed: weights %dx%d not as PackBF16 made them", w.K, w.N))
	}
	if m > BF16PackedRows {
		return false
	}
	check("A", false, m, w.K, a, lda)
	check("C", false, m, w.N, c, ldc)
	ok := gemmBF16Packed(m, a, lda, w.p, c, ldc)
	runtime.KeepAlive(w)
	return ok
}
