package train

import "math"

// cosentLoss is sentence-transformers' CoSENTLoss (Su 2022) with
// similarity_fct = util.pairwise_cos_sim: for the pairs (u_i, v_i) with gold
// scores y_i and s_i = scale · cos(u_i, v_i),
//
//	loss = log(1 + Σ_{i,j: y_i < y_j} exp(s_i − s_j))
//
// i.e. logsumexp over 0 and every difference s_i − s_j whose pair i is rated
// below pair j (the reference masks the other entries with −1e12). Ties and a
// batch of one contribute nothing. cos normalises each row with
// x/max(‖x‖, 1e-12) (F.normalize) before the dot product. With
// w_ij = exp(s_i − s_j − loss), ∂loss/∂s_i = Σ_j w_ij − Σ_j w_ji.
//
// Example (scale 20): u_1 = u_2 = (1, 0), v_1 = (0.6, 0.8), v_2 = (0.8, 0.6),
// y = (1, 0): s = (12, 16), the one ordered pair is y_2 < y_1, so
// loss = log(1 + e^(16−12)) = 4.0181499, ∂loss/∂s_2 = σ(4) = 0.98201379 and
// ∂loss/∂s_1 = −0.98201379.
//
// Columns: exactly 2; labels required.
type cosentLoss struct {
	scale float64
}

func (cosentLoss) Name() string { return "cosent" }

func (cosentLoss) Spec() LossSpec { return LossSpec{MinColumns: 2, MaxColumns: 2, Labels: true} }

func (l cosentLoss) Compute(in LossInput) (float64, error) {
	return lossCompute(l.Name(), l.Spec(), in, l.eval)
}

// cosentEps is F.normalize's default eps, used by util.pairwise_cos_sim.
const cosentEps = 1e-12

// eval is the float64 loss; it adds ∂loss/∂emb into grad when grad is non-nil.
func (l cosentLoss) eval(lb *lossBatch, grad [][]float64) float64 {
	b, d, y := lb.b, lb.d, lb.labels
	un, unorm := lossNormalize(lb.emb[0], b, d, cosentEps)
	vn, vnorm := lossNormalize(lb.emb[1], b, d, cosentEps)
	s := make([]float64, b)
	for i := range s {
		dot := 0.0
		for j := 0; j < d; j++ {
			dot += un[i*d+j] * vn[i*d+j]
		}
		s[i] = l.scale * dot
	}
	terms := []float64{0}
	for i := 0; i < b; i++ {
		for j := 0; j < b; j++ {
			if y[i] < y[j] {
				terms = append(terms, s[i]-s[j])
			}
		}
	}
	loss := lossLogSumExp(terms)
	if grad == nil {
		return loss
	}
	ds := make([]float64, b)
	for i := 0; i < b; i++ {
		for j := 0; j < b; j++ {
			if y[i] < y[j] {
				w := math.Exp(s[i] - s[j] - loss)
				ds[i] += w
				ds[j] -= w
			}
		}
	}
	dun, dvn := make([]float64, b*d), make([]float64, b*d)
	for i := 0; i < b; i++ {
		g := l.scale * ds[i]
		for j := 0; j < d; j++ {
			dun[i*d+j] = g * vn[i*d+j]
			dvn[i*d+j] = g * un[i*d+j]
		}
	}
	lossNormalizeBackward(grad[0], dun, un, unorm, b, d, cosentEps)
	lossNormalizeBackward(grad[1], dvn, vn, vnorm, b, d, cosentEps)
	return loss
}
