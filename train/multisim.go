package train

import "math"

// multiSimilarityLoss is the multi-similarity loss of Wang et al., "Multi-
// Similarity Loss with General Pair Weighting for Deep Metric Learning"
// (CVPR 2019), as msight-tech/research-ms-loss implements it
// (ret_benchmark/losses/multi_similarity_loss.py), with the threshold λ
// configurable (the reference hard-codes 0.5; the default here, 0.8, is the
// medical DPR card's SapBERT-KO-EN setting), margin m, scale_pos α and
// scale_neg β.
//
// All columns' embeddings are stacked into N = B·C vectors (column 0's rows
// first) and L2-normalised (x/max(‖x‖, 1e-12)); example i's group labels each
// of its columns (SapBERT pairs: two synonyms sharing a concept code).
// With S = F·Fᵀ, for each anchor r:
//
//	P⁰ = {S_rt : group(t) = group(r), S_rt < 1 − 1e-5}   (itself and exact duplicates drop out)
//	N⁰ = {S_rt : group(t) ≠ group(r)}
//	N  = {n ∈ N⁰ : n + m > min P⁰}                       (hard negatives)
//	P  = {p ∈ P⁰ : p − m < max N⁰}                       (hard positives)
//	ℓ_r = 1/α · log(1 + Σ_{p∈P} e^(−α(p−λ))) + 1/β · log(1 + Σ_{n∈N} e^(β(n−λ)))
//	loss = Σ_r ℓ_r / N
//
// An anchor contributes nothing when P or N is empty, and also when P⁰ or N⁰
// is empty: there the reference crashes (min/max of an empty tensor: an
// example whose group has no other member in the batch, or a batch of one
// group), here the anchor is skipped. With no contributing anchor the loss is
// 0 with a zero gradient. The mining (the selection by min/max) is not
// differentiated through; the selected terms are, as in the reference.
//
// Example (1 column, λ 0.8, m 0.1, α 1, β 60): rows (1, 0) and (0.6, 0.8) in
// group 0, (0.8, 0.6) in group 1. S_12 = 0.6, S_13 = 0.8, S_23 = 0.96.
// Anchor 1: P = {0.6}, N = {0.8}, ℓ_1 = log(1+e^0.2) + log 2/60 = 0.80969132;
// anchor 2: P = {0.6}, N = {0.96}, ℓ_2 = log(1+e^0.2) + log(1+e^9.6)/60 = 0.95814000;
// anchor 3 has no positive and is skipped; loss = (ℓ_1 + ℓ_2)/3 = 0.58927711.
//
// Columns: one or more; groups required.
type multiSimilarityLoss struct {
	threshold, margin  float64
	scalePos, scaleNeg float64
}

func (multiSimilarityLoss) Name() string { return "multi-similarity" }

func (multiSimilarityLoss) Spec() LossSpec {
	return LossSpec{MinColumns: 1, MaxColumns: -1, Groups: true}
}

func (l multiSimilarityLoss) Compute(in LossInput) (float64, error) {
	return lossCompute(l.Name(), l.Spec(), in, l.eval)
}

const (
	multiSimEps    = 1e-12 // F.normalize's default eps
	multiSimSelfUp = 1e-5  // the reference's epsilon: positives must be < 1 − 1e-5
)

// multiSimPairs is the mining result of one anchor: the indices of the kept
// positives and negatives, and whether the anchor contributes.
type multiSimPairs struct {
	pos, neg []int
	used     bool
	// candidates before the hard mining, for tests
	pos0, neg0 int
}

// mine selects anchor r's hard pairs from its similarity row s, where group
// holds each row's cluster id.
func (l multiSimilarityLoss) mine(r int, s []float64, group []int) multiSimPairs {
	var m multiSimPairs
	minPos, maxNeg := math.Inf(1), math.Inf(-1)
	for t, v := range s {
		if group[t] == group[r] {
			if v < 1-multiSimSelfUp {
				m.pos0++
				minPos = math.Min(minPos, v)
			}
		} else {
			m.neg0++
			maxNeg = math.Max(maxNeg, v)
		}
	}
	if m.pos0 == 0 || m.neg0 == 0 {
		return m // the reference crashes here
	}
	for t, v := range s {
		if group[t] == group[r] {
			if v < 1-multiSimSelfUp && v-l.margin < maxNeg {
				m.pos = append(m.pos, t)
			}
		} else if v+l.margin > minPos {
			m.neg = append(m.neg, t)
		}
	}
	m.used = len(m.pos) > 0 && len(m.neg) > 0
	return m
}

// eval is the float64 loss; it adds ∂loss/∂emb into grad when grad is non-nil.
func (l multiSimilarityLoss) eval(lb *lossBatch, grad [][]float64) float64 {
	loss, _ := l.evalMined(lb, grad)
	return loss
}

// evalMined is eval that also returns each anchor's mining.
func (l multiSimilarityLoss) evalMined(lb *lossBatch, grad [][]float64) (float64, []multiSimPairs) {
	b, d := lb.b, lb.d
	n := b * len(lb.emb)
	x := make([]float64, 0, n*d)
	group := make([]int, 0, n)
	for _, col := range lb.emb {
		x = append(x, col...)
		group = append(group, lb.groups...)
	}
	f, norm := lossNormalize(x, n, d, multiSimEps)
	s := make([]float64, n*n)
	for r := 0; r < n; r++ {
		fr := f[r*d : (r+1)*d]
		for t := r; t < n; t++ {
			ft := f[t*d : (t+1)*d]
			dot := 0.0
			for j := range fr {
				dot += fr[j] * ft[j]
			}
			s[r*n+t], s[t*n+r] = dot, dot
		}
	}
	var ds []float64
	if grad != nil {
		ds = make([]float64, n*n)
	}
	mined := make([]multiSimPairs, n)
	loss := 0.0
	terms := []float64{}
	for r := 0; r < n; r++ {
		row := s[r*n : (r+1)*n]
		m := l.mine(r, row, group)
		mined[r] = m
		if !m.used {
			continue
		}
		// 1/α·log(1 + Σ e^(−α(p−λ))) = 1/α·logsumexp(0, −α(p−λ)...)
		terms = append(terms[:0], 0)
		for _, t := range m.pos {
			terms = append(terms, -l.scalePos*(row[t]-l.threshold))
		}
		lp := lossLogSumExp(terms)
		if ds != nil {
			for k, t := range m.pos {
				// ∂/∂p = −e^(−α(p−λ)) / (1 + Σ)
				ds[r*n+t] -= math.Exp(terms[k+1]-lp) / float64(n)
			}
		}
		terms = append(terms[:0], 0)
		for _, t := range m.neg {
			terms = append(terms, l.scaleNeg*(row[t]-l.threshold))
		}
		ln := lossLogSumExp(terms)
		if ds != nil {
			for k, t := range m.neg {
				ds[r*n+t] += math.Exp(terms[k+1]-ln) / float64(n)
			}
		}
		loss += lp/l.scalePos + ln/l.scaleNeg
	}
	loss /= float64(n)
	if grad == nil {
		return loss, mined
	}
	// S = F Fᵀ: dF_r += dS_rt F_t, dF_t += dS_rt F_r.
	df := make([]float64, n*d)
	for r := 0; r < n; r++ {
		fr, dfr := f[r*d:(r+1)*d], df[r*d:(r+1)*d]
		for t := 0; t < n; t++ {
			g := ds[r*n+t]
			if g == 0 {
				continue
			}
			ft, dft := f[t*d:(t+1)*d], df[t*d:(t+1)*d]
			for j := range fr {
				dfr[j] += g * ft[j]
				dft[j] += g * fr[j]
			}
		}
	}
	for c := range grad {
		lo, hi := c*b, (c+1)*b
		lossNormalizeBackward(grad[c], df[lo*d:hi*d], f[lo*d:hi*d], norm[lo:hi], b, d, multiSimEps)
	}
	return loss, mined
}
