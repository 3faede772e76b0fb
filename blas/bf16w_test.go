package blas

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// bf16 rounds to nearest even (the weights a checkpoint stores).
func bf16(f float32) uint16 {
	b := math.Float32bits(f)
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}

func widen1(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// mmCase is one MatMulBF16 problem with strides wider than the rows and
// NaNs beyond them.
type mmCase struct {
	m, n, k, lda, ldw, ldc int
	a                      []float32
	w                      []uint16
	c0                     []float32
	beta                   float32
}

func newMMCase(r *rand.Rand, m, n, k int, beta float32) mmCase {
	cs := mmCase{m: m, n: n, k: k, lda: k + 3, ldw: k + 5, ldc: n + 2, beta: beta}
	cs.a = make([]float32, m*cs.lda)
	for i := range cs.a {
		cs.a[i] = float32(r.NormFloat64())
	}
	cs.w = make([]uint16, n*cs.ldw)
	for i := range cs.w {
		cs.w[i] = bf16(float32(r.NormFloat64()))
	}
	cs.c0 = make([]float32, m*cs.ldc)
	for i := range cs.c0 {
		cs.c0[i] = float32(r.NormFloat64())
		if beta == 0 && i%cs.ldc < n {
			cs.c0[i] = float32(math.NaN()) // not read when beta is 0
		}
	}
	return cs
}

// check compares got with A·Wᵀ + beta·C0 computed in float64, A rounded to
// bf16 when roundA: each element within tol·Σ|a||w|; beyond n, C is
// untouched. It returns how many elements equal the float32 product of the
// unrounded A to within 1e-6 of that magnitude.
func (cs mmCase) check(t *testing.T, got []float32, roundA bool, tol float64) (close int) {
	t.Helper()
	for i := 0; i < cs.m; i++ {
		for j := 0; j < cs.ldc; j++ {
			g := got[i*cs.ldc+j]
			if j >= cs.n {
				if math.Float32bits(g) != math.Float32bits(cs.c0[i*cs.ldc+j]) {
					t.Fatalf("m=%d n=%d k=%d: C[%d,%d] beyond n written", cs.m, cs.n, cs.k, i, j)
				}
				continue
			}
			var want, exact, mag float64
			for p := 0; p < cs.k; p++ {
				x := cs.a[i*cs.lda+p]
				y := float64(widen1(cs.w[j*cs.ldw+p]))
				exact += float64(x) * y
				if roundA {
					x = widen1(bf16(x))
				}
				want += float64(x) * y
				mag += math.Abs(float64(x) * y)
			}
			if cs.beta != 0 {
				want += float64(cs.beta) * float64(cs.c0[i*cs.ldc+j])
				exact += float64(cs.beta) * float64(cs.c0[i*cs.ldc+j])
				mag += math.Abs(float64(cs.beta) * float64(cs.c0[i*cs.ldc+j]))
			}
			if d := math.Abs(float64(g) - want); !(d <= tol*mag+1e-30) {
				t.Fatalf("m=%d n=%d k=%d β=%g: C[%d,%d] = %g, want %g (|d| %.3g, Σ|aw| %.3g)", cs.m, cs.n, cs.k, cs.beta, i, j, g, want, d, mag)
			}
			if math.Abs(float64(g)-exact) <= 1e-6*mag {
				close++
			}
		}
	}
	return close
}

// Under FP32 MatMulBF16 is the float32 product with the widened weights,
// in both of its paths (up to GEMVRows rows, and more), for every shape
// around the kernels' unrolling (k mod 8 and 16, W rows mod 4, A rows mod
// 4), beta 0 (C not read) and not.
func TestMatMulBF16(t *testing.T) {
	for _, isa := range gemvISAs {
		setGEMVISA(isa)
		testMatMulBF16(t)
	}
	setGEMVISA(0)
}

func testMatMulBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, m := range []int{1, 2, 3, 4, 5, 8, 9, 40} {
		for _, n := range []int{1, 3, 4, 7, 67} {
			for _, k := range []int{1, 7, 8, 16, 33, 130, 200} {
				for _, beta := range []float32{0, 0.5} {
					cs := newMMCase(r, m, n, k, beta)
					got := append([]float32(nil), cs.c0...)
					MatMulBF16(m, n, k, cs.a, cs.lda, cs.w, cs.ldw, beta, got, cs.ldc)
					cs.check(t, got, false, 1e-6)
					got = append(got[:0], cs.c0...)
					goGemvBF16(m, n, k, cs.a, cs.lda, cs.w, cs.ldw, beta, got, cs.ldc)
					cs.check(t, got, false, 1e-6)
				}
			}
		}
	}
	// Large enough for the threads and the blocks of widenGemm.
	for _, m := range []int{1, 3, 64} {
		cs := newMMCase(r, m, 1500, 700, 0)
		got := append([]float32(nil), cs.c0...)
		MatMulBF16(m, 1500, 700, cs.a, cs.lda, cs.w, cs.ldw, 0, got, cs.ldc)
		cs.check(t, got, false, 1e-6)
	}
}

// Under BF16 precision a product of more than GEMVRows rows runs on the
// bf16 weights as stored with A rounded to bf16 (where the CPU has it);
// up to GEMVRows rows it stays the float32 product.
func TestMatMulBF16Precision(t *testing.T) {
	if err := bf16Supported(); err != nil {
		t.Skip(err)
	}
	defer SetPrecision(FP32)
	if err := SetPrecision(BF16); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, beta := range []float32{0, -0.25} {
		cs := newMMCase(r, 64, 96, 80, beta)
		got := append([]float32(nil), cs.c0...)
		MatMulBF16(cs.m, cs.n, cs.k, cs.a, cs.lda, cs.w, cs.ldw, beta, got, cs.ldc)
		if close := cs.check(t, got, true, 1e-6); close > cs.m*cs.n/2 {
			t.Fatalf("%d of %d elements equal the float32 product: bf16 not in use", close, cs.m*cs.n)
		}
		cs = newMMCase(r, GEMVRows, 96, 80, beta)
		got = append(got[:0], cs.c0...)
		MatMulBF16(cs.m, cs.n, cs.k, cs.a, cs.lda, cs.w, cs.ldw, beta, got, cs.ldc)
		cs.check(t, got, false, 1e-6)
	}
}

func TestMatMulBF16Shapes(t *testing.T) {
	a, c := make([]float32, 8), make([]float32, 8)
	w := make([]uint16, 7)
	for name, f := range map[string]func(){
		"short W":  func() { MatMulBF16(2, 2, 4, a, 4, w, 4, 0, c, 4) },
		"ldw < k":  func() { MatMulBF16(1, 1, 4, a, 4, w, 3, 0, c, 4) },
		"negative": func() { MatMulBF16(-1, 1, 4, a, 4, w, 4, 0, c, 4) },
		"short A":  func() { MatMulBF16(3, 1, 4, a, 4, w, 4, 0, c, 4) },
		"ldc < n":  func() { MatMulBF16(1, 2, 3, a, 4, w, 3, 0, c, 1) },
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(p.(string), "blas.") {
					t.Errorf("%s: panic %v", name, p)
				}
			}()
			f()
		}()
	}
	// k = 0: C = beta·C.
	c = []float32{1, 2}
	MatMulBF16(1, 2, 0, nil, 1, nil, 1, 0.5, c, 2)
	if c[0] != 0.5 || c[1] != 1 {
		t.Errorf("k=0: %v", c)
	}
}

func BenchmarkMatMulBF16GEMV(b *testing.B) {
	const n, k = 7168 * 2, 2560
	r := rand.New(rand.NewPCG(1, 1))
	a := make([]float32, k)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	w := make([]uint16, n*k)
	for i := range w {
		w[i] = bf16(float32(r.NormFloat64()))
	}
	c := make([]float32, n)
	b.SetBytes(int64(2 * n * k))
	for b.Loop() {
		MatMulBF16(1, n, k, a, k, w, k, 0, c, n)
	}
}
