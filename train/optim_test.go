package train

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/kormed/kormed/model"
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

func TestScheduleExample(t *testing.T) {
	s := Schedule{Kind: "linear", Warmup: 2, Total: 10}
	for step, want := range map[int]float64{0: 0, 1: 0.5, 2: 1, 6: 0.5, 10: 0, 12: 0} {
		if got := s.Factor(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("linear step %d: %g, want %g", step, got, want)
		}
	}
	c := Schedule{Kind: "cosine", Warmup: 0, Total: 4}
	for step, want := range map[int]float64{0: 1, 2: 0.5, 4: 0} {
		if got := c.Factor(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("cosine step %d: %g, want %g", step, got, want)
		}
	}
	if (Schedule{Kind: "constant", Warmup: 3}).Factor(0) != 1 || (Schedule{Kind: "constant_with_warmup", Warmup: 4}).Factor(1) != 0.25 {
		t.Error("constant schedules")
	}
	if WarmupSteps(0, 0.1, 95) != 10 || WarmupSteps(7, 0.1, 95) != 7 {
		t.Error("warm-up ratio rounds up as transformers does; steps win over the ratio")
	}
	if (Schedule{Kind: "step"}).Check() == nil {
		t.Error("unknown schedule accepted")
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

func TestFreezeResolve(t *testing.T) {
	m, err := model.Load("../testdata/models/tiny-bert") // 2 layers, CLS pooling, with a pooler
	if err != nil {
		t.Fatal(err)
	}
	count := func(pl *Plan) (layers map[int]bool, word, pooler bool) {
		layers = map[int]bool{}
		for i, p := range pl.Params {
			if !pl.Trainable[i] {
				continue
			}
			switch {
			case p.Name == "embeddings.word_embeddings.weight":
				word = true
			case strings.HasPrefix(p.Name, "pooler."):
				pooler = true
			case p.Layer >= 0:
				layers[p.Layer] = true
			}
		}
		return
	}
	pl, err := Freeze{Embeddings: "word", BottomLayers: 1}.Resolve(m)
	if err != nil {
		t.Fatal(err)
	}
	if layers, word, pooler := count(pl); word || pooler || layers[0] || !layers[1] {
		t.Errorf("word %v pooler %v layers %v", word, pooler, layers)
	}
	pl, _ = Freeze{TrainTopLayers: 1}.Resolve(m)
	if layers, word, _ := count(pl); word || layers[0] || !layers[1] {
		t.Errorf("train_top_layers 1: word %v layers %v", word, layers)
	}
	var b strings.Builder
	pl.WriteTable(&b, false)
	if !strings.Contains(b.String(), "encoder.layer.0.*") || !strings.Contains(b.String(), "frozen: train_top_layers = 1") ||
		!strings.Contains(b.String(), "unused (pooling cls)") {
		t.Errorf("table:\n%s", b.String())
	}
	for _, bad := range []struct {
		f    Freeze
		want string
	}{
		{Freeze{BottomLayers: 3}, "has 2 layers"},
		{Freeze{TrainTopLayers: 5}, "has 2 layers"},
		{Freeze{Names: []string{"layers.28"}}, "matches no parameter"},
		{Freeze{Names: []string{"transformer.h.28."}}, "matches no parameter"},
		{Freeze{Embeddings: "some"}, "want none, word or all"},
		{Freeze{Embeddings: "all", BottomLayers: 2}, "no parameter"},
		{Freeze{BottomLayers: 1, TrainTopLayers: 1}, "both set"},
	} {
		if _, err := bad.f.Resolve(m); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: error %v, want %q", bad.f, err, bad.want)
		}
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
