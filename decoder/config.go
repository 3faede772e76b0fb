package decoder

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Config is a decoder's config.json, normalised across model types.
type Config struct {
	ModelType        string // "llama" or "exaone"
	HiddenSize       int    // C
	IntermediateSize int    // F
	NumLayers        int    // num_hidden_layers (llama), num_layers (exaone)
	NumHeads         int    // query heads
	NumKVHeads       int    // key/value heads (grouped-query attention); default NumHeads
	HeadDim          int    // head_dim; default HiddenSize/NumHeads
	RMSNormEps       float64
	RopeTheta        float64
	RopeScaling      *RopeScaling // nil: plain rotary frequencies
	MaxPositions     int          // max_position_embeddings
	VocabSize        int
	BOSTokenID       int   // -1: none
	EOSTokenIDs      []int // eos_token_id (an id or a list)
	PadTokenID       int   // -1: none
	AttentionBias    bool  // llama attention_bias: q,k,v,o projections have biases
	MLPBias          bool  // llama mlp_bias: gate, up, down have biases
	TieEmbeddings    bool  // tie_word_embeddings: the LM head is the embedding table
}

// RopeScaling is config.json's rope_scaling. Types: "llama3" (Llama 3.1,
// EXAONE 3.5) and "linear".
type RopeScaling struct {
	Type                 string
	Factor               float64
	LowFreqFactor        float64
	HighFreqFactor       float64
	OriginalMaxPositions int
}

// rawConfig holds every key either model type uses.
type rawConfig struct {
	ModelType             string          `json:"model_type"`
	HiddenSize            *int            `json:"hidden_size"`
	IntermediateSize      *int            `json:"intermediate_size"`
	NumHiddenLayers       *int            `json:"num_hidden_layers"`
	NumLayers             *int            `json:"num_layers"`
	NumAttentionHeads     *int            `json:"num_attention_heads"`
	NumKeyValueHeads      *int            `json:"num_key_value_heads"`
	HeadDim               *int            `json:"head_dim"`
	RMSNormEps            *float64        `json:"rms_norm_eps"`
	LayerNormEpsilon      *float64        `json:"layer_norm_epsilon"`
	RopeTheta             *float64        `json:"rope_theta"`
	RopeScaling           map[string]any  `json:"rope_scaling"`
	MaxPositionEmbeddings *int            `json:"max_position_embeddings"`
	VocabSize             *int            `json:"vocab_size"`
	BOSTokenID            json.RawMessage `json:"bos_token_id"`
	EOSTokenID            json.RawMessage `json:"eos_token_id"`
	PadTokenID            *int            `json:"pad_token_id"`
	AttentionBias         bool            `json:"attention_bias"`
	MLPBias               bool            `json:"mlp_bias"`
	TieWordEmbeddings     *bool           `json:"tie_word_embeddings"`
	HiddenAct             string          `json:"hidden_act"`
	ActivationFunction    string          `json:"activation_function"`
	PartialRotaryFactor   *float64        `json:"partial_rotary_factor"`
	RopeParameters        map[string]any  `json:"rope_parameters"`
}

// LoadConfig reads dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "config.json"), err)
	}
	return c, nil
}

// ParseConfig reads a Llama or EXAONE 3.x config.json. Defaults are those
// of transformers' LlamaConfig and of LG AI Research's ExaoneConfig
// (configuration_exaone.py of the EXAONE 3.5 repositories): for exaone a
// missing hidden_size is 2048, num_attention_heads 32, vocab_size 102400,
// num_layers 32 (num_hidden_layers is its alias), intermediate_size
// 4·hidden_size (also when 0 or null), layer_norm_epsilon 1e-5, rope_theta
// 10000, max_position_embeddings 2048, bos_token_id 0, eos_token_id 2 and
// tie_word_embeddings true. EXAONE's modeling code (modeling_exaone.py)
// derives the head size from hidden_size/num_attention_heads and has no
// projection biases: a head_dim that disagrees, or attention_bias/mlp_bias,
// is an error.
func ParseConfig(b []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	pick := func(p *int, def int) int {
		if p != nil {
			return *p
		}
		return def
	}
	pickF := func(p *float64, def float64) float64 {
		if p != nil {
			return *p
		}
		return def
	}
	c := &Config{ModelType: r.ModelType, BOSTokenID: -1, PadTokenID: -1, AttentionBias: r.AttentionBias, MLPBias: r.MLPBias}
	act := r.HiddenAct
	bosDef, eosDef, tieDef := -1, json.RawMessage(nil), false
	switch r.ModelType {
	case "llama":
		c.HiddenSize, c.NumHeads, c.VocabSize = pick(r.HiddenSize, 0), pick(r.NumAttentionHeads, 0), pick(r.VocabSize, 0)
		c.NumLayers = pick(r.NumHiddenLayers, 32)
		c.RMSNormEps = pickF(r.RMSNormEps, 1e-6)
		c.MaxPositions = pick(r.MaxPositionEmbeddings, 2048)
		c.IntermediateSize = pick(r.IntermediateSize, 11008)
		if act == "" {
			act = "silu"
		}
	case "exaone":
		c.HiddenSize, c.NumHeads, c.VocabSize = pick(r.HiddenSize, 2048), pick(r.NumAttentionHeads, 32), pick(r.VocabSize, 102400)
		// ExaoneConfig.attribute_map: num_hidden_layers → num_layers.
		c.NumLayers = pick(r.NumLayers, pick(r.NumHiddenLayers, 32))
		c.RMSNormEps = pickF(r.LayerNormEpsilon, 1e-5)
		c.MaxPositions = pick(r.MaxPositionEmbeddings, 2048)
		// "if intermediate_size: … else: hidden_size * 4".
		if c.IntermediateSize = pick(r.IntermediateSize, 0); c.IntermediateSize == 0 {
			c.IntermediateSize = 4 * c.HiddenSize
		}
		act = r.ActivationFunction
		if act == "" {
			act = "silu"
		}
		if r.AttentionBias || r.MLPBias {
			return nil, fmt.Errorf("exaone with attention_bias/mlp_bias: EXAONE 3.x has no projection biases")
		}
		bosDef, eosDef, tieDef = 0, json.RawMessage("2"), true
	default:
		return nil, fmt.Errorf("model_type %q: want llama or exaone", r.ModelType)
	}
	if act != "silu" {
		return nil, fmt.Errorf("activation %q: only silu (SwiGLU) is supported", act)
	}
	if r.PartialRotaryFactor != nil && *r.PartialRotaryFactor != 1 {
		return nil, fmt.Errorf("partial_rotary_factor %g: unsupported", *r.PartialRotaryFactor)
	}
	if r.RopeParameters != nil && r.RopeScaling == nil {
		r.RopeScaling = r.RopeParameters // transformers ≥ 4.5x names it rope_parameters
	}
	if r.RopeTheta == nil && r.RopeParameters != nil {
		if th, ok := r.RopeParameters["rope_theta"].(float64); ok {
			r.RopeTheta = &th // …and keeps rope_theta in it
		}
	}
	c.NumKVHeads = pick(r.NumKeyValueHeads, c.NumHeads)
	if c.HiddenSize <= 0 || c.NumHeads <= 0 || c.NumLayers <= 0 || c.VocabSize <= 0 || c.IntermediateSize <= 0 {
		return nil, fmt.Errorf("hidden_size %d, heads %d, layers %d, intermediate_size %d, vocab_size %d: all must be positive",
			c.HiddenSize, c.NumHeads, c.NumLayers, c.IntermediateSize, c.VocabSize)
	}
	c.HeadDim = pick(r.HeadDim, c.HiddenSize/c.NumHeads)
	if (r.HeadDim == nil || c.ModelType == "exaone") && c.HiddenSize%c.NumHeads != 0 {
		return nil, fmt.Errorf("hidden_size %d not divisible into %d heads", c.HiddenSize, c.NumHeads)
	}
	if c.ModelType == "exaone" && c.HeadDim != c.HiddenSize/c.NumHeads {
		// ExaoneSelfAttention: head_dim = hidden_size // num_attention_heads.
		return nil, fmt.Errorf("exaone head_dim %d: EXAONE's attention uses hidden_size/num_attention_heads = %d",
			c.HeadDim, c.HiddenSize/c.NumHeads)
	}
	if c.HeadDim <= 0 || c.HeadDim%2 != 0 {
		return nil, fmt.Errorf("head_dim %d: must be positive and even", c.HeadDim)
	}
	if c.NumKVHeads <= 0 || c.NumHeads%c.NumKVHeads != 0 {
		return nil, fmt.Errorf("%d attention heads not a multiple of %d key/value heads", c.NumHeads, c.NumKVHeads)
	}
	c.RopeTheta = pickF(r.RopeTheta, 10000)
	var err error
	// A key that is absent takes the default; null is no id.
	if r.BOSTokenID == nil {
		c.BOSTokenID = bosDef
	} else if bos, err := parseIDs(r.BOSTokenID); err != nil || len(bos) > 1 {
		return nil, fmt.Errorf("bos_token_id: want an id or null")
	} else if len(bos) == 1 {
		c.BOSTokenID = bos[0]
	}
	if r.PadTokenID != nil {
		c.PadTokenID = *r.PadTokenID
	}
	if r.EOSTokenID == nil {
		r.EOSTokenID = eosDef
	}
	if c.EOSTokenIDs, err = parseIDs(r.EOSTokenID); err != nil {
		return nil, fmt.Errorf("eos_token_id: %w", err)
	}
	c.TieEmbeddings = tieDef
	if r.TieWordEmbeddings != nil {
		c.TieEmbeddings = *r.TieWordEmbeddings
	}
	if r.RopeScaling != nil {
		if c.RopeScaling, err = parseRopeScaling(r.RopeScaling); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseIDs reads an id, a list of ids or null.
func parseIDs(raw json.RawMessage) ([]int, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var one int
	if json.Unmarshal(raw, &one) == nil {
		return []int{one}, nil
	}
	var list []int
	if err := json.Unmarshal(raw, &list); err != nil {
		return nil, err
	}
	return list, nil
}

func parseRopeScaling(m map[string]any) (*RopeScaling, error) {
	typ, _ := m["rope_type"].(string)
	if typ == "" {
		typ, _ = m["type"].(string)
	}
	num := func(k string) (float64, bool) {
		v, ok := m[k].(float64)
		return v, ok
	}
	rs := &RopeScaling{Type: typ}
	switch typ {
	case "", "default":
		return nil, nil
	case "linear":
		f, ok := num("factor")
		if !ok || f <= 0 {
			return nil, fmt.Errorf("rope_scaling linear: factor missing or not positive")
		}
		rs.Factor = f
	case "llama3":
		var ok [4]bool
		var omp float64
		rs.Factor, ok[0] = num("factor")
		rs.LowFreqFactor, ok[1] = num("low_freq_factor")
		rs.HighFreqFactor, ok[2] = num("high_freq_factor")
		omp, ok[3] = num("original_max_position_embeddings")
		for i, k := range []string{"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"} {
			if !ok[i] {
				return nil, fmt.Errorf("rope_scaling llama3: %s missing", k)
			}
		}
		rs.OriginalMaxPositions = int(omp)
		if rs.HighFreqFactor == rs.LowFreqFactor {
			return nil, fmt.Errorf("rope_scaling llama3: high_freq_factor equals low_freq_factor")
		}
	default:
		return nil, fmt.Errorf("rope_scaling type %q: only llama3 and linear are supported", typ)
	}
	return rs, nil
}

// InvFreq returns the rotary inverse frequencies [HeadDim/2], computed in
// float32 as transformers' ROPE_INIT_FUNCTIONS do ("default", "linear",
// and _compute_llama3_parameters for "llama3"); the attention scaling of
// these types is 1.
func (c *Config) InvFreq() []float32 {
	dim := c.HeadDim
	inv := make([]float32, dim/2)
	for i := range inv {
		e := float32(2*i) / float32(dim)
		inv[i] = 1 / float32(math.Pow(c.RopeTheta, float64(e)))
	}
	rs := c.RopeScaling
	if rs == nil {
		return inv
	}
	switch rs.Type {
	case "linear":
		for i := range inv {
			inv[i] /= float32(rs.Factor)
		}
	case "llama3":
		factor, low, high := float32(rs.Factor), float32(rs.LowFreqFactor), float32(rs.HighFreqFactor)
		old := float32(rs.OriginalMaxPositions)
		lowWave := float32(float64(rs.OriginalMaxPositions) / rs.LowFreqFactor)
		highWave := float32(float64(rs.OriginalMaxPositions) / rs.HighFreqFactor)
		for i, f := range inv {
			// PyTorch's scalar / tensor is reciprocal(tensor) · scalar.
			wave := (1 / f) * float32(2*math.Pi)
			scaled := f
			if wave > lowWave {
				scaled = f / factor
			}
			if !(wave < highWave) && !(wave > lowWave) {
				smooth := ((1/wave)*old - low) / (high - low)
				scaled = float32((1-smooth)*scaled/factor) + float32(smooth*scaled)
			}
			inv[i] = scaled
		}
	}
	return inv
}
