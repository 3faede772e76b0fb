package nn

import (
	"fmt"
	"math"

	"github.com/kormed/kormed/blas"
)

// CausalAttention is the causal, grouped-query self-attention of
// Llama-family decoders, for T new queries at positions P…P+T-1 against
// the keys and values of positions 0…P+T-1 (P cached positions before
// them plus the T new ones), as transformers' eager attention computes
// it: scores q·kᵀ/√hs, keys after the query's position masked out,
// softmax over keys, times v.
//
// q is [T,ldq] with query head h at columns h·hs…; k and v are
// [P+T,ldkv] with key/value head g at columns g·hs… (a KV cache's rows).
// There are NH query heads and NKV key/value heads (NH a multiple of NKV);
// query head h reads key/value head h/(NH/NKV), as repeat_kv. out is
// [T,NH·hs], heads concatenated. att [NH,T,P+T], if non-nil, receives the
// softmax probabilities (zero after each query's position) for a backward.
func CausalAttention(out, att, q []float32, ldq int, k, v []float32, ldkv int, T, P, NH, NKV, hs int) {
	if NH <= 0 || NKV <= 0 || NH%NKV != 0 {
		panic(fmt.Sprintf("nn.CausalAttention: %d query heads not a multiple of %d key/value heads", NH, NKV))
	}
	if T == 0 {
		return
	}
	S := P + T
	need("CausalAttention", "out", out, T*NH*hs)
	need("CausalAttention", "q", q, (T-1)*ldq+NH*hs)
	need("CausalAttention", "k", k, (S-1)*ldkv+NKV*hs)
	need("CausalAttention", "v", v, (S-1)*ldkv+NKV*hs)
	needOpt("CausalAttention", "att", att, NH*T*S)
	rep := NH / NKV
	scale := float32(1 / math.Sqrt(float64(hs)))
	C := NH * hs
	if T == 1 && att == nil {
		kDecodeAttention(out, q, k, v, ldkv, S, NKV, rep, hs, scale)
		return
	}
	parallelRows(NH, 1, func(lo, hi int) {
		var own []float32
		if att == nil {
			own = make([]float32, T*S)
		}
		for h := lo; h < hi; h++ {
			g := h / rep
			sc := own
			if att != nil {
				sc = att[h*T*S : (h+1)*T*S]
			}
			blas.SgemmF32(false, true, T, S, hs, scale, q[h*hs:], ldq, k[g*hs:], ldkv, 0, sc, S)
			for t := 0; t < T; t++ {
				n := P + t + 1 // keys 0…P+t are visible
				clear(sc[t*S+n : (t+1)*S])
				softmaxRow(sc[t*S : t*S+n])
			}
			blas.SgemmF32(false, false, T, hs, S, 1, sc, S, v[g*hs:], ldkv, 0, out[h*hs:], C)
		}
	})
}

// softmaxRow replaces row with its softmax.
func softmaxRow(row []float32) {
	mx := float32(math.Inf(-1))
	for _, s := range row {
		mx = max(mx, s)
	}
	var sum float32
	for j, s := range row {
		e := exp32(s - mx)
		row[j] = e
		sum += e
	}
	inv := 1 / sum
	for j := range row {
		row[j] *= inv
	}
}

// goDecodeAttention is CausalAttention of one query (T = 1, no
// probabilities kept: a generated token) against S keys: the rep query
// heads that share a key/value head are contiguous in q and out, so each
// group is one product of rep rows with its keys and one with its values,
// reading them once for the group. With cgo kn_decode_attention does the
// same in one OpenMP region (a generated token spent more time in this
// function's small products, goroutines and scalar exp than in its
// attention arithmetic).
func goDecodeAttention(out, q, k, v []float32, ldkv, S, NKV, rep, hs int, scale float32) {
	parallelRows(NKV, 1, func(lo, hi int) {
		sc := make([]float32, rep*S)
		for g := lo; g < hi; g++ {
			blas.SgemmF32(false, true, rep, S, hs, scale, q[g*rep*hs:], hs, k[g*hs:], ldkv, 0, sc, S)
			for r := 0; r < rep; r++ {
				softmaxRow(sc[r*S : (r+1)*S])
			}
			blas.SgemmF32(false, false, rep, hs, S, 1, sc, S, v[g*hs:], ldkv, 0, out[g*rep*hs:], hs)
		}
	})
}

// CausalAttentionBackward accumulates the gradients of CausalAttention
// given dout [T,NH·hs] (the gradient of its out) and the probabilities att
// [NH,T,P+T] it saved: per query head h reading key/value head g,
//
//	dV_g += P_hᵀ·dO_h
//	dS    = P_h ⊙ (dO_h·V_gᵀ − rowsum(P_h ⊙ dO_h·V_gᵀ))
//	dQ_h += dS·K_g/√hs
//	dK_g += dSᵀ·Q_h/√hs
//
// so the key and value gradients of a shared head are summed over its
// group of NH/NKV query heads (repeat_kv's backward). The layouts are the
// forward's: dq like q ([T,ldq]), dk and dv like k and v ([P+T,ldkv]);
// they may be column ranges of one buffer (the fused q|k|v rows). The mask
// needs no gradient: masked keys have probability 0. Nil dq, dk or dv are
// skipped.
func CausalAttentionBackward(dq []float32, ldq int, dk, dv []float32, ldkv int, dout, att, q, k, v []float32, T, P, NH, NKV, hs int) {
	if NH <= 0 || NKV <= 0 || NH%NKV != 0 {
		panic(fmt.Sprintf("nn.CausalAttentionBackward: %d query heads not a multiple of %d key/value heads", NH, NKV))
	}
	if T == 0 {
		return
	}
	S := P + T
	C := NH * hs
	need("CausalAttentionBackward", "dout", dout, T*C)
	need("CausalAttentionBackward", "att", att, NH*T*S)
	need("CausalAttentionBackward", "q", q, (T-1)*ldq+C)
	need("CausalAttentionBackward", "k", k, (S-1)*ldkv+NKV*hs)
	need("CausalAttentionBackward", "v", v, (S-1)*ldkv+NKV*hs)
	if dq != nil {
		need("CausalAttentionBackward", "dq", dq, (T-1)*ldq+C)
	}
	if dk != nil {
		need("CausalAttentionBackward", "dk", dk, (S-1)*ldkv+NKV*hs)
	}
	if dv != nil {
		need("CausalAttentionBackward", "dv", dv, (S-1)*ldkv+NKV*hs)
	}
	rep := NH / NKV
	scale := float32(1 / math.Sqrt(float64(hs)))
	// One goroutine per key/value head: the query heads of a group add
	// into the same dK, dV columns, in head order (deterministic).
	parallelRows(NKV, 1, func(lo, hi int) {
		dp := make([]float32, T*S)
		for g := lo; g < hi; g++ {
			for h := g * rep; h < (g+1)*rep; h++ {
				pr := att[h*T*S : (h+1)*T*S]
				do := dout[h*hs:]
				if dv != nil {
					blas.SgemmF32(true, false, S, hs, T, 1, pr, S, do, C, 1, dv[g*hs:], ldkv) // dV += Pᵀ·dO
				}
				if dq == nil && dk == nil {
					continue
				}
				blas.SgemmF32(false, true, T, S, hs, 1, do, C, v[g*hs:], ldkv, 0, dp, S) // dP = dO·Vᵀ
				for t := 0; t < T; t++ {
					n := P + t + 1
					prow, dr := pr[t*S:t*S+n], dp[t*S:(t+1)*S]
					var s float32
					for j := range prow {
						s += prow[j] * dr[j]
					}
					for j := range prow {
						dr[j] = prow[j] * (dr[j] - s)
					}
					clear(dr[n:])
				}
				if dq != nil {
					blas.SgemmF32(false, false, T, hs, S, scale, dp, S, k[g*hs:], ldkv, 1, dq[h*hs:], ldq) // dQ += s·dS·K
				}
				if dk != nil {
					blas.SgemmF32(true, false, S, hs, T, scale, dp, S, q[h*hs:], ldq, 1, dk[g*hs:], ldkv) // dK += s·dSᵀ·Q
				}
			}
		}
	})
}
