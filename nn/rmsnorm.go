package nn

import "math"

// RMSNorm is the root-mean-square LayerNorm of Llama-family decoders
// (transformers' LlamaRMSNorm; EXAONE's ln_1/ln_2/ln_f): for each of the N
// rows of in [N,C], out = w · (x · rstd) with rstd = 1/√(mean(x²) + eps),
// computed in float32 with the sum of squares accumulated in float64. rstd
// ([N]), if non-nil, receives the statistic a backward needs (with in).
// out may alias in.
func RMSNorm(out, rstd, in, w []float32, N, C int, eps float32) {
	need("RMSNorm", "out", out, N*C)
	need("RMSNorm", "in", in, N*C)
	need("RMSNorm", "w", w, C)
	needOpt("RMSNorm", "rstd", rstd, N)
	parallelRows(N, max(1, 16384/max(C, 1)), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := in[i*C : (i+1)*C]
			var s float64
			for _, v := range x {
				s += float64(v) * float64(v)
			}
			r := float32(1 / math.Sqrt(float64(float32(s/float64(C))+eps)))
			if rstd != nil {
				rstd[i] = r
			}
			o := out[i*C : (i+1)*C]
			for j, v := range x {
				o[j] = w[j] * (v * r)
			}
		}
	})
}
