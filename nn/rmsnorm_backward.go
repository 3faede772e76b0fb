package nn

// RMSNormBackward accumulates the gradients of RMSNorm given dout [N,C]:
// with x̂ = x·rstd and g = w·dout,
//
//	din[n,:] += rstd · (g − x̂ · mean(g·x̂))
//	dw       += Σ_n dout[n,:]·x̂[n,:]
//
// in, w and rstd are what the forward used and saved. Row sums are in
// float64; dw is summed over rows in order (deterministic). Nil buffers
// are skipped.
func RMSNormBackward(din, dw, dout, in, w, rstd []float32, N, C int) {
	need("RMSNormBackward", "dout", dout, N*C)
	need("RMSNormBackward", "in", in, N*C)
	need("RMSNormBackward", "w", w, C)
	need("RMSNormBackward", "rstd", rstd, N)
	needOpt("RMSNormBackward", "din", din, N*C)
	needOpt("RMSNormBackward", "dw", dw, C)
	if din != nil {
		parallelRows(N, max(1, 16384/max(C, 1)), func(lo, hi int) {
			for i := lo; i < hi; i++ {
				x, d, o := in[i*C:(i+1)*C], dout[i*C:(i+1)*C], din[i*C:(i+1)*C]
				r := rstd[i]
				var s float64
				for j, v := range x {
					s += float64(w[j]*d[j]) * float64(v*r)
				}
				m := float32(s / float64(C))
				for j, v := range x {
					o[j] += r * (w[j]*d[j] - v*r*m)
				}
			}
		})
	}
	if dw != nil {
		for j := 0; j < C; j++ {
			var s float64
			for i := 0; i < N; i++ {
				s += float64(dout[i*C+j]) * float64(in[i*C+j]*rstd[i])
			}
			dw[j] += float32(s)
		}
	}
}
