package nn

import (
	"math"
	"math/rand"
	"testing"
)

func TestRoPE(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	T, NH, hs, ld, pos0 := 5, 3, 8, 3*8+5, 7
	inv := []float32{1, 0.3, 0.05, 0.001}
	cos := make([]float32, T*hs/2)
	sin := make([]float32, T*hs/2)
	RoPETable(cos, sin, inv, pos0, T)
	x := randSlice(r, T*ld, 1)
	orig := append([]float32(nil), x...)
	RoPE(x, ld, cos, sin, T, NH, hs)
	for tt := 0; tt < T; tt++ {
		for c := NH * hs; c < ld; c++ {
			if x[tt*ld+c] != orig[tt*ld+c] {
				t.Fatalf("column %d past the heads changed", c)
			}
		}
		for h := 0; h < NH; h++ {
			for i := 0; i < hs/2; i++ {
				a := float64(pos0+tt) * float64(inv[i])
				x1, x2 := float64(orig[tt*ld+h*hs+i]), float64(orig[tt*ld+h*hs+i+hs/2])
				w1 := x1*math.Cos(a) - x2*math.Sin(a)
				w2 := x2*math.Cos(a) + x1*math.Sin(a)
				if math.Abs(float64(x[tt*ld+h*hs+i])-w1) > 1e-5 || math.Abs(float64(x[tt*ld+h*hs+i+hs/2])-w2) > 1e-5 {
					t.Fatalf("t=%d h=%d i=%d: got (%g,%g), want (%g,%g)", tt, h, i, x[tt*ld+h*hs+i], x[tt*ld+h*hs+i+hs/2], w1, w2)
				}
			}
		}
	}
}

func TestRoPEBackwardFD(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	T, NH, hs, ld := 6, 3, 8, 30
	inv := []float32{1, 0.3, 0.05, 0.01}
	cos, sin := make([]float32, T*hs/2), make([]float32, T*hs/2)
	RoPETable(cos, sin, inv, 2, T)
	x, dout := randSlice(r, T*ld, 1), randSlice(r, T*ld, 1)
	y := make([]float32, T*ld)
	mask := func(s []float32) { // only the rotated columns count
		for t := 0; t < T; t++ {
			clear(s[t*ld+NH*hs : (t+1)*ld])
		}
	}
	mask(dout)
	loss := func() float64 { copy(y, x); RoPE(y, ld, cos, sin, T, NH, hs); return dot(y, dout) }
	dx := append([]float32(nil), dout...)
	RoPEBackward(dx, ld, cos, sin, T, NH, hs)
	fdCheckDec(t, "RoPE dx", x, dx, 1e-2, 1e-3, loss)
}
