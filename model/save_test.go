package model_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// weightSlices lists every parameter array of w with a name, in a fixed order.
func weightSlices(w *model.Weights) ([]string, [][]float32) {
	names := []string{"WordEmb", "PosEmb", "TypeEmb", "EmbLNW", "EmbLNB", "PoolerW", "PoolerB"}
	vals := [][]float32{w.WordEmb, w.PosEmb, w.TypeEmb, w.EmbLNW, w.EmbLNB, w.PoolerW, w.PoolerB}
	for l := range w.Layers {
		L := &w.Layers[l]
		for i, v := range [][]float32{L.QKVWT, L.QKVB, L.AttnOutWT, L.AttnOutB, L.AttnLNW, L.AttnLNB, L.InterWT, L.InterB, L.OutWT, L.OutB, L.OutLNW, L.OutLNB} {
			names = append(names, fmt.Sprintf("layer %d field %d", l, i))
			vals = append(vals, v)
		}
	}
	return names, vals
}

// sameWeights fails unless a and b hold the same parameters bit for bit.
func sameWeights(t *testing.T, a, b *model.Weights) {
	t.Helper()
	na, va := weightSlices(a)
	_, vb := weightSlices(b)
	if len(va) != len(vb) {
		t.Fatalf("%d parameter arrays, want %d", len(vb), len(va))
	}
	for i := range va {
		if len(va[i]) != len(vb[i]) {
			t.Fatalf("%s: %d values, want %d", na[i], len(vb[i]), len(va[i]))
		}
		for j := range va[i] {
			if math.Float32bits(va[i][j]) != math.Float32bits(vb[i][j]) {
				t.Fatalf("%s[%d] = %g, want %g", na[i], j, vb[i][j], va[i][j])
			}
		}
	}
}

// perturb changes every parameter by a small deterministic amount, so a
// Save that wrote the source's weights instead of the model's shows.
func perturb(w *model.Weights) {
	_, vals := weightSlices(w)
	for i, v := range vals {
		for j := range v {
			v[j] += float32((i*31+j*7)%13-6) * 1e-3
		}
	}
}

func readJSON(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return m
}

func fixtureTexts(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "oracle", "fixture_texts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var texts []string
	if err := json.Unmarshal(b, &texts); err != nil {
		t.Fatal(err)
	}
	return texts
}

// TestTensorsLayout checks Tensors against the checkpoint files
// themselves: tiny-bert's model.safetensors is what BertModel saves (F32,
// no prefix), so every encoder tensor must come back with its name, shape
// and bits; tiny-xlmr's is F16 under "roberta." with an LM head. Reading
// Tensors back with LoadWeights gives the weights bit for bit.
func TestTensorsLayout(t *testing.T) {
	for _, c := range []struct{ name, prefix string }{{"tiny-bert", ""}, {"tiny-xlmr", "roberta."}} {
		t.Run(c.name, func(t *testing.T) {
			enc, _, err := model.LoadEncoder(tiny(c.name))
			if err != nil {
				t.Fatal(err)
			}
			src, err := safetensors.OpenDir(tiny(c.name))
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			ts := enc.W.Tensors(&enc.Cfg)
			var names []string
			for _, x := range ts {
				names = append(names, x.Name)
				if x.DType != safetensors.F32 {
					t.Errorf("%s: dtype %s", x.Name, x.DType)
				}
				info, ok := src.Info(c.prefix + x.Name)
				if !ok {
					t.Errorf("%s: not in the source checkpoint", x.Name)
					continue
				}
				if !reflect.DeepEqual(info.Shape, x.Shape) {
					t.Errorf("%s: shape %v, checkpoint %v", x.Name, x.Shape, info.Shape)
				}
				want, err := src.Float32(c.prefix+x.Name, nil)
				if err != nil {
					t.Fatal(err)
				}
				for i := range want {
					if math.Float32bits(want[i]) != math.Float32bits(x.Floats[i]) {
						t.Fatalf("%s[%d] = %g, checkpoint %g", x.Name, i, x.Floats[i], want[i])
					}
				}
			}
			if !sort.StringsAreSorted(names) {
				t.Error("tensors not sorted by name")
			}
			// Every encoder tensor of the checkpoint (not the position_ids
			// buffer, not the LM head) is written.
			n := 0
			for _, name := range src.Names() {
				if strings.HasPrefix(name, c.prefix) && name != c.prefix+"embeddings.position_ids" && !strings.HasPrefix(name, "lm_head.") {
					n++
				}
			}
			if n != len(ts) || n != 5+16*enc.Cfg.NumHiddenLayers+map[bool]int{true: 2}[enc.W.PoolerW != nil] {
				t.Errorf("%d tensors, checkpoint has %d encoder tensors", len(ts), n)
			}

			// Round trip through a file.
			p := filepath.Join(t.TempDir(), "model.safetensors")
			if err := safetensors.Write(p, ts, nil); err != nil {
				t.Fatal(err)
			}
			r, err := safetensors.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			w, err := model.LoadWeights(r, &enc.Cfg)
			if err != nil {
				t.Fatal(err)
			}
			sameWeights(t, enc.W, w)
		})
	}
}

// TestSaveRoundTrip saves changed tiny models and loads them back: the
// same weights and settings bit for bit, the same embeddings, and files
// with the contents sentence-transformers and transformers read.
func TestSaveRoundTrip(t *testing.T) {
	ctx := context.Background()
	texts := fixtureTexts(t)
	for _, name := range []string{"tiny-bert", "tiny-xlmr"} {
		t.Run(name, func(t *testing.T) {
			src := copyDir(t, tiny(name), name)
			editJSON(t, filepath.Join(src, "config.json"), func(m map[string]any) {
				m["initializer_range"] = 0.02
				m["custom"] = map[string]any{"kept": true}
				m["torch_dtype"] = "float16"
				if name == "tiny-xlmr" {
					m["architectures"] = []string{"XLMRobertaForMaskedLM"}
				}
			})
			m, err := model.Load(src)
			if err != nil {
				t.Fatal(err)
			}
			before, _ := m.Encode(ctx, texts[:2])
			perturb(m.Enc.W)
			m.QueryPrefix, m.PassagePrefix = "질문: ", "문서: "
			m.MaxLength = 48
			out := filepath.Join(t.TempDir(), "saved")
			if err := m.Save(out, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			s, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			sameWeights(t, m.Enc.W, s.Enc.W)
			if s.Pooling != m.Pooling || s.Normalize != m.Normalize || s.QueryPrefix != m.QueryPrefix ||
				s.PassagePrefix != m.PassagePrefix || s.MaxLength != m.MaxLength || s.Dim() != m.Dim() {
				t.Fatalf("settings: saved %+v, loaded %+v", m, s)
			}
			c1, c2 := m.Enc.Cfg, s.Enc.Cfg
			if c1.Positions() != c2.Positions() || c1.MaxTokens() != c2.MaxTokens() || c1.VocabSize != c2.VocabSize ||
				c1.LayerNormEps != c2.LayerNormEps || c1.PadTokenID != c2.PadTokenID || c1.TypeVocabSize != c2.TypeVocabSize {
				t.Fatalf("config: %+v, loaded %+v", c1, c2)
			}
			want, err := m.EncodePassages(ctx, texts)
			if err != nil {
				t.Fatal(err)
			}
			got, err := s.EncodePassages(ctx, texts)
			if err != nil {
				t.Fatal(err)
			}
			for i := range want {
				for j := range want[i] {
					if math.Float32bits(want[i][j]) != math.Float32bits(got[i][j]) {
						t.Fatalf("text %d dim %d: loaded %g, saved %g", i, j, got[i][j], want[i][j])
					}
				}
			}
			if after, _ := s.Encode(ctx, texts[:2]); maxDiff(before[0], after[0]) == 0 {
				t.Fatal("the saved model embeds like the unchanged source: changed weights not saved")
			}

			// config.json: the source's keys kept, the encoder's architecture.
			cfg := readJSON(t, filepath.Join(out, "config.json"))
			arch := map[string]string{"tiny-bert": "BertModel", "tiny-xlmr": "XLMRobertaModel"}[name]
			if !reflect.DeepEqual(cfg["architectures"], []any{arch}) || cfg["torch_dtype"] != "float32" || cfg["dtype"] != "float32" ||
				cfg["initializer_range"] != 0.02 || !reflect.DeepEqual(cfg["custom"], map[string]any{"kept": true}) ||
				cfg["hidden_size"] != 32.0 || cfg["num_hidden_layers"] != 2.0 {
				t.Errorf("config.json: %v", cfg)
			}
			tj, _ := os.ReadFile(filepath.Join(src, "tokenizer.json"))
			sj, _ := os.ReadFile(filepath.Join(out, "tokenizer.json"))
			if !bytes.Equal(tj, sj) {
				t.Error("tokenizer.json changed")
			}
			r, err := safetensors.OpenDir(out)
			if err != nil {
				t.Fatal(err)
			}
			if md := r.Metadata(); !reflect.DeepEqual(md, map[string]string{"format": "pt"}) {
				t.Errorf("model.safetensors metadata %v", md)
			}
			r.Close()

			// The sentence-transformers files.
			checkSTFiles(t, out, stWant{dim: 32, pooling: m.Pooling, normalize: m.Normalize, maxSeq: 48,
				prompts: map[string]any{"query": "질문: ", "document": "문서: ", "passage": "문서: "}})
			// The source's tokenizer files are written back unchanged.
			for _, f := range []string{"tokenizer_config.json", "special_tokens_map.json"} {
				a, err := os.ReadFile(filepath.Join(src, f))
				if err != nil {
					t.Fatal(err)
				}
				if b, _ := os.ReadFile(filepath.Join(out, f)); !bytes.Equal(a, b) {
					t.Errorf("%s changed", f)
				}
			}
			class := map[string]string{"tiny-bert": "BertTokenizer", "tiny-xlmr": "XLMRobertaTokenizer"}[name]
			if tc := readJSON(t, filepath.Join(out, "tokenizer_config.json")); tc["tokenizer_class"] != class {
				t.Errorf("tokenizer_config.json: %v", tc)
			}
			if _, err := os.Stat(filepath.Join(out, "README.md")); err != nil {
				t.Error(err)
			}
			// Nothing but the saved folder is left in its parent.
			if ents, _ := os.ReadDir(filepath.Dir(out)); len(ents) != 1 {
				t.Errorf("parent holds %d entries, want only the saved folder", len(ents))
			}
		})
	}
}

type stWant struct {
	dim       int
	pooling   model.Pooling
	normalize bool
	maxSeq    int
	prompts   map[string]any
}

// checkSTFiles checks the sentence-transformers files of dir key by key
// against what sentence-transformers' SentenceTransformer.save writes and
// _load_sbert_model reads.
func checkSTFiles(t *testing.T, dir string, w stWant) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "modules.json"))
	if err != nil {
		t.Fatal(err)
	}
	var mods []map[string]any
	if err := json.Unmarshal(b, &mods); err != nil {
		t.Fatal(err)
	}
	wantMods := []map[string]any{
		{"idx": 0.0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
		{"idx": 1.0, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
	}
	if w.normalize {
		wantMods = append(wantMods, map[string]any{"idx": 2.0, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"})
	}
	if !reflect.DeepEqual(mods, wantMods) {
		t.Errorf("modules.json: %v", mods)
	}
	if fi, err := os.Stat(filepath.Join(dir, "2_Normalize")); w.normalize != (err == nil && fi.IsDir()) {
		t.Errorf("2_Normalize folder present: %v, want %v", err == nil, w.normalize)
	}
	pool := readJSON(t, filepath.Join(dir, "1_Pooling", "config.json"))
	wantPool := map[string]any{
		"word_embedding_dimension":          float64(w.dim),
		"pooling_mode_cls_token":            w.pooling == model.PoolCLS,
		"pooling_mode_mean_tokens":          w.pooling == model.PoolMean,
		"pooling_mode_max_tokens":           false,
		"pooling_mode_mean_sqrt_len_tokens": false,
		"pooling_mode_weightedmean_tokens":  false,
		"pooling_mode_lasttoken":            false,
		"include_prompt":                    true,
	}
	if !reflect.DeepEqual(pool, wantPool) {
		t.Errorf("1_Pooling/config.json: %v", pool)
	}
	if sb := readJSON(t, filepath.Join(dir, "sentence_bert_config.json")); !reflect.DeepEqual(sb, map[string]any{"max_seq_length": float64(w.maxSeq), "do_lower_case": false}) {
		t.Errorf("sentence_bert_config.json: %v", sb)
	}
	cst := readJSON(t, filepath.Join(dir, "config_sentence_transformers.json"))
	wantCST := map[string]any{"model_type": "SentenceTransformer", "prompts": w.prompts, "default_prompt_name": nil, "similarity_fn_name": "cosine"}
	if !reflect.DeepEqual(cst, wantCST) {
		t.Errorf("config_sentence_transformers.json: %v", cst)
	}
}

// TestSaveDPR saves a DPR question encoder (model_type dpr, weights under
// question_encoder.bert_model., CLS pooling, no sentence-transformers
// files) as the bare BertModel with a CLS Pooling module.
func TestSaveDPR(t *testing.T) {
	d := filepath.Join(t.TempDir(), "dpr")
	if err := testmodel.Write(d, testmodel.Options{Arch: "bert", Shape: "tiny", Seed: 5, Prefix: "question_encoder.bert_model.", NoPooler: true}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"modules.json", "sentence_bert_config.json", "config_sentence_transformers.json", "tokenizer_config.json", "special_tokens_map.json"} {
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
	out := filepath.Join(t.TempDir(), "bert")
	if err := m.Save(out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	cfg := readJSON(t, filepath.Join(out, "config.json"))
	if cfg["model_type"] != "bert" || !reflect.DeepEqual(cfg["architectures"], []any{"BertModel"}) || cfg["projection_dim"] != 0.0 {
		t.Fatalf("config.json: %v", cfg)
	}
	s, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if s.Pooling != model.PoolCLS || s.Normalize || s.Enc.Cfg.ModelType != "bert" || s.MaxLength != 128 {
		t.Fatalf("loaded %+v", s)
	}
	// The source had no tokenizer_config.json: the generated one.
	if tc := readJSON(t, filepath.Join(out, "tokenizer_config.json")); tc["tokenizer_class"] != "BertTokenizer" || tc["model_max_length"] != 128.0 || tc["do_lower_case"] != false {
		t.Errorf("tokenizer_config.json: %v", tc)
	}
	if sm := readJSON(t, filepath.Join(out, "special_tokens_map.json")); len(sm) != 5 || sm["mask_token"] == nil {
		t.Errorf("special_tokens_map.json: %v", sm)
	}
	sameWeights(t, m.Enc.W, s.Enc.W)
	checkSTFiles(t, out, stWant{dim: 32, pooling: model.PoolCLS, maxSeq: 128, prompts: map[string]any{"query": "", "document": "", "passage": ""}})
	r, _ := safetensors.OpenDir(out)
	defer r.Close()
	for _, n := range r.Names() {
		if strings.HasPrefix(n, "question_encoder") || strings.HasPrefix(n, "pooler") {
			t.Errorf("saved tensor %s", n)
		}
	}
}

// TestSaveReplace saves over an existing model folder (which is replaced
// completely), refuses folders that are not model folders, and leaves the
// folder untouched when saving fails.
func TestSaveReplace(t *testing.T) {
	m, err := model.Load(copyDir(t, tiny("tiny-xlmr"), "src"))
	if err != nil {
		t.Fatal(err)
	}
	parent := t.TempDir()
	out := filepath.Join(parent, "out")
	if err := m.Save(out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(out, "stale.txt"), []byte("old"), 0o644)
	m.Normalize = false
	perturb(m.Enc.W)
	if err := m.Save(out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"stale.txt", "2_Normalize"} {
		if _, err := os.Stat(filepath.Join(out, f)); err == nil {
			t.Errorf("%s survived the replacement", f)
		}
	}
	s, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	sameWeights(t, m.Enc.W, s.Enc.W)
	if s.Normalize {
		t.Error("replaced folder still normalises")
	}
	saved, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))

	// A failing save (weights that do not match the config) leaves the
	// folder as it was and no temporary folders behind.
	good := m.Enc.W.WordEmb
	m.Enc.W.WordEmb = good[:len(good)-1]
	if err := m.Save(out, model.SaveOptions{}); err == nil {
		t.Fatal("save with a short embedding table succeeded")
	}
	m.Enc.W.WordEmb = good
	m.Pooling = model.PoolPooler
	if err := m.Save(out, model.SaveOptions{}); err == nil || !strings.Contains(err.Error(), "pooler") {
		t.Fatalf("pooler pooling: %v", err)
	}
	m.Pooling = model.PoolMean
	if now, _ := os.ReadFile(filepath.Join(out, "model.safetensors")); !bytes.Equal(now, saved) {
		t.Error("a failed save changed the folder")
	}
	if ents, _ := os.ReadDir(parent); len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("parent holds %v after a failed save", names)
	}

	// Folders that are not model folders, and files, are not replaced.
	notes := filepath.Join(parent, "notes")
	os.MkdirAll(notes, 0o755)
	os.WriteFile(filepath.Join(notes, "todo.txt"), []byte("keep"), 0o644)
	if err := m.Save(notes, model.SaveOptions{}); err == nil || !strings.Contains(err.Error(), "not a model folder") {
		t.Fatalf("save over a non-model folder: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(notes, "todo.txt")); string(b) != "keep" {
		t.Fatal("non-model folder changed")
	}
	file := filepath.Join(parent, "file")
	os.WriteFile(file, []byte("x"), 0o644)
	if err := m.Save(file, model.SaveOptions{}); err == nil {
		t.Fatal("save over a file succeeded")
	}
	// Saving over the folder the model was loaded from.
	src := copyDir(t, tiny("tiny-bert"), "inplace")
	b, err := model.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	perturb(b.Enc.W)
	if err := b.Save(src, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	if s, err := model.Load(src); err != nil {
		t.Fatal(err)
	} else {
		sameWeights(t, b.Enc.W, s.Enc.W)
	}
	// An empty folder is fine.
	empty := filepath.Join(parent, "empty")
	os.MkdirAll(empty, 0o755)
	if err := m.Save(empty, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	// A model not read by Load has no tokenizer files to write.
	bare := &model.Model{Enc: m.Enc, Tok: m.Tok, Pooling: model.PoolMean, MaxLength: 16}
	if err := bare.Save(filepath.Join(parent, "bare"), model.SaveOptions{}); err == nil || !strings.Contains(err.Error(), "tokenizer.json") {
		t.Fatalf("bare model: %v", err)
	}
}

// TestTokenizerConfig checks the generated tokenizer_config.json and
// special_tokens_map.json of the three test tokenizers against the layouts
// transformers writes for intfloat/multilingual-e5-small (XLMRobertaTokenizer)
// and klue/bert-base (BertTokenizer, cased).
func TestTokenizerConfig(t *testing.T) {
	dec := func(content string, lstrip bool) map[string]any {
		return map[string]any{"content": content, "lstrip": lstrip, "normalized": false, "rstrip": false, "single_word": false, "special": true}
	}
	tok := func(content string, lstrip bool) map[string]any {
		return map[string]any{"content": content, "lstrip": lstrip, "normalized": false, "rstrip": false, "single_word": false}
	}
	bertCfg := func(lower bool) map[string]any {
		return map[string]any{
			"added_tokens_decoder":         map[string]any{"0": dec("[PAD]", false), "1": dec("[UNK]", false), "2": dec("[CLS]", false), "3": dec("[SEP]", false), "4": dec("[MASK]", false)},
			"clean_up_tokenization_spaces": true, "cls_token": "[CLS]", "do_basic_tokenize": true, "do_lower_case": lower,
			"mask_token": "[MASK]", "model_max_length": 512.0, "never_split": nil, "pad_token": "[PAD]", "sep_token": "[SEP]",
			"strip_accents": nil, "tokenize_chinese_chars": true, "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]",
		}
	}
	bertMap := map[string]any{"cls_token": tok("[CLS]", false), "mask_token": tok("[MASK]", false), "pad_token": tok("[PAD]", false), "sep_token": tok("[SEP]", false), "unk_token": tok("[UNK]", false)}
	cases := []struct {
		name         string
		cfg, special map[string]any
	}{
		{"unigram", map[string]any{
			"added_tokens_decoder": map[string]any{"0": dec("<s>", false), "1": dec("<pad>", false), "2": dec("</s>", false), "3": dec("<unk>", false), "3001": dec("<mask>", true)},
			"bos_token":            "<s>", "clean_up_tokenization_spaces": true, "cls_token": "<s>", "eos_token": "</s>", "mask_token": "<mask>",
			"model_max_length": 512.0, "pad_token": "<pad>", "sep_token": "</s>", "sp_model_kwargs": map[string]any{},
			"tokenizer_class": "XLMRobertaTokenizer", "unk_token": "<unk>",
		}, map[string]any{"bos_token": tok("<s>", false), "cls_token": tok("<s>", false), "eos_token": tok("</s>", false), "mask_token": tok("<mask>", true),
			"pad_token": tok("<pad>", false), "sep_token": tok("</s>", false), "unk_token": tok("<unk>", false)}},
		{"wordpiece", bertCfg(false), bertMap},
		{"wordpiece_uncased", bertCfg(true), bertMap}, // BertProcessing post-processor
	}
	for _, c := range cases {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizers", c.name, "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		cfg, special, err := model.TokenizerConfig(b, 512)
		if err != nil {
			t.Fatal(err)
		}
		var gc, gs map[string]any
		json.Unmarshal(cfg, &gc)
		json.Unmarshal(special, &gs)
		if !reflect.DeepEqual(gc, c.cfg) {
			t.Errorf("%s: tokenizer_config.json\n%s", c.name, cfg)
		}
		if !reflect.DeepEqual(gs, c.special) {
			t.Errorf("%s: special_tokens_map.json\n%s", c.name, special)
		}
	}
	for _, bad := range []string{`{"model":{"type":"BPE","vocab":{}}}`, `{"model":{"type":"WordPiece","vocab":{"a":0}}}`, `[`} {
		if _, _, err := model.TokenizerConfig([]byte(bad), 8); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// TestTestmodelTokenizerFiles checks that kormed testmodel writes the
// tokenizer class transformers needs (XLMRobertaTokenizer for the Unigram
// tokenizer of e5-small-style models, whose config says bert) and the same
// sentence-transformers files as Save.
func TestTestmodelTokenizerFiles(t *testing.T) {
	for _, c := range []struct{ arch, class string }{{"bert", "BertTokenizer"}, {"xlmr", "XLMRobertaTokenizer"}} {
		d := t.TempDir()
		o := testmodel.Options{Arch: c.arch, Shape: "tiny", Seed: 1, Normalize: true, Prompts: map[string]string{"query": "query: "}}
		if c.arch == "bert" {
			// e5-small's combination: a bert config with a Unigram tokenizer.
			o.Tokenizer = filepath.Join("..", "testdata", "tokenizers", "unigram", "tokenizer.json")
			c.class = "XLMRobertaTokenizer"
		}
		if err := testmodel.Write(d, o); err != nil {
			t.Fatal(err)
		}
		if tc := readJSON(t, filepath.Join(d, "tokenizer_config.json")); tc["tokenizer_class"] != c.class || tc["model_max_length"] != 64.0 {
			t.Errorf("%s: tokenizer_config.json %v", c.arch, tc)
		}
		if sm := readJSON(t, filepath.Join(d, "special_tokens_map.json")); sm["unk_token"] == nil {
			t.Errorf("%s: special_tokens_map.json %v", c.arch, sm)
		}
		checkSTFiles(t, d, stWant{dim: 32, pooling: model.PoolMean, normalize: true, maxSeq: 64, prompts: map[string]any{"query": "query: "}})
	}
	d := t.TempDir()
	if err := testmodel.Write(d, testmodel.Options{Arch: "bert", Shape: "tiny", Seed: 1}); err != nil {
		t.Fatal(err)
	}
	if tc := readJSON(t, filepath.Join(d, "tokenizer_config.json")); tc["tokenizer_class"] != "BertTokenizer" || tc["do_lower_case"] != false {
		t.Errorf("wordpiece: tokenizer_config.json %v", tc)
	}
}

// TestModelCard checks the README.md front matter and sections.
func TestModelCard(t *testing.T) {
	m, err := model.Load(copyDir(t, tiny("tiny-xlmr"), "src"))
	if err != nil {
		t.Fatal(err)
	}
	m.QueryPrefix, m.PassagePrefix = "query: ", "passage: "
	out := filepath.Join(t.TempDir(), "kormed-e5-drug")
	o := model.SaveOptions{
		BaseModel: "intfloat/multilingual-e5-small", Language: "ko", License: "mit",
		Recipe:   "Stage 1: MultipleNegativesRankingLoss, lr 2e-5, 1 epoch.",
		Data:     []string{"Korean drug records (MIT, Copyright (c) 2025 Yoon Y. Yoo)"},
		Datasets: []string{"kormed/drugs"},
		Metrics:  []model.CardMetric{{Dataset: "drugbench | test", Name: "nDCG@10", Value: 0.81234}},
		Tags:     []string{"medical", "yes", "kormed"},
	}
	if err := m.Save(out, o); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	card := string(b)
	front := "---\nbase_model: intfloat/multilingual-e5-small\ndatasets:\n- kormed/drugs\nlanguage:\n- ko\nlibrary_name: sentence-transformers\nlicense: mit\n" +
		"pipeline_tag: sentence-similarity\ntags:\n- sentence-transformers\n- sentence-similarity\n- feature-extraction\n- dense\n- kormed\n- medical\n- \"yes\"\n---\n"
	if !strings.HasPrefix(card, front) {
		t.Errorf("front matter:\n%s", card[:min(len(card), 600)])
	}
	for _, want := range []string{
		"# kormed-e5-drug\n",
		"fine-tuned from [intfloat/multilingual-e5-small](https://huggingface.co/intfloat/multilingual-e5-small)",
		"32-dimensional",
		"- **Maximum sequence length:** 64 tokens",
		"(1): Pooling({'word_embedding_dimension': 32, 'pooling_mode_cls_token': False, 'pooling_mode_mean_tokens': True,",
		"(2): Normalize()",
		`model = SentenceTransformer("kormed-e5-drug")`,
		"model.encode_query([",
		"model.encode_document([",
		"타이레놀",
		"kormed embed --model kormed-e5-drug --input queries.txt --as query",
		"## Training\n\nStage 1: MultipleNegativesRankingLoss, lr 2e-5, 1 epoch.\n",
		"## Training data\n\n- Korean drug records (MIT, Copyright (c) 2025 Yoon Y. Yoo)\n",
		"| drugbench \\| test | nDCG@10 | 0.8123 |\n",
	} {
		if !strings.Contains(card, want) {
			t.Errorf("card lacks %q", want)
		}
	}
	if strings.Count(card, "- kormed\n") != 1 {
		t.Error("repeated tag")
	}
}

// TestSaveOracle saves changed tiny models and has oracle/reference.py
// (PyTorch, transformers' BertModel/XLMRobertaModel op for op, the
// sentence-transformers modules from modules.json) check the folder's
// layout and embed the fixture texts from it: its embeddings must equal
// kormed's of the loaded folder.
func TestSaveOracle(t *testing.T) {
	oracleAvailable(t)
	texts := fixtureTexts(t)
	tpath := filepath.Join(t.TempDir(), "texts.json")
	tb, _ := json.Marshal(texts)
	os.WriteFile(tpath, tb, 0o644)
	for _, name := range []string{"tiny-bert", "tiny-xlmr"} {
		t.Run(name, func(t *testing.T) {
			m, err := model.Load(copyDir(t, tiny(name), name))
			if err != nil {
				t.Fatal(err)
			}
			perturb(m.Enc.W)
			if name == "tiny-bert" {
				m.Pooling, m.Normalize = model.PoolMean, true
			}
			out := filepath.Join(t.TempDir(), "saved")
			if err := m.Save(out, model.SaveOptions{Language: "ko"}); err != nil {
				t.Fatal(err)
			}
			fx := filepath.Join(t.TempDir(), "oracle.safetensors")
			cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "oracle", "reference.py"), "--check-layout",
				"--model", out, "--texts", tpath, "--out", fx, "--threads", "1")
			if b, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("oracle: %v\n%s", err, b)
			}
			s, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			r, err := safetensors.Open(fx)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			in, _ := r.Info("input_ids")
			T := in.Shape[1]
			ids, _ := r.Int32("input_ids", nil)
			encs, err := s.Tokenize(texts, "")
			if err != nil {
				t.Fatal(err)
			}
			for b, e := range encs {
				for j, id := range e.IDs {
					if ids[b*T+j] != id {
						t.Fatalf("text %d: kormed ids %v differ from the reference tokenizer's at %d", b, e.IDs, j)
					}
				}
			}
			got, err := s.Encode(context.Background(), texts)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := r.Float32("embedding", nil)
			D, worst := s.Dim(), 0.0
			for i, v := range got {
				worst = math.Max(worst, maxDiff(v, want[i*D:(i+1)*D]))
			}
			if worst > 1e-5 {
				t.Fatalf("embeddings of the saved folder differ from PyTorch's by %g", worst)
			}
			t.Logf("%s saved: max |kormed - torch| = %.3g", name, worst)
		})
	}
}

// FuzzTokenizerConfig: no tokenizer.json makes TokenizerConfig panic, and
// what it accepts gives JSON objects.
func FuzzTokenizerConfig(f *testing.F) {
	for _, k := range []string{"unigram", "wordpiece", "wordpiece_uncased"} {
		b, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizers", k, "tokenizer.json"))
		if err != nil {
			f.Fatal(err)
		}
		var tj map[string]json.RawMessage
		json.Unmarshal(b, &tj)
		// Small seeds: the real files without most of the vocabulary.
		for _, key := range []string{"normalizer", "post_processor", "added_tokens"} {
			small := map[string]json.RawMessage{key: tj[key]}
			small["model"] = json.RawMessage(`{"type":"WordPiece","unk_token":"[UNK]","vocab":{"[UNK]":0,"[CLS]":1,"[SEP]":2}}`)
			sb, _ := json.Marshal(small)
			f.Add(sb)
		}
	}
	f.Add([]byte(`{"model":{"type":"Unigram","unk_id":5,"vocab":[["<unk>",0],["a"]]}}`))
	f.Add([]byte(`{"model":{"type":"Unigram","unk_id":-1,"vocab":[[1,2]]},"post_processor":{"type":"Sequence","processors":[{"type":"BertProcessing","cls":["<s>"],"sep":1}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, s, err := model.TokenizerConfig(b, 16)
		if err != nil {
			return
		}
		var m1, m2 map[string]any
		if json.Unmarshal(c, &m1) != nil || json.Unmarshal(s, &m2) != nil || m1["tokenizer_class"] == nil {
			t.Fatalf("bad output %s %s", c, s)
		}
	})
}
