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
