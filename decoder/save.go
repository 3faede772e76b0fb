package decoder

import (
	"fmt"

	"github.com/kormed/kormed/nn"
	"github.com/kormed/kormed/safetensors"
)

// Tensors returns the model's weights as Hugging Face tensors of its model
// type, F32, under their original names: q, k, v and gate, up split apart
// again and the Linear weights back in PyTorch's [out,in] layout, biases
// where the model has them. A tied model has no lm_head.weight (as
// transformers saves it). The values are copies.
func (m *Model) Tensors() []safetensors.Tensor {
	n := layouts[m.Cfg.ModelType]
	cfg := &m.Cfg
	C, F, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QD, KD := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	var ts []safetensors.Tensor
	add := func(name string, shape []int, v []float32) {
		ts = append(ts, safetensors.Float32s(name, shape, append([]float32(nil), v...)))
	}
	// split writes the parts of a fused transposed weight wt [in,Σout] as
	// Linear weights [out_i,in], and of its bias.
	split := func(p string, wt, b []float32, in int, parts []string, outs []int) {
		tot := 0
		for _, o := range outs {
			tot += o
		}
		w := nn.TransposeWeight(wt, in, tot) // [Σout,in]
		off := 0
		for i, part := range parts {
			ts = append(ts, safetensors.Float32s(p+part+".weight", []int{outs[i], in}, w[off*in:(off+outs[i])*in]))
			if b != nil {
				add(p+part+".bias", []int{outs[i]}, b[off:off+outs[i]])
			}
			off += outs[i]
		}
	}
	add(n.embed+".weight", []int{V, C}, m.W.Embed)
	for l := range m.W.Layers {
		L := &m.W.Layers[l]
		p := fmt.Sprintf(n.layer, l)
		add(p+n.attnNorm+".weight", []int{C}, L.AttnNorm)
		add(p+n.mlpNorm+".weight", []int{C}, L.MLPNorm)
		split(p, L.QKVWT, L.QKVB, C, []string{n.q, n.k, n.v}, []int{QD, KD, KD})
		split(p, L.OWT, L.OB, QD, []string{n.o}, []int{C})
		split(p, L.GateUpWT, L.GateUpB, C, []string{n.gate, n.up}, []int{F, F})
		split(p, L.DownWT, L.DownB, F, []string{n.down}, []int{C})
	}
	add(n.norm+".weight", []int{C}, m.W.Norm)
	if !cfg.TieEmbeddings {
		add(n.lmHead+".weight", []int{V, C}, m.W.LMHead)
	}
	return ts
}
