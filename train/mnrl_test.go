package train

import (
	"math"
	"testing"
)

// The worked example of mnrlLoss's doc comment.
func TestMNRLExample(t *testing.T) {
	in := LossInput{Emb: [][]float32{{1, 0, 0, 1}, {1, 0, 0.6, 0.8}}, B: 2, D: 2}
	fwd := (math.Log1p(math.Exp(-8)) + math.Log1p(math.Exp(-16))) / 2
	bwd := (math.Log1p(math.Exp(-20)) + math.Log(math.Exp(12)+math.Exp(16)) - 16) / 2
	for _, v := range []struct{ got, doc float64 }{{fwd, 0.00016775945}, {bwd, 0.0090749650}, {(fwd + bwd) / 2, 0.0046213622}} {
		if math.Abs(v.got-v.doc) > 1e-10 {
			t.Errorf("the doc comment says %.11g, the formula gives %.11g", v.doc, v.got)
		}
	}
	l, _ := NewLoss("mnrl", LossParams{})
	lossCheckExample(t, l, in, fwd, nil)
	l, _ = NewLoss("mnrl", LossParams{Symmetric: lossPtr(true)})
	lossCheckExample(t, l, in, (fwd+bwd)/2, nil)

	// dot, scale 1, one example with a negative column: candidates (p, n),
	// scores (a·p, a·n) = (2, 1): loss = log(e^2+e^1) − 2 = log(1+e^−1),
	// ∂/∂a = (softmax − target)·(p, n) = (σ(−1)−1)·p + σ(1)... written out:
	// w = e^1/(e^2+e^1) = σ(−1); ∂/∂a = −w·p + w·n, ∂/∂p = −w·a, ∂/∂n = w·a.
	l, _ = NewLoss("mnrl", LossParams{Similarity: "dot", Scale: lossPtr(1.0)})
	w := 1 / (1 + math.E)
	a, p, n := []float64{1, 1}, []float64{2, 0}, []float64{0, 1}
	lossCheckExample(t, l, LossInput{Emb: [][]float32{{1, 1}, {2, 0}, {0, 1}}, B: 1, D: 2}, math.Log1p(math.Exp(-1)),
		[][]float64{
			{-w*p[0] + w*n[0], -w*p[1] + w*n[1]},
			{-w * a[0], -w * a[1]},
			{w * a[0], w * a[1]},
		})
}
