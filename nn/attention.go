package nn

import (
	"fmt"
	"math"

	"github.com/kormed/kormed/blas"
)

// Attention is multi-head scaled dot-product self-attention with a padding
// mask, computed as HF BERT does: scores q·kᵀ/√hs plus (1-mask)·finfo.min,
// softmax over keys, times v. qkv is [B,T,3C]: for each position the query,
// key and value vectors concatenated (each C = NH·hs). mask is [B,T]
// (1 = token, 0 = padding) or nil; padded keys get no weight. att
// [B,NH,T,T] receives the softmax probabilities (needed by the backward);
// it may be nil at inference. out is [B,T,C], heads concatenated, before
// the output projection; it must not overlap qkv.
func Attention(out, att, qkv, mask []float32, B, T, C, NH int) {
	if NH <= 0 || C%NH != 0 {
		panic(fmt.Sprintf("nn.Attention: C=%d not divisible into NH=%d heads", C, NH))
	}
	need("Attention", "out", out, B*T*C)
	need("Attention", "qkv", qkv, B*T*3*C)
	needOpt("Attention", "att", att, B*NH*T*T)
	needOpt("Attention", "mask", mask, B*T)
	if B*T == 0 {
		return
	}
	kAttention(out, att, qkv, mask, B, T, C, NH)
}

// negMax is torch.finfo(float32).min, HF's additive mask value.
const negMax = -math.MaxFloat32

// goAttention computes each (batch, head) with two blas.Sgemm calls (the
// pure-Go product's assembly tile does the dot products) around a float32
// softmax; goroutines take (batch, head) pairs.
func goAttention(out, att, qkv, mask []float32, B, T, C, NH int) {
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	parallelRows(B*NH, 1, func(lo, hi int) {
		madd := make([]float32, T)
		var own []float32
		if att == nil {
			own = make([]float32, T*T)
		}
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b*T*3*C + h*hs
			// Keys past the last unmasked one get probability exactly 0;
			// skip them (a fully masked row keeps all keys, as HF).
			Tk := T
			if mask != nil {
				for Tk > 0 && mask[b*T+Tk-1] == 0 {
					Tk--
				}
				if Tk == 0 {
					Tk = T
				}
			}
			for t2 := 0; t2 < Tk; t2++ {
				madd[t2] = 0
				if mask != nil {
					madd[t2] = (1 - mask[b*T+t2]) * negMax
				}
			}
			sc := own
			if att != nil {
				sc = att[bh*T*T : (bh+1)*T*T]
			}
			blas.SgemmF32(false, true, T, Tk, hs, scale, qkv[base:], 3*C, qkv[base+C:], 3*C, 0, sc, T)
			for t := 0; t < T; t++ {
				row := sc[t*T : t*T+Tk]
				clear(sc[t*T+Tk : (t+1)*T])
				for t2 := range row {
					row[t2] += madd[t2]
				}
				softmaxRow(row)
			}
			blas.SgemmF32(false, false, T, hs, Tk, 1, sc, T, qkv[base+2*C:], 3*C, 0, out[b*T*C+h*hs:], C)
		}
	})
}

// AttentionDropout recomputes out [B,T,C] = dropout(P)·V for every head,
// where P = att [B,NH,T,T] are the probabilities Attention saved and V the
// value columns of qkv: BERT's attention-probability dropout (the
// probabilities in att stay undropped, as the backward needs them). Call
// it after Attention when training with attention dropout p > 0.
func AttentionDropout(out, att, qkv []float32, B, T, C, NH int, p float32, keys []uint64) {
	if p <= 0 {
		return
	}
	need("AttentionDropout", "out", out, B*T*C)
	need("AttentionDropout", "att", att, B*NH*T*T)
	need("AttentionDropout", "qkv", qkv, B*T*3*C)
	hs := C / NH
	th, scale := dropThreshold(p), float32(1)/(1-p)
	parallelRows(B*NH, 1, func(lo, hi int) {
		pd := make([]float32, T*T)
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			dropProbs(pd, att[bh*T*T:(bh+1)*T*T], T, h, keys[b], th, scale)
			v := qkv[b*T*3*C+2*C+h*hs:]
			blas.SgemmF32(false, false, T, hs, T, 1, pd, T, v, 3*C, 0, out[b*T*C+h*hs:], C)
		}
	})
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
