package nn

import (
	"math"
)

// Dropout, as nn.Dropout in training mode: each element is kept with
// probability 1-p and scaled by 1/(1-p), or zeroed.
//
// The masks are not drawn from a stateful generator but hashed from a key
// per sequence and the element's coordinates (counter-based, as Philox in
// JAX or cuRAND): the mask of a sequence depends only on its key, never on
// the batch it was padded into, the thread count or the order of calls.
// That is what GradCache needs (the second, gradient-keeping forward of a
// mini-batch must drop exactly what the first one dropped), what makes a
// resumed training run bit-identical to an uninterrupted one (the keys
// derive from the seed and the step), and it lets the backward regenerate
// the mask instead of storing it. PyTorch's generator cannot be matched
// bit for bit by any other implementation, so dropout is checked by its
// statistics, its eval-mode identity and finite differences, and the
// PyTorch gradient comparisons run with dropout off.

// DropKey mixes a sequence key with a site number (layer, place in the
// layer) into the key of one dropout site.
func DropKey(key, site uint64) uint64 { return mix64(key ^ mix64(site+0x9E3779B97F4A7C15)) }

// mix64 is splitmix64's finaliser: a bijective 64-bit hash.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// dropThreshold is p·2⁶⁴: an element is dropped when its hash is below it.
func dropThreshold(p float32) uint64 {
	if p <= 0 {
		return 0
	}
	if p >= 1 {
		return math.MaxUint64
	}
	return uint64(float64(p) * (1 << 64))
}

// kept reports whether element idx of the site with key key survives.
func kept(key, idx, thresh uint64) bool {
	return mix64(key+idx*0xD6E8FEB86659FD93) >= thresh
}

// Dropout applies dropout in place to x [B,T,C]: element (b,t,c) is kept
// (and scaled by 1/(1-p), in float32 as PyTorch) when the hash of keys[b]
// and t·C+c says so. p = 0 leaves x unchanged.
func Dropout(x []float32, B, T, C int, p float32, keys []uint64) {
	dropRows(x, B, T, C, p, keys)
}

// DropoutBackward turns dout into din in place: the gradient of Dropout
// with the same p and keys is the same mask and scale.
func DropoutBackward(dx []float32, B, T, C int, p float32, keys []uint64) {
	dropRows(dx, B, T, C, p, keys)
}

func dropRows(x []float32, B, T, C int, p float32, keys []uint64) {
	if p <= 0 {
		return
	}
	need("Dropout", "x", x, B*T*C)
	if len(keys) < B {
		panic("nn.Dropout: fewer keys than sequences")
	}
	kDropRows(x, B, T, C, keys[:B], dropThreshold(p), float32(1)/(1-p))
}

func goDropRows(x []float32, B, T, C int, keys []uint64, th uint64, scale float32) {
	parallelRows(B*T, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			b, t := r/T, r%T
			key := keys[b]
			row := x[r*C : (r+1)*C]
			base := uint64(t * C)
			for c := range row {
				if kept(key, base+uint64(c), th) {
					row[c] *= scale
				} else {
					row[c] = 0
				}
			}
		}
	})
}

// attnIndex numbers attention probability (h, i, j) independently of the
// padded length T, so a sequence's mask does not depend on its batch.
func attnIndex(h, i, j int) uint64 { return uint64(h)<<42 | uint64(i)<<21 | uint64(j) }

// dropProbs writes dst = src ⊙ mask·scale for one head's [T,T] block of
// attention probabilities (or of their gradient); dst may be src.
func dropProbs(dst, src []float32, T, h int, key, th uint64, scale float32) {
	kDropProbs(dst[:T*T], src[:T*T], T, h, key, th, scale)
}

func goDropProbs(dst, src []float32, T, h int, key, th uint64, scale float32) {
	for i := 0; i < T; i++ {
		for j := 0; j < T; j++ {
			if kept(key, attnIndex(h, i, j), th) {
				dst[i*T+j] = src[i*T+j] * scale
			} else {
				dst[i*T+j] = 0
			}
		}
	}
}
