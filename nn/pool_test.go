package nn

import (
	"math/rand"
	"testing"
)

func TestGoldenPooling(t *testing.T) {
	g := loadGolden(t).Pooling
	mean := make([]float32, g.B*g.C)
	MeanPool(mean, g.X, g.Mask, g.B, g.T, g.C)
	closeTo(t, "MeanPool", mean, g.Mean, gtol, gtol)
	l2 := make([]float32, g.B*g.C)
	L2Normalize(l2, mean, g.B, g.C)
	closeTo(t, "L2Normalize", l2, g.L2, gtol, gtol)
	cls := make([]float32, g.B*g.C)
	CLSPool(cls, g.X, g.B, g.T, g.C)
	closeTo(t, "CLSPool", cls, g.CLS, 0, 0)
	th := make([]float32, len(g.X))
	Tanh(th, g.X)
	closeTo(t, "Tanh", th, g.Tanh, gtol, gtol)
}

func TestPoolingBackwardFD(t *testing.T) {
	const B, T, C = 2, 4, 6
	r := rand.New(rand.NewSource(7*100 + 8))
	in := randn(r, B*T*C, 1)
	mask := []float32{1, 1, 1, 0, 1, 1, 1, 1}
	proj := randn(r, B*C, 1)
	out := make([]float32, B*C)
	din := make([]float32, B*T*C)
	MeanPoolBackward(din, proj, mask, B, T, C)
	fdCheck(t, "mean", in, din, func() float64 { MeanPool(out, in, mask, B, T, C); return dotWith(out, proj) })
	din = make([]float32, B*T*C)
	CLSPoolBackward(din, proj, B, T, C)
	fdCheck(t, "cls", in, din, func() float64 { CLSPool(out, in, B, T, C); return dotWith(out, proj) })

	x := randn(r, B*C, 2)
	dx := make([]float32, B*C)
	L2NormalizeBackward(dx, proj, x, B, C)
	fdCheck(t, "l2", x, dx, func() float64 { L2Normalize(out, x, B, C); return dotWith(out, proj) })

	th := make([]float32, B*C)
	Tanh(th, x)
	dx = make([]float32, B*C)
	TanhBackward(dx, th, proj)
	fdCheck(t, "tanh", x, dx, func() float64 { Tanh(out, x); return dotWith(out, proj) })
}
