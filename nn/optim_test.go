package nn

import (
	"math"
	"math/rand"
	"testing"
)

// The optimiser kernels in use agree with the Go kernels.
func TestOptimKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	const n = 20000
	g := randn(r, n, 1)
	if a, b := kSumSquares(g), goSumSquares(g); math.Abs(a-b) > 1e-12*b {
		t.Fatalf("sum of squares %v vs %v", a, b)
	}
	p1, m1, v1 := randn(r, n, 1), randn(r, n, 0.1), randn(r, n, 0.1)
	for i := range v1 {
		v1[i] *= v1[i]
	}
	p2, m2, v2 := append([]float32(nil), p1...), append([]float32(nil), m1...), append([]float32(nil), v1...)
	a := AdamWParams{Decay: 0.999, Beta1: 0.9, Beta2: 0.999, C1: 0.1, C2: 0.001, Eps: 1e-8, BC2Sqrt: 0.0447, StepSize: 1e-3}
	kAdamW(p1, g, m1, v1, a)
	goAdamW(p2, g, m2, v2, a)
	closeTo(t, "adamw p", p1, p2, 1e-7, 1e-6)
	closeTo(t, "adamw m", m1, m2, 1e-7, 1e-6)
	closeTo(t, "adamw v", v1, v2, 1e-7, 1e-6)
}
