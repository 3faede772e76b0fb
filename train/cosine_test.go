package train

import "testing"

// The worked example of cosineLoss's doc comment, and a zero vector (the
// clamped branch: torch 1.13 gives ∂/∂u = 2(c−y)·v/(ε‖v‖) there, checked
// against torch by hand).
func TestCosineExample(t *testing.T) {
	l, err := NewLoss("cosine", LossParams{})
	if err != nil {
		t.Fatal(err)
	}
	lossCheckExample(t, l, LossInput{Emb: [][]float32{{1, 0}, {0.6, 0.8}}, B: 1, D: 2, Labels: []float32{1}},
		0.16, [][]float64{{0, -0.64}, {-0.512, 0.384}})
	// Two pairs: the mean of (0.6−1)² and (0−0)² (orthogonal, label 0).
	lossCheckExample(t, l, LossInput{Emb: [][]float32{{1, 0, 0, 2}, {0.6, 0.8, 3, 0}}, B: 2, D: 2, Labels: []float32{1, 0}},
		0.08, nil)
	lossCheckExample(t, l, LossInput{Emb: [][]float32{{0, 0}, {0.6, 0.8}}, B: 1, D: 2, Labels: []float32{1}},
		1, [][]float64{{-1.2e8, -1.6e8}, {0, 0}})
}
