package blas

import (
	"fmt"
	"math"
	"sync"
	"unsafe"
)

// Int8Weights is a Linear weight W [N,K] (PyTorch's [out,in]) quantized
// for MatMulInt8: symmetric int8 per output channel, row j stored as
// Q[j,p] = round(W[j,p]/Scale[j]) with Scale[j] = max|W[j,:]|/127 (a zero
// row has scale 0), as PyTorch's quantize_dynamic and ONNX Runtime's
// per-channel weight quantization do. On the cgo build, where the CPU has
// an int8 dot-product unit, the weights are also packed once in the
// layout oneDNN's int8 matmul reads (with its s8·s8 compensation terms),
// and where it has AMX-INT8 also in the layout of kormed's AMX kernel.
type Int8Weights struct {
	N, K  int
	Q     []int8    // [N,K]
	Scale []float32 // [N]

	packed *packedInt8 // oneDNN's copy (and the AMX kernel's); nil on the pure-Go path
}

// QuantizeInt8 quantizes w per output channel. w is [n,k] (PyTorch's
// layout) or, with transposed set, [k,n] (the wᵀ of nn.LinearT).
func QuantizeInt8(w []float32, n, k int, transposed bool) *Int8Weights {
	if n <= 0 || k <= 0 || len(w) < n*k {
		panic(fmt.Sprintf("blas.QuantizeInt8: %d weights for a %dx%d matrix", len(w), n, k))
	}
	q := &Int8Weights{N: n, K: k, Q: make([]int8, n*k), Scale: make([]float32, n)}
	row := make([]float32, k)
	for j := 0; j < n; j++ {
		r := w[j*k : (j+1)*k]
		if transposed {
			for p := range row {
				row[p] = w[p*n+j]
			}
			r = row
		}
		q.Scale[j] = quantizeRow(q.Q[j*k:(j+1)*k], r)
	}
	if int8Supported() == nil {
		q.packed = packInt8(q)
	}
	return q
}

// Kernel names the implementation MatMulInt8 runs on these weights: the
// oneDNN matmul implementation (such as brg:avx512_core_vnni), preceded
// by kormed's AMX kernel where the tiles run on it, or pure-go.
func (w *Int8Weights) Kernel() string {
	if w.packed != nil && w.packed.amx {
		return "kormed amx_int8 tiles, oneDNN " + w.packed.impl
	}
	if w.packed != nil {
		return "oneDNN " + w.packed.impl
	}
	return "pure-go"
}

// quantizeRow writes q = round(x/s) (to nearest even, within ±127) and
// returns s = max|x|/127 (0, with q all 0, for a row that is zero or
// holds a NaN or an infinity). The cgo build's C kernel
// computes the same integers and scale: the same float32 operations.
func quantizeRow(q []int8, x []float32) float32 {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	if !(amax > 0 && amax <= math.MaxFloat32) { // zero, NaN or infinite: all 0
		clear(q)
		return 0
	}
	inv := 127 / amax
	for i, v := range x {
		r := math.RoundToEven(float64(v * inv))
		q[i] = int8(max(-127, min(127, r)))
	}
	return amax / 127
}

// MatMulInt8 computes C = A·Wᵀ for a float32 A [m,K] (row stride lda) and
// quantized weights W [N,K], into C [m,N] (row stride ldc): each row of A
// quantized at run time to symmetric int8 (per token, dynamic
// quantization), the products summed exactly in int32, each sum turned
// back to float32 with its row's and column's scales:
//
//	C[i,j] = float32(Σ_p qA[i,p]·Q[j,p]) · (sA[i]·Scale[j])
//
// On the cgo build, with a CPU that has AVX512-VNNI, AVX-VNNI or AMX-INT8,
// the integer product is oneDNN's int8 matmul on the packed weights; else
// (or when oneDNN fails) a pure-Go product computes the same integers.
// Where the CPU has AMX-INT8, the tiles of 64 rows run on kormed's own
// AMX kernel instead (amx.c), from a second packed copy of the weights
// (as large as Q). All give the same result; C is written, not
// accumulated into.
//
// MatMulInt8 panics on a stride smaller than its row or a slice too short
// for the shape, as Sgemm does.
func MatMulInt8(m int, a []float32, lda int, w *Int8Weights, c []float32, ldc int) {
	MatMulInt8Bias(m, a, lda, w, nil, c, ldc)
}

// MatMulInt8Bias is MatMulInt8 followed by C[i,j] += b[j] for a bias b
// [N] (nil: none), done in the same pass over C: the same float32 result
// as adding the bias to MatMulInt8's C afterwards.
func MatMulInt8Bias(m int, a []float32, lda int, w *Int8Weights, b, c []float32, ldc int) {
	yield()
	if m < 0 {
		panic(fmt.Sprintf("blas.MatMulInt8: negative row count %d", m))
	}
	if m == 0 {
		return
	}
	check("A", false, m, w.K, a, lda)
	check("C", false, m, w.N, c, ldc)
	if b != nil && len(b) < w.N {
		panic(fmt.Sprintf("blas.MatMulInt8Bias: bias of %d for %d columns", len(b), w.N))
	}
	if w.packed != nil && matMulInt8(m, a, lda, w, b, c, ldc) {
		return
	}
	goMatMulInt8Bias(m, a, lda, w, b, c, ldc)
}

// MatMulInt8FFN computes a feed-forward block's two int8 products in one
// pass: C [m,W2.N] = MatMulInt8(H, W2) for H = MatMulInt8(A, W1) with act
// applied in place, A [m,W1.K] (row stride lda), W1.N = W2.K. act is the
// address of a C function void act(float *h, const float *b, long rows,
// long n), called on rows of H [rows,n] with b1 (package nn's bias and
// GELU). The rows go in tiles of 64 to the threads, each tile through
// both products while its hidden rows stay in the core's cache: the result
// is the three steps' bit for bit, without writing H to memory and
// reading it back twice. It returns false where it does not apply, having
// written nothing: the pure-Go build, weights without oneDNN's packing,
// act nil, or fewer than two tiles a thread (the caller then runs the
// three steps, each on every thread); also when oneDNN fails, with C then
// partly written. A must not overlap C.
//
// MatMulInt8FFN panics on a stride smaller than its row, a slice too short
// for the shape, or W1.N ≠ W2.K.
func MatMulInt8FFN(m int, a []float32, lda int, w1 *Int8Weights, b1 []float32, act unsafe.Pointer, w2 *Int8Weights, c []float32, ldc int) bool {
	yield()
	if m < 0 {
		panic(fmt.Sprintf("blas.MatMulInt8FFN: negative row count %d", m))
	}
	if w1.N != w2.K {
		panic(fmt.Sprintf("blas.MatMulInt8FFN: W1 has %d outputs, W2 %d inputs", w1.N, w2.K))
	}
	if m == 0 {
		return true
	}
	check("A", false, m, w1.K, a, lda)
	check("C", false, m, w2.N, c, ldc)
	if b1 != nil && len(b1) < w1.N {
		panic(fmt.Sprintf("blas.MatMulInt8FFN: bias of %d for %d columns", len(b1), w1.N))
	}
	if act == nil || w1.packed == nil || w2.packed == nil {
		return false
	}
	return ffnInt8(m, a, lda, w1, b1, act, w2, c, ldc)
}

// Int8Rows is the address of the C function
//
//	int kormed_int8_rows(long rows, const float *a, long lda, const void *w,
//	                     const float *ws, const float *b, float *c, long ldc);
//
// which computes rows of MatMulInt8Bias on the calling thread alone, as
// one of its tiles (quantize the rows, the int8 product on that thread:
// kormed's AMX kernel where it runs, otherwise oneDNN's; dequantize the
// sums while they are in its cache), for w =
// Int8Weights.Handle and ws = Int8Weights.Scale; it returns 0 or an error
// status. It is for fused kernels in C (package nn's encoder block),
// called from the items of Int8Each. nil without oneDNN (the pure-Go
// build, or the build tag nodnnl).
func Int8Rows() unsafe.Pointer { return int8RowsFunc() }

// Int8Each is the address of the C function
//
//	int kormed_int8_each(long n, int nt, int (*fn)(const void *ctx, long i),
//	                     const void *ctx);
//
// which runs fn(ctx, i) for i in [0,n) on nt OpenMP threads (a static
// schedule: each thread takes a run of consecutive items), each thread set
// up for Int8Rows, and returns the first error status of fn (the items not
// yet begun then skipped) or 0: the driver of MatMulInt8's own tiles, for
// fused kernels in C. nil without oneDNN.
func Int8Each() unsafe.Pointer { return int8EachFunc() }

// Handle is w's packed weights for Int8Rows, nil where they are not
// packed (the pure-Go path, or a CPU without int8 dot products). The
// caller keeps w alive (runtime.KeepAlive) while C uses the handle.
func (w *Int8Weights) Handle() unsafe.Pointer {
	if w.packed == nil {
		return nil
	}
	return w.packed.handle()
}

// int8Buf holds the pure-Go path's quantized rows.
var int8Buf sync.Pool

type int8Scratch struct {
	q  []int8
	s  []float32
	ac []int32
}

// goMatMulInt8 is the pure-Go MatMulInt8.
func goMatMulInt8(m int, a []float32, lda int, w *Int8Weights, c []float32, ldc int) {
	goMatMulInt8Bias(m, a, lda, w, nil, c, ldc)
}

// goMatMulInt8Bias is the pure-Go MatMulInt8Bias: rows quantized, then
// blocks of rows on Threads() goroutines, each row's int32 dot products
// with every weight row.
func goMatMulInt8Bias(m int, a []float32, lda int, w *Int8Weights, b, c []float32, ldc int) {
	n, k := w.N, w.K
	sc, _ := int8Buf.Get().(*int8Scratch)
	if sc == nil {
		sc = &int8Scratch{}
	}
	if cap(sc.q) < m*k {
		sc.q = make([]int8, m*k)
	}
	if cap(sc.s) < m {
		sc.s = make([]float32, m)
	}
	qa, sa := sc.q[:m*k], sc.s[:m]
	parallelRows(m, m*k, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			sa[i] = quantizeRow(qa[i*k:(i+1)*k], a[i*lda:i*lda+k])
		}
	})
	parallelRows(m, m*n*k, func(i0, i1 int) {
		acc := make([]int32, n)
		for i := i0; i < i1; i++ {
			goGemmS8Row(acc, qa[i*k:(i+1)*k], w.Q, n, k)
			dequantRow(c[i*ldc:i*ldc+n], acc, sa[i], w.Scale)
			if b != nil {
				addBias(c[i*ldc:i*ldc+n], b)
			}
		}
	})
	int8Buf.Put(sc)
}

// goGemmS8Row sets acc[j] = Σ_p x[p]·q[j,p] for q [n,k], exactly.
func goGemmS8Row(acc []int32, x, q []int8, n, k int) {
	x = x[:k]
	for j := 0; j < n; j++ {
		r := q[j*k : (j+1)*k]
		var s0, s1, s2, s3 int32
		p := 0
		for ; p+4 <= k; p += 4 {
			s0 += int32(x[p]) * int32(r[p])
			s1 += int32(x[p+1]) * int32(r[p+1])
			s2 += int32(x[p+2]) * int32(r[p+2])
			s3 += int32(x[p+3]) * int32(r[p+3])
		}
		for ; p < k; p++ {
			s0 += int32(x[p]) * int32(r[p])
		}
		acc[j] = s0 + s1 + s2 + s3
	}
}

// dequantRow sets c[j] = float32(acc[j])·(sa·ws[j]), as the C kernel does.
func dequantRow(c []float32, acc []int32, sa float32, ws []float32) {
	ws = ws[:len(c)]
	acc = acc[:len(c)]
	for j := range c {
		c[j] = float32(acc[j]) * (sa * ws[j])
	}
}

// addBias sets c[j] += b[j], as the C kernel does after dequantization.
func addBias(c, b []float32) {
	b = b[:len(c)]
	for j := range c {
		c[j] += b[j]
	}
}
