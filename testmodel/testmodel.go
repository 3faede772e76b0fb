package testmodel

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/safetensors"
)

// Options describe the model to write.
type Options struct {
	Arch  string // "bert" or "xlmr"
	Shape string // "tiny", "small" or "e5-small"
	Seed  uint64
	// Tokenizer is the tokenizer.json to copy. Default: the repository's
	// testdata/tokenizers/wordpiece (tiny bert) or unigram (xlmr, e5-small).
	Tokenizer string
	// Std is the standard deviation of the weight matrices and embedding
	// tables (default 0.02, as BERT's initializer_range). LayerNorm weights
	// are 1 + Std·N(0,1), biases Std·N(0,1).
	Std float64
	// Pooling ("mean" default, or "cls") and Normalize go into the
	// sentence-transformers modules.
	Pooling   model.Pooling
	Normalize bool
	// Prompts go into config_sentence_transformers.json (none: {}).
	Prompts map[string]string
	// DType stores the weights as F32 (default), F16 or BF16.
	DType safetensors.DType
	// Prefix goes in front of every weight name (e.g. "roberta." as in an
	// XLMRobertaForMaskedLM checkpoint). Default: none, as BertModel and
	// XLMRobertaModel save.
	Prefix string
	// Extra tensors that a real checkpoint carries and the loader must
	// skip (the position_ids buffer, an LM head) are written when set.
	Extras bool
	// NoPooler leaves out the BERT pooler (XLMRobertaForMaskedLM has none).
	NoPooler bool
	// MaxSeqLength goes into sentence_bert_config.json. Default: 64 for
	// tiny (half the position table, so truncation by the
	// sentence-transformers setting is exercised), 512 for e5-small.
	MaxSeqLength int
}

// tokInfo is what the model needs from a tokenizer.json.
type tokInfo struct {
	vocab int
	pad   int
}

func readTokInfo(path string) (tokInfo, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return tokInfo{}, err
	}
	var t struct {
		Model struct {
			Vocab json.RawMessage `json:"vocab"`
		} `json:"model"`
		Added []struct {
			ID      int    `json:"id"`
			Content string `json:"content"`
		} `json:"added_tokens"`
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return tokInfo{}, fmt.Errorf("%s: %v", path, err)
	}
	info := tokInfo{pad: -1}
	var list [][2]any
	var dict map[string]int
	if json.Unmarshal(t.Model.Vocab, &list) == nil {
		info.vocab = len(list)
		for i, e := range list {
			if s, _ := e[0].(string); s == "<pad>" {
				info.pad = i
			}
		}
	} else if json.Unmarshal(t.Model.Vocab, &dict) == nil {
		for s, id := range dict {
			info.vocab = max(info.vocab, id+1)
			if s == "[PAD]" || s == "<pad>" {
				info.pad = id
			}
		}
	} else {
		return tokInfo{}, fmt.Errorf("%s: model.vocab is neither a list nor a map", path)
	}
	for _, a := range t.Added {
		info.vocab = max(info.vocab, a.ID+1)
		if a.Content == "<pad>" || a.Content == "[PAD]" {
			info.pad = a.ID
		}
	}
	if info.pad < 0 {
		return tokInfo{}, fmt.Errorf("%s: no <pad> or [PAD] token", path)
	}
	return info, nil
}

// RepoRoot finds the kormed repository root from the working directory
// (the folder holding go.mod), for the default tokenizer paths.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "testdata", "tokenizers")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("kormed repository (testdata/tokenizers) not found above the working directory; pass a tokenizer.json")
		}
		dir = parent
	}
}

// Config returns the config.json a model of this arch and shape gets, for
// a tokenizer of vocab tokens with padding id pad.
func Config(arch, shape string, vocab, pad int) (model.Config, error) {
	var c model.Config
	switch arch {
	case "bert":
		c = model.Config{ModelType: "bert", Architectures: []string{"BertModel"}, TypeVocabSize: 2, LayerNormEps: 1e-12, PadTokenID: pad}
	case "xlmr":
		c = model.Config{ModelType: "xlm-roberta", Architectures: []string{"XLMRobertaModel"}, TypeVocabSize: 1, LayerNormEps: 1e-5, PadTokenID: pad}
	default:
		return c, fmt.Errorf("unknown arch %q (want bert or xlmr)", arch)
	}
	c.HiddenAct, c.PositionEmbeddingType = "gelu", "absolute"
	switch shape {
	case "tiny":
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 32, 2, 4, 64
		c.MaxPositionEmbeddings, c.VocabSize = 128, vocab
	case "small":
		// The demo's model: small enough to train from random weights in
		// minutes on two cores, large enough to learn the drug benchmark.
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 128, 2, 4, 512
		c.MaxPositionEmbeddings, c.VocabSize = 256, vocab
	case "e5-small":
		// intfloat/multilingual-e5-small's config.json: a BertModel with
		// the XLM-R vocabulary, BERT positions, pad_token_id 0.
		c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.IntermediateSize = 384, 12, 12, 1536
		c.MaxPositionEmbeddings, c.VocabSize = 512, 250037
		if arch == "bert" {
			c.PadTokenID = 0
		}
		if vocab > c.VocabSize {
			return c, fmt.Errorf("tokenizer has %d tokens, more than e5-small's %d", vocab, c.VocabSize)
		}
	default:
		return c, fmt.Errorf("unknown shape %q (want tiny, small or e5-small)", shape)
	}
	if arch == "xlmr" {
		c.MaxPositionEmbeddings += pad + 1 // XLM-R: 512 tokens → 514 positions
	}
	return c, nil
}

// Write creates the model folder dir (which may exist) and writes the model.
func Write(dir string, o Options) error {
	if o.Std == 0 {
		o.Std = 0.02
	}
	if o.Pooling == "" {
		o.Pooling = model.PoolMean
	}
	if o.DType == "" {
		o.DType = safetensors.F32
	}
	if o.Tokenizer == "" {
		root, err := RepoRoot()
		if err != nil {
			return err
		}
		kind := "unigram"
		if o.Arch == "bert" && o.Shape == "tiny" {
			kind = "wordpiece"
		}
		o.Tokenizer = filepath.Join(root, "testdata", "tokenizers", kind, "tokenizer.json")
	}
	ti, err := readTokInfo(o.Tokenizer)
	if err != nil {
		return err
	}
	cfg, err := Config(o.Arch, o.Shape, ti.vocab, ti.pad)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tokb, err := os.ReadFile(o.Tokenizer)
	if err != nil {
		return err
	}
	msl := o.MaxSeqLength
	if msl == 0 {
		msl = min(64, cfg.MaxTokens())
		if o.Shape != "tiny" {
			msl = cfg.MaxTokens()
		}
	}
	// tokenizer_config.json names the tokenizer class: without it
	// transformers picks the config's (BertTokenizer for e5-small's bert
	// config), which cannot read a Unigram tokenizer.json.
	tokCfg, tokSpecial, err := model.TokenizerConfig(tokb, msl)
	if err != nil {
		return fmt.Errorf("%s: %v", o.Tokenizer, err)
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{"tokenizer.json", tokb}, {"tokenizer_config.json", tokCfg}, {"special_tokens_map.json", tokSpecial}} {
		if err := atomicfile.WriteBytes(filepath.Join(dir, f.name), f.data); err != nil {
			return err
		}
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	st := &model.STConfig{Pooling: o.Pooling, Normalize: o.Normalize, MaxSeqLength: msl, Prompts: o.Prompts}
	if err := model.WriteSTConfig(dir, st, cfg.HiddenSize); err != nil {
		return err
	}
	return safetensors.Write(filepath.Join(dir, "model.safetensors"), Tensors(cfg, o), map[string]string{"format": "pt"})
}

// Tensors draws the model's weights under their Hugging Face names.
func Tensors(cfg model.Config, o Options) []safetensors.Tensor {
	if o.Std == 0 {
		o.Std = 0.02
	}
	if o.DType == "" {
		o.DType = safetensors.F32
	}
	C, F := cfg.HiddenSize, cfg.IntermediateSize
	var ts []safetensors.Tensor
	prefix := o.Prefix
	add := func(name string, shape []int, kind int) {
		name = prefix + name
		v := randomValues(o.Seed, name, shape, o.Std, kind == lnWeight)
		ts = append(ts, safetensors.Tensor{Name: name, DType: o.DType, Shape: shape, Floats: v})
	}
	add("embeddings.word_embeddings.weight", []int{cfg.VocabSize, C}, matrix)
	add("embeddings.position_embeddings.weight", []int{cfg.MaxPositionEmbeddings, C}, matrix)
	add("embeddings.token_type_embeddings.weight", []int{cfg.TypeVocabSize, C}, matrix)
	add("embeddings.LayerNorm.weight", []int{C}, lnWeight)
	add("embeddings.LayerNorm.bias", []int{C}, bias)
	for l := 0; l < cfg.NumHiddenLayers; l++ {
		p := fmt.Sprintf("encoder.layer.%d.", l)
		for _, n := range []string{"query", "key", "value"} {
			add(p+"attention.self."+n+".weight", []int{C, C}, matrix)
			add(p+"attention.self."+n+".bias", []int{C}, bias)
		}
		add(p+"attention.output.dense.weight", []int{C, C}, matrix)
		add(p+"attention.output.dense.bias", []int{C}, bias)
		add(p+"attention.output.LayerNorm.weight", []int{C}, lnWeight)
		add(p+"attention.output.LayerNorm.bias", []int{C}, bias)
		add(p+"intermediate.dense.weight", []int{F, C}, matrix)
		add(p+"intermediate.dense.bias", []int{F}, bias)
		add(p+"output.dense.weight", []int{C, F}, matrix)
		add(p+"output.dense.bias", []int{C}, bias)
		add(p+"output.LayerNorm.weight", []int{C}, lnWeight)
		add(p+"output.LayerNorm.bias", []int{C}, bias)
	}
	if !o.NoPooler {
		add("pooler.dense.weight", []int{C, C}, matrix)
		add("pooler.dense.bias", []int{C}, bias)
	}
	if o.Extras {
		pos := make([]int64, cfg.MaxPositionEmbeddings)
		for i := range pos {
			pos[i] = int64(i)
		}
		ts = append(ts, safetensors.Tensor{Name: o.Prefix + "embeddings.position_ids", DType: safetensors.I64, Shape: []int{1, len(pos)}, Ints: pos})
		// An LM head outside the encoder prefix, as in *ForMaskedLM.
		prefix = ""
		add("lm_head.dense.weight", []int{C, C}, matrix)
		add("lm_head.bias", []int{cfg.VocabSize}, bias)
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}

const (
	matrix = iota
	bias
	lnWeight
)

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, append(b, '\n'))
}

// randomValues draws a tensor's values from N(0, std²) — plus 1 for a norm
// weight (one) — from a stream seeded by seed and the tensor's name, so a
// tensor's values do not depend on which other tensors a model has.
func randomValues(seed uint64, name string, shape []int, std float64, one bool) []float32 {
	n := 1
	for _, d := range shape {
		n *= d
	}
	h := fnv.New64a()
	h.Write([]byte(name))
	r := rand.New(rand.NewPCG(seed, h.Sum64()))
	v := make([]float32, n)
	for i := range v {
		x := std * r.NormFloat64()
		if one {
			x++
		}
		v[i] = float32(x)
	}
	return v
}
