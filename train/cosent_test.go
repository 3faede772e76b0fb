package train

import (
	"math"
	"testing"
)

// The worked example of cosentLoss's doc comment. With σ = σ(4) and
// scale 20, the gradient through the unit-norm rows is
// ∂/∂u_i = 20·∂s_i·(v_i − c_i·u_i) and ∂/∂v_i = 20·∂s_i·(u_i − c_i·v_i).
func TestCoSENTExample(t *testing.T) {
	l, err := NewLoss("cosent", LossParams{})
	if err != nil {
		t.Fatal(err)
	}
	sig := 1 / (1 + math.Exp(-4))
	g1, g2 := -20*sig, 20*sig
	in := LossInput{Emb: [][]float32{{1, 0, 1, 0}, {0.6, 0.8, 0.8, 0.6}}, B: 2, D: 2, Labels: []float32{1, 0}}
	lossCheckExample(t, l, in, math.Log1p(math.Exp(4)), [][]float64{
		{g1 * (0.6 - 0.6), g1 * 0.8, g2 * (0.8 - 0.8), g2 * 0.6},
		{g1 * (1 - 0.36), g1 * -0.48, g2 * (1 - 0.64), g2 * -0.48},
	})
	if math.Abs(math.Log1p(math.Exp(4))-4.0181499) > 1e-7 || math.Abs(sig-0.98201379) > 1e-8 {
		t.Error("the doc comment's numbers are wrong")
	}
	// Pairs in the right order cost little; equal labels cost nothing.
	in.Labels = []float32{0, 1}
	lossCheckExample(t, l, in, math.Log1p(math.Exp(-4)), nil)
	in.Labels = []float32{0.5, 0.5}
	lossCheckExample(t, l, in, 0, [][]float64{{0, 0, 0, 0}, {0, 0, 0, 0}})
}
