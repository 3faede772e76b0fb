package nn

import (
	"math"
	"math/rand"
	"testing"
)

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

func TestRMSNorm(t *testing.T) {
	withThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(1))
		N, C := 37, 96
		in := randSlice(r, N*C, 2)
		w := randSlice(r, C, 1)
		out := make([]float32, N*C)
		rstd := make([]float32, N)
		RMSNorm(out, rstd, in, w, N, C, 1e-5)
		want := make([]float64, N*C)
		for i := 0; i < N; i++ {
			var s float64
			for j := 0; j < C; j++ {
				s += float64(in[i*C+j]) * float64(in[i*C+j])
			}
			rs := 1 / math.Sqrt(s/float64(C)+1e-5)
			if d := math.Abs(float64(rstd[i]) - rs); d > 1e-6*rs {
				t.Fatalf("rstd[%d] = %g, want %g", i, rstd[i], rs)
			}
			for j := 0; j < C; j++ {
				want[i*C+j] = float64(w[j]) * float64(in[i*C+j]) * rs
			}
		}
		if d := maxAbsDiff(out, want); d > 1e-5 {
			t.Fatalf("RMSNorm differs by %g", d)
		}
		RMSNorm(in, nil, in, w, N, C, 1e-5) // in place
		if d := maxAbsDiff(in, want); d > 1e-5 {
			t.Fatalf("in-place RMSNorm differs by %g", d)
		}
	})
}

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

func TestSwiGLU(t *testing.T) {
	withThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(3))
		N, F := 9, 50
		gu := randSlice(r, N*2*F, 3)
		gu[0], gu[1] = -100, 100
		out := make([]float32, N*F)
		SwiGLU(out, gu, N, F)
		want := make([]float64, N*F)
		for n := 0; n < N; n++ {
			for j := 0; j < F; j++ {
				g, u := float64(gu[n*2*F+j]), float64(gu[n*2*F+F+j])
				want[n*F+j] = g / (1 + math.Exp(-g)) * u
			}
		}
		if d := maxAbsDiff(out, want); d > 1e-4 {
			t.Fatalf("SwiGLU differs by %g", d)
		}
	})
}

// naiveCausal is grouped-query causal attention in float64.
func naiveCausal(q []float32, ldq int, k, v []float32, ldkv, T, P, NH, NKV, hs int) (out, att []float64) {
	S := P + T
	out = make([]float64, T*NH*hs)
	att = make([]float64, NH*T*S)
	for h := 0; h < NH; h++ {
		g := h / (NH / NKV)
		for t := 0; t < T; t++ {
			n := P + t + 1
			sc := make([]float64, n)
			mx := math.Inf(-1)
			for j := 0; j < n; j++ {
				var s float64
				for i := 0; i < hs; i++ {
					s += float64(q[t*ldq+h*hs+i]) * float64(k[j*ldkv+g*hs+i])
				}
				sc[j] = s / math.Sqrt(float64(hs))
				mx = math.Max(mx, sc[j])
			}
			var sum float64
			for j := range sc {
				sc[j] = math.Exp(sc[j] - mx)
				sum += sc[j]
			}
			for j := range sc {
				p := sc[j] / sum
				att[(h*T+t)*S+j] = p
				for i := 0; i < hs; i++ {
					out[t*NH*hs+h*hs+i] += p * float64(v[j*ldkv+g*hs+i])
				}
			}
		}
	}
	return out, att
}

func TestCausalAttention(t *testing.T) {
	withThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(4))
		for _, c := range []struct{ T, P, NH, NKV, hs int }{{7, 0, 4, 2, 8}, {1, 9, 4, 1, 8}, {3, 5, 6, 6, 4}, {6, 0, 2, 2, 16}} {
			S := c.P + c.T
			ldq, ldkv := c.NH*c.hs+3, c.NKV*c.hs+1
			q := randSlice(r, c.T*ldq, 1)
			k := randSlice(r, S*ldkv, 1)
			v := randSlice(r, S*ldkv, 1)
			out := make([]float32, c.T*c.NH*c.hs)
			att := make([]float32, c.NH*c.T*S)
			for i := range att {
				att[i] = float32(math.NaN())
			}
			CausalAttention(out, att, q, ldq, k, v, ldkv, c.T, c.P, c.NH, c.NKV, c.hs)
			wo, wa := naiveCausal(q, ldq, k, v, ldkv, c.T, c.P, c.NH, c.NKV, c.hs)
			if d := maxAbsDiff(out, wo); d > 1e-5 || math.IsNaN(d) {
				t.Fatalf("%+v: out differs by %g", c, d)
			}
			if d := maxAbsDiff(att, wa); d > 1e-6 || math.IsNaN(d) {
				t.Fatalf("%+v: probabilities differ by %g", c, d)
			}
			out2 := make([]float32, len(out))
			CausalAttention(out2, nil, q, ldq, k, v, ldkv, c.T, c.P, c.NH, c.NKV, c.hs)
			if d := maxAbsDiff(out2, wo); d > 1e-5 {
				t.Fatalf("%+v: out without att differs by %g", c, d)
			}
		}
	})
}
