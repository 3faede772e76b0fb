// Package decoder runs decoder-only language models of the Llama family in
// kormed's float32 engine (packages nn and blas): transformers'
// LlamaForCausalLM (model_type "llama") and LG AI's EXAONE 3.x
// ExaoneForCausalLM (model_type "exaone", the same architecture under other
// tensor names), loaded from the Hugging Face layout (config.json and
// model.safetensors or its shards, F32/F16/BF16).
//
// The architecture: token embedding; per layer RMSNorm → grouped-query
// causal self-attention with rotary position embeddings (rotate_half
// convention, llama3 or linear frequency scaling) → residual, RMSNorm →
// SwiGLU MLP (down(silu(gate(x))·up(x))) → residual; final RMSNorm; LM
// head (tied to the embedding or not) → logits. Model.Forward runs a
// sequence (a prompt, or one more token) against a KV Cache and
// Model.Generate decodes greedily or by sampling.
//
// As in package model, each layer's forward writes the activations a
// backward needs into a Workspace (all layers' with Workspace.Save). For
// training, TrainForward, CausalLMLoss and Backward (backward.go) compute
// the gradients of the top N blocks, the final norm and the LM head.
package decoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kormed/kormed/nn"
	"github.com/kormed/kormed/safetensors"
)

// Model is a loaded decoder. It holds no mutable state: Forward may run
// concurrently on distinct Workspaces and Caches.
type Model struct {
	Cfg     Config
	W       *Weights
	InvFreq []float32 // rotary inverse frequencies [HeadDim/2], scaling applied
	// GenEOS are the stop ids of generation_config.json (eos_token_id),
	// or config.json's when that file is absent.
	GenEOS []int
}

// Weights are the decoder's parameters. Norm weights and the embedding
// keep PyTorch's layout; the layers' Linear weights are stored transposed
// ([in,out], for nn.LinearT), with q, k, v fused into one matrix and gate,
// up into another at load.
type Weights struct {
	Embed  []float32 // [V,C]
	Layers []Layer
	Norm   []float32 // [C] final RMSNorm
	LMHead []float32 // [V,C]; the same slice as Embed when tied
}

// Layer is one pre-norm decoder block. QD = NumHeads·HeadDim, KD =
// NumKVHeads·HeadDim.
type Layer struct {
	AttnNorm []float32 // [C] input_layernorm / ln_1
	QKVWT    []float32 // [C,QD+2KD]: q, k, v columns side by side
	QKVB     []float32 // [QD+2KD] or nil (attention_bias)
	OWT      []float32 // [QD,C] o_proj / out_proj
	OB       []float32 // [C] or nil
	MLPNorm  []float32 // [C] post_attention_layernorm / ln_2
	GateUpWT []float32 // [C,2F]: gate then up columns
	GateUpB  []float32 // [2F] or nil (mlp_bias)
	DownWT   []float32 // [F,C]
	DownB    []float32 // [C] or nil
}

// names are one model type's tensor names.
type names struct {
	embed, norm, lmHead string
	layer               string // fmt pattern of a layer's prefix
	attnNorm, mlpNorm   string
	q, k, v, o          string
	gate, up, down      string
}

var layouts = map[string]names{
	"llama": {embed: "model.embed_tokens", norm: "model.norm", lmHead: "lm_head", layer: "model.layers.%d.",
		attnNorm: "input_layernorm", mlpNorm: "post_attention_layernorm",
		q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj", o: "self_attn.o_proj",
		gate: "mlp.gate_proj", up: "mlp.up_proj", down: "mlp.down_proj"},
	"exaone": {embed: "transformer.wte", norm: "transformer.ln_f", lmHead: "lm_head", layer: "transformer.h.%d.",
		attnNorm: "ln_1", mlpNorm: "ln_2",
		q: "attn.attention.q_proj", k: "attn.attention.k_proj", v: "attn.attention.v_proj", o: "attn.attention.out_proj",
		gate: "mlp.c_fc_0", up: "mlp.c_fc_1", down: "mlp.c_proj"},
}

// Load reads a decoder from a Hugging Face model folder.
func Load(dir string) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	r, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	w, err := LoadWeights(r, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", dir, err)
	}
	m := New(cfg, w)
	if b, err := os.ReadFile(filepath.Join(dir, "generation_config.json")); err == nil {
		var g struct {
			EOS json.RawMessage `json:"eos_token_id"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, fmt.Errorf("%s/generation_config.json: %v", dir, err)
		}
		ids, err := parseIDs(g.EOS)
		if err != nil {
			return nil, fmt.Errorf("%s/generation_config.json: eos_token_id: %v", dir, err)
		}
		if ids != nil {
			m.GenEOS = ids
		}
	}
	return m, nil
}

// New makes a Model of a configuration and its weights.
func New(cfg *Config, w *Weights) *Model {
	return &Model{Cfg: *cfg, W: w, InvFreq: cfg.InvFreq(), GenEOS: cfg.EOSTokenIDs}
}

// LoadWeights reads the weights of cfg's model type from r.
func LoadWeights(r *safetensors.Reader, cfg *Config) (*Weights, error) {
	n, ok := layouts[cfg.ModelType]
	if !ok {
		return nil, fmt.Errorf("model_type %q: want llama or exaone", cfg.ModelType)
	}
	C, F, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QD, KD := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	var err error
	w := &Weights{}
	if w.Embed, err = r.Float32(n.embed+".weight", []int{V, C}); err != nil {
		return nil, err
	}
	if w.Norm, err = r.Float32(n.norm+".weight", []int{C}); err != nil {
		return nil, err
	}
	switch {
	case cfg.TieEmbeddings:
		w.LMHead = w.Embed
	case r.Has(n.lmHead + ".weight"):
		if w.LMHead, err = r.Float32(n.lmHead+".weight", []int{V, C}); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("no %s.weight and tie_word_embeddings is false", n.lmHead)
	}
	// fused reads Linear weights [out_i,in] and returns them stacked and
	// transposed, [in,Σout_i]; with biases, their concatenation.
	fused := func(p string, in int, bias bool, parts []string, outs []int) (wt, b []float32, err error) {
		tot := 0
		for _, o := range outs {
			tot += o
		}
		all := make([]float32, tot*in)
		if bias {
			b = make([]float32, tot)
		}
		off := 0
		for i, part := range parts {
			if err := r.ReadFloat32(p+part+".weight", []int{outs[i], in}, all[off*in:(off+outs[i])*in]); err != nil {
				return nil, nil, err
			}
			if bias {
				if err := r.ReadFloat32(p+part+".bias", []int{outs[i]}, b[off:off+outs[i]]); err != nil {
					return nil, nil, err
				}
			} else if r.Has(p + part + ".bias") {
				return nil, nil, fmt.Errorf("%s%s.bias present but the config says no bias", p, part)
			}
			off += outs[i]
		}
		return nn.TransposeWeight(all, tot, in), b, nil
	}
	w.Layers = make([]Layer, cfg.NumLayers)
	for l := range w.Layers {
		L := &w.Layers[l]
		p := fmt.Sprintf(n.layer, l)
		if L.AttnNorm, err = r.Float32(p+n.attnNorm+".weight", []int{C}); err != nil {
			return nil, err
		}
		if L.MLPNorm, err = r.Float32(p+n.mlpNorm+".weight", []int{C}); err != nil {
			return nil, err
		}
		ab, mb := cfg.AttentionBias, cfg.MLPBias
		if L.QKVWT, L.QKVB, err = fused(p, C, ab, []string{n.q, n.k, n.v}, []int{QD, KD, KD}); err != nil {
			return nil, err
		}
		if L.OWT, L.OB, err = fused(p, QD, ab, []string{n.o}, []int{C}); err != nil {
			return nil, err
		}
		if L.GateUpWT, L.GateUpB, err = fused(p, C, mb, []string{n.gate, n.up}, []int{F, F}); err != nil {
			return nil, err
		}
		if L.DownWT, L.DownB, err = fused(p, F, mb, []string{n.down}, []int{C}); err != nil {
			return nil, err
		}
	}
	if r.Has(fmt.Sprintf(n.layer, cfg.NumLayers) + n.attnNorm + ".weight") {
		return nil, fmt.Errorf("checkpoint has more layers than the config's %d", cfg.NumLayers)
	}
	return w, nil
}

// ErrContext is returned when a sequence would run past
// max_position_embeddings.
var ErrContext = errors.New("decoder: sequence longer than max_position_embeddings")
