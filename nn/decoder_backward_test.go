package nn

import (
	"math"
	"math/rand"
	"testing"
)

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

func TestRMSNormBackwardFD(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	N, C := 5, 24
	in, w, dout := randSlice(r, N*C, 1.5), randSlice(r, C, 1), randSlice(r, N*C, 1)
	out, rstd := make([]float32, N*C), make([]float32, N)
	loss := func() float64 { RMSNorm(out, rstd, in, w, N, C, 1e-5); return dot(out, dout) }
	loss()
	din, dw := make([]float32, N*C), make([]float32, C)
	RMSNormBackward(din, dw, dout, in, w, rstd, N, C)
	fdCheckDec(t, "RMSNorm din", in, din, 1e-2, 2e-3, loss)
	fdCheckDec(t, "RMSNorm dw", w, dw, 1e-2, 2e-3, loss)
	// Accumulation.
	din2 := append([]float32(nil), din...)
	RMSNormBackward(din2, nil, dout, in, w, rstd, N, C)
	for i := range din {
		if math.Abs(float64(din2[i]-2*din[i])) > 1e-5 {
			t.Fatalf("din does not accumulate at %d: %g vs 2·%g", i, din2[i], din[i])
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

func TestSwiGLUBackwardFD(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	N, F := 4, 10
	gu, dout := randSlice(r, N*2*F, 2), randSlice(r, N*F, 1)
	out := make([]float32, N*F)
	loss := func() float64 { SwiGLU(out, gu, N, F); return dot(out, dout) }
	dgu := make([]float32, N*2*F)
	SwiGLUBackward(dgu, dout, gu, N, F)
	fdCheckDec(t, "SwiGLU dgu", gu, dgu, 1e-2, 2e-3, loss)
}

func TestCausalAttentionBackwardFD(t *testing.T) {
	for _, c := range []struct{ T, P, NH, NKV, hs int }{{5, 0, 4, 2, 4}, {4, 3, 6, 2, 4}, {3, 0, 2, 2, 8}, {4, 1, 4, 1, 4}} {
		withThreads(t, func(t *testing.T) {
			r := rand.New(rand.NewSource(5))
			T, P, NH, NKV, hs := c.T, c.P, c.NH, c.NKV, c.hs
			S, QD, KD := P+T, NH*hs, NKV*hs
			ld := QD + 2*KD // the fused layout: q at 0, k at QD, v at QD+KD
			// New rows' q, k, v in one buffer; cached keys/values before.
			kv := randSlice(r, S*ld, 1)
			q := kv[P*ld:]
			k, v := kv[QD:], kv[QD+KD:]
			dout := randSlice(r, T*QD, 1)
			out, att := make([]float32, T*QD), make([]float32, NH*T*S)
			loss := func() float64 {
				CausalAttention(out, att, q, ld, k, v, ld, T, P, NH, NKV, hs)
				return dot(out, dout)
			}
			loss()
			d := make([]float32, S*ld)
			CausalAttentionBackward(d[P*ld:], ld, d[QD:], d[QD+KD:], ld, dout, att, q, k, v, T, P, NH, NKV, hs)
			// Cached rows' q columns are unused: their gradient must stay 0.
			for i := 0; i < P*ld; i++ {
				if i%ld < QD && d[i] != 0 {
					t.Fatalf("gradient written to an unused q column %d", i)
				}
			}
			fdCheckDec(t, "CausalAttention dqkv", kv, d, 1e-2, 2e-3, loss)
		})
	}
}
