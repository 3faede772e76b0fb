package decoder_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/testmodel"
)

func tinyModel(t testing.TB, o testmodel.DecoderOptions) (*decoder.Model, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "m")
	if err := testmodel.WriteDecoder(dir, o); err != nil {
		t.Fatal(err)
	}
	m, err := decoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m, dir
}

// EXAONE-3.5-2.4B-Instruct's config.json as published.
const exaone24B = `{
  "activation_function": "silu", "architectures": ["ExaoneForCausalLM"], "attention_dropout": 0.0,
  "bos_token_id": 1, "embed_dropout": 0.0, "eos_token_id": 361, "head_dim": 80, "hidden_size": 2560,
  "initializer_range": 0.02, "intermediate_size": 7168, "layer_norm_epsilon": 1e-05,
  "max_position_embeddings": 32768, "model_type": "exaone", "num_attention_heads": 32,
  "num_key_value_heads": 8, "num_layers": 30, "pad_token_id": 0,
  "rope_scaling": {"factor": 8.0, "high_freq_factor": 4.0, "low_freq_factor": 1.0,
    "original_max_position_embeddings": 8192, "rope_type": "llama3"},
  "rope_theta": 1000000.0, "tie_word_embeddings": true, "torch_dtype": "bfloat16", "vocab_size": 102400}`

func TestParseConfig(t *testing.T) {
	c, err := decoder.ParseConfig([]byte(exaone24B))
	if err != nil {
		t.Fatal(err)
	}
	want := decoder.Config{ModelType: "exaone", HiddenSize: 2560, IntermediateSize: 7168, NumLayers: 30, NumHeads: 32, NumKVHeads: 8,
		HeadDim: 80, RMSNormEps: 1e-5, RopeTheta: 1e6, MaxPositions: 32768, VocabSize: 102400, BOSTokenID: 1, EOSTokenIDs: []int{361},
		PadTokenID: 0, TieEmbeddings: true,
		RopeScaling: &decoder.RopeScaling{Type: "llama3", Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 8192}}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got  %+v %+v\nwant %+v %+v", *c, *c.RopeScaling, want, *want.RopeScaling)
	}
	// llama3 scaling: the highest frequencies are kept, the lowest divided
	// by the factor, those between interpolated.
	inv := c.InvFreq()
	plain := *c
	plain.RopeScaling = nil
	base := plain.InvFreq()
	if len(inv) != 40 || inv[0] != base[0] || inv[0] != 1 {
		t.Fatalf("inv_freq[0] = %g (unscaled %g), want 1", inv[0], base[0])
	}
	if r := base[39] / inv[39]; math.Abs(float64(r)-8) > 1e-5 {
		t.Fatalf("lowest frequency scaled by %g, want 8", r)
	}
	for i := range inv {
		if inv[i] > base[i] || inv[i] < base[i]/8*(1-1e-6) {
			t.Fatalf("inv_freq[%d] = %g outside [%g, %g]", i, inv[i], base[i]/8, base[i])
		}
	}

	// Llama defaults and an eos list.
	c, err = decoder.ParseConfig([]byte(`{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
		"num_attention_heads": 4, "vocab_size": 100, "eos_token_id": [5, 7]}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.NumKVHeads != 4 || c.HeadDim != 16 || c.RMSNormEps != 1e-6 || c.RopeTheta != 10000 || c.MaxPositions != 2048 ||
		fmt.Sprint(c.EOSTokenIDs) != "[5 7]" || c.BOSTokenID != -1 || c.TieEmbeddings || c.RopeScaling != nil {
		t.Fatalf("llama defaults: %+v", *c)
	}
	for _, bad := range []string{
		`{"model_type": "gpt2", "hidden_size": 64}`,
		`{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 3, "vocab_size": 100}`,
		`{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "hidden_act": "gelu"}`,
		`{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}`,
		`{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "vocab_size": 100, "rope_scaling": {"rope_type": "llama3", "factor": 8.0}}`,
	} {
		if _, err := decoder.ParseConfig([]byte(bad)); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

// TestRopeScalingMatters checks that the fixtures would catch a missing
// llama3 scaling: without it the tiny model's logits move far past the
// oracle tolerance.
func TestRopeScalingMatters(t *testing.T) {
	m, _ := tinyModel(t, fixtures[0].opt)
	g := readGolden(t, filepath.Join("testdata", fixtures[0].name+".safetensors"))
	cfg := m.Cfg
	cfg.RopeScaling = nil
	m.InvFreq = cfg.InvFreq()
	lg, err := m.Forward(&decoder.Workspace{}, nil, g.ids, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff(lg, g.logits); d < 100*tol {
		t.Fatalf("without rope scaling the logits differ by only %.3g", d)
	}
}

func TestSaveWorkspace(t *testing.T) {
	m, _ := tinyModel(t, fixtures[2].opt)
	ids := []int{1, 5, 9, 200, 3, 77}
	want, _ := m.Forward(&decoder.Workspace{}, nil, ids, true)
	ws := &decoder.Workspace{Save: true}
	got, err := m.Forward(ws, nil, ids, true)
	if err != nil {
		t.Fatal(err)
	}
	if d := relDiff(got, want); d != 0 {
		t.Fatalf("Save changes the logits by %g", d)
	}
	if len(ws.Acts) != m.Cfg.NumLayers {
		t.Fatalf("%d saved layers, want %d", len(ws.Acts), m.Cfg.NumLayers)
	}
	T, NH := len(ids), m.Cfg.NumHeads
	for l, a := range ws.Acts {
		if len(a.Att) != NH*T*T || len(a.In) != T*m.Cfg.HiddenSize || len(a.GU) != T*2*m.Cfg.IntermediateSize {
			t.Fatalf("layer %d: activations not saved", l)
		}
		// Causal: no probability on later keys; each row sums to 1.
		for h := 0; h < NH; h++ {
			for q := 0; q < T; q++ {
				var s float64
				for k := 0; k < T; k++ {
					p := a.Att[(h*T+q)*T+k]
					if k > q && p != 0 {
						t.Fatalf("layer %d head %d: query %d attends to later key %d", l, h, q, k)
					}
					s += float64(p)
				}
				if math.Abs(s-1) > 1e-5 {
					t.Fatalf("probabilities sum to %g", s)
				}
			}
		}
	}
	if l := ws.Acts[1].In; relDiff(l, ws.Acts[0].Mid) == 0 {
		t.Fatal("layer 1's input equals layer 0's mid-residual: MLP missing?")
	}
}

func TestErrors(t *testing.T) {
	m, dir := tinyModel(t, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 9})
	ws := &decoder.Workspace{}
	if _, err := m.Forward(ws, nil, []int{1, 512}, true); err == nil {
		t.Error("accepted an id outside the vocabulary")
	}
	if _, err := m.Forward(ws, nil, nil, true); err == nil {
		t.Error("accepted no tokens")
	}
	c := m.NewCache()
	long := make([]int, 200)
	if _, err := m.Forward(ws, c, long, false); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Forward(ws, c, long[:57], false); !errors.Is(err, decoder.ErrContext) {
		t.Errorf("257 positions of 256: err %v, want ErrContext", err)
	}
	if c.Len != 200 {
		t.Errorf("a refused forward changed the cache length to %d", c.Len)
	}
	c.Truncate(100)
	if _, err := m.Forward(ws, c, long[:56], false); err != nil || c.Len != 156 {
		t.Errorf("after Truncate(100): err %v, length %d", err, c.Len)
	}
	// An untied model without lm_head.weight.
	os.Remove(filepath.Join(dir, "model.safetensors"))
	o := testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 9, Tie: "true"}
	tied := filepath.Join(t.TempDir(), "tied")
	if err := testmodel.WriteDecoder(tied, o); err != nil {
		t.Fatal(err)
	}
	os.Rename(filepath.Join(tied, "model.safetensors"), filepath.Join(dir, "model.safetensors"))
	if _, err := decoder.Load(dir); err == nil {
		t.Error("loaded an untied model without lm_head.weight")
	}
}

func TestGenerate(t *testing.T) {
	m, _ := tinyModel(t, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 4, Std: 0.1})
	ctx := context.Background()
	prompt := []int{1, 40, 41, 42}
	greedy, err := m.Generate(ctx, prompt, 12, never)
	if err != nil || len(greedy) != 12 {
		t.Fatalf("greedy: %v %v", greedy, err)
	}
	// Greedy through the cache equals argmax of a full recompute per step.
	seq := append([]int(nil), prompt...)
	for i := range greedy {
		lg, _ := m.Forward(&decoder.Workspace{}, nil, seq, false)
		if id := decoder.Argmax(lg); id != greedy[i] {
			t.Fatalf("step %d: cached greedy %d, recomputed %d", i, greedy[i], id)
		}
		seq = append(seq, greedy[i])
	}
	// Stopping: the stop token is the last one returned.
	got, _ := m.Generate(ctx, prompt, 12, func(id int) bool { return id == greedy[3] })
	if fmt.Sprint(got) != fmt.Sprint(greedy[:4]) {
		t.Errorf("stop at %d: got %v", greedy[3], got)
	}
	// Sampling: top-k 1 is greedy; a seed repeats; seeds differ.
	if s, _ := m.GenerateSampled(ctx, prompt, 12, never, decoder.Sampling{Temperature: 0.7, TopK: 1, Seed: 3}); fmt.Sprint(s) != fmt.Sprint(greedy) {
		t.Errorf("top-k 1 sampling %v, greedy %v", s, greedy)
	}
	hot := decoder.Sampling{Temperature: 5, TopP: 0.95, Seed: 1}
	a, _ := m.GenerateSampled(ctx, prompt, 12, never, hot)
	b, _ := m.GenerateSampled(ctx, prompt, 12, never, hot)
	hot.Seed = 2
	c, _ := m.GenerateSampled(ctx, prompt, 12, never, hot)
	if fmt.Sprint(a) != fmt.Sprint(b) || fmt.Sprint(a) == fmt.Sprint(c) {
		t.Errorf("seed 1 twice: %v, %v; seed 2: %v", a, b, c)
	}
	// A strong repetition penalty under greedy decoding avoids repeats.
	p, _ := m.GenerateSampled(ctx, prompt, 12, never, decoder.Sampling{RepetitionPenalty: 1e6})
	seen := map[int]bool{}
	for _, id := range append(append([]int(nil), prompt...), p...) {
		if seen[id] {
			t.Errorf("repetition penalty 1e6: %v repeats %d", p, id)
		}
		seen[id] = true
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Generate(cctx, prompt, 5, never); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: %v", err)
	}
}

// BenchmarkForwardTiny is a 64-token prompt and one cached next token on
// the tiny llama.
func BenchmarkForwardTiny(b *testing.B) {
	m, _ := tinyModel(b, fixtures[0].opt)
	ids := make([]int, 64)
	for i := range ids {
		ids[i] = (i*37 + 1) % m.Cfg.VocabSize
	}
	ws := &decoder.Workspace{}
	b.Run("prompt64", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			m.Forward(ws, nil, ids, true)
		}
	})
	b.Run("next-token", func(b *testing.B) {
		c := m.NewCache()
		m.Forward(ws, c, ids, false)
		for i := 0; i < b.N; i++ {
			c.Truncate(64)
			m.Forward(ws, c, ids[:1], false)
		}
	})
}
