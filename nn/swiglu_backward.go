package nn

// SwiGLUBackward accumulates the gradient of SwiGLU with respect to its
// fused input gu [N,2F] (gate | up) given dout [N,F]: with σ = sigmoid(g),
//
//	dgate += dout · up · σ·(1 + g·(1−σ))   (silu′(g))
//	dup   += dout · silu(g)
//
// gu is the forward's input. dgu must not overlap gu or dout.
func SwiGLUBackward(dgu, dout, gu []float32, N, F int) {
	need("SwiGLUBackward", "dgu", dgu, N*2*F)
	need("SwiGLUBackward", "dout", dout, N*F)
	need("SwiGLUBackward", "gu", gu, N*2*F)
	parallelRows(N, max(1, 32768/max(F, 1)), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			g := gu[n*2*F : n*2*F+F]
			u := gu[n*2*F+F : (n+1)*2*F]
			dg := dgu[n*2*F : n*2*F+F]
			du := dgu[n*2*F+F : (n+1)*2*F]
			d := dout[n*F : (n+1)*F]
			for j, x := range g {
				s := 1 / (1 + exp32(-x))
				dg[j] += d[j] * u[j] * (s * (1 + x*(1-s)))
				du[j] += d[j] * (x * s)
			}
		}
	})
}
