package model_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// copyDir copies the checked-in model src into a fresh folder named name.
func copyDir(t *testing.T, src, name string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), name)
	err := filepath.Walk(src, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if info.IsDir() {
			if rel == "fixtures" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

func tiny(name string) string { return filepath.Join("..", "testdata", "models", name) }

func editJSON(t *testing.T, path string, edit func(m map[string]any)) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	b, _ = json.Marshal(m)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name string
		edit func(dir string)
		want string
	}{
		{"distilbert", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["model_type"] = "distilbert" })
		}, `"distilbert" is unsupported`},
		{"unknown type", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["model_type"] = "llama" })
		}, `model_type "llama" is unsupported`},
		{"architecture", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["architectures"] = []string{"GPT2Model"} })
		}, `architecture "GPT2Model" is unsupported`},
		{"gelu_new", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["hidden_act"] = "gelu_new" })
		}, `hidden_act "gelu_new"`},
		{"relative positions", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["position_embedding_type"] = "relative_key" })
		}, `position_embedding_type "relative_key"`},
		{"heads", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["num_attention_heads"] = 5 })
		}, "does not divide hidden_size"},
		{"shape mismatch", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["intermediate_size"] = 48 })
		}, `"encoder.layer.0.intermediate.dense.weight": shape [64 32], want [48 32]`},
		{"too few layers in checkpoint", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["num_hidden_layers"] = 3 })
		}, `"encoder.layer.2.attention.self.query.weight": tensor not found`},
		{"too many layers in checkpoint", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["num_hidden_layers"] = 1 })
		}, "more layers than num_hidden_layers 1"},
		{"pytorch only", func(d string) {
			os.Remove(filepath.Join(d, "model.safetensors"))
			os.WriteFile(filepath.Join(d, "pytorch_model.bin"), []byte("x"), 0o644)
		}, "convert them first"},
		{"no config", func(d string) { os.Remove(filepath.Join(d, "config.json")) }, "no config.json"},
		{"no tokenizer", func(d string) { os.Remove(filepath.Join(d, "tokenizer.json")) }, "no tokenizer.json"},
		{"bad json", func(d string) { os.WriteFile(filepath.Join(d, "config.json"), []byte("{"), 0o644) }, "config.json: bad JSON"},
		{"dense module", func(d string) {
			os.WriteFile(filepath.Join(d, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"2_Dense","type":"sentence_transformers.models.Dense"}]`), 0o644)
		}, `type "sentence_transformers.models.Dense" is unsupported`},
		{"max pooling", func(d string) {
			editJSON(t, filepath.Join(d, "1_Pooling", "config.json"), func(m map[string]any) { m["pooling_mode_max_tokens"] = true })
		}, "pooling_mode_max_tokens is unsupported"},
		{"vocab smaller than tokenizer", func(d string) {
			editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) { m["vocab_size"] = 100 })
		}, "shape [5151 32], want [100 32]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := copyDir(t, tiny("tiny-bert"), "m")
			c.edit(d)
			_, err := model.Load(d)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want %q", err, c.want)
			}
		})
	}
}

func TestLoadSettings(t *testing.T) {
	m, err := model.Load(tiny("tiny-bert"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Pooling != model.PoolCLS || m.Normalize || m.QueryPrefix != "" || m.PassagePrefix != "" || m.Dim() != 32 || m.Name() != "tiny-bert" {
		t.Fatalf("tiny-bert settings: %+v name %s", m, m.Name())
	}
	x, err := model.Load(tiny("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	if x.Pooling != model.PoolMean || !x.Normalize || x.Enc.Cfg.Positions() != model.RoBERTaPositions || x.Enc.Cfg.MaxTokens() != 128 {
		t.Fatalf("tiny-xlmr settings: %+v", x)
	}

	// An e5 model gets the e5 prefixes; prompts in
	// config_sentence_transformers.json take precedence.
	d := copyDir(t, tiny("tiny-xlmr"), "multilingual-e5-tiny")
	e5, err := model.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if e5.QueryPrefix != "query: " || e5.PassagePrefix != "passage: " || e5.Name() != "multilingual-e5-tiny" {
		t.Fatalf("e5 prefixes %q %q", e5.QueryPrefix, e5.PassagePrefix)
	}
	os.WriteFile(filepath.Join(d, "config_sentence_transformers.json"), []byte(`{"prompts":{"query":"Q: ","document":"D: "}}`), 0o644)
	p, err := model.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if p.QueryPrefix != "Q: " || p.PassagePrefix != "D: " {
		t.Fatalf("prompts %q %q", p.QueryPrefix, p.PassagePrefix)
	}
	// The prefix is really prepended: EncodeQueries(x) == Encode("Q: " + x).
	ctx := context.Background()
	a, _ := p.EncodeQueries(ctx, []string{"두통약"})
	b, _ := p.Encode(ctx, []string{"Q: 두통약"})
	c, _ := p.Encode(ctx, []string{"두통약"})
	if maxDiff(a[0], b[0]) != 0 || maxDiff(a[0], c[0]) == 0 {
		t.Fatal("query prefix not applied")
	}

	// Without sentence-transformers files: mean pooling, normalisation
	// only for e5 models, MaxLength from the position table.
	for _, f := range []string{"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json"} {
		os.Remove(filepath.Join(d, f))
	}
	os.RemoveAll(filepath.Join(d, "1_Pooling"))
	plain, err := model.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if plain.Pooling != model.PoolMean || !plain.Normalize || plain.MaxLength != 128 || plain.QueryPrefix != "query: " {
		t.Fatalf("plain e5 folder: %+v", plain)
	}

	// Hugging Face cache folders are named org/name.
	hf := filepath.Join(t.TempDir(), "models--intfloat--multilingual-e5-small", "snapshots", "abc123")
	os.MkdirAll(filepath.Dir(hf), 0o755)
	if err := os.Rename(d, hf); err != nil {
		t.Fatal(err)
	}
	h, err := model.Load(hf)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name() != "intfloat/multilingual-e5-small" || h.QueryPrefix != "query: " {
		t.Fatalf("hub cache name %q prefix %q", h.Name(), h.QueryPrefix)
	}
}

// TestTransformerSubfolder loads a sentence-transformers folder whose
// Transformer module lives in 0_Transformer.
func TestTransformerSubfolder(t *testing.T) {
	d := copyDir(t, tiny("tiny-bert"), "st")
	sub := filepath.Join(d, "0_Transformer")
	os.MkdirAll(sub, 0o755)
	for _, f := range []string{"config.json", "model.safetensors", "tokenizer.json", "sentence_bert_config.json"} {
		if err := os.Rename(filepath.Join(d, f), filepath.Join(sub, f)); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(d, "modules.json"), []byte(`[{"idx":0,"name":"0","path":"0_Transformer","type":"sentence_transformers.models.Transformer"},{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]`), 0o644)
	m, err := model.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Pooling != model.PoolCLS || !m.Normalize || m.MaxLength != 64 {
		t.Fatalf("settings %+v", m)
	}
}

// TestDPRLayout loads a DPR question encoder: model_type dpr, weights under
// "question_encoder.bert_model.", no pooler, no sentence-transformers
// files; DPR's pooled output is the CLS vector.
func TestDPRLayout(t *testing.T) {
	d := t.TempDir()
	if err := testmodel.Write(d, testmodel.Options{Arch: "bert", Shape: "tiny", Seed: 5, Prefix: "question_encoder.bert_model.", NoPooler: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.json", "sentence_bert_config.json"} {
		os.Remove(filepath.Join(d, f))
	}
	os.RemoveAll(filepath.Join(d, "1_Pooling"))
	editJSON(t, filepath.Join(d, "config.json"), func(m map[string]any) {
		m["model_type"] = "dpr"
		m["architectures"] = []string{"DPRQuestionEncoder"}
		m["projection_dim"] = 0
	})
	m, err := model.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	if m.Pooling != model.PoolCLS || m.Normalize || m.Enc.W.PoolerW != nil || m.MaxLength != 128 {
		t.Fatalf("dpr settings %+v", m)
	}
	v, err := m.Encode(context.Background(), []string{"두통"})
	if err != nil || len(v) != 1 || len(v[0]) != 32 {
		t.Fatalf("encode: %v %v", v, err)
	}
}

func maxDiff(a, b []float32) float64 {
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestShardedAndBF16 writes the tiny model as two BF16 shards with a
// "bert." prefix and checks it loads and agrees with the F32 original to
// bf16 precision.
func TestShardedAndBF16(t *testing.T) {
	d := copyDir(t, tiny("tiny-bert"), "sharded")
	cfg, err := model.ReadConfig(filepath.Join(d, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := safetensors.OpenDir(d)
	if err != nil {
		t.Fatal(err)
	}
	var s1, s2 []safetensors.Tensor
	wm := map[string]string{}
	for i, n := range r.Names() {
		in, _ := r.Info(n)
		if in.DType != safetensors.F32 {
			continue
		}
		v, _ := r.Float32(n, nil)
		tn := safetensors.Tensor{Name: "bert." + n, DType: safetensors.BF16, Shape: in.Shape, Floats: v}
		if i%2 == 0 {
			s1, wm[tn.Name] = append(s1, tn), "model-00001-of-00002.safetensors"
		} else {
			s2, wm[tn.Name] = append(s2, tn), "model-00002-of-00002.safetensors"
		}
	}
	r.Close()
	os.Remove(filepath.Join(d, "model.safetensors"))
	if err := safetensors.Write(filepath.Join(d, "model-00001-of-00002.safetensors"), s1, nil); err != nil {
		t.Fatal(err)
	}
	if err := safetensors.Write(filepath.Join(d, "model-00002-of-00002.safetensors"), s2, nil); err != nil {
		t.Fatal(err)
	}
	idx, _ := json.Marshal(map[string]any{"weight_map": wm})
	os.WriteFile(filepath.Join(d, "model.safetensors.index.json"), idx, 0o644)
	m, err := model.Load(d)
	if err != nil {
		t.Fatal(err)
	}
	o, _ := model.Load(tiny("tiny-bert"))
	if m.Enc.Cfg.HiddenSize != cfg.HiddenSize || m.Enc.W.PoolerW == nil {
		t.Fatal("config")
	}
	texts := []string{"신경계 감각기관용 의약품", "Ibuprofen 200 mg"}
	a, _ := m.Encode(context.Background(), texts)
	b, _ := o.Encode(context.Background(), texts)
	for i := range a {
		if d := maxDiff(a[i], b[i]); d == 0 || d > 0.1 {
			t.Fatalf("bf16 shards vs f32: diff %g", d)
		}
	}
}

func TestConcurrentEncode(t *testing.T) {
	m, err := model.Load(tiny("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"신경계", "감각기관용 의약품은 중추신경계 및 말초신경", "", "Ibuprofen 200 mg / Caffeine", "해열, 진통, 소염 작용"}
	want, err := m.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for it := 0; it < 5; it++ {
				got, err := m.Encode(context.Background(), texts[g%2:])
				if err != nil {
					errs <- err.Error()
					return
				}
				for i, v := range got {
					if maxDiff(v, want[i+g%2]) > 1e-6 {
						errs <- "concurrent result differs"
						return
					}
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
	// Unit length per the Normalize module; empty input; cancellation.
	for _, v := range want {
		var s float64
		for _, x := range v {
			s += float64(x) * float64(x)
		}
		if math.Abs(s-1) > 1e-5 {
			t.Fatalf("norm² %g", s)
		}
	}
	if out, err := m.Encode(context.Background(), nil); err != nil || len(out) != 0 {
		t.Fatalf("empty: %v %v", out, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := m.Encode(ctx, texts); err == nil {
		t.Fatal("cancelled context should fail")
	}
	m.MaxLength = 1000
	if _, err := m.Encode(context.Background(), texts); err == nil || !strings.Contains(err.Error(), "max length 1000") {
		t.Fatalf("max length beyond positions: %v", err)
	}
}

// TestTestmodelShapes checks the generator's configs, determinism and
// that what it writes loads.
func TestTestmodelShapes(t *testing.T) {
	c, err := testmodel.Config("bert", "e5-small", 250002, 1)
	if err != nil {
		t.Fatal(err)
	}
	if c.HiddenSize != 384 || c.NumHiddenLayers != 12 || c.NumAttentionHeads != 12 || c.IntermediateSize != 1536 ||
		c.VocabSize != 250037 || c.MaxPositionEmbeddings != 512 || c.PadTokenID != 0 || c.TypeVocabSize != 2 || c.ModelType != "bert" {
		t.Fatalf("e5-small bert config %+v", c)
	}
	x, _ := testmodel.Config("xlmr", "e5-small", 250002, 1)
	if x.MaxPositionEmbeddings != 514 || x.TypeVocabSize != 1 || x.PadTokenID != 1 || x.MaxTokens() != 512 {
		t.Fatalf("e5-small xlmr config %+v", x)
	}
	if _, err := testmodel.Config("gpt", "tiny", 10, 0); err == nil {
		t.Fatal("unknown arch accepted")
	}
	d1, d2 := t.TempDir(), t.TempDir()
	o := testmodel.Options{Arch: "bert", Shape: "tiny", Seed: 7, Prompts: map[string]string{"query": "q: "}}
	if err := testmodel.Write(d1, o); err != nil {
		t.Fatal(err)
	}
	if err := testmodel.Write(d2, o); err != nil {
		t.Fatal(err)
	}
	a, _ := os.ReadFile(filepath.Join(d1, "model.safetensors"))
	b, _ := os.ReadFile(filepath.Join(d2, "model.safetensors"))
	if string(a) != string(b) {
		t.Fatal("same seed, different weights")
	}
	o.Seed = 8
	d3 := t.TempDir()
	testmodel.Write(d3, o)
	c3, _ := os.ReadFile(filepath.Join(d3, "model.safetensors"))
	if string(a) == string(c3) {
		t.Fatal("different seeds, same weights")
	}
	m, err := model.Load(d1)
	if err != nil {
		t.Fatal(err)
	}
	if m.QueryPrefix != "q: " || m.Pooling != model.PoolMean || m.Normalize {
		t.Fatalf("generated settings %+v", m)
	}
	// Weight statistics: std 0.02 matrices, LayerNorm weights around 1.
	r, _ := safetensors.OpenDir(d1)
	defer r.Close()
	w, _ := r.Float32("encoder.layer.0.intermediate.dense.weight", nil)
	ln, _ := r.Float32("encoder.layer.1.output.LayerNorm.weight", nil)
	var s, s2 float64
	for _, v := range w {
		s += float64(v)
		s2 += float64(v) * float64(v)
	}
	std := math.Sqrt(s2/float64(len(w)) - (s/float64(len(w)))*(s/float64(len(w))))
	if math.Abs(std-0.02) > 0.002 || math.Abs(float64(ln[0])-1) > 0.1 {
		t.Fatalf("weight std %g, ln %g", std, ln[0])
	}
}
