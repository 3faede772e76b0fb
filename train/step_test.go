package train

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/safetensors"
)

// stepCase is one case of testdata/steps/cases.json (see oracle/train_reference.py).
type stepCase struct {
	Name       string          `json:"name"`
	Model      string          `json:"model"`
	Loss       string          `json:"loss"`
	Params     json.RawMessage `json:"params"`
	Columns    [][]string      `json:"columns"`
	Labels     []float32       `json:"labels"`
	Groups     []int           `json:"groups"`
	MaxLength  int             `json:"max_length"`
	Frozen     []string        `json:"frozen"`
	Accumulate int             `json:"accumulate"`
	Optim      struct {
		LR          float64 `json:"lr"`
		Beta1       float64 `json:"beta1"`
		Beta2       float64 `json:"beta2"`
		Eps         float64 `json:"eps"`
		WeightDecay float64 `json:"weight_decay"`
		Clip        float64 `json:"clip"`
		Steps       int     `json:"steps"`
		Warmup      int     `json:"warmup"`
		Total       int     `json:"total"`
		Schedule    string  `json:"schedule"`
	} `json:"optim"`
}

func loadStepCases(t *testing.T) []stepCase {
	t.Helper()
	b, err := os.ReadFile("testdata/steps/cases.json")
	if err != nil {
		t.Fatal(err)
	}
	var cs []stepCase
	if err := json.Unmarshal(b, &cs); err != nil {
		t.Fatal(err)
	}
	return cs
}

// hfTensors maps a gradient or weight set to Hugging Face names (frozen,
// nil tensors become zeros of the right shape).
func hfTensors(cfg *model.Config, ref, w *model.Weights) map[string][]float32 {
	full := &model.Weights{Layers: make([]model.Layer, len(ref.Layers))}
	rp, wp, fp := ref.Params(cfg), w.Params(cfg), full.Params(cfg)
	for i := range rp {
		switch {
		case *wp[i].Data != nil:
			*fp[i].Data = *wp[i].Data
		case *rp[i].Data != nil:
			*fp[i].Data = make([]float32, len(*rp[i].Data))
		}
	}
	out := map[string][]float32{}
	for _, t := range full.Tensors(cfg) {
		out[t.Name] = t.Floats
	}
	return out
}

// TestStepsAgainstPyTorch runs each oracle case — tokenisation, forward,
// pooling, loss, backward, gradient accumulation, clipping, AdamW and the
// schedule — and compares the loss, the first step's gradients and the
// parameters after the last step with PyTorch's.
func TestStepsAgainstPyTorch(t *testing.T) {
	for _, c := range loadStepCases(t) {
		t.Run(c.Name, func(t *testing.T) {
			r, err := safetensors.Open(filepath.Join("testdata", "steps", c.Name+".safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			m, err := model.Load(filepath.Join("..", c.Model))
			if err != nil {
				t.Fatal(err)
			}
			var jp struct {
				Scale      *float64 `json:"scale"`
				Similarity string   `json:"similarity"`
				Symmetric  *bool    `json:"symmetric"`
				Threshold  *float64 `json:"threshold"`
				Margin     *float64 `json:"margin"`
				ScalePos   *float64 `json:"scale_pos"`
				ScaleNeg   *float64 `json:"scale_neg"`
			}
			if err := json.Unmarshal(c.Params, &jp); err != nil {
				t.Fatal(err)
			}
			lp := LossParams(jp)
			loss, err := NewLoss(c.Loss, lp)
			if err != nil {
				t.Fatal(err)
			}
			plan, err := Freeze{Names: c.Frozen}.Resolve(m)
			if err != nil {
				t.Fatal(err)
			}
			tw := NewTower(m, plan.Func())
			nc := len(c.Columns)
			st := &Step{Loss: loss, MaxLength: c.MaxLength, Prefixes: make([]string, nc)}
			for range nc {
				st.Towers = append(st.Towers, tw)
			}
			// The tokenisation matches the reference tokenizers.
			for col, texts := range c.Columns {
				want, err := r.Int64(fmt.Sprintf("ids.%d", col), nil)
				if err != nil {
					t.Fatal(err)
				}
				encs := st.columnTokens(col, texts)
				bt := m.Tok.Pad(encs)
				for i, id := range bt.IDs {
					if int64(id) != want[i] {
						t.Fatalf("column %d: ids %v, reference %v", col, bt.IDs, want)
					}
				}
			}
			opt := optim.NewAdamW(tw.Slots, c.Optim.Beta1, c.Optim.Beta2, c.Optim.Eps, c.Optim.WeightDecay)
			sch := optim.Schedule{Kind: c.Optim.Schedule, Warmup: c.Optim.Warmup, Total: c.Optim.Total}
			wantLoss, _ := r.Float32("loss", nil)
			wantLR, _ := r.Float32("lr", nil)
			wantNorm, _ := r.Float32("grad_norm", nil)
			accum := max(c.Accumulate, 1)
			var noise map[string]bool
			B := len(c.Columns[0])
			for step := 0; step < c.Optim.Steps; step++ {
				tw.ZeroGrad()
				var total float64
				for k := 0; k < accum; k++ {
					lo, hi := k*B/accum, (k+1)*B/accum
					b := &Batch{}
					for _, col := range c.Columns {
						b.Texts = append(b.Texts, col[lo:hi])
					}
					if c.Labels != nil {
						b.Labels = c.Labels[lo:hi]
					}
					if c.Groups != nil {
						b.Groups = c.Groups[lo:hi]
					}
					l, err := st.LossAndGrad(b, 1, 1/float64(accum))
					if err != nil {
						t.Fatal(err)
					}
					total += l / float64(accum)
				}
				if !close64(total, float64(wantLoss[step]), 2e-5) {
					t.Errorf("step %d: loss %.7g, PyTorch %.7g", step, total, wantLoss[step])
				}
				if step == 0 {
					got := hfTensors(&m.Enc.Cfg, m.Enc.W, tw.Grads)
					grads := map[string][]float32{}
					for _, name := range r.Names() {
						if strings.HasPrefix(name, "grad.") {
							grads[strings.TrimPrefix(name, "grad.")], _ = r.Float32(name, nil)
						}
					}
					if len(grads) == 0 {
						t.Fatal("no gradient in the fixture")
					}
					noise = compareGrads(t, got, grads, 1e-4, 1e-5)
					if n := countTrainable(plan); n != len(grads) {
						t.Errorf("kormed trains %d tensors, PyTorch %d", n, len(grads))
					}
				}
				lr := c.Optim.LR * sch.Factor(step)
				if !close64(lr, float64(wantLR[step]), 1e-6) {
					t.Errorf("step %d: lr %g, PyTorch %g", step, lr, wantLR[step])
				}
				norm := optim.ClipGradNorm(tw.Slots, c.Optim.Clip)
				if !close64(norm, float64(wantNorm[step]), 1e-4) {
					t.Errorf("step %d: gradient norm %.7g, PyTorch %.7g", step, norm, wantNorm[step])
				}
				if err := opt.Update(tw.Slots, lr); err != nil {
					t.Fatal(err)
				}
			}
			// Adam moves an element by at most about lr per step whatever its
			// gradient, so where a gradient is small its float32 rounding
			// shows in the update: parameters must agree to 1% of Σ lr
			// (plus 1e-5 of their scale).
			var lrSum float64
			for step := 0; step < c.Optim.Steps; step++ {
				lrSum += c.Optim.LR * sch.Factor(step)
			}
			got := hfTensors(&m.Enc.Cfg, m.Enc.W, m.Enc.W)
			for _, name := range r.Names() {
				if strings.HasPrefix(name, "param.") && !noise[strings.TrimPrefix(name, "param.")] {
					want, _ := r.Float32(name, nil)
					compareAbs(t, name, got[strings.TrimPrefix(name, "param.")], want, 1e-5*maxAbs(want)+1e-2*lrSum)
				}
			}
		})
	}
}

// countTrainable counts Hugging Face tensors the plan trains.
func countTrainable(pl *Plan) (n int) {
	for i, p := range pl.Params {
		if pl.Trainable[i] {
			n += len(p.HF)
		}
	}
	return n
}

func close64(a, b, rel float64) bool { return math.Abs(a-b) <= rel*math.Max(1e-3, math.Abs(b)) }

// compareGrads compares gradients tensor by tensor to rel of each
// tensor's scale, and returns the tensors whose reference gradient is
// rounding noise: zero in exact arithmetic (the attention key bias, since
// softmax ignores a shift shared by a whole row), ≤ 1e-6 of the largest
// gradient (float32 rounding of contributions that cancel). Those only have to be noise-sized (≤ noise of the largest
// gradient); Adam's normalisation turns noise into ±lr steps of random
// sign, so their updated values are not comparable either.
func compareGrads(t *testing.T, got, want map[string][]float32, rel, noiseTol float64) (noise map[string]bool) {
	t.Helper()
	var gmax float64
	for _, w := range want {
		gmax = math.Max(gmax, maxAbs(w))
	}
	noise = map[string]bool{}
	for name, w := range want {
		if maxAbs(w) <= 1e-6*gmax {
			noise[name] = true
			if g := maxAbs(got[name]); g > noiseTol*gmax {
				t.Errorf("%s: the reference gradient is rounding noise (≤ %.2g), this one reaches %.2g", name, 1e-6*gmax, g)
			}
			continue
		}
		compareRel(t, name, got[name], w, rel)
	}
	return noise
}

// compareRel checks got against want to rel relative to the tensor's
// scale: every |got[i] − want[i]| ≤ rel·max|want| (elementwise relative
// error is meaningless for elements that cancel to near zero).
func compareRel(t *testing.T, name string, got, want []float32, rel float64) {
	t.Helper()
	compareAbs(t, name, got, want, rel*maxAbs(want))
}

// compareAbs checks every |got[i] − want[i]| ≤ tol.
func compareAbs(t *testing.T, name string, got, want []float32, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d values, want %d", name, len(got), len(want))
		return
	}
	bad := 0
	for i := range got {
		if d := math.Abs(float64(got[i]) - float64(want[i])); d > tol || math.IsNaN(d) {
			if bad < 3 {
				t.Errorf("%s[%d]: %.8g, want %.8g (|Δ| %.2g > %.2g)", name, i, got[i], want[i], d, tol)
			}
			bad++
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d of %d values differ", name, bad, len(got))
	}
}

func maxAbs(x []float32) (m float64) {
	for _, v := range x {
		m = math.Max(m, math.Abs(float64(v)))
	}
	return m
}
