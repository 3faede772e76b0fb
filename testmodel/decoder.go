package testmodel

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/safetensors"
)

// DecoderOptions describe a random-weight decoder-only model (package
// decoder) to write in the Hugging Face layout: config.json with the real
// key names of the model type, model.safetensors (or shards with
// model.safetensors.index.json) with the real tensor names,
// generation_config.json, and a minimal byte-level BPE tokenizer.json (256
// byte tokens, no merges, the special tokens) with tokenizer_config.json.
type DecoderOptions struct {
	Arch  string // "llama" (LlamaForCausalLM) or "exaone" (EXAONE 3.x ExaoneForCausalLM)
	Shape string // "tiny" or "exaone-2.4b" (EXAONE-3.5-2.4B-Instruct's config)
	Seed  uint64
	// Std is the standard deviation of the weight matrices and the
	// embedding (default 0.02, initializer_range); RMSNorm weights are
	// 1 + Std·N(0,1).
	Std   float64
	DType safetensors.DType // F32 (default), F16 or BF16
	// Layers overrides the shape's layer count (e.g. 2 layers at the
	// 2.4B shape).
	Layers int
	// HeadDim overrides head_dim (tiny: 16 = hidden/heads).
	HeadDim int
	// MaxPositions overrides max_position_embeddings (tiny: 256; a RAG
	// prompt with kormed's Korean instructions needs about 1,000 of the
	// tiny byte-level vocabulary's tokens).
	MaxPositions int
	// Tie sets tie_word_embeddings ("": the shape's default — false for
	// tiny, true for exaone-2.4b — "true" or "false"). Tied models have no
	// lm_head.weight, as transformers saves them.
	Tie string
	// AttentionBias gives q, k, v and o_proj biases (llama only).
	AttentionBias bool
	// Shards > 1 splits the weights over that many files with an index.
	Shards int
}

// DecoderConfig returns the config.json of a decoder of this arch and shape.
func DecoderConfig(o DecoderOptions) (map[string]any, error) {
	type shape struct {
		hidden, inter, layers, heads, kv, headDim, vocab, maxPos int
		theta                                                    string
		eps                                                      float64
		rope                                                     map[string]any
		bos, eos, pad                                            int
		tie                                                      bool
	}
	var s shape
	switch o.Shape {
	case "tiny":
		// rope_scaling llama3 with a short original context, so that the
		// scaling changes the frequencies that short test sequences use.
		s = shape{hidden: 64, inter: 160, layers: 2, heads: 4, kv: 2, headDim: 16, vocab: 512, maxPos: 256,
			theta: "10000.0", eps: 1e-5, bos: 1, eos: 2, pad: 0,
			rope: llama3Scaling(32)}
	case "exaone-2.4b":
		// LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct's config.json.
		s = shape{hidden: 2560, inter: 7168, layers: 30, heads: 32, kv: 8, headDim: 80, vocab: 102400, maxPos: 32768,
			theta: "1000000.0", eps: 1e-5, bos: 1, eos: 361, pad: 0, tie: true,
			rope: llama3Scaling(8192)}
	default:
		return nil, fmt.Errorf("unknown decoder shape %q (want tiny or exaone-2.4b)", o.Shape)
	}
	if o.Layers > 0 {
		s.layers = o.Layers
	}
	if o.HeadDim > 0 {
		s.headDim = o.HeadDim
	}
	if o.MaxPositions > 0 {
		s.maxPos = o.MaxPositions
	}
	switch o.Tie {
	case "":
	case "true", "false":
		s.tie = o.Tie == "true"
	default:
		return nil, fmt.Errorf("tie %q: want true or false", o.Tie)
	}
	dtype := map[safetensors.DType]string{"": "float32", safetensors.F32: "float32", safetensors.F16: "float16", safetensors.BF16: "bfloat16"}[o.DType]
	if dtype == "" {
		return nil, fmt.Errorf("dtype %q: want F32, F16 or BF16", o.DType)
	}
	c := map[string]any{
		"hidden_size": s.hidden, "intermediate_size": s.inter, "num_attention_heads": s.heads, "num_key_value_heads": s.kv,
		"head_dim": s.headDim, "vocab_size": s.vocab, "max_position_embeddings": s.maxPos, "rope_theta": json.Number(s.theta),
		"rope_scaling": s.rope, "bos_token_id": s.bos, "eos_token_id": s.eos, "pad_token_id": s.pad,
		"tie_word_embeddings": s.tie, "initializer_range": 0.02, "attention_dropout": json.Number("0.0"), "use_cache": true,
		"torch_dtype": dtype, "transformers_version": "4.43.0",
	}
	switch o.Arch {
	case "llama":
		c["model_type"], c["architectures"] = "llama", []string{"LlamaForCausalLM"}
		c["num_hidden_layers"], c["rms_norm_eps"], c["hidden_act"] = s.layers, s.eps, "silu"
		c["attention_bias"], c["mlp_bias"], c["pretraining_tp"] = o.AttentionBias, false, 1
	case "exaone":
		if o.AttentionBias {
			return nil, fmt.Errorf("exaone has no attention biases")
		}
		c["model_type"], c["architectures"] = "exaone", []string{"ExaoneForCausalLM"}
		c["num_layers"], c["layer_norm_epsilon"], c["activation_function"] = s.layers, s.eps, "silu"
		c["embed_dropout"] = json.Number("0.0")
		// EXAONE is remote code: transformers needs configuration_exaone.py
		// and modeling_exaone.py beside the weights (not written here).
		c["auto_map"] = map[string]string{
			"AutoConfig":                         "configuration_exaone.ExaoneConfig",
			"AutoModelForCausalLM":               "modeling_exaone.ExaoneForCausalLM",
			"AutoModelForSequenceClassification": "modeling_exaone.ExaoneForSequenceClassification",
		}
	default:
		return nil, fmt.Errorf("unknown decoder arch %q (want llama or exaone)", o.Arch)
	}
	return c, nil
}

// llama3Scaling is rope_scaling of type llama3 as Llama 3.1 and EXAONE 3.5
// have it (factor 8, low_freq_factor 1, high_freq_factor 4), floats
// written as Python writes them.
func llama3Scaling(originalMax int) map[string]any {
	return map[string]any{"rope_type": "llama3", "factor": json.Number("8.0"), "low_freq_factor": json.Number("1.0"),
		"high_freq_factor": json.Number("4.0"), "original_max_position_embeddings": originalMax}
}

// WriteDecoder creates the model folder dir (which may exist) and writes
// the decoder o describes.
func WriteDecoder(dir string, o DecoderOptions) error {
	if o.Std == 0 {
		o.Std = 0.02
	}
	if o.DType == "" {
		o.DType = safetensors.F32
	}
	cfg, err := DecoderConfig(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "config.json"), cfg); err != nil {
		return err
	}
	gen := map[string]any{"_from_model_config": true, "bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"],
		"pad_token_id": cfg["pad_token_id"], "transformers_version": "4.43.0"}
	if err := writeJSON(filepath.Join(dir, "generation_config.json"), gen); err != nil {
		return err
	}
	if err := writeByteBPE(dir, cfg); err != nil {
		return err
	}
	ts := DecoderTensors(cfg, o)
	if o.Shards <= 1 {
		return safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"})
	}
	// Shards of about equal element counts, tensors in name order.
	var total int64
	for _, t := range ts {
		total += int64(len(t.Floats))
	}
	weightMap := map[string]string{}
	var done int64
	for s, i := 0, 0; s < o.Shards; s++ {
		name := fmt.Sprintf("model-%05d-of-%05d.safetensors", s+1, o.Shards)
		var part []safetensors.Tensor
		for i < len(ts) && (s == o.Shards-1 || done < total*int64(s+1)/int64(o.Shards) || len(part) == 0) {
			part = append(part, ts[i])
			weightMap[ts[i].Name] = name
			done += int64(len(ts[i].Floats))
			i++
		}
		if err := safetensors.Write(filepath.Join(dir, name), part, map[string]string{"format": "pt"}); err != nil {
			return err
		}
	}
	idx := map[string]any{"metadata": map[string]any{"total_size": total * int64(o.DType.Size())}, "weight_map": weightMap}
	return writeJSON(filepath.Join(dir, "model.safetensors.index.json"), idx)
}

// DecoderTensors draws a decoder's weights under the Hugging Face names of
// config c's model type (from DecoderConfig).
func DecoderTensors(c map[string]any, o DecoderOptions) []safetensors.Tensor {
	if o.Std == 0 {
		o.Std = 0.02
	}
	if o.DType == "" {
		o.DType = safetensors.F32
	}
	num := func(k string) int { return c[k].(int) }
	C, F, V := num("hidden_size"), num("intermediate_size"), num("vocab_size")
	QD, KD := num("num_attention_heads")*num("head_dim"), num("num_key_value_heads")*num("head_dim")
	var ts []safetensors.Tensor
	add := func(name string, shape []int, norm bool) {
		v := randomValues(o.Seed, name, shape, o.Std, norm)
		ts = append(ts, safetensors.Tensor{Name: name, DType: o.DType, Shape: shape, Floats: v})
	}
	tied, _ := c["tie_word_embeddings"].(bool)
	bias, _ := c["attention_bias"].(bool)
	if c["model_type"] == "llama" {
		add("model.embed_tokens.weight", []int{V, C}, false)
		for l := 0; l < num("num_hidden_layers"); l++ {
			p := fmt.Sprintf("model.layers.%d.", l)
			add(p+"input_layernorm.weight", []int{C}, true)
			for _, x := range []struct {
				n       string
				out, in int
			}{{"q_proj", QD, C}, {"k_proj", KD, C}, {"v_proj", KD, C}, {"o_proj", C, QD}} {
				add(p+"self_attn."+x.n+".weight", []int{x.out, x.in}, false)
				if bias {
					add(p+"self_attn."+x.n+".bias", []int{x.out}, false)
				}
			}
			add(p+"post_attention_layernorm.weight", []int{C}, true)
			add(p+"mlp.gate_proj.weight", []int{F, C}, false)
			add(p+"mlp.up_proj.weight", []int{F, C}, false)
			add(p+"mlp.down_proj.weight", []int{C, F}, false)
		}
		add("model.norm.weight", []int{C}, true)
	} else {
		add("transformer.wte.weight", []int{V, C}, false)
		for l := 0; l < num("num_layers"); l++ {
			p := fmt.Sprintf("transformer.h.%d.", l)
			add(p+"ln_1.weight", []int{C}, true)
			add(p+"attn.attention.q_proj.weight", []int{QD, C}, false)
			add(p+"attn.attention.k_proj.weight", []int{KD, C}, false)
			add(p+"attn.attention.v_proj.weight", []int{KD, C}, false)
			add(p+"attn.attention.out_proj.weight", []int{C, QD}, false)
			add(p+"ln_2.weight", []int{C}, true)
			add(p+"mlp.c_fc_0.weight", []int{F, C}, false)
			add(p+"mlp.c_fc_1.weight", []int{F, C}, false)
			add(p+"mlp.c_proj.weight", []int{C, F}, false)
		}
		add("transformer.ln_f.weight", []int{C}, true)
	}
	if !tied {
		add("lm_head.weight", []int{V, C}, false)
	}
	sort.SliceStable(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}

// byteLevelAlphabet is GPT-2's bytes_to_unicode: the printable byte values
// stand for themselves, the others for code points from 256 on.
func byteLevelAlphabet() [256]rune {
	var m [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}

// exaoneChatTemplate is EXAONE-3.5-*-Instruct's chat_template (the same
// as EXAONE-3.0-7.8B-Instruct's): a tiny exaone decoder gets it in
// tokenizer_config.json, so chat code paths run on it.
const exaoneChatTemplate = "{% for message in messages %}{% if loop.first and message['role'] != 'system' %}{{ '[|system|][|endofturn|]\n' }}{% endif %}{{ '[|' + message['role'] + '|]' + message['content'] }}{% if message['role'] == 'user' %}{{ '\n' }}{% else %}{{ '[|endofturn|]\n' }}{% endif %}{% endfor %}{% if add_generation_prompt %}{{ '[|assistant|]' }}{% endif %}"

// llama3ChatTemplate is Meta-Llama-3-8B-Instruct's chat_template, a tiny
// llama decoder's (its header tokens are plain bytes in the tiny
// vocabulary).
const llama3ChatTemplate = "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"

// writeByteBPE writes a minimal valid byte-level BPE tokenizer.json (the
// 256 byte tokens, no merges: every byte is a token) with the special
// tokens at the config's ids, and tokenizer_config.json.
func writeByteBPE(dir string, cfg map[string]any) error {
	special := map[int]string{cfg["pad_token_id"].(int): "[PAD]", cfg["bos_token_id"].(int): "[BOS]", 3: "[UNK]"}
	if eos := cfg["eos_token_id"].(int); eos == 2 {
		special[2] = "[EOS]"
	} else {
		special[2] = "[EOS]"
		special[eos] = "[|endofturn|]" // EXAONE 3.5's end of turn (its eos_token_id)
	}
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		Lstrip     bool   `json:"lstrip"`
		Rstrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	vocab := map[string]int{}
	var adds []added
	for id, s := range special {
		vocab[s] = id
		adds = append(adds, added{ID: id, Content: s, Special: true})
	}
	sort.Slice(adds, func(i, j int) bool { return adds[i].ID < adds[j].ID })
	id := 0
	for _, r := range byteLevelAlphabet() {
		for special[id] != "" {
			id++
		}
		vocab[string(r)] = id
		id++
	}
	bl := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	tok := map[string]any{
		"version": "1.0", "truncation": nil, "padding": nil, "added_tokens": adds, "normalizer": nil,
		"pre_tokenizer": bl, "post_processor": bl, "decoder": bl,
		"model": map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
			"end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
			"vocab": vocab, "merges": []string{}},
	}
	b, err := json.Marshal(tok)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, "tokenizer.json"), append(b, '\n')); err != nil {
		return err
	}
	tc := map[string]any{"tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "[BOS]", "eos_token": special[cfg["eos_token_id"].(int)],
		"pad_token": "[PAD]", "unk_token": "[UNK]", "model_max_length": cfg["max_position_embeddings"], "clean_up_tokenization_spaces": false,
		"add_bos_token": false, "chat_template": llama3ChatTemplate}
	if cfg["model_type"] == "exaone" {
		tc["chat_template"] = exaoneChatTemplate
	}
	return writeJSON(filepath.Join(dir, "tokenizer_config.json"), tc)
}
