package model

import (
	"errors"
	"fmt"

	"github.com/kormed/kormed/nn"
)

// gradBuffers is the backward pass's scratch, grown on demand.
type gradBuffers struct {
	store          []float32
	capBT          int
	t1, t2         []float32 // [BT,C]
	f1, f2         []float32 // [BT,F]
	qkv            []float32 // [BT,3C]
	embTypeScratch []int32
}

func (g *gradBuffers) grow(BT, C, F int) {
	if BT > g.capBT || g.store == nil {
		g.capBT = BT
		g.store = nil
		g.store = make([]float32, BT*(5*C+2*F))
	}
	s := g.store
	take := func(n int) []float32 { v := s[:n:n]; s = s[n:]; return v }
	g.t1, g.t2 = take(BT*C), take(BT*C)
	g.f1, g.f2 = take(BT*F), take(BT*F)
	g.qkv = take(3 * BT * C)
}

// NewGrads returns gradient buffers shaped like w for the parameters
// trainable says yes to (zeroed), and nil slices for the others. Backward
// and PoolBackward skip the work of a nil (frozen) parameter.
func NewGrads(cfg *Config, w *Weights, trainable func(p Param) bool) *Weights {
	g := &Weights{Layers: make([]Layer, len(w.Layers))}
	wp, gp := w.Params(cfg), g.Params(cfg)
	for i, p := range wp {
		if *p.Data != nil && trainable(p) {
			*gp[i].Data = make([]float32, len(*p.Data))
		}
	}
	return g
}

// lowestTrainable is the lowest block the backward must visit: -1 when an
// embedding parameter is trainable, else the lowest layer with a trainable
// parameter, or len(Layers) when none is (the pooler is PoolBackward's).
func (g *Weights) lowestTrainable(cfg *Config) int {
	low := len(g.Layers)
	for _, p := range g.Params(cfg) {
		if *p.Data != nil && p.Layer < low && p.Layer < len(g.Layers) {
			low = p.Layer
		}
	}
	return low
}

// Backward runs the encoder's backward pass after a Forward with ws.Save
// set: given dout [B,T,C], the gradient of the loss with respect to the
// last hidden state Forward returned, it accumulates (+=) the gradient of
// every parameter whose buffer in g is non-nil (see NewGrads). dout is
// used as scratch and overwritten. Layers below the lowest trainable
// parameter are not visited, frozen weights get no weight-gradient
// product. The dropout of the forward (ws.Drop) is replayed from its keys.
//
// Per layer, the reverse of layerForward (gradients written d·):
//
//	dres2 = LN2ᵀ(dout);           dln1 = dres2;  df = dropᵀ(dres2)
//	dg    = df·W2;                dW2 += gᵀ·df;  db2 += Σ df
//	dh    = dg ⊙ GELU'(h)
//	dln1 += dh·W1;                dW1 += ln1ᵀ·dh; db1 += Σ dh
//	dres1 = LN1ᵀ(dln1);           din = dres1;   da = dropᵀ(dres1)
//	dy    = da·Wo;                dWo += yᵀ·da;  dbo += Σ da
//	dqkv  = Attentionᵀ(dy)
//	din  += dqkv·Wqkv;            dWqkv += inᵀ·dqkv; dbqkv += Σ dqkv
func (e *Encoder) Backward(ws *Workspace, g *Weights, dout []float32) error {
	if !ws.Save || len(ws.Acts) != len(e.W.Layers) || len(ws.ids) != ws.B*ws.T {
		return errors.New("backward: the workspace holds no saved forward (set Save before Forward)")
	}
	if len(g.Layers) != len(e.W.Layers) {
		return fmt.Errorf("backward: gradients for %d layers, the encoder has %d", len(g.Layers), len(e.W.Layers))
	}
	cfg := &e.Cfg
	B, T := ws.B, ws.T
	C, F, NH, BT := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumAttentionHeads, ws.B*ws.T
	if len(dout) < BT*C {
		return fmt.Errorf("backward: dout has %d elements, want %d", len(dout), BT*C)
	}
	low := g.lowestTrainable(cfg)
	if low == len(g.Layers) {
		return nil // nothing below the pooling is trainable
	}
	gb := &ws.grad
	gb.grow(BT, C, F)
	dx := dout[:BT*C]
	drop := ws.dropping()
	for l := len(e.W.Layers) - 1; l >= max(low, 0); l-- {
		in := ws.Emb
		if l > 0 {
			in = ws.Acts[l-1].Out
		}
		e.layerBackward(ws, drop, l, g, dx, in, B, T, C, F, NH, l > low)
	}
	if low >= 0 {
		return nil
	}
	// Embeddings: dropout, LayerNorm, then the three lookups.
	if drop != nil {
		nn.DropoutBackward(dx, B, T, C, drop.Hidden, ws.keysFor(drop, -1, siteEmb))
	}
	w := e.W
	dsum := gb.t1[:BT*C]
	clear(dsum)
	nn.LayerNormBackward(dsum, g.EmbLNW, g.EmbLNB, dx, ws.EmbSum, w.EmbLNW, ws.EmbMean, ws.EmbRstd, BT, C)
	pad := int32(cfg.PadTokenID)
	if g.WordEmb != nil {
		nn.EmbeddingBackward(g.WordEmb, ws.ids, dsum, C, pad)
	}
	if g.PosEmb != nil {
		posPad := int32(-1) // BERT's position table has no padding row; RoBERTa's has
		if cfg.Positions() == RoBERTaPositions {
			posPad = pad
		}
		nn.EmbeddingBackward(g.PosEmb, ws.Pos, dsum, C, posPad)
	}
	if g.TypeEmb != nil {
		tt := ws.typeIDs
		if len(tt) == 0 {
			tt = gb.embTypeScratch[:0]
			for range BT {
				tt = append(tt, 0)
			}
			gb.embTypeScratch = tt
		}
		nn.EmbeddingBackward(g.TypeEmb, tt, dsum, C, -1)
	}
	return nil
}

// layerBackward is one block's backward (see Backward); dx holds the
// gradient of the block's output on entry and of its input on return
// (computed only when needInput).
func (e *Encoder) layerBackward(ws *Workspace, drop *Dropout, l int, g *Weights, dx, in []float32, B, T, C, F, NH int, needInput bool) {
	a, L, G := &ws.Acts[l], &e.W.Layers[l], &g.Layers[l]
	gb := &ws.grad
	BT := B * T
	t1, t2 := gb.t1[:BT*C], gb.t2[:BT*C]
	f1, f2 := gb.f1[:BT*F], gb.f2[:BT*F]
	hidden := drop != nil && drop.Hidden > 0

	// Output LayerNorm and the FFN.
	clear(t1)
	nn.LayerNormBackward(t1, G.OutLNW, G.OutLNB, dx, a.Res2, L.OutLNW, a.LN2Mean, a.LN2Rstd, BT, C)
	copy(t2, t1) // the residual: dln1 starts as dres2
	if hidden {
		nn.DropoutBackward(t1, B, T, C, drop.Hidden, ws.keysFor(drop, l, siteFFNOut))
	}
	nn.LinearTInputGrad(f1, t1, L.OutWT, BT, F, C, false)
	nn.LinearTBackward(nil, G.OutWT, G.OutB, t1, a.G, L.OutWT, BT, F, C)
	clear(f2)
	nn.GELUBackward(f2, a.H, f1)
	nn.LinearTBackward(t2, G.InterWT, G.InterB, f2, a.LN1, L.InterWT, BT, C, F)

	// Attention LayerNorm, output projection, attention, QKV.
	clear(t1)
	nn.LayerNormBackward(t1, G.AttnLNW, G.AttnLNB, t2, a.Res1, L.AttnLNW, a.LN1Mean, a.LN1Rstd, BT, C)
	copy(dx, t1) // the residual: din starts as dres1
	if hidden {
		nn.DropoutBackward(t1, B, T, C, drop.Hidden, ws.keysFor(drop, l, siteAttnOut))
	}
	nn.LinearTInputGrad(t2, t1, L.AttnOutWT, BT, C, C, false)
	nn.LinearTBackward(nil, G.AttnOutWT, G.AttnOutB, t1, a.AttY, L.AttnOutWT, BT, C, C)
	dqkv := gb.qkv[:3*BT*C]
	clear(dqkv)
	if drop != nil && drop.Attention > 0 {
		nn.AttentionDropoutBackward(dqkv, t2, a.QKV, a.Att, B, T, C, NH, drop.Attention, ws.keysFor(drop, l, siteAttnProbs))
	} else {
		nn.AttentionBackward(dqkv, t2, a.QKV, a.Att, B, T, C, NH)
	}
	var din []float32
	if needInput {
		din = dx
	}
	nn.LinearTBackward(din, G.QKVWT, G.QKVB, dqkv, in, L.QKVWT, BT, C, 3*C)
}

// PoolForward is Pool for training: it also needs nothing saved, since
// PoolBackward recomputes the pooled vector from hidden (a few B×C passes).
//
// PoolBackward accumulates into dhidden [B,T,C] (and into g's pooler
// weights when pooling is PoolPooler and they are trainable) the gradient
// of Pool(hidden, mask, p, normalize) given dout [B,C]. (kormed train's
// stages pool by mean or CLS, what a sentence-transformers folder can
// save; PoolPooler is there for library users training DPR-style pooler
// outputs.)
func (e *Encoder) PoolBackward(dhidden []float32, g *Weights, dout, hidden, mask []float32, B, T int, p Pooling, normalize bool) error {
	C := e.Cfg.HiddenSize
	if mask == nil {
		mask = ones(B * T)
	}
	dpool := dout[:B*C]
	if normalize {
		pre := make([]float32, B*C)
		if err := e.Pool(pre, hidden, mask, B, T, p, false); err != nil {
			return err
		}
		dpool = make([]float32, B*C)
		nn.L2NormalizeBackward(dpool, dout, pre, B, C)
	}
	switch p {
	case PoolMean:
		nn.MeanPoolBackward(dhidden, dpool, mask, B, T, C)
	case PoolCLS:
		nn.CLSPoolBackward(dhidden, dpool, B, T, C)
	case PoolPooler:
		if e.W.PoolerW == nil {
			return fmt.Errorf("pooling %q: the checkpoint has no pooler weights", p)
		}
		cls := make([]float32, B*C)
		nn.CLSPool(cls, hidden, B, T, C)
		out := make([]float32, B*C)
		nn.Linear(out, cls, e.W.PoolerW, e.W.PoolerB, B, C, C)
		nn.Tanh(out, out)
		dpre := make([]float32, B*C)
		nn.TanhBackward(dpre, out, dpool)
		dcls := make([]float32, B*C)
		nn.LinearBackward(dcls, g.PoolerW, g.PoolerB, dpre, cls, e.W.PoolerW, B, C, C)
		nn.CLSPoolBackward(dhidden, dcls, B, T, C)
	default:
		return fmt.Errorf("unknown pooling %q", p)
	}
	return nil
}
