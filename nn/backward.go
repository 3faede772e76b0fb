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
// The per-thread partial sums of dw and db are added in chunk order, so the
// result is the same on every run with the same thread count.
func LayerNormBackward(din, dw, db, dout, in, w, mean, rstd []float32, N, C int) {
	need("LayerNormBackward", "dout", dout, N*C)
	need("LayerNormBackward", "in", in, N*C)
	need("LayerNormBackward", "w", w, C)
	need("LayerNormBackward", "mean", mean, N)
	need("LayerNormBackward", "rstd", rstd, N)
	needOpt("LayerNormBackward", "din", din, N*C)
	needOpt("LayerNormBackward", "dw", dw, C)
	needOpt("LayerNormBackward", "db", db, C)
	if N > 0 {
		kLayerNormBackward(din, dw, db, dout, in, w, mean, rstd, N, C)
	}
}

// GELUBackward accumulates din += dout·GELU'(pre), where pre is the GELU
// input saved by LinearGELU (GELU'(x) = Φ(x) + x·φ(x)).
func GELUBackward(din, pre, dout []float32) {
	need("GELUBackward", "pre", pre, len(din))
	need("GELUBackward", "dout", dout, len(din))
	if len(din) > 0 {
		kGELUBackward(din, pre[:len(din)], dout[:len(din)])
	}
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
	biasBackward(db, dout, N, OC)
}

// LinearTBackward accumulates the gradients of LinearT (out = in·wt + b,
// wt [C,OC]) given dout [N,OC]: din [N,C] += dout·wtᵀ, dwt [C,OC] +=
// inᵀ·dout, db [OC] += column sums of dout. Nil buffers are skipped.
func LinearTBackward(din, dwt, db, dout, in, wt []float32, N, C, OC int) {
	need("LinearTBackward", "dout", dout, N*OC)
	if din != nil {
		LinearTInputGrad(din, dout, wt, N, C, OC, true)
	}
	if dwt != nil {
		need("LinearTBackward", "dwt", dwt, C*OC)
		blas.Sgemm(true, false, C, OC, N, 1, in, C, dout, OC, 1, dwt, OC)
	}
	biasBackward(db, dout, N, OC)
}

// LinearTInputGrad is LinearTBackward's input gradient alone: din [N,C] =
// dout·wtᵀ, added to din when accumulate is set, else overwriting it
// (which saves clearing a fresh buffer and the product reading it).
func LinearTInputGrad(din, dout, wt []float32, N, C, OC int, accumulate bool) {
	need("LinearTInputGrad", "din", din, N*C)
	var beta float32
	if accumulate {
		beta = 1
	}
	blas.Sgemm(false, true, N, C, OC, 1, dout, OC, wt, OC, beta, din, C)
}

// biasBackward accumulates db [OC] += the column sums of dout [N,OC]
// (float64 sums, rows in order, over blocks of 64 columns; deterministic).
func biasBackward(db, dout []float32, N, OC int) {
	if db == nil {
		return
	}
	need("biasBackward", "db", db, OC)
	if N > 0 {
		kBiasBackward(db, dout, N, OC)
	}
}

// AttentionBackward accumulates dqkv [B,T,3C] given dout [B,T,C] (the
// gradient of Attention's out), from the forward's qkv and att (the saved
// softmax probabilities). The mask needs no gradient: masked keys have
// probability 0, so no gradient reaches them through the softmax.
func AttentionBackward(dqkv, dout, qkv, att []float32, B, T, C, NH int) {
	AttentionDropoutBackward(dqkv, dout, qkv, att, B, T, C, NH, 0, nil)
}

// AttentionDropoutBackward is AttentionBackward for attention whose
// probabilities went through AttentionDropout with p and keys: with
// P' = dropout(P), dV += P'ᵀ·dO and the gradient reaching P is
// dropout(dO·Vᵀ) (the same mask and scale).
func AttentionDropoutBackward(dqkv, dout, qkv, att []float32, B, T, C, NH int, p float32, keys []uint64) {
	need("AttentionBackward", "dqkv", dqkv, B*T*3*C)
	need("AttentionBackward", "dout", dout, B*T*C)
	need("AttentionBackward", "qkv", qkv, B*T*3*C)
	need("AttentionBackward", "att", att, B*NH*T*T)
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	th, dscale := dropThreshold(p), float32(1)/(1-p)
	parallelRows(B*NH, 1, func(lo, hi int) {
		dp := make([]float32, T*T)
		var pd []float32
		if p > 0 {
			pd = make([]float32, T*T)
		}
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b*T*3*C + h*hs
			q, k, v := qkv[base:], qkv[base+C:], qkv[base+2*C:]
			dq, dk, dv := dqkv[base:], dqkv[base+C:], dqkv[base+2*C:]
			do := dout[b*T*C+h*hs:]
			pr := att[bh*T*T : (bh+1)*T*T]
			pv := pr // the probabilities that multiplied V
			if p > 0 {
				dropProbs(pd, pr, T, h, keys[b], th, dscale)
				pv = pd
			}
			blas.SgemmF32(false, true, T, T, hs, 1, do, C, v, 3*C, 0, dp, T)  // dP' = dO·Vᵀ
			blas.SgemmF32(true, false, T, hs, T, 1, pv, T, do, C, 1, dv, 3*C) // dV += P'ᵀ·dO
			if p > 0 {
				dropProbs(dp, dp, T, h, keys[b], th, dscale) // dP = dP' ⊙ mask·scale
			}
			for t := 0; t < T; t++ { // dS = P ⊙ (dP − Σ dP⊙P)
				prow, dr := pr[t*T:(t+1)*T], dp[t*T:(t+1)*T]
				var s float32
				for j := range prow {
					s += prow[j] * dr[j]
				}
				for j := range prow {
					dr[j] = prow[j] * (dr[j] - s)
				}
			}
			blas.SgemmF32(false, false, T, hs, T, scale, dp, T, k, 3*C, 1, dq, 3*C) // dQ += s·dS·K
			blas.SgemmF32(true, false, T, hs, T, scale, dp, T, q, 3*C, 1, dk, 3*C)  // dK += s·dSᵀ·Q
		}
	})
}

// EmbeddingBackward accumulates dtable[ids[i],:] += dout[i,:] (the
// scatter-add of an embedding lookup), skipping positions whose id is pad
// (nn.Embedding's padding_idx: that row never gets a gradient). pad < 0
// skips nothing. Serial, so repeated ids always add in position order.
func EmbeddingBackward(dtable []float32, ids []int32, dout []float32, C int, pad int32) {
	need("EmbeddingBackward", "dout", dout, len(ids)*C)
	for i, id := range ids {
		if id == pad {
			continue
		}
		d := dtable[int(id)*C : (int(id)+1)*C]
		for j, g := range dout[i*C : (i+1)*C] {
			d[j] += g
		}
	}
}

// MeanPoolBackward accumulates din [B,T,C] += mask[b,t]·dout[b,:]/n_b, the
// gradient of MeanPool (n_b = Σ_t mask[b,t], clamped at 1e-9 as the forward).
func MeanPoolBackward(din, dout, mask []float32, B, T, C int) {
	need("MeanPoolBackward", "din", din, B*T*C)
	need("MeanPoolBackward", "dout", dout, B*C)
	need("MeanPoolBackward", "mask", mask, B*T)
	for b := 0; b < B; b++ {
		var n float32
		for t := 0; t < T; t++ {
			n += mask[b*T+t]
		}
		if n < 1e-9 {
			n = 1e-9
		}
		g := dout[b*C : (b+1)*C]
		for t := 0; t < T; t++ {
			m := mask[b*T+t]
			if m == 0 {
				continue
			}
			d := din[(b*T+t)*C : (b*T+t+1)*C]
			for j := range d {
				d[j] += m * g[j] / n
			}
		}
	}
}

// CLSPoolBackward accumulates din[b,0,:] += dout[b,:], the gradient of CLSPool.
func CLSPoolBackward(din, dout []float32, B, T, C int) {
	need("CLSPoolBackward", "din", din, B*T*C)
	need("CLSPoolBackward", "dout", dout, B*C)
	for b := 0; b < B; b++ {
		d := din[b*T*C : b*T*C+C]
		for j, g := range dout[b*C : (b+1)*C] {
			d[j] += g
		}
	}
}

// TanhBackward accumulates din += dout·(1 − out²), given Tanh's output.
func TanhBackward(din, out, dout []float32) {
	need("TanhBackward", "out", out, len(din))
	need("TanhBackward", "dout", dout, len(din))
	for i := range din {
		din[i] += dout[i] * (1 - out[i]*out[i])
	}
}

// L2NormalizeBackward accumulates the gradient of L2Normalize given its
// input in [N,C] and dout: with n = max(‖x‖, 1e-12) and y = x/n,
// din += (dout − y·(y·dout))/n, or dout/n where the clamp is active.
func L2NormalizeBackward(din, dout, in []float32, N, C int) {
	need("L2NormalizeBackward", "din", din, N*C)
	need("L2NormalizeBackward", "dout", dout, N*C)
	need("L2NormalizeBackward", "in", in, N*C)
	for i := 0; i < N; i++ {
		x, g, d := in[i*C:(i+1)*C], dout[i*C:(i+1)*C], din[i*C:(i+1)*C]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		n := math.Sqrt(ss)
		if n < 1e-12 {
			for j := range d {
				d[j] += float32(float64(g[j]) / 1e-12)
			}
			continue
		}
		var yg float64
		for j := range x {
			yg += float64(x[j]) / n * float64(g[j])
		}
		for j := range d {
			d[j] += float32((float64(g[j]) - float64(x[j])/n*yg) / n)
		}
	}
}
