package train

import "math"

// cosineLoss is sentence-transformers' CosineSimilarityLoss with its defaults
// (loss_fct = MSELoss, cos_score_transformation = Identity): for the pairs
// (u_i, v_i) with gold scores y_i,
//
//	loss = 1/B · Σ_i (cos(u_i, v_i) − y_i)²
//	cos(u, v) = u·v / sqrt(max(‖u‖², ε²) · max(‖v‖², ε²)),  ε = 1e-8
//
// which is torch.cosine_similarity (torch 1.13: squared norms clamped at ε²).
// Its gradient, with c = cos(u, v), s_u = max(‖u‖², ε²) and
// n = sqrt(s_u·s_v), is
//
//	∂c/∂u = v/n − c·u/s_u
//
// which is also what torch's autograd gives in the clamped branch (the clamp
// is applied in place under no_grad, so the norm's gradient still flows).
//
// Example: u = (1, 0), v = (0.6, 0.8), y = 1: cos = 0.6, loss = 0.16,
// ∂loss/∂u = 2(0.6−1)·((0.6, 0.8) − 0.6·(1, 0)) = (0, −0.64) and
// ∂loss/∂v = −0.8·((1, 0) − 0.6·(0.6, 0.8)) = (−0.512, 0.384).
//
// Columns: exactly 2 (sentence1, sentence2); labels required.
type cosineLoss struct{}

func (cosineLoss) Name() string { return "cosine" }

func (cosineLoss) Spec() LossSpec { return LossSpec{MinColumns: 2, MaxColumns: 2, Labels: true} }

func (l cosineLoss) Compute(in LossInput) (float64, error) {
	return lossCompute(l.Name(), l.Spec(), in, l.eval)
}

// cosineEps is torch.cosine_similarity's default eps.
const cosineEps = 1e-8

// eval is the float64 loss; it adds ∂loss/∂emb into grad when grad is non-nil.
func (cosineLoss) eval(lb *lossBatch, grad [][]float64) float64 {
	b, d := lb.b, lb.d
	u, v := lb.emb[0], lb.emb[1]
	loss := 0.0
	for i := 0; i < b; i++ {
		ui, vi := u[i*d:(i+1)*d], v[i*d:(i+1)*d]
		uv, uu, vv := 0.0, 0.0, 0.0
		for j := range ui {
			uv += ui[j] * vi[j]
			uu += ui[j] * ui[j]
			vv += vi[j] * vi[j]
		}
		su := math.Max(uu, cosineEps*cosineEps)
		sv := math.Max(vv, cosineEps*cosineEps)
		n := math.Sqrt(su * sv)
		c := uv / n
		r := c - lb.labels[i]
		loss += r * r
		if grad == nil {
			continue
		}
		g := 2 * r / float64(b) // ∂loss/∂c_i
		gu, gv := grad[0][i*d:(i+1)*d], grad[1][i*d:(i+1)*d]
		for j := range ui {
			gu[j] += g * (vi[j]/n - c*ui[j]/su)
			gv[j] += g * (ui[j]/n - c*vi[j]/sv)
		}
	}
	return loss / float64(b)
}
