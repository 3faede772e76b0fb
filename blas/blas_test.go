package blas

import (
	"fmt"
	"math"
	"math/rand"
	"testing"
)

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64())
	}
	return s
}

type gemmFunc func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)

// compare runs f and the naive reference on the same random problem.
func compare(t *testing.T, name string, f gemmFunc, r *rand.Rand, ta, tb bool, m, n, k, pad int, alpha, beta float32) {
	t.Helper()
	rowsA, colsA := m, k
	if ta {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if tb {
		rowsB, colsB = n, k
	}
	lda, ldb, ldc := colsA+pad, colsB+pad, n+pad
	a := randSlice(r, max(rowsA*lda, 1))
	b := randSlice(r, max(rowsB*ldb, 1))
	c0 := randSlice(r, m*ldc)
	got := append([]float32(nil), c0...)
	want := append([]float32(nil), c0...)
	if beta == 0 { // C must not be read: poison it
		for i := range got {
			got[i] = float32(math.NaN())
		}
	}
	f(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
	goSgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < ldc; j++ {
			g, w := got[i*ldc+j], want[i*ldc+j]
			if j >= n { // padding past n must be untouched
				if beta != 0 && g != c0[i*ldc+j] {
					t.Fatalf("%s: wrote padding at (%d,%d)", name, i, j)
				}
				continue
			}
			tol := 1e-4 * (1 + float64(k)/16)
			if d := math.Abs(float64(g - w)); !(d <= tol*(1+math.Abs(float64(w)))) {
				t.Fatalf("%s ta=%v tb=%v m=%d n=%d k=%d pad=%d alpha=%g beta=%g: C[%d,%d]=%g want %g",
					name, ta, tb, m, n, k, pad, alpha, beta, i, j, g, w)
			}
		}
	}
}

var shapes = [][3]int{{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 5, 1}, {4, 4, 4}, {7, 13, 17}, {6, 16, 8}, {33, 65, 31}, {70, 300, 270}, {200, 17, 300}, {129, 5, 513}}

func TestSgemmMatchesReference(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	go4x4 := func(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
		defer func(u bool) { useAsm = u }(useAsm)
		useAsm = false
		blockedSgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	}
	impls := map[string]gemmFunc{"backend(" + Backend() + ")": sgemm, "blocked": blockedSgemm, "blocked-go4x4": go4x4}
	for name, f := range impls {
		for _, sh := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, pad := range []int{0, 3} {
						for _, beta := range []float32{0, 1, 0.5} {
							compare(t, name, f, r, ta, tb, sh[0], sh[1], sh[2], pad, 1.5, beta)
						}
					}
				}
			}
		}
	}
}

func TestSgemmThreads(t *testing.T) {
	defer SetThreads(Threads())
	r := rand.New(rand.NewSource(2))
	for _, n := range []int{1, 2, 3} {
		SetThreads(n)
		if Threads() != n {
			t.Fatalf("Threads()=%d after SetThreads(%d)", Threads(), n)
		}
		compare(t, fmt.Sprint("threads", n), sgemm, r, false, true, 100, 90, 80, 1, 1, 0)
		compare(t, fmt.Sprint("blocked threads", n), blockedSgemm, r, true, false, 100, 300, 80, 1, 1, 1)
	}
}

func TestSgemmHandWorked(t *testing.T) {
	// [1 2; 3 4]·[5 6; 7 8] = [19 22; 43 50]; with beta 1 onto C=[1 1;1 1].
	a := []float32{1, 2, 3, 4}
	b := []float32{5, 6, 7, 8}
	c := []float32{1, 1, 1, 1}
	Sgemm(false, false, 2, 2, 2, 1, a, 2, b, 2, 1, c, 2)
	want := []float32{20, 23, 44, 51}
	for i := range c {
		if c[i] != want[i] {
			t.Fatalf("C=%v want %v", c, want)
		}
	}
	// k=0: C = beta·C.
	Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 2)
	if c[0] != 10 || c[3] != 25.5 {
		t.Fatalf("k=0: C=%v", c)
	}
}

func TestSgemmPanicsOnShortSlice(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic for short A")
		}
	}()
	Sgemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

func benchSgemm(b *testing.B, f gemmFunc, transB bool) {
	m, n, k := 2048, 1536, 384
	r := rand.New(rand.NewSource(3))
	a, w, c := randSlice(r, m*k), randSlice(r, n*k), make([]float32, m*n)
	ldb := k
	if !transB {
		ldb = n
	}
	f(false, transB, m, n, k, 1, a, k, w, ldb, 0, c, n) // warm up
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f(false, transB, m, n, k, 1, a, k, w, ldb, 0, c, n)
	}
	b.StopTimer()
	flops := 2 * float64(m) * float64(n) * float64(k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
	// Per CPU-second: with -threads 1 (BenchmarkSgemm1T) a measure that
	// holds up when other processes share the cores.
	b.ReportMetric(flops/(cpuSeconds()-cpu0)/1e9, "GFLOP/cpu-s")
}

// BenchmarkSgemm times the backend on the FFN shape of multilingual-e5-small
// at B=32, T=64: [2048,384]·[1536,384]ᵀ.
func BenchmarkSgemm(b *testing.B) { benchSgemm(b, Sgemm, true) }

// BenchmarkSgemmNN is BenchmarkSgemm with the weight stored [384,1536]
// (not transposed).
func BenchmarkSgemmNN(b *testing.B) { benchSgemm(b, Sgemm, false) }

// BenchmarkSgemmBlocked times the pure-Go blocked kernel on the same shape.
func BenchmarkSgemmBlocked(b *testing.B) { benchSgemm(b, blockedSgemm, true) }

// The same three on one thread.
func BenchmarkSgemm1T(b *testing.B)        { oneThread(b, Sgemm, true) }
func BenchmarkSgemmNN1T(b *testing.B)      { oneThread(b, Sgemm, false) }
func BenchmarkSgemmBlocked1T(b *testing.B) { oneThread(b, blockedSgemm, true) }

func oneThread(b *testing.B, f gemmFunc, transB bool) {
	defer SetThreads(Threads())
	SetThreads(1)
	benchSgemm(b, f, transB)
}
