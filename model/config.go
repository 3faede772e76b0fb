package model

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Config is the part of a Hugging Face config.json the encoder needs.
type Config struct {
	ModelType             string   `json:"model_type"`
	Architectures         []string `json:"architectures"`
	VocabSize             int      `json:"vocab_size"`
	HiddenSize            int      `json:"hidden_size"`
	NumHiddenLayers       int      `json:"num_hidden_layers"`
	NumAttentionHeads     int      `json:"num_attention_heads"`
	IntermediateSize      int      `json:"intermediate_size"`
	MaxPositionEmbeddings int      `json:"max_position_embeddings"`
	TypeVocabSize         int      `json:"type_vocab_size"`
	LayerNormEps          float64  `json:"layer_norm_eps"`
	HiddenAct             string   `json:"hidden_act"`
	PadTokenID            int      `json:"pad_token_id"`
	PositionEmbeddingType string   `json:"position_embedding_type"`
	NameOrPath            string   `json:"_name_or_path,omitempty"`
	ProjectionDim         int      `json:"projection_dim,omitempty"` // DPR only

	// raw is the config.json object as read, so that Save keeps every key
	// the source had (nil for a Config built in code).
	raw json.RawMessage
}

// Positions says how position ids are numbered.
type Positions int

const (
	// BERTPositions numbers positions 0, 1, …, T-1 (BERT, multilingual-e5).
	BERTPositions Positions = iota
	// RoBERTaPositions numbers non-padding tokens from pad_token_id+1 and
	// gives padding pad_token_id (RoBERTa, XLM-R:
	// create_position_ids_from_input_ids).
	RoBERTaPositions
)

// Positions reports the position numbering implied by the model type.
func (c *Config) Positions() Positions {
	switch c.ModelType {
	case "xlm-roberta", "roberta", "camembert":
		return RoBERTaPositions
	}
	return BERTPositions
}

// MaxTokens is the longest sequence the position table allows.
func (c *Config) MaxTokens() int {
	if c.Positions() == RoBERTaPositions {
		return c.MaxPositionEmbeddings - c.PadTokenID - 1
	}
	return c.MaxPositionEmbeddings
}

// ReadConfig reads and validates a config.json.
func ReadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	// Defaults of transformers' BertConfig for keys a config may omit.
	c := Config{LayerNormEps: 1e-12, HiddenAct: "gelu", TypeVocabSize: 2, PositionEmbeddingType: "absolute"}
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: bad JSON: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.raw = b
	return &c, nil
}

func (c *Config) validate() error {
	switch c.ModelType {
	case "bert", "xlm-roberta", "roberta", "dpr":
	case "distilbert":
		return errors.New(`model_type "distilbert" is unsupported (no token types, different weight names); use a BERT or XLM-RoBERTa encoder`)
	case "":
		return errors.New("model_type missing")
	default:
		return fmt.Errorf("model_type %q is unsupported: kormed runs BERT and XLM-RoBERTa encoders (bert, xlm-roberta, roberta)", c.ModelType)
	}
	for _, a := range c.Architectures {
		ok := false
		for _, p := range []string{"Bert", "XLMRoberta", "Roberta", "DPR"} {
			if strings.HasPrefix(a, p) {
				ok = true
			}
		}
		if !ok {
			return fmt.Errorf("architecture %q is unsupported (want a Bert*, XLMRoberta*, Roberta* or DPR* encoder)", a)
		}
	}
	switch {
	case c.HiddenSize <= 0:
		return fmt.Errorf("hidden_size %d", c.HiddenSize)
	case c.NumHiddenLayers <= 0:
		return fmt.Errorf("num_hidden_layers %d", c.NumHiddenLayers)
	case c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0:
		return fmt.Errorf("num_attention_heads %d does not divide hidden_size %d", c.NumAttentionHeads, c.HiddenSize)
	case c.IntermediateSize <= 0:
		return fmt.Errorf("intermediate_size %d", c.IntermediateSize)
	case c.VocabSize <= 0:
		return fmt.Errorf("vocab_size %d", c.VocabSize)
	case c.MaxPositionEmbeddings <= 0:
		return fmt.Errorf("max_position_embeddings %d", c.MaxPositionEmbeddings)
	case c.TypeVocabSize <= 0:
		return fmt.Errorf("type_vocab_size %d", c.TypeVocabSize)
	case c.LayerNormEps <= 0:
		return fmt.Errorf("layer_norm_eps %g", c.LayerNormEps)
	}
	if c.ProjectionDim > 0 {
		return fmt.Errorf("projection_dim %d (a DPR projection layer) is unsupported", c.ProjectionDim)
	}
	if c.HiddenAct != "gelu" {
		return fmt.Errorf("hidden_act %q is unsupported (only the exact erf \"gelu\")", c.HiddenAct)
	}
	if c.PositionEmbeddingType != "absolute" && c.PositionEmbeddingType != "" {
		return fmt.Errorf("position_embedding_type %q is unsupported (only \"absolute\")", c.PositionEmbeddingType)
	}
	if c.Positions() == RoBERTaPositions && c.MaxTokens() <= 0 {
		return fmt.Errorf("max_position_embeddings %d leaves no positions after pad_token_id %d", c.MaxPositionEmbeddings, c.PadTokenID)
	}
	return nil
}

// Pooling is how token vectors become one sentence vector.
type Pooling string

const (
	PoolMean   Pooling = "mean"   // mask-aware mean over tokens
	PoolCLS    Pooling = "cls"    // the first token's vector
	PoolPooler Pooling = "pooler" // BERT pooler: tanh(dense(CLS))
)

// STConfig is what a sentence-transformers layout adds to a model folder.
type STConfig struct {
	Present        bool    // modules.json was found
	TransformerDir string  // folder of the Transformer module (usually the root)
	Pooling        Pooling // "" when no Pooling module
	Normalize      bool
	MaxSeqLength   int               // 0 when not given
	Prompts        map[string]string // config_sentence_transformers.json prompts
}

type stModule struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// ReadSTConfig reads the sentence-transformers files of dir, if any:
// modules.json, the Pooling module's config.json, sentence_bert_config.json
// and config_sentence_transformers.json.
func ReadSTConfig(dir string) (*STConfig, error) {
	st := &STConfig{TransformerDir: dir}
	mpath := filepath.Join(dir, "modules.json")
	b, err := os.ReadFile(mpath)
	if errors.Is(err, fs.ErrNotExist) {
		return st, readPrompts(dir, st)
	} else if err != nil {
		return nil, err
	}
	st.Present = true
	var mods []stModule
	if err := json.Unmarshal(b, &mods); err != nil {
		return nil, fmt.Errorf("%s: bad JSON: %w", mpath, err)
	}
	for i, m := range mods {
		typ := m.Type[strings.LastIndex(m.Type, ".")+1:]
		switch typ {
		case "Transformer":
			if i != 0 {
				return nil, fmt.Errorf("%s: Transformer module must come first", mpath)
			}
			st.TransformerDir = filepath.Join(dir, m.Path)
		case "Pooling":
			p, err := readPooling(filepath.Join(dir, m.Path, "config.json"))
			if err != nil {
				return nil, err
			}
			st.Pooling = p
		case "Normalize":
			st.Normalize = true
		default:
			return nil, fmt.Errorf("%s: module %d (%s) of type %q is unsupported (kormed handles Transformer, Pooling, Normalize)", mpath, m.Idx, m.Name, m.Type)
		}
	}
	sb := filepath.Join(st.TransformerDir, "sentence_bert_config.json")
	if b, err := os.ReadFile(sb); err == nil {
		var s struct {
			MaxSeqLength int `json:"max_seq_length"`
		}
		if err := json.Unmarshal(b, &s); err != nil {
			return nil, fmt.Errorf("%s: bad JSON: %w", sb, err)
		}
		st.MaxSeqLength = s.MaxSeqLength
	}
	return st, readPrompts(dir, st)
}

func readPrompts(dir string, st *STConfig) error {
	p := filepath.Join(dir, "config_sentence_transformers.json")
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var c struct {
		Prompts map[string]string `json:"prompts"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return fmt.Errorf("%s: bad JSON: %w", p, err)
	}
	st.Prompts = c.Prompts
	return nil
}

func readPooling(path string) (Pooling, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("pooling module: %w", err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		return "", fmt.Errorf("%s: bad JSON: %w", path, err)
	}
	on := func(k string) bool { v, _ := c[k].(bool); return v }
	if v, ok := c["include_prompt"].(bool); ok && !v {
		return "", fmt.Errorf("%s: include_prompt false is unsupported", path)
	}
	var modes []Pooling
	if on("pooling_mode_cls_token") {
		modes = append(modes, PoolCLS)
	}
	if on("pooling_mode_mean_tokens") {
		modes = append(modes, PoolMean)
	}
	for _, k := range []string{"pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens", "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"} {
		if on(k) {
			return "", fmt.Errorf("%s: %s is unsupported (kormed pools by mean or CLS)", path, k)
		}
	}
	if s, ok := c["pooling_mode"].(string); ok && len(modes) == 0 {
		switch s {
		case "mean":
			modes = append(modes, PoolMean)
		case "cls":
			modes = append(modes, PoolCLS)
		default:
			return "", fmt.Errorf("%s: pooling_mode %q is unsupported", path, s)
		}
	}
	switch len(modes) {
	case 0:
		return "", fmt.Errorf("%s: no pooling mode enabled", path)
	case 1:
		return modes[0], nil
	}
	return "", fmt.Errorf("%s: several pooling modes at once (concatenated) are unsupported", path)
}
