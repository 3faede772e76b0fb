package optim

import (
	"encoding/json"
	"math"
	"os"
	"testing"
)

// The worked example of AdamW's doc comment, then weight decay and frozen slots.
func TestAdamWExample(t *testing.T) {
	slots := []Slot{{Name: "p", Data: []float32{1}, Grad: []float32{0.5}}, {Name: "frozen", Data: []float32{3}}}
	o := NewAdamW(slots, 0.9, 0.999, 1e-8, 0)
	if err := o.Update(slots, 0.1); err != nil {
		t.Fatal(err)
	}
	if got := slots[0].Data[0]; math.Abs(float64(got)-0.9) > 1e-6 {
		t.Errorf("after one step p = %g, want 0.9", got)
	}
	if slots[1].Data[0] != 3 || o.M[1] != nil {
		t.Errorf("frozen slot changed or has state: %g %v", slots[1].Data[0], o.M[1])
	}
	// Decoupled decay: p·(1 − lr·wd) before the Adam step; none for Decay false.
	d := []Slot{{Data: []float32{2}, Grad: []float32{0}, Decay: true}, {Data: []float32{2}, Grad: []float32{0}}}
	o = NewAdamW(d, 0.9, 0.999, 1e-8, 0.5)
	o.Update(d, 0.1)
	if d[0].Data[0] != 2*(1-0.05) || d[1].Data[0] != 2 {
		t.Errorf("decay: %g and %g, want 1.9 and 2", d[0].Data[0], d[1].Data[0])
	}
}

func TestClipGradNorm(t *testing.T) {
	s := []Slot{{Grad: []float32{3, 0}}, {Grad: []float32{4}}, {Data: []float32{1}}}
	if n := ClipGradNorm(s, 1); n != 5 {
		t.Fatalf("norm %g, want 5", n)
	}
	if g := s[0].Grad[0]; math.Abs(float64(g)-0.6) > 1e-6 {
		t.Errorf("clipped to %g, want 3·1/(5+1e-6)", g)
	}
	s = []Slot{{Grad: []float32{0.3, 0.4}}}
	ClipGradNorm(s, 1)
	if s[0].Grad[0] != 0.3 {
		t.Error("a norm under the limit must not change the gradient")
	}
}

// AdamW against torch.optim.AdamW element by element (oracle/train_reference.py
// writes testdata/adamw.json): three steps at changing learning rates, one
// parameter with weight decay and one without, to float32 rounding.
func TestAdamWAgainstTorch(t *testing.T) {
	b, err := os.ReadFile("testdata/adamw.json")
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Betas       [2]float64 `json:"betas"`
		Eps         float64    `json:"eps"`
		WeightDecay float64    `json:"weight_decay"`
		InitDecay   []float32  `json:"init_decay"`
		InitNoDecay []float32  `json:"init_nodecay"`
	}
	var raw struct {
		Steps []struct {
			LR           float64   `json:"lr"`
			GradDecay    []float32 `json:"grad_decay"`
			GradNoDecay  []float32 `json:"grad_nodecay"`
			ParamDecay   []float32 `json:"param_decay"`
			ParamNoDecay []float32 `json:"param_nodecay"`
		} `json:"steps"`
	}
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil || len(raw.Steps) != 3 {
		t.Fatalf("adamw.json: %v (%d steps)", err, len(raw.Steps))
	}
	slots := []Slot{
		{Name: "w", Data: append([]float32(nil), g.InitDecay...), Grad: make([]float32, len(g.InitDecay)), Decay: true},
		{Name: "b", Data: append([]float32(nil), g.InitNoDecay...), Grad: make([]float32, len(g.InitNoDecay))},
	}
	o := NewAdamW(slots, g.Betas[0], g.Betas[1], g.Eps, g.WeightDecay)
	for i, st := range raw.Steps {
		copy(slots[0].Grad, st.GradDecay)
		copy(slots[1].Grad, st.GradNoDecay)
		if err := o.Update(slots, st.LR); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name      string
			got, want []float32
		}{{"decayed", slots[0].Data, st.ParamDecay}, {"not decayed", slots[1].Data, st.ParamNoDecay}} {
			for j := range c.want {
				if d := math.Abs(float64(c.got[j] - c.want[j])); d > 2e-7*math.Abs(float64(c.want[j]))+1e-9 {
					t.Fatalf("step %d, %s [%d]: %.9g, torch %.9g", i+1, c.name, j, c.got[j], c.want[j])
				}
			}
		}
	}
}
