package train

import (
	"math"
	"testing"
)

// The worked example of multiSimilarityLoss's doc comment.
func TestMultiSimilarityExample(t *testing.T) {
	l, _ := NewLoss("multi-similarity", LossParams{})
	in := LossInput{Emb: [][]float32{{1, 0, 0.6, 0.8, 0.8, 0.6}}, B: 3, D: 2, Groups: []int{0, 0, 1}}
	pos := math.Log1p(math.Exp(0.2))
	l1 := pos + math.Log(2)/60
	l2 := pos + math.Log1p(math.Exp(9.6))/60
	for _, v := range []struct{ got, doc float64 }{{l1, 0.80969132}, {l2, 0.95814000}, {(l1 + l2) / 3, 0.58927711}} {
		if math.Abs(v.got-v.doc) > 1e-8 {
			t.Errorf("the doc comment says %.9g, the formula gives %.9g", v.doc, v.got)
		}
	}
	lossCheckExample(t, l, in, (l1+l2)/3, nil)

	// Scaling a row does not change the loss (normalised inside).
	in.Emb = [][]float32{{2, 0, 0.6, 0.8, 4, 3}}
	lossCheckExample(t, l, in, (l1+l2)/3, nil)

	// The same three vectors as two columns: example 0 = (row 1, row 3),
	// example 1 = (row 2, row 2 scaled): groups 0 and 1 each hold two vectors.
	// Stacked: f0 = (1,0) g0, f1 = (0.6,0.8) g1, f2 = (0.8,0.6) g0, f3 = (0.6,0.8) g1.
	// f1 and f3 are identical: S = 1, not a positive, so anchors 1 and 3 are
	// skipped; anchor 0: P = {0.8}, N = {0.6, 0.6}: min P − 0.1 = 0.7 > 0.6,
	// no hard negative, skipped; anchor 2: P = {0.8}, N = {0.96, 0.96}, kept.
	in = LossInput{Emb: [][]float32{{1, 0, 0.6, 0.8}, {0.8, 0.6, 1.2, 1.6}}, B: 2, D: 2, Groups: []int{0, 1}}
	l2 = math.Log1p(math.Exp(0)) + math.Log1p(2*math.Exp(60*0.16))/60
	lossCheckExample(t, l, in, l2/4, nil)

	// One group: no negatives anywhere, every anchor skipped: 0, zero gradient.
	in = LossInput{Emb: [][]float32{{1, 0, 0.6, 0.8}}, B: 2, D: 2, Groups: []int{3, 3}}
	lossCheckExample(t, l, in, 0, [][]float64{{0, 0, 0, 0}})
}
