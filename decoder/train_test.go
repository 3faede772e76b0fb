package decoder_test

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// gradFixtures are oracle/make_decoder_grad_fixtures.sh's models (the same
// options as the forward fixtures of the same name).
var gradFixtures = []struct {
	name string
	opt  testmodel.DecoderOptions
}{
	{"tiny-llama", testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 1, Std: 0.1}},
	{"tiny-llama-tied", testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 3, Std: 0.1, DType: safetensors.F16,
		Tie: "true", AttentionBias: true, HeadDim: 8, Layers: 3}},
}

// transposeCols returns columns c0…c1-1 of wt [in,out] as a PyTorch Linear
// weight [c1-c0,in].
func transposeCols(wt []float32, in, out, c0, c1 int) []float32 {
	o := make([]float32, (c1-c0)*in)
	for i := 0; i < in; i++ {
		for j := c0; j < c1; j++ {
			o[(j-c0)*in+i] = wt[i*out+j]
		}
	}
	return o
}

// hfEntry is one Hugging Face llama tensor within kormed's: the whole of
// data, or (with in > 0) columns c0…c1-1 of the transposed weight data
// [in,out].
type hfEntry struct {
	data            []float32
	in, out, c0, c1 int
}

func (e hfEntry) get() []float32 {
	if e.in == 0 {
		return e.data
	}
	return transposeCols(e.data, e.in, e.out, e.c0, e.c1)
}

// set writes the Hugging Face tensor w [c1-c0,in] into e.
func (e hfEntry) set(w []float32) {
	if e.in == 0 {
		copy(e.data, w)
		return
	}
	for i := 0; i < e.in; i++ {
		for j := e.c0; j < e.c1; j++ {
			e.data[i*e.out+j] = w[(j-e.c0)*e.in+i]
		}
	}
}

// hfLayout maps the Hugging Face llama tensor names to kormed's tensors
// (weights or gradients: blocks first…, final norm, head, embedding).
func hfLayout(cfg *decoder.Config, first int, layers []decoder.Layer, norm, head, embed []float32, tied bool) map[string]hfEntry {
	C, F := cfg.HiddenSize, cfg.IntermediateSize
	QD, KD := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	QKVD := QD + 2*KD
	out := map[string]hfEntry{"model.norm.weight": {data: norm}}
	if tied {
		out["model.embed_tokens.weight"] = hfEntry{data: head}
	} else {
		out["lm_head.weight"] = hfEntry{data: head}
		if embed != nil {
			out["model.embed_tokens.weight"] = hfEntry{data: embed}
		}
	}
	for i, L := range layers {
		p := fmt.Sprintf("model.layers.%d.", first+i)
		out[p+"input_layernorm.weight"] = hfEntry{data: L.AttnNorm}
		out[p+"post_attention_layernorm.weight"] = hfEntry{data: L.MLPNorm}
		for j, n := range []string{"q", "k", "v"} {
			c0 := []int{0, QD, QD + KD}[j]
			c1 := c0 + []int{QD, KD, KD}[j]
			out[p+"self_attn."+n+"_proj.weight"] = hfEntry{L.QKVWT, C, QKVD, c0, c1}
			if L.QKVB != nil {
				out[p+"self_attn."+n+"_proj.bias"] = hfEntry{data: L.QKVB[c0:c1]}
			}
		}
		out[p+"self_attn.o_proj.weight"] = hfEntry{L.OWT, QD, C, 0, C}
		if L.OB != nil {
			out[p+"self_attn.o_proj.bias"] = hfEntry{data: L.OB}
		}
		out[p+"mlp.gate_proj.weight"] = hfEntry{L.GateUpWT, C, 2 * F, 0, F}
		out[p+"mlp.up_proj.weight"] = hfEntry{L.GateUpWT, C, 2 * F, F, 2 * F}
		out[p+"mlp.down_proj.weight"] = hfEntry{L.DownWT, F, C, 0, C}
	}
	return out
}

// hfTensors is hfLayout's tensors, read out.
func hfTensors(cfg *decoder.Config, first int, layers []decoder.Layer, norm, head, embed []float32, tied bool) map[string][]float32 {
	out := map[string][]float32{}
	for n, e := range hfLayout(cfg, first, layers, norm, head, embed, tied) {
		out[n] = e.get()
	}
	return out
}

// scaledDiff is max |a-b| over b's largest magnitude.
func scaledDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, s float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	if s == 0 {
		return d
	}
	return d / s
}

// kind names a tensor's kind for the report: "q_proj.weight", "norm.weight", ….
func kind(name string) string {
	parts := strings.Split(name, ".")
	return strings.Join(parts[max(0, len(parts)-2):], ".")
}

func loadGradFixture(t *testing.T, name string, opt testmodel.DecoderOptions) (*decoder.Model, *safetensors.Reader) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	if err := testmodel.WriteDecoder(dir, opt); err != nil {
		t.Fatal(err)
	}
	m, err := decoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := safetensors.Open(filepath.Join("testdata", "grad-"+name+".safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return m, r
}

func ints(t *testing.T, r *safetensors.Reader, name string) []int {
	v, err := r.Int64(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	o := make([]int, len(v))
	for i, x := range v {
		o[i] = int(x)
	}
	return o
}

// trainStep runs TrainForward, CausalLMLoss and Backward for the top topN
// blocks (and the untied embedding with embed).
func trainStep(t *testing.T, m *decoder.Model, ids, labels []int, topN int, embed bool) (float64, *decoder.Grads, []float32) {
	t.Helper()
	g, err := m.NewGrads(topN, embed)
	if err != nil {
		t.Fatal(err)
	}
	tw := &decoder.TrainWorkspace{}
	logits, err := m.TrainForward(tw, ids, g.First)
	if err != nil {
		t.Fatal(err)
	}
	dlogits := make([]float32, len(logits))
	loss, _, err := decoder.CausalLMLoss(dlogits, logits, labels, m.Cfg.VocabSize)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Backward(tw, g, dlogits); err != nil {
		t.Fatal(err)
	}
	return loss, g, append([]float32(nil), logits...)
}

// TestTrainGolden compares the loss and the gradients of every trainable
// tensor with PyTorch autograd (oracle/decoder_train_reference.py), for the
// top block only and for all blocks, with an untied and a tied head.
func TestTrainGolden(t *testing.T) {
	worst := map[string]float64{}
	for _, f := range gradFixtures {
		m, r := loadGradFixture(t, f.name, f.opt)
		ids, labels := ints(t, r, "input_ids"), ints(t, r, "labels")
		if got := decoder.PromptLabels(ids, 6); fmt.Sprint(got) != fmt.Sprint(labels) {
			t.Fatalf("PromptLabels %v, oracle %v", got, labels)
		}
		wantLoss, err := r.Float32("loss", nil)
		if err != nil {
			t.Fatal(err)
		}
		nL := m.Cfg.NumLayers
		for _, topN := range []int{1, nL} {
			t.Run(fmt.Sprintf("%s/top%d", f.name, topN), func(t *testing.T) {
				loss, g, logits := trainStep(t, m, ids, labels, topN, topN == nL)
				if d := math.Abs(loss - float64(wantLoss[0])); d > 1e-5 {
					t.Errorf("loss %.7g, PyTorch %.7g", loss, wantLoss[0])
				} else {
					worst["loss (abs)"] = math.Max(worst["loss (abs)"], d)
				}
				// The training forward is the inference forward.
				inf, err := m.Forward(&decoder.Workspace{}, nil, ids, true)
				if err != nil {
					t.Fatal(err)
				}
				if d := scaledDiff(logits, inf); d > 1e-6 {
					t.Errorf("TrainForward's logits differ from Forward's by %.3g", d)
				}
				if len(g.Layers) != topN || g.First != nL-topN || (topN < nL && g.Embed != nil) {
					t.Fatalf("grads hold blocks %d… (%d) and embedding %v", g.First, len(g.Layers), g.Embed != nil)
				}
				got := hfTensors(&m.Cfg, g.First, g.Layers, g.Norm, g.LMHead, g.Embed, g.Tied)
				want := 0
				for _, n := range r.Names() {
					if !strings.HasPrefix(n, "grad.") {
						continue
					}
					hf := n[len("grad."):]
					if !trainable(hf, g.First, m.Cfg.TieEmbeddings, topN == nL) {
						if _, ok := got[hf]; ok {
							t.Errorf("frozen %s has a gradient", hf)
						}
						continue
					}
					want++
					src := n
					if topN == 1 && r.Has("top1."+hf) {
						src = "top1." + hf
					}
					w, err := r.Float32(src, nil)
					if err != nil {
						t.Fatal(err)
					}
					d := scaledDiff(got[hf], w)
					if d > 1e-4 {
						t.Errorf("%s: gradient differs from autograd by %.3g of its scale", hf, d)
					}
					worst[kind(hf)] = math.Max(worst[kind(hf)], d)
				}
				if want != len(got) {
					t.Errorf("%d gradients, autograd's trainable set has %d", len(got), want)
				}
				// Gradients accumulate; Zero clears them.
				g.Zero()
				for _, s := range m.Slots(g) {
					for _, v := range s.Grad {
						if v != 0 {
							t.Fatalf("%s not cleared", s.Name)
						}
					}
				}
			})
		}
	}
	for k, v := range worst {
		t.Logf("max difference from autograd, %-26s %.3g", k, v)
	}
}

// trainable says whether a llama tensor is trained with blocks first… (the
// untied embedding only with every block: the fixtures train it then).
func trainable(name string, first int, tied, all bool) bool {
	switch name {
	case "model.norm.weight", "lm_head.weight":
		return true
	case "model.embed_tokens.weight":
		return tied || all
	}
	var l int
	if _, err := fmt.Sscanf(name, "model.layers.%d.", &l); err != nil {
		panic(name)
	}
	return l >= first
}

// TestTrainAdamW runs one step of package optim's AdamW, through Slots, on
// the top block's gradients of the tied model (decay on the matrices and
// the shared embedding, none on biases and norms) against
// torch.optim.AdamW. The step is given autograd's gradients (Adam's first
// step is lr·m/(√v+ε), which turns gradient differences of 1e-6 of the
// scale in the tiniest elements into visible ones): this checks the
// optimiser's wiring, the gradients are checked by TestTrainGolden.
func TestTrainAdamW(t *testing.T) {
	f := gradFixtures[1]
	m, r := loadGradFixture(t, f.name, f.opt)
	ids, labels := ints(t, r, "input_ids"), ints(t, r, "labels")
	_, g, _ := trainStep(t, m, ids, labels, 1, false)
	for n, e := range hfLayout(&m.Cfg, g.First, g.Layers, g.Norm, g.LMHead, g.Embed, g.Tied) {
		src := "top1." + n
		if !r.Has(src) {
			src = "grad." + n
		}
		w, err := r.Float32(src, nil)
		if err != nil {
			t.Fatal(err)
		}
		e.set(w)
	}
	slots := m.Slots(g)
	norm := optim.ClipGradNorm(slots, 0) // measure only
	if !(norm > 0) {
		t.Fatalf("gradient norm %g", norm)
	}
	opt := optim.NewAdamW(slots, 0.9, 0.999, 1e-8, 0.01)
	if err := opt.Update(slots, 1e-3); err != nil {
		t.Fatal(err)
	}
	got := hfTensors(&m.Cfg, g.First, m.W.Layers[g.First:], m.W.Norm, m.W.LMHead, nil, true)
	n := 0
	var worst float64
	for _, name := range r.Names() {
		if !strings.HasPrefix(name, "adamw.") {
			continue
		}
		n++
		hf := name[len("adamw."):]
		w, err := r.Float32(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		d := scaledDiff(got[hf], w)
		if d > 1e-6 {
			t.Errorf("%s after one AdamW step differs from torch by %.3g of its scale", hf, d)
		}
		worst = math.Max(worst, d)
	}
	// 10 slots: 2 norms, q|k|v weight and bias, o weight and bias, gate|up,
	// down, the final norm, the shared embedding; 15 Hugging Face tensors.
	if n != len(got) || len(slots) != 10 || n != 15 {
		t.Errorf("%d tensors updated by torch, %d here, %d slots", n, len(got), len(slots))
	}
	t.Logf("AdamW: max difference from torch %.3g of the tensors' scale (%d tensors)", worst, n)
}

// TestTrainFiniteDifferences checks Backward against central differences
// of the whole decoder's loss, at the largest-gradient element of a few
// tensors from the head down to the embedding.
func TestTrainFiniteDifferences(t *testing.T) {
	f := gradFixtures[0]
	dir := filepath.Join(t.TempDir(), f.name)
	if err := testmodel.WriteDecoder(dir, f.opt); err != nil {
		t.Fatal(err)
	}
	m, err := decoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ids := []int{1, 17, 300, 45, 99, 7, 256, 480, 33, 12}
	labels := decoder.PromptLabels(ids, 4)
	nL := m.Cfg.NumLayers
	_, g, _ := trainStep(t, m, ids, labels, nL, true)
	tw := &decoder.TrainWorkspace{}
	lossAt := func() float64 {
		logits, err := m.TrainForward(tw, ids, 0)
		if err != nil {
			t.Fatal(err)
		}
		l, _, err := decoder.CausalLMLoss(nil, logits, labels, m.Cfg.VocabSize)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	top, bot := &m.W.Layers[nL-1], &m.W.Layers[0]
	gt, gb := &g.Layers[nL-1], &g.Layers[0]
	for _, c := range []struct {
		name    string
		w, grad []float32
	}{
		{"lm_head", m.W.LMHead, g.LMHead}, {"final norm", m.W.Norm, g.Norm},
		{"top down", top.DownWT, gt.DownWT}, {"top gate|up", top.GateUpWT, gt.GateUpWT},
		{"top q|k|v", top.QKVWT, gt.QKVWT}, {"top o", top.OWT, gt.OWT}, {"top attn norm", top.AttnNorm, gt.AttnNorm},
		{"bottom q|k|v", bot.QKVWT, gb.QKVWT}, {"bottom mlp norm", bot.MLPNorm, gb.MLPNorm},
		{"embedding", m.W.Embed, g.Embed},
	} {
		// The two largest-gradient elements.
		best := []int{-1, -1}
		for i, v := range c.grad {
			a := math.Abs(float64(v))
			if best[0] < 0 || a > math.Abs(float64(c.grad[best[0]])) {
				best[0], best[1] = i, best[0]
			} else if best[1] < 0 || a > math.Abs(float64(c.grad[best[1]])) {
				best[1] = i
			}
		}
		for _, i := range best {
			const h = 1e-2
			old := c.w[i]
			c.w[i] = old + h
			lp := lossAt()
			c.w[i] = old - h
			lm := lossAt()
			c.w[i] = old
			num := (lp - lm) / (2 * h)
			an := float64(c.grad[i])
			if math.Abs(num-an) > 2e-3*math.Abs(an)+5e-5 {
				t.Errorf("%s[%d]: finite difference %.6g, backward %.6g", c.name, i, num, an)
			} else {
				t.Logf("%s[%d]: finite difference %.6g, backward %.6g", c.name, i, num, an)
			}
		}
	}
}

func TestTrainErrors(t *testing.T) {
	f := gradFixtures[0]
	dir := filepath.Join(t.TempDir(), f.name)
	if err := testmodel.WriteDecoder(dir, f.opt); err != nil {
		t.Fatal(err)
	}
	m, err := decoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	nL := m.Cfg.NumLayers
	for _, c := range []struct {
		top   int
		embed bool
	}{{0, false}, {nL + 1, false}, {1, true}} {
		if _, err := m.NewGrads(c.top, c.embed); err == nil {
			t.Errorf("NewGrads(%d, %v): no error", c.top, c.embed)
		}
	}
	g, _ := m.NewGrads(1, false)
	tw := &decoder.TrainWorkspace{}
	if err := m.Backward(tw, g, nil); err == nil {
		t.Error("Backward before TrainForward: no error")
	}
	logits, err := m.TrainForward(tw, []int{1, 2, 3}, nL-1)
	if err != nil {
		t.Fatal(err)
	}
	g2, _ := m.NewGrads(nL, false)
	if err := m.Backward(tw, g2, make([]float32, len(logits))); err == nil {
		t.Error("Backward below the saved blocks: no error")
	}
	if _, err := m.TrainForward(tw, []int{1, m.Cfg.VocabSize}, 0); err == nil {
		t.Error("out-of-vocabulary id: no error")
	}
	// All labels ignored: loss 0, zero gradient.
	d := make([]float32, len(logits))
	if l, n, err := decoder.CausalLMLoss(d, logits, decoder.PromptLabels([]int{1, 2, 3}, 3), m.Cfg.VocabSize); err != nil || l != 0 || n != 0 {
		t.Errorf("all-ignored loss %g over %d, %v", l, n, err)
	}
	// Slots: names, decay groups, the model's own slices.
	names := map[string]bool{}
	for _, s := range m.Slots(g) {
		names[s.Name] = s.Decay
	}
	p := fmt.Sprintf("model.layers.%d.", nL-1)
	for n, decay := range map[string]bool{p + "self_attn.{q_proj,k_proj,v_proj}.weight": true, p + "input_layernorm.weight": false,
		p + "mlp.{gate_proj,up_proj}.weight": true, "model.norm.weight": false, "lm_head.weight": true} {
		if d, ok := names[n]; !ok || d != decay {
			t.Errorf("slot %s: present %v, decay %v (want %v)", n, ok, d, decay)
		}
	}
	if len(names) != 8 {
		t.Errorf("%d slots: %v", len(names), names)
	}
}
