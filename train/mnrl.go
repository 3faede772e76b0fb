package train

import "math"

// mnrlLoss is sentence-transformers' MultipleNegativesRankingLoss (in-batch
// negatives, InfoNCE) and, with symmetric set,
// MultipleNegativesSymmetricRankingLoss, both on one device.
//
// Columns: anchor a, positive p, then any number of hard-negative columns
// n¹, n², …. The candidates are the columns after the anchor stacked column
// by column, [p_1..p_B, n¹_1..n¹_B, …] (B·(C−1) rows), and
//
//	S_ik = scale · sim(a_i, cand_k)
//	forward  = 1/B · Σ_i (logsumexp_k S_ik − S_ii)      (cross-entropy, target i)
//	backward = 1/B · Σ_j (logsumexp_{i<B} S_ij − S_jj)  (S[:, :B]ᵀ: positives to anchors; negatives not used)
//	loss = forward, or (forward + backward)/2 when symmetric
//
// sim is util.cos_sim (each row divided by max(‖row‖, 1e-12), then the dot
// product) or util.dot_score (the plain dot product). The gradient of the
// cross-entropy is ∂/∂S_ik = (softmax_i(S)_k − [k = i])/B.
//
// Example (cos, scale 20): a = ((1, 0), (0, 1)), p = ((1, 0), (0.6, 0.8)):
// S = ((20, 12), (0, 16)), loss = (log(1+e^−8) + log(1+e^−16))/2 = 0.00016775945;
// symmetric: backward = (log(1+e^−20) + log(e^12+e^16) − 16)/2 = 0.0090749650,
// loss = 0.0046213622.
type mnrlLoss struct {
	scale     float64
	dot       bool // util.dot_score instead of util.cos_sim
	symmetric bool
}

func (mnrlLoss) Name() string { return "mnrl" }

func (mnrlLoss) Spec() LossSpec { return LossSpec{MinColumns: 2, MaxColumns: -1} }

func (l mnrlLoss) Compute(in LossInput) (float64, error) {
	return lossCompute(l.Name(), l.Spec(), in, l.eval)
}

// mnrlEps is F.normalize's default eps, used by util.cos_sim.
const mnrlEps = 1e-12

// eval is the float64 loss; it adds ∂loss/∂emb into grad when grad is non-nil.
func (l mnrlLoss) eval(lb *lossBatch, grad [][]float64) float64 {
	b, d := lb.b, lb.d
	nc := (len(lb.emb) - 1) * b // candidates
	// a: anchors [b*d]; c: candidates [nc*d], column 1's rows first.
	a := lb.emb[0]
	c := make([]float64, 0, nc*d)
	for _, col := range lb.emb[1:] {
		c = append(c, col...)
	}
	var anorm, cnorm []float64
	if !l.dot {
		a, anorm = lossNormalize(a, b, d, mnrlEps)
		c, cnorm = lossNormalize(c, nc, d, mnrlEps)
	}
	s := make([]float64, b*nc) // S[i*nc+k]
	for i := 0; i < b; i++ {
		ai := a[i*d : (i+1)*d]
		for k := 0; k < nc; k++ {
			ck := c[k*d : (k+1)*d]
			dot := 0.0
			for j := range ai {
				dot += ai[j] * ck[j]
			}
			s[i*nc+k] = l.scale * dot
		}
	}
	var ds []float64 // ∂loss/∂S
	if grad != nil {
		ds = make([]float64, b*nc)
	}
	// forward: rows of S, target i
	weight := 1.0
	if l.symmetric {
		weight = 0.5
	}
	fwd := 0.0
	for i := 0; i < b; i++ {
		row := s[i*nc : (i+1)*nc]
		lse := lossLogSumExp(row)
		fwd += lse - row[i]
		if ds != nil {
			for k := range row {
				ds[i*nc+k] += weight * math.Exp(row[k]-lse) / float64(b)
			}
			ds[i*nc+i] -= weight / float64(b)
		}
	}
	fwd /= float64(b)
	loss := fwd
	if l.symmetric {
		// backward: columns j < b of S, over the anchors i, target j
		col := make([]float64, b)
		bwd := 0.0
		for j := 0; j < b; j++ {
			for i := 0; i < b; i++ {
				col[i] = s[i*nc+j]
			}
			lse := lossLogSumExp(col)
			bwd += lse - col[j]
			if ds != nil {
				for i := 0; i < b; i++ {
					ds[i*nc+j] += weight * math.Exp(col[i]-lse) / float64(b)
				}
				ds[j*nc+j] -= weight / float64(b)
			}
		}
		bwd /= float64(b)
		loss = (fwd + bwd) / 2
	}
	if grad == nil {
		return loss
	}
	// S = scale · a cᵀ: da_i = scale Σ_k dS_ik c_k, dc_k = scale Σ_i dS_ik a_i.
	da, dc := make([]float64, b*d), make([]float64, nc*d)
	for i := 0; i < b; i++ {
		ai, dai := a[i*d:(i+1)*d], da[i*d:(i+1)*d]
		for k := 0; k < nc; k++ {
			g := l.scale * ds[i*nc+k]
			if g == 0 {
				continue
			}
			ck, dck := c[k*d:(k+1)*d], dc[k*d:(k+1)*d]
			for j := range ai {
				dai[j] += g * ck[j]
				dck[j] += g * ai[j]
			}
		}
	}
	if l.dot {
		for j, v := range da {
			grad[0][j] += v
		}
		for k := 1; k < len(grad); k++ {
			for j, v := range dc[(k-1)*b*d : k*b*d] {
				grad[k][j] += v
			}
		}
		return loss
	}
	lossNormalizeBackward(grad[0], da, a, anorm, b, d, mnrlEps)
	for k := 1; k < len(grad); k++ {
		lo, hi := (k-1)*b, k*b
		lossNormalizeBackward(grad[k], dc[lo*d:hi*d], c[lo*d:hi*d], cnorm[lo:hi], b, d, mnrlEps)
	}
	return loss
}
