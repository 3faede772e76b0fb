package model

import (
	"github.com/kormed/kormed/blas"
)

// bf16Layer is one block's Linear weights packed for bf16 products
// (blas.PackBF16), from the transposed float32 weights nn.LinearT reads.
type bf16Layer struct {
	qkv, attnOut, inter, out *blas.BF16Packed
}

// unpacked is the bf16Layer of a block without packed products.
var unpacked bf16Layer

// PackBF16 rounds the blocks' Linear weights (QKV, attention output, FFN)
// to bfloat16 once and packs them for oneDNN's bf16 matmul, for the
// forwards that run under blas.BF16 without saving activations
// (inference): a product of a few rows then converts only its input
// (nn.LinearTPacked; 1.17–3.7× the product on weights rounded at every
// call, up to blas.BF16PackedRows rows, BENCHMARKS.md "Eighth pass").
// The copy costs half the four projections' float32 bytes (e5-small: 40
// MiB beside its 448 MiB of float32 weights, most of them embeddings).
// LoadEncoder calls it when BF16 is in force; a training Tower drops it
// (DropBF16), since the copy does not follow changes to the float32
// weights: call PackBF16 again after changing them. Where bf16 products
// do not run it packs nothing.
func (w *Weights) PackBF16() {
	var p []bf16Layer
	for l := range w.Layers {
		L := &w.Layers[l]
		C, F := len(L.AttnOutB), len(L.InterB)
		q := bf16Layer{
			qkv:     blas.PackBF16(L.QKVWT, C, 3*C, false),
			attnOut: blas.PackBF16(L.AttnOutWT, C, C, false),
			inter:   blas.PackBF16(L.InterWT, C, F, false),
			out:     blas.PackBF16(L.OutWT, F, C, false),
		}
		if q.qkv == nil || q.attnOut == nil || q.inter == nil || q.out == nil {
			p = nil
			break
		}
		p = append(p, q)
	}
	packMu.Lock()
	w.bf16 = p
	packMu.Unlock()
}

// DropBF16 drops the packed bf16 copy (PackBF16): the forwards then run
// on the float32 weights as they are.
func (w *Weights) DropBF16() {
	packMu.Lock()
	w.bf16 = nil
	packMu.Unlock()
}

// bf16Layers returns the packed blocks, or nil.
func (w *Weights) bf16Layers() []bf16Layer {
	packMu.Lock()
	defer packMu.Unlock()
	return w.bf16
}

// PackedBF16 reports whether w holds the packed bf16 copy (PackBF16).
func (w *Weights) PackedBF16() bool { return w.bf16Layers() != nil }
