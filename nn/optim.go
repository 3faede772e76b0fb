package nn

import "math"

// The optimiser's elementwise kernels (package train holds the optimiser).

// AdamWParams are one AdamW step's scalars for AdamW.
type AdamWParams struct {
	Decay        float32 // 1 − lr·weight_decay, or 1 without decay
	Beta1, Beta2 float32
	C1, C2       float32 // 1 − β1 and 1 − β2, rounded from float64 as PyTorch does
	Eps          float32
	BC2Sqrt      float32 // √(1 − β2ᵗ)
	StepSize     float32 // lr / (1 − β1ᵗ)
}

// AdamW updates p in place from its gradient g and moments m, v, in
// float32 in PyTorch's order of operations (the C kernel may fuse a
// multiply-add, so results can differ in the last bit between CPU kinds):
//
//	p ← p·decay;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − step · m / (√v / √(1−β2ᵗ) + ε)
func AdamW(p, g, m, v []float32, a AdamWParams) {
	need("AdamW", "g", g, len(p))
	need("AdamW", "m", m, len(p))
	need("AdamW", "v", v, len(p))
	if len(p) > 0 {
		kAdamW(p, g[:len(p)], m[:len(p)], v[:len(p)], a)
	}
}

func goAdamW(p, g, m, v []float32, a AdamWParams) {
	c1, c2 := a.C1, a.C2
	parallelRows(len(p), 1<<14, func(lo, hi int) {
		for j := lo; j < hi; j++ {
			pj := p[j] * a.Decay
			gj := g[j]
			m[j] = m[j]*a.Beta1 + gj*c1
			v[j] = v[j]*a.Beta2 + c2*gj*gj
			denom := float32(math.Sqrt(float64(v[j])))/a.BC2Sqrt + a.Eps
			p[j] = pj + -a.StepSize*(m[j]/denom)
		}
	})
}

// SumSquares returns Σ x² in float64, summed in fixed blocks of 4,096
// elements whose sums are added in order: the same value for any thread
// count (clip_grad_norm_'s global norm is its square root).
func SumSquares(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	return kSumSquares(x)
}

const sumSpan = 4096

func goSumSquares(x []float32) float64 {
	n := (len(x) + sumSpan - 1) / sumSpan
	part := make([]float64, n)
	parallelRows(n, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			blk := x[c*sumSpan : min((c+1)*sumSpan, len(x))]
			var s [8]float64
			j := 0
			for ; j+8 <= len(blk); j += 8 {
				for k := 0; k < 8; k++ {
					s[k] += float64(blk[j+k]) * float64(blk[j+k])
				}
			}
			for ; j < len(blk); j++ {
				s[0] += float64(blk[j]) * float64(blk[j])
			}
			var t float64
			for _, v := range s {
				t += v
			}
			part[c] = t
		}
	})
	var t float64
	for _, v := range part {
		t += v
	}
	return t
}
