package decoder

import (
	"fmt"
	"math"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/nn"
	"github.com/kormed/kormed/safetensors"
)

// Tensors returns the model's weights as Hugging Face tensors of its model
// type under their original names: q, k, v and gate, up split apart again
// and the Linear weights back in PyTorch's [out,in] layout, biases where
// the model has them. A tied model has no lm_head.weight (as transformers
// saves it). Float32 weights are F32 tensors, bfloat16 ones BF16 tensors
// of the same values, quantized ones F32 tensors of the dequantized values.
// The values are copies.
func (m *Model) Tensors() []safetensors.Tensor { return m.TensorsFunc(nil) }

// TensorsFunc is Tensors computing the values only of the tensors for
// which want(name) is true (all when want is nil); the others come in the
// same order with their name, dtype and shape and nil Floats, for the
// caller to fill (lmtrain.Save reads frozen tensors from the source
// instead of copying, transposing and widening the model's).
func (m *Model) TensorsFunc(want func(name string) bool) []safetensors.Tensor {
	if want == nil {
		want = func(string) bool { return true }
	}
	n := layouts[m.Cfg.ModelType]
	cfg := &m.Cfg
	C, F, V := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize
	QD, KD := cfg.NumHeads*cfg.HeadDim, cfg.NumKVHeads*cfg.HeadDim
	var ts []safetensors.Tensor
	add := func(name string, shape []int, v []float32) {
		t := safetensors.Float32s(name, shape, nil)
		if want(name) {
			t.Floats = append([]float32(nil), v...)
		}
		ts = append(ts, t)
	}
	// split writes the parts of a fused transposed weight wt [in,Σout] as
	// Linear weights [out_i,in], and of its bias.
	// With w16 (q) set the weight is that bfloat16 (quantized) [Σout,in]
	// instead.
	split := func(p string, wt []float32, w16 []uint16, q *blas.QMatrix, b []float32, in int, parts []string, outs []int) {
		tot := 0
		for _, o := range outs {
			tot += o
		}
		var w []float32 // [Σout,in], computed when a part is wanted
		off := 0
		for i, part := range parts {
			t := safetensors.Float32s(p+part+".weight", []int{outs[i], in}, nil)
			if want(t.Name) {
				if w == nil && q != nil {
					w = dequantize(q)
				} else if w == nil && w16 != nil {
					w = widen(w16)
				} else if w == nil {
					w = nn.TransposeWeight(wt, in, tot)
				}
				t.Floats = w[off*in : (off+outs[i])*in]
			}
			if w16 != nil {
				t.DType = safetensors.BF16 // the widened values convert back exactly
			}
			ts = append(ts, t)
			if b != nil {
				add(p+part+".bias", []int{outs[i]}, b[off:off+outs[i]])
			}
			off += outs[i]
		}
	}
	// matrix adds the embedding or the head, float32, bfloat16 or
	// quantized.
	matrix := func(name string, f []float32, h []uint16, q *blas.QMatrix) {
		if q != nil {
			t := safetensors.Float32s(name, []int{V, C}, nil)
			if want(name) {
				t.Floats = dequantize(q)
			}
			ts = append(ts, t)
			return
		}
		if h != nil {
			t := safetensors.Tensor{Name: name, DType: safetensors.BF16, Shape: []int{V, C}}
			if want(name) {
				t.Floats = widen(h)
			}
			ts = append(ts, t)
			return
		}
		add(name, []int{V, C}, f)
	}
	matrix(n.embed+".weight", m.W.Embed, m.W.Embed16, m.W.EmbedQ)
	for l := range m.W.Layers {
		L := &m.W.Layers[l]
		p := fmt.Sprintf(n.layer, l)
		add(p+n.attnNorm+".weight", []int{C}, L.AttnNorm)
		add(p+n.mlpNorm+".weight", []int{C}, L.MLPNorm)
		split(p, L.QKVWT, L.QKVW16, L.QKVQ, L.QKVB, C, []string{n.q, n.k, n.v}, []int{QD, KD, KD})
		split(p, L.OWT, L.OW16, L.OQ, L.OB, QD, []string{n.o}, []int{C})
		split(p, L.GateUpWT, L.GateUpW16, L.GateUpQ, L.GateUpB, C, []string{n.gate, n.up}, []int{F, F})
		split(p, L.DownWT, L.DownW16, L.DownQ, L.DownB, F, []string{n.down}, []int{C})
	}
	add(n.norm+".weight", []int{C}, m.W.Norm)
	if !cfg.TieEmbeddings {
		matrix(n.lmHead+".weight", m.W.LMHead, m.W.LMHead16, m.W.LMHeadQ)
	}
	return ts
}

// widen returns bfloat16 bits as float32.
func widen(h []uint16) []float32 {
	f := make([]float32, len(h))
	for i, x := range h {
		f[i] = math.Float32frombits(uint32(x) << 16)
	}
	return f
}

// dequantize returns a quantized matrix as float32 [Rows,Cols].
func dequantize(q *blas.QMatrix) []float32 {
	f := make([]float32, q.Rows*q.Cols)
	for j := 0; j < q.Rows; j++ {
		q.DequantizeRow(j, f[j*q.Cols:(j+1)*q.Cols])
	}
	return f
}
