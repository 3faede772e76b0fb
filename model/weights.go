package model

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/kormed/kormed/nn"
	"github.com/kormed/kormed/safetensors"
)

// Weights are the encoder's parameters. Embeddings, LayerNorms and the
// pooler keep PyTorch's layouts; the transformer blocks' Linear weights are
// stored transposed ([in,out], for nn.LinearT, which runs faster than the
// checkpoint's [out,in]), with Q, K and V fused into one [C,3C] matrix at load.
type Weights struct {
	WordEmb []float32 // [V,C]
	PosEmb  []float32 // [P,C]
	TypeEmb []float32 // [TV,C]
	EmbLNW  []float32 // [C]
	EmbLNB  []float32 // [C]
	Layers  []Layer
	PoolerW []float32 // [C,C]; nil when the checkpoint has no pooler
	PoolerB []float32 // [C]

	int8 []int8Layer // the blocks quantized for blas.INT8 (see QuantizeInt8)
	bf16 []bf16Layer // the blocks' products packed for blas.BF16 (see PackBF16)
}

// Layer is one post-LayerNorm transformer block.
type Layer struct {
	QKVWT, QKVB         []float32 // [C,3C], [3C]: query, key, value columns side by side
	AttnOutWT, AttnOutB []float32 // [C,C], [C]
	AttnLNW, AttnLNB    []float32 // [C]
	InterWT, InterB     []float32 // [C,F], [F]
	OutWT, OutB         []float32 // [F,C], [C]
	OutLNW, OutLNB      []float32 // [C]
}

// weightPrefix finds the prefix in front of the encoder's weight names
// ("", "bert.", "roberta.", "model.", "question_encoder.bert_model." …)
// from the word embedding table's name.
func weightPrefix(names []string) (string, error) {
	const key = "embeddings.word_embeddings.weight"
	var cands []string
	for _, n := range names {
		if strings.HasSuffix(n, key) {
			p := strings.TrimSuffix(n, key)
			if p == "" || strings.HasSuffix(p, ".") {
				cands = append(cands, p)
			}
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("no tensor named *%s: not a BERT/XLM-R checkpoint", key)
	}
	sort.Slice(cands, func(i, j int) bool { return len(cands[i]) < len(cands[j]) })
	if len(cands) > 1 && len(cands[0]) == len(cands[1]) {
		return "", fmt.Errorf("several encoders in one checkpoint (%q and %q): unsupported", cands[0], cands[1])
	}
	return cands[0], nil
}

// LoadWeights reads the encoder weights for cfg from r.
func LoadWeights(r *safetensors.Reader, cfg *Config) (*Weights, error) {
	prefix, err := weightPrefix(r.Names())
	if err != nil {
		return nil, err
	}
	C, F := cfg.HiddenSize, cfg.IntermediateSize
	get := func(name string, shape ...int) ([]float32, error) {
		return r.Float32(prefix+name, shape)
	}
	// getT reads a Linear weight [out,in] and returns it transposed.
	getT := func(name string, out, in int) ([]float32, error) {
		w, err := get(name, out, in)
		if err != nil {
			return nil, err
		}
		return nn.TransposeWeight(w, out, in), nil
	}
	// ln reads a LayerNorm, accepting the old gamma/beta names.
	ln := func(base string) (w, b []float32, err error) {
		if w, err = get(base+".weight", C); errors.Is(err, safetensors.ErrMissing) {
			w, err = get(base+".gamma", C)
		}
		if err != nil {
			return nil, nil, err
		}
		if b, err = get(base+".bias", C); errors.Is(err, safetensors.ErrMissing) {
			b, err = get(base+".beta", C)
		}
		return w, b, err
	}
	w := &Weights{}
	if w.WordEmb, err = get("embeddings.word_embeddings.weight", cfg.VocabSize, C); err != nil {
		return nil, err
	}
	if w.PosEmb, err = get("embeddings.position_embeddings.weight", cfg.MaxPositionEmbeddings, C); err != nil {
		return nil, err
	}
	if w.TypeEmb, err = get("embeddings.token_type_embeddings.weight", cfg.TypeVocabSize, C); err != nil {
		return nil, err
	}
	if w.EmbLNW, w.EmbLNB, err = ln("embeddings.LayerNorm"); err != nil {
		return nil, err
	}
	w.Layers = make([]Layer, cfg.NumHiddenLayers)
	for l := range w.Layers {
		L := &w.Layers[l]
		p := fmt.Sprintf("encoder.layer.%d.", l)
		qkv := make([]float32, 3*C*C)
		L.QKVB = make([]float32, 3*C)
		for i, n := range []string{"query", "key", "value"} {
			if err := r.ReadFloat32(prefix+p+"attention.self."+n+".weight", []int{C, C}, qkv[i*C*C:(i+1)*C*C]); err != nil {
				return nil, err
			}
			if err := r.ReadFloat32(prefix+p+"attention.self."+n+".bias", []int{C}, L.QKVB[i*C:(i+1)*C]); err != nil {
				return nil, err
			}
		}
		L.QKVWT = nn.TransposeWeight(qkv, 3*C, C)
		if L.AttnOutWT, err = getT(p+"attention.output.dense.weight", C, C); err != nil {
			return nil, err
		}
		if L.AttnOutB, err = get(p+"attention.output.dense.bias", C); err != nil {
			return nil, err
		}
		if L.AttnLNW, L.AttnLNB, err = ln(p + "attention.output.LayerNorm"); err != nil {
			return nil, err
		}
		if L.InterWT, err = getT(p+"intermediate.dense.weight", F, C); err != nil {
			return nil, err
		}
		if L.InterB, err = get(p+"intermediate.dense.bias", F); err != nil {
			return nil, err
		}
		if L.OutWT, err = getT(p+"output.dense.weight", C, F); err != nil {
			return nil, err
		}
		if L.OutB, err = get(p+"output.dense.bias", C); err != nil {
			return nil, err
		}
		if L.OutLNW, L.OutLNB, err = ln(p + "output.LayerNorm"); err != nil {
			return nil, err
		}
	}
	if r.Has(prefix + "pooler.dense.weight") {
		if w.PoolerW, err = get("pooler.dense.weight", C, C); err != nil {
			return nil, err
		}
		if w.PoolerB, err = get("pooler.dense.bias", C); err != nil {
			return nil, err
		}
	}
	if r.Has(prefix + fmt.Sprintf("encoder.layer.%d.attention.self.query.weight", cfg.NumHiddenLayers)) {
		return nil, fmt.Errorf("checkpoint has more layers than num_hidden_layers %d", cfg.NumHiddenLayers)
	}
	return w, nil
}
