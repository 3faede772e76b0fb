package decoder

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kormed/kormed/blas"
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
// keep PyTorch's layout; the layers' float32 Linear weights are stored
// transposed ([in,out], for nn.LinearT), with q, k, v fused into one
// matrix and gate, up into another at load.
//
// With bfloat16 storage (LoadOptions.Weights) a layer's Linear weights are
// its …16 fields instead, in PyTorch's [out,in] layout (q, k, v and gate,
// up fused the same way) and its float32 fields nil; the embedding and LM
// head likewise (Embed16, LMHead16). With int8 or int4 storage the Linear
// weights are the …Q fields, quantized [out,in], and the embedding and LM
// head EmbedQ, LMHeadQ (int8). Norms and biases are float32 always.
type Weights struct {
	Embed  []float32 // [V,C]; nil when Embed16 holds it
	Layers []Layer
	Norm   []float32 // [C] final RMSNorm
	LMHead []float32 // [V,C]; the same slice as Embed when tied; nil when LMHead16 holds it

	Embed16  []uint16 // [V,C] bfloat16, or nil
	LMHead16 []uint16 // [V,C] bfloat16 (the same slice as Embed16 when tied), or nil

	EmbedQ  *blas.QMatrix // [V,C] int8, or nil
	LMHeadQ *blas.QMatrix // [V,C] int8 (the same as EmbedQ when tied), or nil
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

	// The Linear weights in bfloat16, [out,in] (nil when float32).
	QKVW16    []uint16 // [QD+2KD,C]: q, k, v rows
	OW16      []uint16 // [C,QD]
	GateUpW16 []uint16 // [2F,C]: gate then up rows
	DownW16   []uint16 // [C,F]

	// The Linear weights quantized, [out,in] (nil unless int8 or int4).
	QKVQ    *blas.QMatrix // [QD+2KD,C]
	OQ      *blas.QMatrix // [C,QD]
	GateUpQ *blas.QMatrix // [2F,C]
	DownQ   *blas.QMatrix // [C,F]
}

// BF16 reports whether the layer's Linear weights are bfloat16.
func (L *Layer) BF16() bool { return L.QKVW16 != nil }

// Quantized reports whether the layer's Linear weights are int8 or int4.
func (L *Layer) Quantized() bool { return L.QKVQ != nil }

// Storage is how a model keeps its weights in memory.
type Storage int

const (
	// StorageAuto keeps what the checkpoint stores: bfloat16 where its
	// weights are BF16 (as EXAONE and Llama releases are; a block by its
	// q_proj), float32 otherwise — as transformers'
	// from_pretrained(dtype="auto"). A model fine-tuned by lmtrain (BF16
	// frozen blocks, F32 trained ones) reloads as it was trained.
	StorageAuto Storage = iota
	// StorageFP32 widens every weight to float32 (exact for any
	// checkpoint; twice bf16's memory).
	StorageFP32
	// StorageBF16 keeps the Linear weights, the embedding and the LM head
	// in bfloat16, rounding F32 and F16 checkpoints to it (norms and
	// biases stay float32). Products with them are float32 arithmetic on
	// the widened weights (blas.MatMulBF16), so a BF16 checkpoint runs
	// exactly as in float32 at half the memory.
	StorageBF16
	// StorageInt8 quantizes the blocks' Linear weights (q, k, v, o,
	// gate, up, down) to int8 with one float32 scale per output channel
	// (blas.Int8), a quarter of float32's memory, and the embedding and
	// LM head likewise. Products dequantize in the kernel
	// (blas.MatMulQ): float32 arithmetic on the dequantized weights.
	StorageInt8
	// StorageInt4 quantizes the blocks' Linear weights to 4 bits in
	// groups of 32 along the input with an fp16 scale each (blas.Q4,
	// llama.cpp's Q4_0: 4.5 bits a weight); a matrix whose input size is
	// not a multiple of 32 is int8 instead. The embedding and LM head are
	// int8, as llama.cpp keeps its output matrix at higher precision than
	// Q4_0: the logits are the most sensitive product, and one matrix.
	StorageInt4
)

func (s Storage) String() string {
	switch s {
	case StorageFP32:
		return "fp32"
	case StorageBF16:
		return "bf16"
	case StorageInt8:
		return "int8"
	case StorageInt4:
		return "int4"
	}
	return "auto"
}

// ParseStorage reads "auto", "fp32", "bf16", "int8" or "int4".
func ParseStorage(s string) (Storage, error) {
	switch s {
	case "auto", "":
		return StorageAuto, nil
	case "fp32", "float32":
		return StorageFP32, nil
	case "bf16", "bfloat16":
		return StorageBF16, nil
	case "int8":
		return StorageInt8, nil
	case "int4", "q4", "q4_0":
		return StorageInt4, nil
	}
	return StorageAuto, fmt.Errorf("weights %q: want auto, fp32, bf16, int8 or int4", s)
}

// CheckPrecision refuses blas.INT8 products for storage s that is not
// quantized: under INT8 the decoder runs its quantized weights' products
// for prompts in int8 (blas.MatMulQ), and float32 or bfloat16 weights
// would silently stay float32.
func CheckPrecision(s Storage) error {
	if blas.CurrentPrecision() == blas.INT8 && s.quant() == 0 {
		return fmt.Errorf("--precision int8 needs --weights int8 or int4 for a decoder (it runs the prompt's products on quantized weights in int8), not %v", s)
	}
	return nil
}

// quant is the format of a block's Linear weights under s (0 when not
// quantized).
func (s Storage) quant() blas.QFormat {
	switch s {
	case StorageInt8:
		return blas.Int8
	case StorageInt4:
		return blas.Q4
	}
	return 0
}

// LoadOptions choose how Load keeps the weights.
type LoadOptions struct {
	// Weights is the storage of the weights (StorageAuto by default).
	Weights Storage
	// TrainTop keeps the top TrainTop blocks, the LM head and, for a tied
	// model, the embedding in float32 whatever Weights says, so that they
	// can be fine-tuned (NewGrads(topN ≤ TrainTop)) while the frozen rest
	// stays bfloat16.
	TrainTop int
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

// Load reads a decoder from a Hugging Face model folder, its weights
// stored as the checkpoint stores them (StorageAuto).
func Load(dir string) (*Model, error) { return LoadWith(dir, LoadOptions{}) }

// LoadWith is Load with options.
func LoadWith(dir string, o LoadOptions) (*Model, error) {
	cfg, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	r, err := safetensors.OpenDir(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	w, err := LoadWeightsWith(r, cfg, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	m := New(cfg, w)
	if b, err := os.ReadFile(filepath.Join(dir, "generation_config.json")); err == nil {
		var g struct {
			EOS json.RawMessage `json:"eos_token_id"`
		}
		if err := json.Unmarshal(b, &g); err != nil {
			return nil, fmt.Errorf("%s/generation_config.json: %w", dir, err)
		}
		ids, err := parseIDs(g.EOS)
		if err != nil {
			return nil, fmt.Errorf("%s/generation_config.json: eos_token_id: %w", dir, err)
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

// LoadWeights reads the weights of cfg's model type from r, stored as the
// checkpoint stores them (StorageAuto).
func LoadWeights(r *safetensors.Reader, cfg *Config) (*Weights, error) {
	return LoadWeightsWith(r, cfg, LoadOptions{})
}

// LoadWeightsWith reads the weights of cfg's model type from r, stored as
// o says.
func LoadWeightsWith(r *safetensors.Reader, cfg *Config, o LoadOptions) (*Weights, error) {
	n, ok := layouts[cfg.ModelType]
	if !ok {
		return nil, fmt.Errorf("model_type %q: want llama or exaone", cfg.ModelType)
	}
	if o.TrainTop < 0 || o.TrainTop > cfg.NumLayers {
		return nil, fmt.Errorf("LoadOptions.TrainTop = %d: the model has %d layers", o.TrainTop, cfg.NumLayers)
	}
	// bf reports whether a tensor is to be kept in bfloat16: always under
	// StorageBF16, under StorageAuto when the checkpoint stores it so.
	bf := func(name string) bool {
		if o.Weights == StorageAuto {
			in, ok := r.Info(name)
			return ok && in.DType == safetensors.BF16
		}
		return o.Weights == StorageBF16
	}
	// The embedding and head stay float32 when trained: the head always
	// is, and a tied model's embedding is the head.
	headBF := bf(n.lmHead+".weight") && o.TrainTop == 0
	embedBF := bf(n.embed+".weight") && (o.TrainTop == 0 || !cfg.TieEmbeddings)
	qf := o.Weights.quant()
	headQ := qf != 0 && o.TrainTop == 0
	embedQ := qf != 0 && (o.TrainTop == 0 || !cfg.TieEmbeddings)
	C, F, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QD, KD := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	var err error
	w := &Weights{}
	// quantized reads a matrix [rows,cols] and quantizes it: a BF16 one
	// through a bfloat16 copy, others through a float32 one, garbage at
	// once (read first, the embedding's and head's leave their memory to
	// the blocks).
	quantized := func(name string, rows, cols int, f blas.QFormat) (*blas.QMatrix, error) {
		if in, ok := r.Info(name); ok && in.DType == safetensors.BF16 {
			h := make([]uint16, rows*cols)
			if err := r.ReadBF16(name, []int{rows, cols}, h); err != nil {
				return nil, err
			}
			return blas.QuantizeBF16(f, h, rows, cols)
		}
		x, err := r.Float32(name, []int{rows, cols})
		if err != nil {
			return nil, err
		}
		return blas.Quantize(f, x, rows, cols)
	}
	switch {
	case embedQ:
		w.EmbedQ, err = quantized(n.embed+".weight", V, C, blas.Int8)
	case embedBF:
		w.Embed16 = make([]uint16, V*C)
		err = r.ReadBF16(n.embed+".weight", []int{V, C}, w.Embed16)
	default:
		w.Embed, err = r.Float32(n.embed+".weight", []int{V, C})
	}
	if err != nil {
		return nil, err
	}
	if w.Norm, err = r.Float32(n.norm+".weight", []int{C}); err != nil {
		return nil, err
	}
	switch {
	case cfg.TieEmbeddings:
		w.LMHead, w.LMHead16, w.LMHeadQ = w.Embed, w.Embed16, w.EmbedQ
	case !r.Has(n.lmHead + ".weight"):
		return nil, fmt.Errorf("no %s.weight and tie_word_embeddings is false", n.lmHead)
	case headQ:
		w.LMHeadQ, err = quantized(n.lmHead+".weight", V, C, blas.Int8)
	case headBF:
		w.LMHead16 = make([]uint16, V*C)
		err = r.ReadBF16(n.lmHead+".weight", []int{V, C}, w.LMHead16)
	default:
		w.LMHead, err = r.Float32(n.lmHead+".weight", []int{V, C})
	}
	if err != nil {
		return nil, err
	}
	// fused16 reads Linear weights [out_i,in] as bfloat16, stacked:
	// [Σout_i,in].
	fused16 := func(p string, in int, parts []string, outs []int) ([]uint16, error) {
		tot := 0
		for _, o := range outs {
			tot += o
		}
		all := make([]uint16, tot*in)
		off := 0
		for i, part := range parts {
			if err := r.ReadBF16(p+part+".weight", []int{outs[i], in}, all[off*in:(off+outs[i])*in]); err != nil {
				return nil, err
			}
			off += outs[i]
		}
		return all, nil
	}
	// scratch holds a block's float32 weights on their way to
	// quantization, reused from matrix to matrix.
	var scratch []float32
	// fused reads Linear weights [out_i,in] and returns them stacked and
	// transposed, [in,Σout_i] (or, with w16, stacked in bfloat16 into
	// *w16; with wq, stacked and quantized into *wq, Q4 as int8 when in
	// is not a multiple of its blocks); with biases, their concatenation.
	fused := func(p string, in int, bias bool, parts []string, outs []int, w16 *[]uint16, wq **blas.QMatrix) (wt, b []float32, err error) {
		tot := 0
		for _, o := range outs {
			tot += o
		}
		if bias {
			b = make([]float32, tot)
		}
		var all []float32
		switch {
		case w16 != nil:
			if *w16, err = fused16(p, in, parts, outs); err != nil {
				return nil, nil, err
			}
		case wq != nil:
			if cap(scratch) < tot*in {
				scratch = make([]float32, tot*in)
			}
			all = scratch[:tot*in]
		default:
			all = make([]float32, tot*in)
		}
		off := 0
		for i, part := range parts {
			if w16 == nil {
				if err := r.ReadFloat32(p+part+".weight", []int{outs[i], in}, all[off*in:(off+outs[i])*in]); err != nil {
					return nil, nil, err
				}
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
		if w16 != nil {
			return nil, b, nil
		}
		if wq != nil {
			f := qf
			if f == blas.Q4 && in%blas.Q4Block != 0 {
				f = blas.Int8
			}
			*wq, err = blas.Quantize(f, all, tot, in)
			return nil, b, err
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
		var qkv16, o16, gu16, down16 *[]uint16
		var qkvQ, oQ, guQ, downQ **blas.QMatrix
		frozen := l < cfg.NumLayers-o.TrainTop
		switch {
		case qf != 0 && frozen:
			qkvQ, oQ, guQ, downQ = &L.QKVQ, &L.OQ, &L.GateUpQ, &L.DownQ
		case bf(p+n.q+".weight") && frozen:
			qkv16, o16, gu16, down16 = &L.QKVW16, &L.OW16, &L.GateUpW16, &L.DownW16
		}
		if L.QKVWT, L.QKVB, err = fused(p, C, ab, []string{n.q, n.k, n.v}, []int{QD, KD, KD}, qkv16, qkvQ); err != nil {
			return nil, err
		}
		if L.OWT, L.OB, err = fused(p, QD, ab, []string{n.o}, []int{C}, o16, oQ); err != nil {
			return nil, err
		}
		if L.GateUpWT, L.GateUpB, err = fused(p, C, mb, []string{n.gate, n.up}, []int{F, F}, gu16, guQ); err != nil {
			return nil, err
		}
		if L.DownWT, L.DownB, err = fused(p, F, mb, []string{n.down}, []int{C}, down16, downQ); err != nil {
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

// Size counts the weights' parameters and their bytes in memory, for the
// blocks, the embedding, the LM head and the final norm (a tied head
// shares the embedding's, counted once, in embed).
type Size struct {
	Params, Bytes                                int
	LayerBytes, EmbedBytes, HeadBytes, NormBytes int
}

// Size returns the sizes of w (float32 4 bytes, bfloat16 2, quantized
// matrices their blas.QMatrix.Bytes).
func (w *Weights) Size() Size {
	var s Size
	add := func(f []float32, h []uint16) int {
		s.Params += len(f) + len(h)
		return 4*len(f) + 2*len(h)
	}
	addQ := func(q *blas.QMatrix) int {
		if q == nil {
			return 0
		}
		s.Params += q.Rows * q.Cols
		return q.Bytes()
	}
	for i := range w.Layers {
		L := &w.Layers[i]
		for _, f := range [][]float32{L.AttnNorm, L.QKVWT, L.QKVB, L.OWT, L.OB, L.MLPNorm, L.GateUpWT, L.GateUpB, L.DownWT, L.DownB} {
			s.LayerBytes += add(f, nil)
		}
		for _, h := range [][]uint16{L.QKVW16, L.OW16, L.GateUpW16, L.DownW16} {
			s.LayerBytes += add(nil, h)
		}
		for _, q := range []*blas.QMatrix{L.QKVQ, L.OQ, L.GateUpQ, L.DownQ} {
			s.LayerBytes += addQ(q)
		}
	}
	s.EmbedBytes = add(w.Embed, w.Embed16) + addQ(w.EmbedQ)
	if w.tied() {
		s.HeadBytes = s.EmbedBytes
	} else {
		s.HeadBytes = add(w.LMHead, w.LMHead16) + addQ(w.LMHeadQ)
	}
	s.NormBytes = add(w.Norm, nil)
	s.Bytes = s.LayerBytes + s.EmbedBytes + s.NormBytes
	if !w.tied() {
		s.Bytes += s.HeadBytes
	}
	return s
}

// tied reports whether the LM head is the embedding matrix.
func (w *Weights) tied() bool {
	switch {
	case w.LMHeadQ != nil && w.EmbedQ != nil:
		return w.LMHeadQ == w.EmbedQ
	case w.LMHead16 != nil && w.Embed16 != nil:
		return &w.LMHead16[0] == &w.Embed16[0]
	case w.LMHead != nil && w.Embed != nil:
		return &w.LMHead[0] == &w.Embed[0]
	}
	return false
}
