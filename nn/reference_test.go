package nn

import (
	"math"
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
