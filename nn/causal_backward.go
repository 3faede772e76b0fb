package nn

import (
	"fmt"
	"math"

	"github.com/kormed/kormed/blas"
)

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
