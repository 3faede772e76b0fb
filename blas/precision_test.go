package blas

import (
	"math"
	"math/rand/v2"
	"sync"
	"testing"
)

// Under BF16 a product equals the float32 one to bfloat16 rounding: each
// element within 2⁻⁷·Σ|a||b| (both operands rounded to 8 significant bits),
// for every transpose, strides wider than the rows, alpha and beta.
func TestBF16Products(t *testing.T) {
	if err := bf16Supported(); err != nil {
		t.Skip(err)
	}
	defer SetPrecision(FP32)
	r := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = float32(r.NormFloat64())
		}
		return s
	}
	const m, n, k = 96, 80, 64 // m·n·k ≥ bf16MinWork
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			for _, ab := range [][2]float32{{1, 0}, {0.5, 1}, {2, -0.25}} {
				alpha, beta := ab[0], ab[1]
				ar, ac := m, k
				if ta {
					ar, ac = k, m
				}
				br, bc := k, n
				if tb {
					br, bc = n, k
				}
				lda, ldb, ldc := ac+3, bc+5, n+2
				a, b, c0 := fill(ar*lda), fill(br*ldb), fill(m*ldc)
				want := append([]float32(nil), c0...)
				SetPrecision(FP32)
				Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, want, ldc)
				got := append([]float32(nil), c0...)
				if err := SetPrecision(BF16); err != nil {
					t.Fatal(err)
				}
				Sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, got, ldc)
				at := func(i, p int) float32 {
					if ta {
						return a[p*lda+i]
					}
					return a[i*lda+p]
				}
				bt := func(p, j int) float32 {
					if tb {
						return b[j*ldb+p]
					}
					return b[p*ldb+j]
				}
				same := 0
				for i := 0; i < m; i++ {
					for j := 0; j < ldc; j++ {
						if j >= n {
							if got[i*ldc+j] != c0[i*ldc+j] {
								t.Fatalf("ta=%v tb=%v: C[%d,%d] beyond n written", ta, tb, i, j)
							}
							continue
						}
						var mag float64
						for p := 0; p < k; p++ {
							mag += math.Abs(float64(at(i, p)) * float64(bt(p, j)))
						}
						d := math.Abs(float64(got[i*ldc+j]) - float64(want[i*ldc+j]))
						if d > math.Abs(float64(alpha))*mag/128 {
							t.Fatalf("ta=%v tb=%v α=%g β=%g: C[%d,%d] = %g, float32 %g", ta, tb, alpha, beta, i, j, got[i*ldc+j], want[i*ldc+j])
						}
						if got[i*ldc+j] == want[i*ldc+j] {
							same++
						}
					}
				}
				if same > m*n/2 {
					t.Fatalf("ta=%v tb=%v: %d of %d elements equal the float32 product: bf16 not in use", ta, tb, same, m*n)
				}
			}
		}
	}
}

func TestSetPrecision(t *testing.T) {
	defer SetPrecision(FP32)
	if p, err := ParsePrecision("bf16"); err != nil || p != BF16 {
		t.Fatal(p, err)
	}
	if _, err := ParsePrecision("fp16"); err == nil {
		t.Fatal("fp16 accepted")
	}
	err := SetPrecision(BF16)
	if (err == nil) != (bf16Supported() == nil) {
		t.Fatalf("SetPrecision(BF16): %v, support: %v", err, bf16Supported())
	}
	if err != nil && CurrentPrecision() != FP32 {
		t.Fatal("a refused precision was set")
	}
}

// bf16 products may run concurrently (Encode is safe for concurrent use,
// attention runs a product per head in goroutines): each goroutine's
// result, on its own operands, equals the same product run alone, bit for
// bit.
func TestBF16Concurrent(t *testing.T) {
	if err := bf16Supported(); err != nil {
		t.Skip(err)
	}
	defer SetPrecision(FP32)
	if err := SetPrecision(BF16); err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 4))
	const T, hs, G = 128, 32, 8 // one attention head at 128 tokens: T·T·hs ≥ bf16MinWork
	as, bs, want := make([][]float32, G), make([][]float32, G), make([][]float32, G)
	for g := range as {
		as[g], bs[g], want[g] = make([]float32, T*T), make([]float32, T*hs), make([]float32, T*hs)
		for i := range as[g] {
			as[g][i] = float32(r.NormFloat64())
		}
		for i := range bs[g] {
			bs[g][i] = float32(r.NormFloat64())
		}
		Sgemm(false, false, T, hs, T, 1, as[g], T, bs[g], hs, 0, want[g], hs)
	}
	bad := make([]int, G)
	for round := 0; round < 50; round++ {
		var wg sync.WaitGroup
		for g := 0; g < G; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				got := make([]float32, T*hs)
				Sgemm(false, false, T, hs, T, 1, as[g], T, bs[g], hs, 0, got, hs)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(want[g][i]) {
						bad[g]++
					}
				}
			}(g)
		}
		wg.Wait()
	}
	for g, n := range bad {
		if n > 0 {
			t.Errorf("goroutine %d: %d elements differ from the product run alone", g, n)
		}
	}
}
