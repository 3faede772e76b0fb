package model

import "fmt"

// Param is one tensor of the encoder as kormed stores it, named after the
// Hugging Face weights it holds. Weights.Params lists them in a fixed
// order, so the Params of a gradient or optimiser-state Weights line up
// with the model's.
type Param struct {
	// Name is the Hugging Face name without prefix
	// ("encoder.layer.3.attention.output.dense.weight"); the fused query,
	// key and value projections are one Param named
	// "encoder.layer.N.attention.self.{query,key,value}.weight" (or .bias).
	Name string
	// HF are the Hugging Face tensors it holds (three for the fused Q/K/V).
	HF []string
	// Shape is the stored shape (Linear weights of the blocks transposed).
	Shape []int
	// Layer is the block index; -1 for the embeddings, len(Layers) for
	// the pooler.
	Layer int
	// Decay says whether weight decay applies: to weights and embedding
	// tables, not to biases or LayerNorm parameters (the HF Trainer's and
	// sentence-transformers' grouping).
	Decay bool
	// Data points at the Weights field.
	Data *[]float32
}

// Size is the number of elements.
func (p Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Params lists the encoder's tensors, shaped by cfg: embeddings, blocks in
// order, pooler. Fields that are nil (a checkpoint without pooler; a frozen
// parameter in a gradient Weights) are listed too, with *Data nil.
func (w *Weights) Params(cfg *Config) []Param {
	var ps []Param
	add := func(name string, hf []string, layer int, decay bool, data *[]float32, shape ...int) {
		if hf == nil {
			hf = []string{name}
		}
		ps = append(ps, Param{Name: name, HF: hf, Shape: shape, Layer: layer, Decay: decay, Data: data})
	}
	C, F := cfg.HiddenSize, cfg.IntermediateSize
	add("embeddings.word_embeddings.weight", nil, -1, true, &w.WordEmb, cfg.VocabSize, C)
	add("embeddings.position_embeddings.weight", nil, -1, true, &w.PosEmb, cfg.MaxPositionEmbeddings, C)
	add("embeddings.token_type_embeddings.weight", nil, -1, true, &w.TypeEmb, cfg.TypeVocabSize, C)
	add("embeddings.LayerNorm.weight", nil, -1, false, &w.EmbLNW, C)
	add("embeddings.LayerNorm.bias", nil, -1, false, &w.EmbLNB, C)
	for l := range w.Layers {
		L := &w.Layers[l]
		p := fmt.Sprintf("encoder.layer.%d.", l)
		qkv := func(kind string) []string {
			return []string{p + "attention.self.query." + kind, p + "attention.self.key." + kind, p + "attention.self.value." + kind}
		}
		add(p+"attention.self.{query,key,value}.weight", qkv("weight"), l, true, &L.QKVWT, C, 3*C)
		add(p+"attention.self.{query,key,value}.bias", qkv("bias"), l, false, &L.QKVB, 3*C)
		add(p+"attention.output.dense.weight", nil, l, true, &L.AttnOutWT, C, C)
		add(p+"attention.output.dense.bias", nil, l, false, &L.AttnOutB, C)
		add(p+"attention.output.LayerNorm.weight", nil, l, false, &L.AttnLNW, C)
		add(p+"attention.output.LayerNorm.bias", nil, l, false, &L.AttnLNB, C)
		add(p+"intermediate.dense.weight", nil, l, true, &L.InterWT, C, F)
		add(p+"intermediate.dense.bias", nil, l, false, &L.InterB, F)
		add(p+"output.dense.weight", nil, l, true, &L.OutWT, F, C)
		add(p+"output.dense.bias", nil, l, false, &L.OutB, C)
		add(p+"output.LayerNorm.weight", nil, l, false, &L.OutLNW, C)
		add(p+"output.LayerNorm.bias", nil, l, false, &L.OutLNB, C)
	}
	add("pooler.dense.weight", nil, len(w.Layers), true, &w.PoolerW, C, C)
	add("pooler.dense.bias", nil, len(w.Layers), false, &w.PoolerB, C)
	return ps
}
