package gguf

import (
	"fmt"
	"math"
	"path/filepath"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/safetensors"
)

// Options choose how Export converts a model.
type Options struct {
	// Type is the type of the weight matrices (F16 by default — the zero
	// value is F32, so callers set it, e.g. from ParseType). Norms and
	// other 1-D tensors are F32 always, as in llama.cpp; a matrix whose
	// rows are not a multiple of 32 elements falls back to F16 under Q8_0
	// and Q4_0 (as convert_hf_to_gguf.py does); under Q4_0 the LM head
	// (output, or token_embd when tied) is Q8_0, where llama-quantize
	// writes Q6_K, a type this package does not encode.
	Type Type
	// Pre overrides tokenizer.ggml.pre, llama.cpp's name of the
	// pre-tokenizer ("" detects gpt-2, llama-bpe or exaone from
	// tokenizer.json).
	Pre string
	// Name is general.name ("" is the model folder's base name).
	Name string
}

// fileType is general.file_type (llama_ftype) of a weight type.
var fileType = map[Type]uint32{F32: 0, F16: 1, Q4_0: 2, Q8_0: 7}

// arch is llama.cpp's architecture of a decoder model type and the
// Hugging Face names of its tensors.
type arch struct {
	name              string // general.architecture
	embed, norm, head string
	layer             string // fmt pattern of a layer's prefix
	attnNorm, mlpNorm string
	q, k, v, o        string
	gate, up, down    string
	permute           bool // q_proj and k_proj rows reordered for ggml's rope (llama's LLAMA_ROPE_TYPE_NORM)
}

var archs = map[string]arch{
	"llama": {name: "llama", embed: "model.embed_tokens", norm: "model.norm", head: "lm_head", layer: "model.layers.%d.",
		attnNorm: "input_layernorm", mlpNorm: "post_attention_layernorm",
		q: "self_attn.q_proj", k: "self_attn.k_proj", v: "self_attn.v_proj", o: "self_attn.o_proj",
		gate: "mlp.gate_proj", up: "mlp.up_proj", down: "mlp.down_proj", permute: true},
	// llama.cpp's exaone uses the NeoX rope (rotate_half), as the Hugging
	// Face weights are: convert_hf_to_gguf.py's ExaoneModel permutes nothing.
	"exaone": {name: "exaone", embed: "transformer.wte", norm: "transformer.ln_f", head: "lm_head", layer: "transformer.h.%d.",
		attnNorm: "ln_1", mlpNorm: "ln_2",
		q: "attn.attention.q_proj", k: "attn.attention.k_proj", v: "attn.attention.v_proj", o: "attn.attention.out_proj",
		gate: "mlp.c_fc_0", up: "mlp.c_fc_1", down: "mlp.c_proj"},
}

// source is one GGUF tensor and where its values come from.
type source struct {
	info   TensorInfo
	hf     string    // Hugging Face tensor name ("" for a computed one)
	shape  []int     // its PyTorch shape
	heads  int       // > 0: permute rows for ggml's rope, this many heads
	values []float32 // computed values (rope_freqs)
}

// Export writes the decoder in modelDir (a Llama or EXAONE 3.x folder:
// config.json, model.safetensors or its shards, tokenizer.json,
// tokenizer_config.json) to outPath as a GGUF file that llama.cpp and
// Ollama load, atomically.
func Export(modelDir, outPath string, o Options) error {
	cfg, err := decoder.LoadConfig(modelDir)
	if err != nil {
		return err
	}
	a, ok := archs[cfg.ModelType]
	if !ok {
		return fmt.Errorf("gguf: model_type %q: want llama or exaone", cfg.ModelType)
	}
	if _, ok := fileType[o.Type]; !ok {
		return fmt.Errorf("gguf: type %v: want f32, f16, q8_0 or q4_0", o.Type)
	}
	tok, err := loadVocab(modelDir, cfg, o.Pre)
	if err != nil {
		return err
	}
	r, err := safetensors.OpenDir(modelDir)
	if err != nil {
		return err
	}
	defer r.Close()
	srcs, err := sources(cfg, a, r, o.Type)
	if err != nil {
		return fmt.Errorf("%s: %w", modelDir, err)
	}
	name := o.Name
	if name == "" {
		abs, _ := filepath.Abs(modelDir)
		name = filepath.Base(abs)
	}
	kvs := append(hparams(cfg, a.name, name, o.Type), tok.kvs()...)
	infos := make([]TensorInfo, len(srcs))
	for i, s := range srcs {
		infos[i] = s.info
	}
	f, err := atomicfile.Create(outPath)
	if err != nil {
		return err
	}
	defer f.Abort()
	w, err := NewWriter(f, kvs, infos)
	if err != nil {
		return err
	}
	for _, s := range srcs {
		v := s.values
		if s.hf != "" {
			if v, err = r.Float32(s.hf, s.shape); err != nil {
				return err
			}
		}
		if s.heads > 0 {
			v = permuteRows(v, s.heads, s.shape)
		}
		b, err := Encode(s.info.Type, v)
		if err != nil {
			return fmt.Errorf("gguf: tensor %s: %w", s.info.Name, err)
		}
		if err := w.WriteTensor(b); err != nil {
			return fmt.Errorf("writing %s: %w", outPath, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", outPath, err)
	}
	return f.Commit()
}

// sources lists the GGUF tensors of the model, in llama.cpp's names.
func sources(cfg *decoder.Config, a arch, r *safetensors.Reader, want Type) ([]source, error) {
	C, F, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QD, KD := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	var srcs []source
	add := func(name, hf string, shape []int, heads int, head bool) error {
		if !r.Has(hf) {
			return fmt.Errorf("no tensor %s", hf)
		}
		srcs = append(srcs, source{info: TensorInfo{Name: name, Dims: Dims(shape...), Type: tensorType(want, shape, head)},
			hf: hf, shape: shape, heads: heads})
		return nil
	}
	if f := ropeFactors(cfg); f != nil {
		srcs = append(srcs, source{info: TensorInfo{Name: "rope_freqs.weight", Dims: Dims(len(f)), Type: F32}, values: f})
	}
	if err := add("token_embd.weight", a.embed+".weight", []int{V, C}, 0, cfg.TieEmbeddings); err != nil {
		return nil, err
	}
	qh, kh := 0, 0
	if a.permute {
		qh, kh = cfg.NumHeads, cfg.NumKVHeads
	}
	for l := 0; l < cfg.NumLayers; l++ {
		p := fmt.Sprintf(a.layer, l)
		b := fmt.Sprintf("blk.%d.", l)
		type t struct {
			name, hf string
			shape    []int
			heads    int
			hasBias  bool
		}
		ab, mb := cfg.AttentionBias, cfg.MLPBias
		for _, x := range []t{
			{"attn_norm", a.attnNorm, []int{C}, 0, false},
			{"attn_q", a.q, []int{QD, C}, qh, ab},
			{"attn_k", a.k, []int{KD, C}, kh, ab},
			{"attn_v", a.v, []int{KD, C}, 0, ab},
			{"attn_output", a.o, []int{C, QD}, 0, ab},
			{"ffn_norm", a.mlpNorm, []int{C}, 0, false},
			{"ffn_gate", a.gate, []int{F, C}, 0, mb},
			{"ffn_up", a.up, []int{F, C}, 0, mb},
			{"ffn_down", a.down, []int{C, F}, 0, mb},
		} {
			if err := add(b+x.name+".weight", p+x.hf+".weight", x.shape, x.heads, false); err != nil {
				return nil, err
			}
			if x.hasBias {
				if err := add(b+x.name+".bias", p+x.hf+".bias", x.shape[:1], x.heads, false); err != nil {
					return nil, err
				}
			}
		}
	}
	if err := add("output_norm.weight", a.norm+".weight", []int{C}, 0, false); err != nil {
		return nil, err
	}
	if !cfg.TieEmbeddings {
		if err := add("output.weight", a.head+".weight", []int{V, C}, 0, true); err != nil {
			return nil, err
		}
	}
	return srcs, nil
}

// tensorType is the type a tensor of this shape is written in when the
// weights are to be want; head marks the LM head's matrix.
func tensorType(want Type, shape []int, head bool) Type {
	if len(shape) < 2 {
		return F32
	}
	row := shape[len(shape)-1]
	switch want {
	case Q8_0, Q4_0:
		if row%BlockElems != 0 {
			return F16
		}
		if want == Q4_0 && head {
			return Q8_0
		}
	}
	return want
}

// permuteRows reorders the rows of a q or k projection (weight [out,in]
// or bias [out], out = heads·headDim) from the Hugging Face rotate_half
// layout to ggml's interleaved rope: within each head, row j·headDim/2+i
// moves to 2i+j (convert_hf_to_gguf.py's LlamaModel.permute).
func permuteRows(v []float32, heads int, shape []int) []float32 {
	out := shape[0]
	in := 1
	if len(shape) > 1 {
		in = shape[1]
	}
	hd := out / heads
	p := make([]float32, len(v))
	for h := 0; h < heads; h++ {
		for j := 0; j < 2; j++ {
			for i := 0; i < hd/2; i++ {
				src := (h*hd + j*hd/2 + i) * in
				dst := (h*hd + 2*i + j) * in
				copy(p[dst:dst+in], v[src:src+in])
			}
		}
	}
	return p
}

// ropeFactors returns llama.cpp's rope_freqs (the divisors of the
// rotary frequencies) of rope_scaling llama3, or nil. The arithmetic is
// convert_hf_to_gguf.py's (float32 frequencies), but the original context
// is rope_scaling's original_max_position_embeddings, as transformers
// reads it (the converter reads a top-level key of that name, default
// 8192, the same value for Llama 3.1 and EXAONE 3.5).
func ropeFactors(cfg *decoder.Config) []float32 {
	rs := cfg.RopeScaling
	if rs == nil || rs.Type != "llama3" {
		return nil
	}
	dim := cfg.HeadDim
	factor, low, high := float32(rs.Factor), float32(rs.LowFreqFactor), float32(rs.HighFreqFactor)
	old := float32(rs.OriginalMaxPositions)
	lowWave, highWave := float64(rs.OriginalMaxPositions)/rs.LowFreqFactor, float64(rs.OriginalMaxPositions)/rs.HighFreqFactor
	f := make([]float32, dim/2)
	for i := range f {
		freq := 1 / float32(math.Pow(cfg.RopeTheta, float64(float32(2*i)/float32(dim))))
		wave := float32(2*math.Pi) / freq
		switch {
		case float64(wave) < highWave:
			f[i] = 1
		case float64(wave) > lowWave:
			f[i] = factor
		default:
			smooth := (old/wave - low) / (high - low)
			f[i] = 1 / ((1-smooth)/factor + smooth)
		}
	}
	return f
}

// hparams returns the general and architecture metadata.
func hparams(cfg *decoder.Config, archName, name string, t Type) []KV {
	k := func(s string) string { return archName + "." + s }
	kvs := []KV{
		{"general.architecture", archName},
		{"general.name", name},
		{"general.file_type", fileType[t]},
		{"general.quantization_version", uint32(2)},
		{k("vocab_size"), uint32(cfg.VocabSize)},
		{k("context_length"), uint32(cfg.MaxPositions)},
		{k("embedding_length"), uint32(cfg.HiddenSize)},
		{k("block_count"), uint32(cfg.NumLayers)},
		{k("feed_forward_length"), uint32(cfg.IntermediateSize)},
		{k("attention.head_count"), uint32(cfg.NumHeads)},
		{k("attention.head_count_kv"), uint32(cfg.NumKVHeads)},
		{k("attention.key_length"), uint32(cfg.HeadDim)},
		{k("attention.value_length"), uint32(cfg.HeadDim)},
		{k("rope.dimension_count"), uint32(cfg.HeadDim)},
		{k("rope.freq_base"), float32(cfg.RopeTheta)},
		{k("attention.layer_norm_rms_epsilon"), float32(cfg.RMSNormEps)},
	}
	if rs := cfg.RopeScaling; rs != nil && rs.Type == "linear" {
		kvs = append(kvs, KV{k("rope.scaling.type"), "linear"}, KV{k("rope.scaling.factor"), float32(rs.Factor)})
	}
	return kvs
}
