package blas

import (
	"fmt"
	"math"
	"sync"
)

// MatMulBF16 computes C = A·Wᵀ + beta·C for a float32 A [m,k] (row stride
// lda) and weights W [n,k] kept in bfloat16 (the bits, row stride ldw): a
// PyTorch nn.Linear whose weight stays in the bf16 of the checkpoint, at
// half the memory of float32.
//
// The weights are widened to float32 exactly, so under FP32 precision the
// result is the float32 product of A and the bf16 weights (to summation
// order). Up to GEMVRows rows of A (a generated token, a short batch) run
// in a kernel that reads each weight once, the memory-bound case that the
// halved weight bytes speed up. Longer inputs (a prompt) widen the weights
// block by block into a float32 buffer for Sgemm; under BF16 precision, on
// a CPU with AVX512-BF16 or AMX, they instead run as oneDNN bf16 products
// on the weights as stored, A rounded to bfloat16 as Sgemm's BF16 products
// round it.
//
// MatMulBF16 panics on a stride smaller than its row or a slice too short
// for the shape, as Sgemm does.
func MatMulBF16(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	yield()
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas.MatMulBF16: negative shape m=%d n=%d k=%d", m, n, k))
	}
	if m == 0 || n == 0 {
		return
	}
	check("C", false, m, n, c, ldc)
	if k == 0 {
		scale(m, n, beta, c, ldc)
		return
	}
	check("A", false, m, k, a, lda)
	if ldw < k {
		panic(fmt.Sprintf("blas.MatMulBF16: ldw=%d smaller than its row length %d", ldw, k))
	}
	if need := (n-1)*ldw + k; len(w) < need {
		panic(fmt.Sprintf("blas.MatMulBF16: W has %d elements, needs %d (%d rows, %d cols, stride %d)", len(w), need, n, k, ldw))
	}
	switch {
	case m <= GEMVRows:
		gemvBF16(m, n, k, a, lda, w, ldw, beta, c, ldc)
	case Precision(precision.Load()) == BF16 && gemmBF16W(m, n, k, a, lda, w, ldw, beta, c, ldc):
	default:
		widenGemm(m, n, k, a, lda, w, ldw, beta, c, ldc)
	}
}

// GEMVRows is the most rows of A that MatMulBF16 runs in its
// weight-streaming kernel.
const GEMVRows = 8

// widenBuf holds float32 blocks of widened weights.
var widenBuf sync.Pool

// goWidenGemm widens blocks of W's rows to float32 and multiplies them
// with Sgemm (float32 whatever the precision, so that FP32 is exact): the
// pure-Go build's widenGemm. The cgo build does the same in C, so that the
// widening runs on oneDNN's OpenMP threads rather than beside them.
func goWidenGemm(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	rows := max(64, widenBlock/k)
	rows = min(rows, n)
	need := rows * k
	bp, _ := widenBuf.Get().(*[]float32)
	if bp == nil || cap(*bp) < need {
		b := make([]float32, need)
		bp = &b
	}
	buf := (*bp)[:need]
	for j0 := 0; j0 < n; j0 += rows {
		nr := min(rows, n-j0)
		goWiden(buf[:nr*k], w, j0, nr, k, ldw)
		sgemm(false, true, m, nr, k, 1, a, lda, buf, k, beta, c[j0:], ldc)
	}
	widenBuf.Put(bp)
}

// widenBlock is the float32 elements of weights widened at a time (8 MB).
const widenBlock = 1 << 21

// goWiden writes rows j0…j0+nr-1 of the bf16 matrix w [·,k] (row stride
// ldw) to dst [nr,k] as float32, in parallel for large blocks.
func goWiden(dst []float32, w []uint16, j0, nr, k, ldw int) {
	parallelRows(nr, nr*k, func(r0, r1 int) {
		for r := r0; r < r1; r++ {
			src := w[(j0+r)*ldw : (j0+r)*ldw+k]
			d := dst[r*k : (r+1)*k]
			for i, h := range src {
				d[i] = math.Float32frombits(uint32(h) << 16)
			}
		}
	})
}

// parallelRows runs f on row ranges split among Threads() goroutines when
// the work is large enough to pay for them.
func parallelRows(rows, work int, f func(r0, r1 int)) {
	nt := Threads()
	if nt <= 1 || work < 1<<16 || rows < 2 {
		f(0, rows)
		return
	}
	nt = min(nt, rows)
	per := (rows + nt - 1) / nt
	var wg sync.WaitGroup
	for r0 := 0; r0 < rows; r0 += per {
		wg.Add(1)
		go func(r0, r1 int) {
			defer wg.Done()
			f(r0, r1)
		}(r0, min(r0+per, rows))
	}
	wg.Wait()
}

// goGemvBF16 is the pure-Go weight-streaming product: each goroutine takes
// a block of W's rows.
func goGemvBF16(m, n, k int, a []float32, lda int, w []uint16, ldw int, beta float32, c []float32, ldc int) {
	parallelRows(n, m*n*k, func(j0, j1 int) {
		for j := j0; j < j1; j++ {
			wr := w[j*ldw : j*ldw+k]
			for i := 0; i < m; i++ {
				ar := a[i*lda : i*lda+k]
				var s0, s1, s2, s3 float32
				p := 0
				for ; p+4 <= k; p += 4 {
					s0 += ar[p] * math.Float32frombits(uint32(wr[p])<<16)
					s1 += ar[p+1] * math.Float32frombits(uint32(wr[p+1])<<16)
					s2 += ar[p+2] * math.Float32frombits(uint32(wr[p+2])<<16)
					s3 += ar[p+3] * math.Float32frombits(uint32(wr[p+3])<<16)
				}
				for ; p < k; p++ {
					s0 += ar[p] * math.Float32frombits(uint32(wr[p])<<16)
				}
				s := (s0 + s1) + (s2 + s3)
				o := &c[i*ldc+j]
				if beta == 0 {
					*o = s
				} else {
					*o = s + beta**o
				}
			}
		}
	})
}
