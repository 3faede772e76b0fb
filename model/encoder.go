package model

import (
	"fmt"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/nn"
)

// Encoder is a BERT / XLM-R transformer encoder: its configuration and
// weights. It holds no mutable state; Forward may run concurrently on
// distinct Workspaces.
type Encoder struct {
	Cfg Config
	W   *Weights
}

// LayerActs are one layer's activations. At inference a single LayerActs
// is reused by every layer and holds only what the next step reads (LN1
// and Out alias the layer input, the attention probabilities and the
// LayerNorm inputs and statistics are not kept); when a Workspace saves
// activations for a backward pass each layer has its own complete set.
type LayerActs struct {
	QKV              []float32 // [B,T,3C] fused projections
	Att              []float32 // [B,NH,T,T] softmax probabilities (Save only)
	AttY             []float32 // [B,T,C] attention output before projection
	Res1             []float32 // [B,T,C] projection + layer input = LayerNorm 1 input (Save only)
	LN1Mean, LN1Rstd []float32 // [B,T] (Save only)
	LN1              []float32 // [B,T,C]
	H                []float32 // [B,T,F] intermediate before GELU (Save only)
	G                []float32 // [B,T,F] after GELU
	Res2             []float32 // [B,T,C] FFN output + LN1 = LayerNorm 2 input (Save only)
	LN2Mean, LN2Rstd []float32 // [B,T] (Save only)
	Out              []float32 // [B,T,C] layer output
}

// Workspace holds the buffers of one forward pass, grown on demand and
// reused across batches, so the forward allocates nothing once warm. A
// Workspace is used by one goroutine at a time.
type Workspace struct {
	// Save makes Forward keep every layer's activations (Acts[l] per
	// layer, embedding statistics) for a backward pass.
	Save bool
	// Drop, when non-nil and Save is set, applies training-mode dropout
	// (see Dropout). Nil: evaluation mode, no dropout.
	Drop *Dropout

	B, T int // shape of the last forward

	Pos     []int32   // [B,T] position ids
	EmbSum  []float32 // [B,T,C] word+position+type sum (LayerNorm input)
	EmbMean []float32 // [B,T] (Save only)
	EmbRstd []float32 // [B,T] (Save only)
	Emb     []float32 // [B,T,C] embedding output = layer 0 input
	Tmp     []float32 // [B,T,C] scratch: the attention and FFN output projections
	Acts    []LayerActs

	// The batch of the last forward, kept for the backward (Save only).
	ids, typeIDs []int32

	capBT, capATT int
	saved         bool
	store         []float32
	pos           []int32
	siteKeys      []uint64

	grad gradBuffers // the backward's scratch (see Backward)
}

// Dropout is training-mode dropout as BERT places it: after the embedding
// LayerNorm, on the attention probabilities, and on the attention and FFN
// output projections before their residual LayerNorms
// (hidden_dropout_prob and attention_probs_dropout_prob of config.json).
// Masks are hashed from one key per sequence (nn.Dropout explains why), so
// the same Keys give the same masks whatever the batch composition.
type Dropout struct {
	Hidden, Attention float32
	Keys              []uint64 // [B] one key per sequence of the batch
}

// Dropout sites: the embedding output, then three per layer.
const (
	siteEmb = iota
	siteAttnProbs
	siteAttnOut
	siteFFNOut
)

func dropSite(layer, site int) uint64 { return uint64(layer+1)<<8 | uint64(site) }

// dropping reports the dropout in force: ws.Drop during a saved (training) forward.
func (ws *Workspace) dropping() *Dropout {
	if ws.Save && ws.Drop != nil && (ws.Drop.Hidden > 0 || ws.Drop.Attention > 0) {
		return ws.Drop
	}
	return nil
}

// keysFor returns the per-sequence keys of one dropout site (valid until the next call).
func (ws *Workspace) keysFor(d *Dropout, layer, site int) []uint64 {
	ws.siteKeys = ws.siteKeys[:0]
	s := dropSite(layer, site)
	for _, k := range d.Keys[:ws.B] {
		ws.siteKeys = append(ws.siteKeys, nn.DropKey(k, s))
	}
	return ws.siteKeys
}

// grow sizes the workspace for B×T tokens.
func (ws *Workspace) grow(e *Encoder, B, T int) {
	C, F, NH, L := e.Cfg.HiddenSize, e.Cfg.IntermediateSize, e.Cfg.NumAttentionHeads, e.Cfg.NumHiddenLayers
	BT, ATT := B*T, B*NH*T*T
	nActs := 1
	if ws.Save {
		nActs = L
	} else {
		ATT = 0
	}
	if BT > ws.capBT || ATT > ws.capATT || ws.saved != ws.Save || ws.store == nil {
		ws.capBT, ws.capATT, ws.saved = max(BT, ws.capBT), max(ATT, ws.capATT), ws.Save
		bt, att := ws.capBT, ws.capATT
		per := 3*C*bt + C*bt + F*bt // QKV, AttY, G
		total := 3*C*bt + nActs*per // EmbSum, Emb, Tmp
		if ws.Save {
			per += att + 4*C*bt + F*bt + 4*bt // Att, Res1, LN1, Res2, Out, H, stats
			total = 3*C*bt + 2*bt + nActs*per
		}
		ws.store = nil // let the old slab go before the new one is allocated
		ws.store = make([]float32, total)
		ws.pos = make([]int32, bt)
		ws.Acts = make([]LayerActs, nActs)
	}
	// Carve the slab for this shape.
	s := ws.store
	take := func(n int) []float32 { v := s[:n:n]; s = s[n:]; return v }
	ws.Pos = ws.pos[:BT]
	ws.EmbSum = take(C * BT)
	ws.Emb = take(C * BT)
	ws.Tmp = take(C * BT)
	ws.EmbMean, ws.EmbRstd = nil, nil
	if ws.Save {
		ws.EmbMean, ws.EmbRstd = take(BT), take(BT)
	}
	for l := range ws.Acts {
		a := &ws.Acts[l]
		a.QKV = take(3 * C * BT)
		a.AttY = take(C * BT)
		a.G = take(F * BT)
		if ws.Save {
			a.Att = take(ATT)
			a.Res1, a.LN1, a.Res2, a.Out = take(C*BT), take(C*BT), take(C*BT), take(C*BT)
			a.H = take(F * BT)
			a.LN1Mean, a.LN1Rstd, a.LN2Mean, a.LN2Rstd = take(BT), take(BT), take(BT), take(BT)
		} else {
			a.Att, a.Res1, a.Res2, a.H = nil, nil, nil, nil
			a.LN1Mean, a.LN1Rstd, a.LN2Mean, a.LN2Rstd = nil, nil, nil, nil
			// The block runs in place on its input, Emb.
			a.LN1, a.Out = ws.Emb, ws.Emb
		}
	}
	ws.B, ws.T = B, T
}

// Forward runs the encoder over a padded batch: ids and typeIDs [B,T]
// (typeIDs may be nil: all 0), mask [B,T] 1 for tokens and 0 for padding
// (nil: no padding). It returns the last hidden state [B,T,C], which lives
// in ws until its next use. When hidden is non-nil it is called with every
// hidden state as HF's output_hidden_states numbers them: 0 is the
// embedding output, l the output of layer l; the slice is only valid during
// the call.
func (e *Encoder) Forward(ws *Workspace, ids, typeIDs []int32, mask []float32, B, T int, hidden func(layer int, h []float32)) ([]float32, error) {
	cfg := &e.Cfg
	C, F, NH := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumAttentionHeads
	BT := B * T
	if len(ids) != BT || (typeIDs != nil && len(typeIDs) != BT) || (mask != nil && len(mask) != BT) {
		return nil, fmt.Errorf("forward: batch shape %dx%d does not match ids %d, type ids %d, mask %d", B, T, len(ids), len(typeIDs), len(mask))
	}
	if T > cfg.MaxTokens() {
		return nil, fmt.Errorf("forward: sequence length %d exceeds the model's %d positions", T, cfg.MaxTokens())
	}
	for i, id := range ids {
		if id < 0 || int(id) >= cfg.VocabSize {
			return nil, fmt.Errorf("forward: token id %d at position %d outside the vocabulary (%d)", id, i, cfg.VocabSize)
		}
		if typeIDs != nil && (typeIDs[i] < 0 || int(typeIDs[i]) >= cfg.TypeVocabSize) {
			return nil, fmt.Errorf("forward: token type id %d at position %d outside type_vocab_size %d", typeIDs[i], i, cfg.TypeVocabSize)
		}
	}
	ws.grow(e, B, T)
	w := e.W
	eps := float32(cfg.LayerNormEps)
	drop := ws.dropping()
	if drop != nil && len(drop.Keys) < B {
		return nil, fmt.Errorf("forward: dropout has %d keys for %d sequences", len(drop.Keys), B)
	}
	if ws.Save {
		ws.ids = append(ws.ids[:0], ids...)
		ws.typeIDs = ws.typeIDs[:0]
		if typeIDs != nil {
			ws.typeIDs = append(ws.typeIDs, typeIDs...)
		}
	}

	// Position ids.
	pad := int32(cfg.PadTokenID)
	for b := 0; b < B; b++ {
		row := ws.Pos[b*T : (b+1)*T]
		if cfg.Positions() == RoBERTaPositions {
			n := int32(0)
			for t := range row {
				if ids[b*T+t] != pad {
					n++
					row[t] = n + pad
				} else {
					row[t] = pad
				}
			}
		} else {
			for t := range row {
				row[t] = int32(t)
			}
		}
	}

	// Embeddings: word + token type + position, then LayerNorm.
	nn.Embedding(ws.EmbSum, ids, w.WordEmb, C)
	if typeIDs != nil {
		nn.AddEmbedding(ws.EmbSum, typeIDs, w.TypeEmb, C)
	} else {
		t0 := w.TypeEmb[:C]
		for i := 0; i < BT; i++ {
			nn.Add(ws.EmbSum[i*C:(i+1)*C], ws.EmbSum[i*C:(i+1)*C], t0)
		}
	}
	nn.AddEmbedding(ws.EmbSum, ws.Pos, w.PosEmb, C)
	nn.LayerNorm(ws.Emb, ws.EmbMean, ws.EmbRstd, ws.EmbSum, w.EmbLNW, w.EmbLNB, BT, C, eps)
	if drop != nil {
		nn.Dropout(ws.Emb, B, T, C, drop.Hidden, ws.keysFor(drop, -1, siteEmb))
	}
	if hidden != nil {
		hidden(0, ws.Emb)
	}

	// Under blas.INT8 inference runs the blocks' projections in int8
	// (a forward that saves activations for training stays float32).
	var q8 []int8Layer
	var pk []bf16Layer
	if !ws.Save {
		switch blas.CurrentPrecision() {
		case blas.INT8:
			q8 = w.int8Layers()
		case blas.BF16:
			pk = w.bf16Layers()
		}
	}
	in := ws.Emb
	for l := range w.Layers {
		a := &ws.Acts[0]
		if ws.Save {
			a = &ws.Acts[l]
		}
		if q8 != nil {
			e.layerForwardInt8(ws, a, &q8[l], in, mask, B, T, C, F, NH, eps)
		} else {
			var p *bf16Layer
			if pk != nil {
				p = &pk[l]
			}
			e.layerForward(ws, l, a, &w.Layers[l], p, in, mask, B, T, C, F, NH, eps)
		}
		if hidden != nil {
			hidden(l+1, a.Out)
		}
		in = a.Out
	}
	return in, nil
}

// layerForward is one post-LN block (HF BertLayer):
//
//	qkv  = in·Wqkvᵀ + bqkv
//	y    = Attention(qkv, mask)             (dropout on the probabilities)
//	res1 = drop(y·Woᵀ + bo) + in;   ln1 = LayerNorm(res1)
//	h    = ln1·W1ᵀ + b1;            g = GELU(h)
//	res2 = drop(g·W2ᵀ + b2) + ln1;  out = LayerNorm(res2)
//
// Without dropout the output projections' biases ride along the LayerNorm
// pass (AddBiasLayerNorm). At inference ln1 and out overwrite in. p, when
// not nil, holds the products packed for bf16 inference (PackBF16).
func (e *Encoder) layerForward(ws *Workspace, l int, a *LayerActs, L *Layer, p *bf16Layer, in, mask []float32, B, T, C, F, NH int, eps float32) {
	BT, tmp := B*T, ws.Tmp
	drop := ws.dropping()
	if p == nil {
		p = &unpacked
	}
	nn.LinearTPacked(a.QKV, in, p.qkv, L.QKVWT, L.QKVB, BT, C, 3*C)
	nn.Attention(a.AttY, a.Att, a.QKV, mask, B, T, C, NH)
	if drop != nil && drop.Attention > 0 {
		nn.AttentionDropout(a.AttY, a.Att, a.QKV, B, T, C, NH, drop.Attention, ws.keysFor(drop, l, siteAttnProbs))
	}
	if drop != nil && drop.Hidden > 0 {
		nn.LinearT(tmp, a.AttY, L.AttnOutWT, L.AttnOutB, BT, C, C)
		nn.Dropout(tmp, B, T, C, drop.Hidden, ws.keysFor(drop, l, siteAttnOut))
		nn.AddLayerNorm(a.LN1, a.Res1, a.LN1Mean, a.LN1Rstd, tmp, in, L.AttnLNW, L.AttnLNB, BT, C, eps)
	} else {
		nn.LinearTPacked(tmp, a.AttY, p.attnOut, L.AttnOutWT, nil, BT, C, C)
		nn.AddBiasLayerNorm(a.LN1, a.Res1, a.LN1Mean, a.LN1Rstd, tmp, L.AttnOutB, in, L.AttnLNW, L.AttnLNB, BT, C, eps)
	}
	nn.LinearGELUTPacked(a.G, a.H, a.LN1, p.inter, L.InterWT, L.InterB, BT, C, F)
	if drop != nil && drop.Hidden > 0 {
		nn.LinearT(tmp, a.G, L.OutWT, L.OutB, BT, F, C)
		nn.Dropout(tmp, B, T, C, drop.Hidden, ws.keysFor(drop, l, siteFFNOut))
		nn.AddLayerNorm(a.Out, a.Res2, a.LN2Mean, a.LN2Rstd, tmp, a.LN1, L.OutLNW, L.OutLNB, BT, C, eps)
	} else {
		nn.LinearTPacked(tmp, a.G, p.out, L.OutWT, nil, BT, F, C)
		nn.AddBiasLayerNorm(a.Out, a.Res2, a.LN2Mean, a.LN2Rstd, tmp, L.OutB, a.LN1, L.OutLNW, L.OutLNB, BT, C, eps)
	}
}

// Pool turns the last hidden state [B,T,C] into sentence vectors out
// [B,C] with the given pooling, then L2-normalises them when normalize is
// set. PoolPooler needs the checkpoint's pooler weights.
func (e *Encoder) Pool(out, hidden, mask []float32, B, T int, p Pooling, normalize bool) error {
	C := e.Cfg.HiddenSize
	switch p {
	case PoolMean:
		if mask == nil {
			mask = ones(B * T)
		}
		nn.MeanPool(out, hidden, mask, B, T, C)
	case PoolCLS:
		nn.CLSPool(out, hidden, B, T, C)
	case PoolPooler:
		if e.W.PoolerW == nil {
			return fmt.Errorf("pooling %q: the checkpoint has no pooler weights", p)
		}
		cls := make([]float32, B*C)
		nn.CLSPool(cls, hidden, B, T, C)
		nn.Linear(out, cls, e.W.PoolerW, e.W.PoolerB, B, C, C)
		nn.Tanh(out, out)
	default:
		return fmt.Errorf("unknown pooling %q", p)
	}
	if normalize {
		nn.L2Normalize(out, out, B, C)
	}
	return nil
}

func ones(n int) []float32 {
	m := make([]float32, n)
	for i := range m {
		m[i] = 1
	}
	return m
}
