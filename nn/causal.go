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
				row := sc[t*S : t*S+n]
				clear(sc[t*S+n : (t+1)*S])
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
			blas.SgemmF32(false, false, T, hs, S, 1, sc, S, v[g*hs:], ldkv, 0, out[h*hs:], C)
		}
	})
}
