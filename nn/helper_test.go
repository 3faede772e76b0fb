package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

// withThreads runs f with 1 and 3 threads (uneven splits included).
func withThreads(t *testing.T, f func(t *testing.T)) {
	defer blas.SetThreads(blas.Threads())
	for _, n := range []int{1, 3} {
		blas.SetThreads(n)
		t.Run(fmt.Sprint("threads", n), f)
	}
}

func randn(r *rand.Rand, n int, sd float64) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(r.NormFloat64() * sd)
	}
	return s
}

// close reports whether got matches want within atol + rtol·|want|.
func closeTo(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := float64(got[i]), float64(want[i])
		if !(math.Abs(g-w) <= atol+rtol*math.Abs(w)) {
			t.Fatalf("%s[%d] = %.9g, want %.9g (|diff| %.3g)", what, i, g, w, math.Abs(g-w))
		}
	}
}

func randSlice(r *rand.Rand, n int, std float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * std)
	}
	return v
}

func maxAbsDiff(a []float32, b []float64) float64 {
	var d float64
	for i := range b {
		d = math.Max(d, math.Abs(float64(a[i])-b[i]))
	}
	return d
}

// fdCheck compares an analytic gradient with central differences of f.
func fdCheck(t *testing.T, what string, x []float32, grad []float32, f func() float64) {
	t.Helper()
	const eps = 1e-3
	for j := range x {
		o := x[j]
		x[j] = o + eps
		lp := f()
		x[j] = o - eps
		lm := f()
		x[j] = o
		fd := (lp - lm) / (2 * eps)
		if math.Abs(fd-float64(grad[j])) > 1e-3+5e-3*math.Abs(fd) {
			t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", what, j, grad[j], fd)
		}
	}
}

func dotWith(x, w []float32) float64 {
	var s float64
	for i := range x {
		s += float64(x[i]) * float64(w[i])
	}
	return s
}

// fdCheckDec compares the analytic gradient grad of loss with respect to x
// with central finite differences (step h), at every element of x, and
// fails when the worst difference exceeds tol of the gradient's scale
// (its largest magnitude).
func fdCheckDec(t *testing.T, name string, x, grad []float32, h float32, tol float64, loss func() float64) {
	t.Helper()
	var worst, scale float64
	for _, g := range grad {
		scale = math.Max(scale, math.Abs(float64(g)))
	}
	for i := range x {
		old := x[i]
		x[i] = old + h
		lp := loss()
		x[i] = old - h
		lm := loss()
		x[i] = old
		num := (lp - lm) / (2 * float64(h))
		worst = math.Max(worst, math.Abs(num-float64(grad[i])))
	}
	if scale == 0 || worst > tol*scale {
		t.Errorf("%s: finite differences differ by %.3g (gradient scale %.3g)", name, worst, scale)
	} else {
		t.Logf("%s: max |fd − analytic| %.3g of scale %.3g", name, worst, scale)
	}
}

// dot is Σ a·b in float64: a scalar loss with upstream gradient b.
func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}
