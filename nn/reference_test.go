package nn

import (
	"math"
	"math/rand"
	"testing"
)

// Naive float64 references (the original kernels) that the fast paths are
// checked against.

func refLayerNorm(out, in, w, b []float32, N, C int, eps float32) (mean, rstd []float32) {
	mean, rstd = make([]float32, N), make([]float32, N)
	for i := 0; i < N; i++ {
		x := in[i*C : (i+1)*C]
		var m float64
		for _, v := range x {
			m += float64(v)
		}
		m /= float64(C)
		var v2 float64
		for _, v := range x {
			d := float64(v) - m
			v2 += d * d
		}
		v2 /= float64(C)
		s := 1 / math.Sqrt(v2+float64(eps))
		for j := range x {
			out[i*C+j] = float32((float64(x[j])-m)*s*float64(w[j]) + float64(b[j]))
		}
		mean[i], rstd[i] = float32(m), float32(s)
	}
	return
}

func refGELU(x float32) float32 {
	return float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
}

func refLinear(out, in, w, b []float32, N, C, OC int) {
	for i := 0; i < N; i++ {
		for o := 0; o < OC; o++ {
			var s float64
			for c := 0; c < C; c++ {
				s += float64(in[i*C+c]) * float64(w[o*C+c])
			}
			if b != nil {
				s += float64(b[o])
			}
			out[i*OC+o] = float32(s)
		}
	}
}

func refAttention(out, att, qkv, mask []float32, B, T, C, NH int) {
	hs := C / NH
	scale := 1 / math.Sqrt(float64(hs))
	row := make([]float64, T)
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			for t := 0; t < T; t++ {
				q := qkv[(b*T+t)*3*C+h*hs:]
				maxv := math.Inf(-1)
				for t2 := 0; t2 < T; t2++ {
					k := qkv[(b*T+t2)*3*C+C+h*hs:]
					var s float64
					for i := 0; i < hs; i++ {
						s += float64(q[i]) * float64(k[i])
					}
					s *= scale
					if mask != nil {
						s += (1 - float64(mask[b*T+t2])) * -math.MaxFloat32
					}
					row[t2] = s
					maxv = math.Max(maxv, s)
				}
				var sum float64
				for t2 := range row {
					row[t2] = math.Exp(row[t2] - maxv)
					sum += row[t2]
				}
				for i := 0; i < hs; i++ {
					var o float64
					for t2 := range row {
						o += row[t2] / sum * float64(qkv[(b*T+t2)*3*C+2*C+h*hs+i])
					}
					out[(b*T+t)*C+h*hs+i] = float32(o)
				}
				if att != nil {
					for t2 := range row {
						att[((b*NH+h)*T+t)*T+t2] = float32(row[t2] / sum)
					}
				}
			}
		}
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
