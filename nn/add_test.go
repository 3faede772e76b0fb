package nn

import (
	"math/rand"
	"testing"
)

func TestAddAndBias(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	a, b := randn(r, 70001, 1), randn(r, 70001, 1)
	want := make([]float32, len(a))
	for i := range a {
		want[i] = a[i] + b[i]
	}
	withThreads(t, func(t *testing.T) {
		out := make([]float32, len(a))
		Add(out, a, b)
		closeTo(t, "Add", out, want, 0, 0)
		goAdd(out, a, b)
		closeTo(t, "goAdd", out, want, 0, 0)
		x := append([]float32(nil), a[:7*13]...)
		goBias(x, b[:13], 7, 13)
		for i := range x {
			if x[i] != a[i]+b[i%13] {
				t.Fatalf("goBias[%d]", i)
			}
		}
	})
}
