package decoder

import (
	"fmt"

	"github.com/kormed/kormed/nn"
)

// Training: TrainForward runs one whole sequence (no cache) keeping the
// activations of the trainable blocks, CausalLMLoss turns the logits into
// the loss and its gradient, and Backward carries that gradient from the
// logits through the LM head, the final norm and the blocks down to the
// lowest trainable one, accumulating the gradients of the trainable
// tensors into a Grads. Below that block nothing is saved and nothing is
// computed backward.
//
// What is trained (the PubMedQA-Ko recipe: the top N blocks, the final
// norm and the LM head):
//
//   - blocks First…L-1 (every tensor of each, biases included), the final
//     RMSNorm and the LM head, always;
//   - untied models: the embedding table too when asked (NewGrads's embed
//     argument), which needs First = 0 (all blocks trainable);
//   - tied models (tie_word_embeddings): the LM head is the embedding
//     matrix, so Grads.LMHead is the gradient of that one shared matrix.
//     With First = 0 it is the sum of both uses, the head's and the input
//     lookup's, exactly as autograd computes it when every parameter is
//     trainable. With First > 0 it is the head's use only: the lookup's
//     gradient would have to pass back through the frozen blocks, which
//     this backward does not do — it equals autograd's with the input
//     embedding detached (embed_tokens(ids).detach()), which is what
//     training the top blocks and the head of a tied model means here.

// Grads holds the gradients of a decoder's trainable tensors, shaped as
// the Weights fields they belong to (Linear weights transposed and fused).
// Frozen tensors have none. Gradients accumulate over Backward calls until
// Zero.
type Grads struct {
	First  int       // lowest trainable block
	Layers []Layer   // blocks First…L-1: Layers[i] is block First+i (bias fields nil where the model has none)
	Norm   []float32 // [C] final RMSNorm
	LMHead []float32 // [V,C] the LM head; for a tied model the shared embedding/head matrix
	Embed  []float32 // [V,C] the embedding of an untied model trained with First = 0; else nil
	Tied   bool      // LMHead is the gradient of the shared embedding/head matrix
}

// NewGrads returns zeroed gradients for training the top topN blocks (1 …
// NumLayers), the final norm and the LM head; embed adds the embedding
// table of an untied model (only with topN = NumLayers; a tied model's
// shared matrix is the head and always trained).
func (m *Model) NewGrads(topN int, embed bool) (*Grads, error) {
	cfg := &m.Cfg
	L := cfg.NumLayers
	if topN < 1 || topN > L {
		return nil, fmt.Errorf("decoder: train top %d blocks of %d", topN, L)
	}
	if embed && topN != L && !cfg.TieEmbeddings {
		return nil, fmt.Errorf("decoder: training the embedding needs every block trainable (top %d of %d)", topN, L)
	}
	if m.W.LMHeadQ != nil {
		return nil, fmt.Errorf("decoder: the LM head is quantized; load with LoadOptions.TrainTop ≥ %d to train it", topN)
	}
	if m.W.LMHead == nil {
		return nil, fmt.Errorf("decoder: the LM head is bfloat16; load with LoadOptions.TrainTop ≥ %d to train it", topN)
	}
	for l := L - topN; l < L; l++ {
		if m.W.Layers[l].Quantized() {
			return nil, fmt.Errorf("decoder: block %d is quantized; load with LoadOptions.TrainTop ≥ %d to train the top %d blocks", l, topN, topN)
		}
		if m.W.Layers[l].BF16() {
			return nil, fmt.Errorf("decoder: block %d is bfloat16; load with LoadOptions.TrainTop ≥ %d to train the top %d blocks", l, topN, topN)
		}
	}
	if embed && m.W.EmbedQ != nil {
		return nil, fmt.Errorf("decoder: the embedding is quantized; load with float32 weights to train it")
	}
	if embed && m.W.Embed == nil {
		return nil, fmt.Errorf("decoder: the embedding is bfloat16; load with float32 weights to train it")
	}
	C, V := cfg.HiddenSize, cfg.VocabSize
	g := &Grads{First: L - topN, Norm: make([]float32, C), LMHead: make([]float32, V*C), Tied: cfg.TieEmbeddings}
	if embed && !g.Tied {
		g.Embed = make([]float32, V*C)
	}
	like := func(s []float32) []float32 {
		if s == nil {
			return nil
		}
		return make([]float32, len(s))
	}
	for l := g.First; l < L; l++ {
		w := &m.W.Layers[l]
		g.Layers = append(g.Layers, Layer{AttnNorm: like(w.AttnNorm), QKVWT: like(w.QKVWT), QKVB: like(w.QKVB),
			OWT: like(w.OWT), OB: like(w.OB), MLPNorm: like(w.MLPNorm), GateUpWT: like(w.GateUpWT),
			GateUpB: like(w.GateUpB), DownWT: like(w.DownWT), DownB: like(w.DownB)})
	}
	return g, nil
}

// layerTensors lists a Layer's tensors in a fixed order (nil biases
// included).
func layerTensors(L *Layer) []*[]float32 {
	return []*[]float32{&L.AttnNorm, &L.QKVWT, &L.QKVB, &L.OWT, &L.OB, &L.MLPNorm, &L.GateUpWT, &L.GateUpB, &L.DownWT, &L.DownB}
}

// Zero clears every gradient.
func (g *Grads) Zero() {
	clear(g.Norm)
	clear(g.LMHead)
	clear(g.Embed)
	for i := range g.Layers {
		for _, t := range layerTensors(&g.Layers[i]) {
			clear(*t)
		}
	}
}

// TrainWorkspace holds a training forward's activations and the backward's
// buffers, grown on demand and reused. It is used by one goroutine at a
// time.
type TrainWorkspace struct {
	T, First  int
	ids       []int32
	X         []float32   // [T,C] residual stream: the last block's output after TrainForward
	Tmp       []float32   // [T,C]
	Cos, Sin  []float32   // [T,HeadDim/2]
	Acts      []LayerActs // blocks First…L-1 (Acts[i] is block First+i), saved
	frozen    LayerActs   // scratch of the frozen blocks below First
	Final     []float32   // [T,C] final RMSNorm output
	FinalRstd []float32   // [T]
	Logits    []float32   // [T,V]

	dX, dFinal, dLN, dAttY, dQKV, dGU, dH []float32
}

// TrainForward runs ids as one sequence from position 0 and returns the
// logits of every position, [T,V] (tw.Logits, valid until tw is used
// again). Blocks first…L-1 save their activations for Backward; the
// blocks below run as at inference, keeping nothing. The logits are those
// of Forward on the same ids.
func (m *Model) TrainForward(tw *TrainWorkspace, ids []int, first int) ([]float32, error) {
	cfg := &m.Cfg
	C, V, hd := cfg.HiddenSize, cfg.VocabSize, cfg.HeadDim
	T, L := len(ids), cfg.NumLayers
	if T == 0 {
		return nil, fmt.Errorf("decoder: no tokens")
	}
	if first < 0 || first >= L {
		return nil, fmt.Errorf("decoder: first trainable block %d of %d", first, L)
	}
	if T > cfg.MaxPositions {
		return nil, fmt.Errorf("%w: %d positions, limit %d", ErrContext, T, cfg.MaxPositions)
	}
	tw.ids = tw.ids[:0]
	for _, id := range ids {
		if id < 0 || id >= V {
			return nil, fmt.Errorf("decoder: token id %d out of the vocabulary [0,%d)", id, V)
		}
		tw.ids = append(tw.ids, int32(id))
	}
	tw.T, tw.First = T, first
	tw.X, tw.Tmp = buf(tw.X, T*C), buf(tw.Tmp, T*C)
	tw.Cos, tw.Sin = buf(tw.Cos, T*hd/2), buf(tw.Sin, T*hd/2)
	if len(tw.Acts) != L-first {
		tw.Acts = make([]LayerActs, L-first)
	}
	m.W.embed(tw.X, tw.ids, C)
	nn.RoPETable(tw.Cos, tw.Sin, m.InvFreq, 0, T)
	for l := 0; l < L; l++ {
		if l < first {
			m.block(l, tw.X, tw.Tmp, tw.Cos, tw.Sin, T, &tw.frozen, false, nil, 0)
		} else {
			m.block(l, tw.X, tw.Tmp, tw.Cos, tw.Sin, T, &tw.Acts[l-first], true, nil, 0)
		}
	}
	eps := float32(cfg.RMSNormEps)
	tw.Final, tw.FinalRstd = buf(tw.Final, T*C), buf(tw.FinalRstd, T)
	nn.RMSNorm(tw.Final, tw.FinalRstd, tw.X, m.W.Norm, T, C, eps)
	tw.Logits = buf(tw.Logits, T*V)
	m.W.head(tw.Logits, tw.Final, T, C, V)
	return tw.Logits, nil
}

// Backward accumulates into g the gradients of the trainable tensors
// given dlogits [T,V], the gradient of the loss with respect to the
// logits of the last TrainForward on tw (whose first trainable block must
// be at or below g.First). It stops at block g.First.
func (m *Model) Backward(tw *TrainWorkspace, g *Grads, dlogits []float32) error {
	cfg := &m.Cfg
	C, F, V, NH, NKV, hd := cfg.HiddenSize, cfg.IntermediateSize, cfg.VocabSize, cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim
	QD, KD := NH*hd, NKV*hd
	QKVD, T, nL := QD+2*KD, tw.T, cfg.NumLayers
	if T == 0 || len(tw.Acts) != nL-tw.First {
		return fmt.Errorf("decoder: Backward without a TrainForward")
	}
	if g.First < tw.First || len(g.Layers) != nL-g.First {
		return fmt.Errorf("decoder: gradients from block %d, activations saved from block %d", g.First, tw.First)
	}
	if len(dlogits) != T*V {
		return fmt.Errorf("decoder: dlogits has %d values, want %d×%d", len(dlogits), T, V)
	}
	// The head and the final norm.
	tw.dFinal = buf(tw.dFinal, T*C)
	clear(tw.dFinal)
	nn.LinearBackward(tw.dFinal, g.LMHead, nil, dlogits, tw.Final, m.W.LMHead, T, C, V)
	tw.dX = buf(tw.dX, T*C)
	clear(tw.dX)
	nn.RMSNormBackward(tw.dX, g.Norm, tw.dFinal, tw.X, m.W.Norm, tw.FinalRstd, T, C)

	var dEmbed []float32 // the embedding lookup's gradient: only when every block is trained
	if g.First == 0 {
		if g.Tied {
			dEmbed = g.LMHead
		} else {
			dEmbed = g.Embed
		}
	}
	tw.dLN = buf(tw.dLN, T*C)
	tw.dAttY = buf(tw.dAttY, T*QD)
	tw.dQKV = buf(tw.dQKV, T*QKVD)
	tw.dGU = buf(tw.dGU, T*2*F)
	tw.dH = buf(tw.dH, T*F)
	dX := tw.dX // the gradient of the current block's output, then of its input
	for l := nL - 1; l >= g.First; l-- {
		W := &m.W.Layers[l]
		G := &g.Layers[l-g.First]
		a := &tw.Acts[l-tw.First]
		// MLP: out = mid + down(silu(gate(ln2)) · up(ln2)).
		nn.LinearTInputGrad(tw.dH, dX, W.DownWT, T, F, C, false)
		nn.LinearTBackward(nil, G.DownWT, G.DownB, dX, a.H, W.DownWT, T, F, C)
		clear(tw.dGU)
		nn.SwiGLUBackward(tw.dGU, tw.dH, a.GU, T, F)
		nn.LinearTInputGrad(tw.dLN, tw.dGU, W.GateUpWT, T, C, 2*F, false)
		nn.LinearTBackward(nil, G.GateUpWT, G.GateUpB, tw.dGU, a.LN2, W.GateUpWT, T, C, 2*F)
		nn.RMSNormBackward(dX, G.MLPNorm, tw.dLN, a.Mid, W.MLPNorm, a.LN2Rstd, T, C) // dX: now d mid
		// Attention: mid = in + o(attention(rope(q), rope(k), v)).
		nn.LinearTInputGrad(tw.dAttY, dX, W.OWT, T, QD, C, false)
		nn.LinearTBackward(nil, G.OWT, G.OB, dX, a.AttY, W.OWT, T, QD, C)
		clear(tw.dQKV)
		nn.CausalAttentionBackward(tw.dQKV, QKVD, tw.dQKV[QD:], tw.dQKV[QD+KD:], QKVD, tw.dAttY, a.Att,
			a.QKV, a.QKV[QD:], a.QKV[QD+KD:], T, 0, NH, NKV, hd)
		nn.RoPEBackward(tw.dQKV, QKVD, tw.Cos, tw.Sin, T, NH, hd)
		nn.RoPEBackward(tw.dQKV[QD:], QKVD, tw.Cos, tw.Sin, T, NKV, hd)
		nn.LinearTInputGrad(tw.dLN, tw.dQKV, W.QKVWT, T, C, QKVD, false)
		nn.LinearTBackward(nil, G.QKVWT, G.QKVB, tw.dQKV, a.LN1, W.QKVWT, T, C, QKVD)
		din := dX
		if l == g.First && dEmbed == nil {
			din = nil // nothing below needs the input's gradient
		}
		nn.RMSNormBackward(din, G.AttnNorm, tw.dLN, a.In, W.AttnNorm, a.LN1Rstd, T, C) // dX: now d in
	}
	if dEmbed != nil {
		nn.EmbeddingBackward(dEmbed, tw.ids, dX, C, -1)
	}
	return nil
}
