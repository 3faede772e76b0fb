package nn

// SwiGLU is the gated MLP activation of Llama-family decoders:
// out[n,j] = silu(gu[n,j]) · gu[n,F+j] over N rows, where each row of gu
// [N,2F] holds the gate projection's F outputs then the up projection's
// (the fused gate|up product), and silu(x) = x/(1+e^(−x)) in float32 as
// PyTorch's. A backward needs gu (kept by the caller). out must not
// overlap gu.
func SwiGLU(out, gu []float32, N, F int) {
	need("SwiGLU", "out", out, N*F)
	need("SwiGLU", "gu", gu, N*2*F)
	kSwiGLU(out, gu, N, F)
}

// goSwiGLU is SwiGLU in Go (the build without cgo; the tests' check of the
// C kernel).
func goSwiGLU(out, gu []float32, N, F int) {
	parallelRows(N, max(1, 32768/max(F, 1)), func(lo, hi int) {
		for n := lo; n < hi; n++ {
			g := gu[n*2*F : n*2*F+F]
			u := gu[n*2*F+F : (n+1)*2*F]
			o := out[n*F : (n+1)*F]
			for j, x := range g {
				o[j] = x / (1 + exp32(-x)) * u[j]
			}
		}
	})
}

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
