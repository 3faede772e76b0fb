package nn

import (
	"math"

	"github.com/kormed/kormed/blas"
)

// Backward kernels. As in llm.c, every gradient is accumulated (+=) into
// the caller's buffers, so zero them before the first backward of a step;
// a nil gradient buffer is skipped. They are written for correctness
// first (pure Go plus blas.Sgemm) and checked against PyTorch autograd.

// LayerNormBackward accumulates the gradients of LayerNorm (and of the
// residual forms, with in = the saved sum) given dout [N,C]: din [N,C],
// dw [C], db [C]. in, w, mean and rstd are what the forward used and saved.
func LayerNormBackward(din, dw, db, dout, in, w, mean, rstd []float32, N, C int) {
	need("LayerNormBackward", "dout", dout, N*C)
	need("LayerNormBackward", "in", in, N*C)
	need("LayerNormBackward", "w", w, C)
	need("LayerNormBackward", "mean", mean, N)
	need("LayerNormBackward", "rstd", rstd, N)
	needOpt("LayerNormBackward", "din", din, N*C)
	needOpt("LayerNormBackward", "dw", dw, C)
	needOpt("LayerNormBackward", "db", db, C)
	type partial struct{ dw, db []float64 }
	parts := make(chan partial, blas.Threads())
	parallelRows(N, 8, func(lo, hi int) {
		pw, pb := make([]float64, C), make([]float64, C)
		for i := lo; i < hi; i++ {
			x, g := in[i*C:(i+1)*C], dout[i*C:(i+1)*C]
			m, rs := mean[i], rstd[i]
			var dnMean, dnNormMean float64
			for j := range x {
				norm := (x[j] - m) * rs
				dn := float64(w[j] * g[j])
				dnMean += dn
				dnNormMean += dn * float64(norm)
			}
			dnMean /= float64(C)
			dnNormMean /= float64(C)
			for j := range x {
				norm := float64((x[j] - m) * rs)
				pb[j] += float64(g[j])
				pw[j] += norm * float64(g[j])
				if din != nil {
					dn := float64(w[j] * g[j])
					din[i*C+j] += float32((dn - dnMean - norm*dnNormMean) * float64(rs))
				}
			}
		}
		parts <- partial{pw, pb}
	})
	close(parts)
	for p := range parts {
		for j := 0; j < C; j++ {
			if dw != nil {
				dw[j] += float32(p.dw[j])
			}
			if db != nil {
				db[j] += float32(p.db[j])
			}
		}
	}
}

// GELUBackward accumulates din += dout·GELU'(pre), where pre is the GELU
// input saved by LinearGELU (GELU'(x) = Φ(x) + x·φ(x)).
func GELUBackward(din, pre, dout []float32) {
	need("GELUBackward", "pre", pre, len(din))
	need("GELUBackward", "dout", dout, len(din))
	const invSqrt2Pi = 0.3989422804014327
	parallelRows(len(din), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := pre[i]
			cdf := 0.5 * (1 + erf32(x*0.70710678118654752))
			pdf := invSqrt2Pi * exp32(-0.5*x*x)
			din[i] += dout[i] * (cdf + x*pdf)
		}
	})
}

// LinearBackward accumulates the gradients of Linear (out = in·wᵀ + b)
// given dout [N,OC]: din [N,C] += dout·w, dw [OC,C] += doutᵀ·in,
// db [OC] += column sums of dout.
func LinearBackward(din, dw, db, dout, in, w []float32, N, C, OC int) {
	need("LinearBackward", "dout", dout, N*OC)
	if din != nil {
		need("LinearBackward", "din", din, N*C)
		blas.Sgemm(false, false, N, C, OC, 1, dout, OC, w, C, 1, din, C)
	}
	if dw != nil {
		need("LinearBackward", "dw", dw, OC*C)
		blas.Sgemm(true, false, OC, C, N, 1, dout, OC, in, C, 1, dw, C)
	}
	if db != nil {
		need("LinearBackward", "db", db, OC)
		acc := make([]float64, OC)
		for i := 0; i < N; i++ {
			for j, g := range dout[i*OC : (i+1)*OC] {
				acc[j] += float64(g)
			}
		}
		for j := range acc {
			db[j] += float32(acc[j])
		}
	}
}

// AttentionBackward accumulates dqkv [B,T,3C] given dout [B,T,C] (the
// gradient of Attention's out), from the forward's qkv and att (the saved
// softmax probabilities). The mask needs no gradient: masked keys have
// probability 0, so no gradient reaches them through the softmax.
func AttentionBackward(dqkv, dout, qkv, att []float32, B, T, C, NH int) {
	need("AttentionBackward", "dqkv", dqkv, B*T*3*C)
	need("AttentionBackward", "dout", dout, B*T*C)
	need("AttentionBackward", "qkv", qkv, B*T*3*C)
	need("AttentionBackward", "att", att, B*NH*T*T)
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	parallelRows(B*NH, 1, func(lo, hi int) {
		dp := make([]float32, T*T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b*T*3*C + h*hs
			q, k, v := qkv[base:], qkv[base+C:], qkv[base+2*C:]
			dq, dk, dv := dqkv[base:], dqkv[base+C:], dqkv[base+2*C:]
			do := dout[b*T*C+h*hs:]
			p := att[bh*T*T : (bh+1)*T*T]
			blas.Sgemm(false, true, T, T, hs, 1, do, C, v, 3*C, 0, dp, T) // dP = dO·Vᵀ
			blas.Sgemm(true, false, T, hs, T, 1, p, T, do, C, 1, dv, 3*C) // dV += Pᵀ·dO
			for t := 0; t < T; t++ {                                      // dS = P ⊙ (dP − Σ dP⊙P)
				pr, dr := p[t*T:(t+1)*T], dp[t*T:(t+1)*T]
				var s float32
				for j := range pr {
					s += pr[j] * dr[j]
				}
				for j := range pr {
					dr[j] = pr[j] * (dr[j] - s)
				}
			}
			blas.Sgemm(false, false, T, hs, T, scale, dp, T, k, 3*C, 1, dq, 3*C) // dQ += s·dS·K
			blas.Sgemm(true, false, T, hs, T, scale, dp, T, q, 3*C, 1, dk, 3*C)  // dK += s·dSᵀ·Q
		}
	})
}
