package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// A product on packed bf16 weights is bf16(A)·bf16(B) summed in float32:
// within float32 summation error of the float64 product of the rounded
// operands, for B packed from [k,n] and from [n,k], strides wider than
// the rows, and row counts from one to more than oneDNN's packing was
// chosen for; C's padding is left alone. Where Sgemm under BF16 runs the
// same products, they agree to the same bound.
func TestBF16Packed(t *testing.T) {
	if bf16Supported() != nil {
		if PackBF16(make([]float32, 4), 2, 2, false) != nil {
			t.Fatal("packed bf16 weights where bf16 products do not run")
		}
		t.Skip("no bf16 products here")
	}
	defer SetPrecision(CurrentPrecision())
	r := rand.New(rand.NewPCG(21, 22))
	for _, s := range [][3]int{{1, 384, 1152}, {16, 384, 1152}, {100, 96, 50}, {130, 1536, 384}, {7, 33, 17}, {300, 64, 96}, {BF16PackedRows, 64, 40}} {
		m, k, n := s[0], s[1], s[2]
		lda, ldc := k+2, n+3
		a := make([]float32, m*lda)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		b := make([]float32, k*n) // B [k,n]
		for i := range b {
			b[i] = float32(r.NormFloat64() * 0.05)
		}
		bt := TransposeForTest(b, k, n) // [n,k]
		for _, tr := range []bool{false, true} {
			src := b
			if tr {
				src = bt
			}
			w := PackBF16(src, k, n, tr)
			if w == nil {
				t.Fatalf("%v: PackBF16 gave nil where bf16 products run", s)
			}
			c := make([]float32, m*ldc)
			for i := range c {
				c[i] = -3
			}
			if !MatMulBF16Packed(m, a, lda, w, c, ldc) {
				t.Fatalf("%v transposed %v: the packed product did not run (%s)", s, tr, w.Kernel())
			}
			SetPrecision(BF16)
			cs := make([]float32, m*n)
			Sgemm(false, false, m, n, k, 1, a, lda, b, n, 0, cs, n)
			SetPrecision(FP32)
			var worst float64
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var ref, mag float64
					for p := 0; p < k; p++ {
						x := float64(widen1(bf16(a[i*lda+p]))) * float64(widen1(bf16(b[p*n+j])))
						ref += x
						mag += math.Abs(x)
					}
					bound := float64(k)*0x1p-24*mag + 1e-30
					got := float64(c[i*ldc+j])
					if d := math.Abs(got - ref); d > bound {
						t.Fatalf("%v transposed %v [%d,%d]: %g, float64 %g (bound %g)", s, tr, i, j, got, ref, bound)
					} else {
						worst = max(worst, d/bound)
					}
					if m*n*k >= bf16MinWork && math.Abs(got-float64(cs[i*n+j])) > 2*bound {
						t.Fatalf("%v [%d,%d]: packed %g, Sgemm under BF16 %g", s, i, j, got, cs[i*n+j])
					}
				}
				for j := n; j < ldc; j++ {
					if c[i*ldc+j] != -3 {
						t.Fatalf("%v: wrote C[%d,%d] past the row", s, i, j)
					}
				}
			}
			t.Logf("%v transposed %v, %s: worst error %.3f of the float32 summation bound", s, tr, w.Kernel(), worst)
		}
	}
	// Above BF16PackedRows it declines, writing nothing.
	const m, k, n = BF16PackedRows + 1, 64, 32
	w := PackBF16(make([]float32, k*n), k, n, false)
	a, c := make([]float32, m*k), make([]float32, m*n)
	c[0] = -3
	if MatMulBF16Packed(m, a, k, w, c, n) || c[0] != -3 {
		t.Fatalf("%d rows: ran, or wrote C", m)
	}
}

// BenchmarkBF16Packed times e5-small's QKV product under BF16 on weights
// packed once against Sgemm's rounding and laying out both operands at
// every call, at a short query's rows, a sequence's and a batch's.
func BenchmarkBF16Packed(b *testing.B) {
	if bf16Supported() != nil {
		b.Skip("no bf16 products here")
	}
	defer SetPrecision(CurrentPrecision())
	SetPrecision(BF16)
	r := rand.New(rand.NewPCG(23, 24))
	const k, n = 384, 1152
	wt := make([]float32, k*n)
	for i := range wt {
		wt[i] = float32(r.NormFloat64())
	}
	w := PackBF16(wt, k, n, false)
	for _, m := range []int{16, 64, 256, 512, 2048} {
		a, c := make([]float32, m*k), make([]float32, m*n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		gflops := func(b *testing.B) {
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		}
		b.Run(fmt.Sprintf("m%d/packed", m), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if !gemmBF16Packed(m, a, k, w.p, c, n) { // past BF16PackedRows too
					b.Fatal("the packed product did not run")
				}
			}
			gflops(b)
		})
		b.Run(fmt.Sprintf("m%d/sgemm", m), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				Sgemm(false, false, m, n, k, 1, a, k, wt, n, 0, c, n)
			}
			gflops(b)
		})
	}
}
