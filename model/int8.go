package model

import (
	"sync"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/nn"
)

// int8Layer is one block's Linear weights quantized for int8 inference
// (blas.INT8), in PyTorch's [out,in] layout, with the block's float32
// biases and LayerNorms (nn.EncoderBlockInt8's form of the block).
type int8Layer struct {
	nn.BlockInt8
}

// packMu guards Weights.int8 and Weights.bf16 (made once, read by
// concurrent forwards).
var packMu sync.Mutex

// QuantizeInt8 quantizes the blocks' Linear weights (QKV, attention
// output, FFN) to int8 per output channel, packed for the int8 kernel, for
// the forwards that run under blas.INT8. LoadEncoder calls it when INT8 is
// in force; otherwise the first int8 forward does. The float32 weights
// stay (embeddings, LayerNorms and the pooler run in float32, and the
// model still saves and trains in float32); call QuantizeInt8 again after
// changing them.
func (w *Weights) QuantizeInt8() {
	q := make([]int8Layer, len(w.Layers))
	for l := range w.Layers {
		L := &w.Layers[l]
		C := len(L.AttnOutB)
		F := len(L.InterB)
		q[l] = int8Layer{nn.BlockInt8{
			QKV:     blas.QuantizeInt8(L.QKVWT, 3*C, C, true),
			AttnOut: blas.QuantizeInt8(L.AttnOutWT, C, C, true),
			Inter:   blas.QuantizeInt8(L.InterWT, F, C, true),
			Out:     blas.QuantizeInt8(L.OutWT, C, F, true),
			QKVB:    L.QKVB, AttnOutB: L.AttnOutB, InterB: L.InterB, OutB: L.OutB,
			AttnLNW: L.AttnLNW, AttnLNB: L.AttnLNB, OutLNW: L.OutLNW, OutLNB: L.OutLNB,
		}}
	}
	packMu.Lock()
	w.int8 = q
	packMu.Unlock()
}

// int8Layers returns the quantized blocks, quantizing them on first use.
func (w *Weights) int8Layers() []int8Layer {
	packMu.Lock()
	q := w.int8
	packMu.Unlock()
	if q == nil {
		w.QuantizeInt8()
		packMu.Lock()
		q = w.int8
		packMu.Unlock()
	}
	return q
}

// Int8Kernel names the implementation of the int8 products (such as
// "oneDNN brg:avx512_core_vnni" or "pure-go"), quantizing the weights if
// they are not yet; "" for an encoder without layers.
func (e *Encoder) Int8Kernel() string {
	q := e.W.int8Layers()
	if len(q) == 0 {
		return ""
	}
	return q[0].QKV.Kernel()
}

// layerForwardInt8 is layerForward at inference (no saved activations, no
// dropout) with the four projections as int8 products: the whole block
// sequence by sequence where nn.EncoderBlockInt8 applies, otherwise step
// by step (the same result, bit for bit).
func (e *Encoder) layerForwardInt8(ws *Workspace, a *LayerActs, q *int8Layer, in, mask []float32, B, T, C, F, NH int, eps float32) {
	if nn.EncoderBlockInt8(a.Out, in, mask, &q.BlockInt8, B, T, C, F, NH, eps) {
		return
	}
	BT, tmp := B*T, ws.Tmp
	nn.LinearInt8(a.QKV, in, q.QKV, q.QKVB, BT, C, 3*C)
	nn.Attention(a.AttY, a.Att, a.QKV, mask, B, T, C, NH)
	nn.LinearInt8(tmp, a.AttY, q.AttnOut, nil, BT, C, C)
	nn.AddBiasLayerNorm(a.LN1, a.Res1, a.LN1Mean, a.LN1Rstd, tmp, q.AttnOutB, in, q.AttnLNW, q.AttnLNB, BT, C, eps)
	nn.FFNInt8(tmp, a.G, a.LN1, q.Inter, q.InterB, q.Out, BT, C, F)
	nn.AddBiasLayerNorm(a.Out, a.Res2, a.LN2Mean, a.LN2Rstd, tmp, q.OutB, a.LN1, q.OutLNW, q.OutLNB, BT, C, eps)
}
