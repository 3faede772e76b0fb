package lmtrain

import (
	"bytes"
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/chat"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/run"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

const tinyData = `{"question": "아스피린 효과?", "contexts": ["심근경색이 줄었다.", "출혈은 늘었다."], "long_answer": "위험을 줄인다."}
{"question": "운동과 혈압?", "contexts": "혈압이 5 감소.", "long_answer": "혈압을 낮춘다."}

{"question": "Vitamin D and fractures?", "context": ["No fewer fractures in older adults."], "long_answer": "No, it did not help."}
`

// tinyModel writes a tiny decoder (EXAONE layout with its chat template
// unless arch says otherwise) and returns its folder.
func tinyModel(t *testing.T, o testmodel.DecoderOptions) string {
	t.Helper()
	if o.Arch == "" {
		o.Arch = "exaone"
	}
	o.Shape = "tiny"
	if o.Seed == 0 {
		o.Seed = 7
	}
	if o.Std == 0 {
		o.Std = 0.1
	}
	dir := filepath.Join(t.TempDir(), "model")
	if err := testmodel.WriteDecoder(dir, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

func writeData(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "train.jsonl")
	if err := os.WriteFile(p, []byte(tinyData), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadJSONL(t *testing.T) {
	recs, err := ReadJSONL(writeData(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || len(recs[0].Contexts) != 2 || len(recs[1].Contexts) != 1 || len(recs[2].Contexts) != 1 ||
		recs[2].LongAnswer != "No, it did not help." {
		t.Fatalf("records %+v", recs)
	}
	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	os.WriteFile(bad, []byte(`{"question":"q","contexts":"c","long_answer":"a"}`+"\n\n"+`{"question":"q","contexts":3,"long_answer":"a"}`+"\n"), 0o644)
	if _, err := ReadJSONL(bad); err == nil || !strings.Contains(err.Error(), "bad.jsonl:3:") || !strings.Contains(err.Error(), "contexts") {
		t.Fatalf("error %v, want bad.jsonl:3 about contexts", err)
	}
	os.WriteFile(bad, []byte(`{"question":"q","contexts":"c"}`+"\n"), 0o644)
	if _, err := ReadJSONL(bad); err == nil || !strings.Contains(err.Error(), ":1:") || !strings.Contains(err.Error(), "long_answer") {
		t.Fatalf("error %v, want :1: about long_answer", err)
	}
}

func TestBuilderTruncatesContexts(t *testing.T) {
	g, err := chat.Load(tinyModel(t, testmodel.DecoderOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	recs, _ := ReadJSONL(writeData(t))
	full, err := NewBuilder(g, 0)
	if err != nil {
		t.Fatal(err)
	}
	exs, st, err := full.Build(recs)
	if err != nil || st.Truncated != 0 || st.Skipped != 0 || len(exs) != 3 {
		t.Fatalf("untruncated: %v %+v", err, st)
	}
	// The prompt is the chat template's user turn with the generation prompt.
	p, _ := full.Prompt("C", "Q")
	if !strings.Contains(p, "[|user|]") || !strings.HasSuffix(p, "[|assistant|]") || !strings.Contains(p, "질문: Q") {
		t.Fatalf("prompt %q", p)
	}
	ex := exs[0]
	ans := append(g.Encode(recs[0].LongAnswer, true), full.EOS())
	if !equalInts(ex.IDs[ex.PromptLen:], ans) {
		t.Fatal("the example does not end with the answer and EOS")
	}
	for i, l := range ex.Labels() {
		if want := ex.IDs[i]; i < ex.PromptLen && l != decoder.IgnoreIndex || i >= ex.PromptLen && l != want {
			t.Fatalf("label %d = %d", i, l)
		}
	}
	// Cut the first record's contexts by 40 tokens.
	maxLen := len(exs[0].IDs) - 40
	b, _ := NewBuilder(g, maxLen)
	exs2, st2, err := b.Build(recs)
	if err != nil {
		t.Fatal(err)
	}
	if st2.Truncated < 1 {
		t.Fatalf("stats %+v: want truncation", st2)
	}
	for _, e := range exs2 {
		if len(e.IDs) > maxLen {
			t.Fatalf("example of %d tokens > %d", len(e.IDs), maxLen)
		}
	}
	e := exs2[0]
	if !equalInts(e.IDs[e.PromptLen:], ans) {
		t.Fatal("truncation touched the answer")
	}
	q := g.Encode("질문: "+recs[0].Question, true)
	if !containsSeq(e.IDs[:e.PromptLen], q) {
		t.Fatal("truncation touched the question")
	}
	// Too short even without contexts: skipped and counted.
	b, _ = NewBuilder(g, len(ans)+3)
	if _, st3, err := b.Build(recs); err == nil || st3.Skipped != 3 {
		t.Fatalf("max_length below the answer: %v %+v", err, st3)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func containsSeq(s, sub []int) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if equalInts(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

func TestPlan(t *testing.T) {
	steps, ep := Plan(5, 2, 2, 0, 42)
	if len(steps) != 6 || len(steps[2]) != 1 || ep[3] != 1 {
		t.Fatalf("plan %v %v", steps, ep)
	}
	seen := map[int]bool{}
	for _, s := range steps[:3] {
		for _, i := range s {
			seen[i] = true
		}
	}
	if len(seen) != 5 {
		t.Fatalf("epoch 0 covers %v", seen)
	}
	steps, ep = Plan(3, 1, 1, 7, 42)
	if len(steps) != 7 || ep[6] != 2 {
		t.Fatalf("max_steps plan %v %v", steps, ep)
	}
}

// examples builds the tiny data's examples for a model.
func examples(t *testing.T, g *chat.Generator) []Example {
	t.Helper()
	recs, _ := ReadJSONL(writeData(t))
	b, _ := NewBuilder(g, 0)
	exs, _, err := b.Build(recs)
	if err != nil {
		t.Fatal(err)
	}
	return exs
}

func TestTrainerOnlyTopN(t *testing.T) {
	g, err := chat.Load(tinyModel(t, testmodel.DecoderOptions{Layers: 3}))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(g.Model, 1, 0.9, 0.999, 1e-8, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	if tr.G.First != 2 || len(tr.G.Layers) != 1 {
		t.Fatalf("grads of blocks from %d (%d)", tr.G.First, len(tr.G.Layers))
	}
	for i, s := range tr.Slots {
		if tr.Opt.M[i] == nil || tr.Opt.V[i] == nil {
			t.Fatalf("slot %s has no optimiser state", s.Name)
		}
		if strings.Contains(s.Name, ".h.0.") || strings.Contains(s.Name, ".h.1.") {
			t.Fatalf("frozen block in the optimiser: %s", s.Name)
		}
		if strings.Contains(s.Name, "ln_") && s.Decay {
			t.Fatalf("weight decay on a norm: %s", s.Name)
		}
	}
	// The top block's 5 tensors (ln_1, qkv, out_proj, ln_2, c_fc, c_proj: 6), ln_f, lm_head.
	if len(tr.Slots) != 8 {
		var names []string
		for _, s := range tr.Slots {
			names = append(names, s.Name)
		}
		t.Fatalf("slots %v", names)
	}
	if _, err := NewTrainer(g.Model, 4, 0.9, 0.999, 1e-8, 0); err == nil {
		t.Fatal("top_n beyond the layers accepted")
	}
}

func TestAccumulationIsMeanOfGradients(t *testing.T) {
	g, err := chat.Load(tinyModel(t, testmodel.DecoderOptions{}))
	if err != nil {
		t.Fatal(err)
	}
	exs := examples(t, g)
	tr, err := NewTrainer(g.Model, 2, 0.9, 0.999, 1e-8, 0.01)
	if err != nil {
		t.Fatal(err)
	}
	snap := func() [][]float32 {
		var out [][]float32
		for _, s := range tr.Slots {
			out = append(out, append([]float32(nil), s.Grad...))
		}
		return out
	}
	la, _, err := tr.Gradients(exs[:1])
	if err != nil {
		t.Fatal(err)
	}
	ga := snap()
	lb, _, _ := tr.Gradients(exs[1:2])
	gb := snap()
	l2, _, _ := tr.Gradients(exs[:2])
	g2 := snap()
	if math.Abs(l2-(la+lb)/2) > 1e-12*math.Abs(l2) {
		t.Fatalf("loss %v, want mean %v", l2, (la+lb)/2)
	}
	var worst float64
	for i := range g2 {
		var scale float64
		for j := range g2[i] {
			scale = math.Max(scale, math.Abs(float64(g2[i][j])))
		}
		for j := range g2[i] {
			d := math.Abs(float64(g2[i][j])-(float64(ga[i][j])+float64(gb[i][j]))/2) / math.Max(scale, 1e-30)
			worst = math.Max(worst, d)
		}
	}
	if worst > 1e-5 {
		t.Fatalf("accumulated gradient differs from the mean by %.3g of scale", worst)
	}
	t.Logf("accumulated vs mean gradient: max scaled difference %.3g", worst)
}

// rawTensors reads every tensor's dtype and bytes of a model folder.
func rawTensors(t *testing.T, dir string) map[string]string {
	t.Helper()
	r, err := safetensors.OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	out := map[string]string{}
	for _, n := range r.Names() {
		info, b, err := r.Raw(n)
		if err != nil {
			t.Fatal(err)
		}
		out[n] = string(info.DType) + ":" + string(b)
	}
	return out
}

func TestSaveReloads(t *testing.T) {
	for _, o := range []testmodel.DecoderOptions{
		{Arch: "exaone", DType: safetensors.BF16, Layers: 3},
		{Arch: "llama", DType: safetensors.F16, Tie: "true", AttentionBias: true, Layers: 3},
	} {
		t.Run(o.Arch, func(t *testing.T) {
			src := tinyModel(t, o)
			// As Run loads it: the frozen blocks of the BF16 model stay
			// bfloat16, the top 2 float32.
			g, err := chat.LoadWith(src, decoder.LoadOptions{TrainTop: 2})
			if err != nil {
				t.Fatal(err)
			}
			if bf := g.Model.W.Layers[0].BF16(); bf != (o.DType == safetensors.BF16) {
				t.Fatalf("frozen block 0 bf16 = %v", bf)
			}
			exs := examples(t, g)
			tr, err := NewTrainer(g.Model, 2, 0.9, 0.999, 1e-8, 0.01)
			if err != nil {
				t.Fatal(err)
			}
			for i := 0; i < 3; i++ {
				if _, _, _, err := tr.Step(exs[i%len(exs):i%len(exs)+1], 1e-3, 1); err != nil {
					t.Fatal(err)
				}
			}
			out := filepath.Join(t.TempDir(), "saved")
			trained := TrainedNames(tr.Slots)
			if err := Save(g.Model, src, out, trained); err != nil {
				t.Fatal(err)
			}
			if err := Save(g.Model, src, out, trained); err != nil { // over an existing folder
				t.Fatal(err)
			}
			m2, err := decoder.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			want, err := g.Model.Forward(&decoder.Workspace{}, nil, exs[0].IDs, true)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]float32(nil), want...)
			got, err := m2.Forward(&decoder.Workspace{}, nil, exs[0].IDs, true)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("reloaded logit %d = %v, trained model %v", i, got[i], want[i])
				}
			}
			before, after := rawTensors(t, src), rawTensors(t, out)
			if len(before) != len(after) {
				t.Fatalf("%d tensors saved, the source has %d", len(after), len(before))
			}
			nTrained := 0
			for n, b := range before {
				a, ok := after[n]
				switch {
				case !ok:
					t.Fatalf("%s not saved", n)
				case trained[n]:
					nTrained++
					if !strings.HasPrefix(a, "F32:") {
						t.Fatalf("trained %s saved as %s", n, a[:4])
					}
				case a != b:
					t.Fatalf("frozen %s changed (%s → %s)", n, b[:5], a[:5])
				}
			}
			if nTrained != len(trained) || nTrained == 0 {
				t.Fatalf("%d trained tensors saved of %d", nTrained, len(trained))
			}
			for _, f := range []string{"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"} {
				a, _ := os.ReadFile(filepath.Join(src, f))
				b, err := os.ReadFile(filepath.Join(out, f))
				if err != nil || !bytes.Equal(a, b) {
					t.Fatalf("%s not copied: %v", f, err)
				}
			}
			if _, err := chat.Load(out); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// runCfg is a quick run's configuration.
func runCfg(model, data, out string) Config {
	return Config{Model: model, Data: data, Output: out, TopN: 1, LR: 2e-3, Accumulate: 2, MaxSteps: 6, Log: &bytes.Buffer{}}
}

func TestRunOverfitsAndFreezes(t *testing.T) {
	src := tinyModel(t, testmodel.DecoderOptions{Layers: 3})
	data := writeData(t)
	out := filepath.Join(t.TempDir(), "run")
	c := runCfg(src, data, out)
	c.Accumulate, c.MaxSteps, c.TopN, c.WarmupRatio = 1, 30, 2, 0.1
	var log bytes.Buffer
	c.Log = &log
	rep, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loss %.4f → %.4f over %d steps", rep.FirstLoss, rep.LastLoss, rep.Steps)
	if rep.Steps != 30 || !(rep.LastLoss < 0.5*rep.FirstLoss) {
		t.Fatalf("report %+v: want the loss to fall by half", rep)
	}
	// Frozen tensors are the input's bit for bit; the trained ones moved.
	before, after := rawTensors(t, src), rawTensors(t, rep.Model)
	for n, b := range before {
		frozen := strings.Contains(n, "transformer.h.0.") || n == "transformer.wte.weight"
		if frozen && after[n] != b {
			t.Fatalf("frozen %s changed", n)
		}
		if !frozen && after[n] == b {
			t.Fatalf("trained %s did not change", n)
		}
	}
	lb, _ := os.ReadFile(filepath.Join(out, "train.jsonl"))
	if n := strings.Count(string(lb), `"loss"`); n != 30 {
		t.Fatalf("log has %d step records", n)
	}
	if _, err := os.Stat(filepath.Join(out, "checkpoints")); !os.IsNotExist(err) {
		t.Fatalf("checkpoints left after the run: %v", err)
	}
	// A finished run is not started again.
	if _, err := Run(context.Background(), c); err == nil {
		t.Fatal("a second run into the same folder without --resume")
	}
	c.Resume = true
	if _, err := Run(context.Background(), c); err != nil {
		t.Fatalf("resume of a finished run: %v", err)
	}
}

func TestResumeBitExact(t *testing.T) {
	src := tinyModel(t, testmodel.DecoderOptions{Layers: 3})
	data := writeData(t)
	tmp := t.TempDir()
	straight := runCfg(src, data, filepath.Join(tmp, "straight"))
	rep, err := Run(context.Background(), straight)
	if err != nil {
		t.Fatal(err)
	}
	// The same run interrupted after step 3 (a checkpoint is written),
	// then resumed.
	c := runCfg(src, data, filepath.Join(tmp, "resumed"))
	ctx, cancel := context.WithCancel(context.Background())
	c.AfterStep = func(step int) {
		if step == 3 {
			cancel()
		}
	}
	if _, err := Run(ctx, c); !errors.Is(err, run.ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.Output, "checkpoints", "step-000003", "optimizer.safetensors")); err != nil {
		t.Fatal(err)
	}
	// The optimiser state holds the trainable tensors only (top block, ln_f, lm_head).
	r, err := safetensors.Open(filepath.Join(c.Output, "checkpoints", "step-000003", "optimizer.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range r.Names() {
		if !strings.Contains(n, "transformer.h.2.") && !strings.Contains(n, "ln_f") && !strings.Contains(n, "lm_head") {
			t.Fatalf("optimiser state of a frozen tensor: %s", n)
		}
	}
	r.Close()
	c.AfterStep = nil
	if _, err := Run(context.Background(), c); err == nil {
		t.Fatal("restart without --resume accepted")
	}
	c.Resume = true
	rep2, err := Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(rep.Model, "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(rep2.Model, "model.safetensors"))
	if !bytes.Equal(a, b) {
		t.Fatal("3 steps + resume 3 differ from 6 steps straight")
	}
	if rep.LastLoss != rep2.LastLoss {
		t.Fatalf("last loss %v vs %v", rep.LastLoss, rep2.LastLoss)
	}
	lb, _ := os.ReadFile(filepath.Join(c.Output, "train.jsonl"))
	if n := strings.Count(string(lb), `"loss"`); n != 6 {
		t.Fatalf("resumed log has %d step records, want 6:\n%s", n, lb)
	}
	// A changed setting refuses to resume.
	c2 := runCfg(src, data, filepath.Join(tmp, "resumed"))
	c2.Resume, c2.LR = true, 1e-3
	os.WriteFile(filepath.Join(c.Output, "state.json"), []byte(`{"fingerprint":"x","checkpoint":"checkpoints/step-000003"}`), 0o644)
	if _, err := Run(context.Background(), c2); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("changed settings: %v", err)
	}
}

func TestShippedRecipe(t *testing.T) {
	path := filepath.Join("..", "recipes", "lm", "pubmedqa-ko.toml")
	if !IsRecipe(path) {
		t.Fatal("not recognised as a causal_lm recipe")
	}
	t.Setenv("PUBMEDQA_KO", "/data/pq.jsonl")
	r, err := ReadRecipe(path, "lr=2e-5", "pubmedqa.accumulate=4")
	if err != nil {
		t.Fatal(err)
	}
	c := r.Config
	if c.Data != "/data/pq.jsonl" || c.TopN != 4 || c.LR != 2e-5 || c.Accumulate != 4 || c.Epochs != 3 ||
		c.Model != "LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct" || c.Output != filepath.Join("runs", "pubmedqa-ko") || c.Seed != 42 || c.FrozenWeights != "bf16" {
		t.Fatalf("config %+v", c)
	}
	dir := t.TempDir()
	for body, want := range map[string]string{
		"[[stage]]\nloss = \"causal_lm\"\ndata = \"d\"\ntop_k = 1\n":          "unknown key",
		"[[stage]]\nloss = \"causal_lm\"\ndata = \"d\"\nbatch_size = 8\n":     "batch_size",
		"[[stage]]\nloss = \"causal_lm\"\n":                                   "data: missing",
		"[[stage]]\nloss = \"causal_lm\"\ndata = \"${NOPE_UNSET_X}\"\n":       "NOPE_UNSET_X",
		"[[stage]]\nloss = \"causal_lm\"\ndata = \"d\"\nwarmup_ratio = 2.0\n": "warmup_ratio",
	} {
		p := filepath.Join(dir, "r.toml")
		os.WriteFile(p, []byte(body), 0o644)
		if _, err := ReadRecipe(p); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
	p := filepath.Join(dir, "enc.toml")
	os.WriteFile(p, []byte("[[stage]]\nloss = \"mnrl\"\ndata = \"d\"\n"), 0o644)
	if IsRecipe(p) {
		t.Fatal("an encoder recipe taken for a causal_lm one")
	}
}

// frozen_weights = "bf16" keeps an F32 checkpoint's frozen blocks in
// bfloat16 while training; the saved model still has the source's frozen
// tensors bit for bit (not their rounding), and the loss stays within
// bf16 rounding of the float32 run's.
func TestRunFrozenBF16(t *testing.T) {
	src := tinyModel(t, testmodel.DecoderOptions{Layers: 3})
	data := writeData(t)
	var reps [2]*Report
	for i, fw := range []string{"fp32", "bf16"} {
		c := runCfg(src, data, filepath.Join(t.TempDir(), "run"))
		c.FrozenWeights = fw
		rep, err := Run(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		reps[i] = rep
		before, after := rawTensors(t, src), rawTensors(t, rep.Model)
		for n, b := range before {
			frozen := !strings.Contains(n, "transformer.h.2.") && n != "transformer.ln_f.weight" && n != "lm_head.weight"
			if frozen && after[n] != b {
				t.Fatalf("%s: frozen %s changed", fw, n)
			}
			if !frozen && after[n] == b {
				t.Fatalf("%s: trained %s did not change", fw, n)
			}
		}
	}
	if d := math.Abs(reps[1].FirstLoss-reps[0].FirstLoss) / reps[0].FirstLoss; d == 0 || d > 1e-2 {
		t.Fatalf("first loss bf16 frozen %v, fp32 %v: want within bf16 rounding, not equal", reps[1].FirstLoss, reps[0].FirstLoss)
	}
	c := runCfg(src, data, filepath.Join(t.TempDir(), "run"))
	c.FrozenWeights = "fp16"
	if _, err := Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "frozen_weights") {
		t.Fatalf("frozen_weights fp16: %v", err)
	}
}
