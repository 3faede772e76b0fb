package decoder

import (
	"fmt"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/nn"
)

// Cache is the key/value cache of one sequence: every layer's rotated keys
// and values of the positions run so far. It grows as positions are added
// (to at most max_position_embeddings). Reset empties it for a new
// sequence. A Cache is used by one goroutine at a time.
type Cache struct {
	K, V [][]float32 // per layer [Len,KD] (capacity beyond Len is scratch)
	Len  int         // positions cached: the next token's position
	kd   int
}

// NewCache returns an empty cache for m.
func (m *Model) NewCache() *Cache {
	return &Cache{K: make([][]float32, m.Cfg.NumLayers), V: make([][]float32, m.Cfg.NumLayers),
		kd: m.Cfg.NumKVHeads * m.Cfg.HeadDim}
}

// Reset empties the cache, keeping its memory.
func (c *Cache) Reset() { c.Len = 0 }

// Truncate drops the positions from n on (n ≤ Len), e.g. to reuse a
// shared prompt.
func (c *Cache) Truncate(n int) {
	if n < c.Len {
		c.Len = max(n, 0)
	}
}

// Reserve makes room for n positions, so that a generation of known
// length does not stop midway to copy the cache: growing copies every
// layer's keys and values (at 8 of EXAONE-3.5-2.4B's 30 layers, a
// 512-position prompt doubled by its first generated token cost that
// token 70 ms). Generate reserves the prompt plus the tokens asked for,
// at most the model's positions.
func (c *Cache) Reserve(n int) { c.grow(n) }

func (c *Cache) grow(n int) {
	if len(c.K) == 0 || cap(c.K[0]) >= n*c.kd {
		return
	}
	nc := max(n, 2*cap(c.K[0])/max(c.kd, 1), 16) * c.kd
	for l := range c.K {
		k := make([]float32, nc)
		v := make([]float32, nc)
		copy(k, c.K[l][:c.Len*c.kd])
		copy(v, c.V[l][:c.Len*c.kd])
		c.K[l], c.V[l] = k, v
	}
}

// LayerActs are one layer's activations for the T positions of a forward.
// At inference one LayerActs is reused by every layer; with Workspace.Save
// each layer keeps its own, with what a backward needs.
type LayerActs struct {
	In      []float32 // [T,C] layer input (Save only)
	LN1     []float32 // [T,C] attention RMSNorm output
	LN1Rstd []float32 // [T]
	QKV     []float32 // [T,QD+2KD] projections; q and k rotated
	Att     []float32 // [NH,T,P+T] softmax probabilities (Save only)
	AttY    []float32 // [T,QD] attention output before o_proj
	Mid     []float32 // [T,C] residual after attention = MLP RMSNorm input (Save only)
	LN2     []float32 // [T,C]
	LN2Rstd []float32 // [T]
	GU      []float32 // [T,2F] gate | up pre-activations
	H       []float32 // [T,F] silu(gate)·up
}

// Workspace holds the buffers of a forward, grown on demand and reused. A
// Workspace is used by one goroutine at a time.
type Workspace struct {
	// Save keeps every layer's activations (Acts[l]) for a backward pass.
	Save bool

	T, P      int       // tokens and cached positions before them, of the last forward
	X         []float32 // [T,C] residual stream (the last layer's output after a forward)
	Cos, Sin  []float32 // [T,HeadDim/2] rotary tables of the positions
	Tmp       []float32 // [T,C] projection output
	Acts      []LayerActs
	Final     []float32 // [T,C] final RMSNorm output
	FinalRstd []float32 // [T]
	Logits    []float32 // [T,V] or [1,V]
}

// linear computes out [T,OUT] = in [T,IN]·W + b for one of a layer's
// projections: W the float32 wt [IN,OUT], or the quantized q or the
// bfloat16 w16 [OUT,IN] when that is set.
func linear(out, in, wt []float32, w16 []uint16, q *blas.QMatrix, b []float32, T, IN, OUT int) {
	if q != nil {
		blas.MatMulQ(T, in, IN, q, 0, out, OUT)
		for t := 0; b != nil && t < T; t++ {
			nn.Add(out[t*OUT:(t+1)*OUT], out[t*OUT:(t+1)*OUT], b)
		}
		return
	}
	if w16 != nil {
		nn.LinearBF16(out, in, w16, b, T, IN, OUT)
		return
	}
	nn.LinearT(out, in, wt, b, T, IN, OUT)
}

// embed writes the embedding rows of ids to out [len(ids),C].
func (w *Weights) embed(out []float32, ids []int32, C int) {
	if w.EmbedQ != nil {
		for i, id := range ids {
			w.EmbedQ.DequantizeRow(int(id), out[i*C:(i+1)*C])
		}
		return
	}
	if w.Embed16 != nil {
		nn.EmbeddingBF16(out, ids, w.Embed16, C)
		return
	}
	nn.Embedding(out, ids, w.Embed, C)
}

// head computes the logits [T,V] of the final hidden states x [T,C].
func (w *Weights) head(logits, x []float32, T, C, V int) {
	if w.LMHeadQ != nil {
		blas.MatMulQ(T, x, C, w.LMHeadQ, 0, logits, V)
		return
	}
	if w.LMHead16 != nil {
		nn.LinearBF16(logits, x, w.LMHead16, nil, T, C, V)
		return
	}
	nn.Linear(logits, x, w.LMHead, nil, T, C, V)
}

func buf(s []float32, n int) []float32 {
	if cap(s) >= n {
		return s[:n]
	}
	return make([]float32, n)
}

// Forward runs ids at positions c.Len…c.Len+len(ids)-1 (a prompt, or the
// next token of a generation), appending their keys and values to c, and
// returns the logits: [len(ids),V] for every position when all is true,
// else [1,V] for the last one. The slice is ws.Logits, valid until ws is
// used again. With c nil the ids are a whole sequence from position 0.
func (m *Model) Forward(ws *Workspace, c *Cache, ids []int, all bool) ([]float32, error) {
	cfg := &m.Cfg
	C, V, hd := cfg.HiddenSize, cfg.VocabSize, cfg.HeadDim
	T := len(ids)
	if T == 0 {
		return nil, fmt.Errorf("decoder: no tokens")
	}
	if c == nil {
		c = m.NewCache()
	}
	P := c.Len
	if P+T > cfg.MaxPositions {
		return nil, fmt.Errorf("%w: %d positions, limit %d", ErrContext, P+T, cfg.MaxPositions)
	}
	ids32 := make([]int32, T)
	for i, id := range ids {
		if id < 0 || id >= V {
			return nil, fmt.Errorf("decoder: token id %d out of the vocabulary [0,%d)", id, V)
		}
		ids32[i] = int32(id)
	}
	c.grow(P + T)
	ws.T, ws.P = T, P
	ws.X = buf(ws.X, T*C)
	ws.Tmp = buf(ws.Tmp, T*C)
	ws.Cos = buf(ws.Cos, T*hd/2)
	ws.Sin = buf(ws.Sin, T*hd/2)
	nActs := 1
	if ws.Save {
		nActs = cfg.NumLayers
	}
	if len(ws.Acts) != nActs {
		ws.Acts = make([]LayerActs, nActs)
	}
	eps := float32(cfg.RMSNormEps)
	m.W.embed(ws.X, ids32, C)
	nn.RoPETable(ws.Cos, ws.Sin, m.InvFreq, P, T)
	X := ws.X
	for l := range m.W.Layers {
		m.block(l, X, ws.Tmp, ws.Cos, ws.Sin, T, &ws.Acts[min(l, nActs-1)], ws.Save, c, P)
	}
	c.Len = P + T
	ws.Final, ws.FinalRstd = buf(ws.Final, T*C), buf(ws.FinalRstd, T)
	nn.RMSNorm(ws.Final, ws.FinalRstd, X, m.W.Norm, T, C, eps)
	if all {
		ws.Logits = buf(ws.Logits, T*V)
		m.W.head(ws.Logits, ws.Final, T, C, V)
	} else {
		ws.Logits = buf(ws.Logits, V)
		m.W.head(ws.Logits, ws.Final[(T-1)*C:], 1, C, V)
	}
	return ws.Logits, nil
}

// block runs block l on X [T,C] in place (tmp [T,C] is scratch; cos, sin
// the rotary tables of the T positions), filling a; with save it also
// keeps the block's input, the residual after attention and the attention
// probabilities. With a cache c the block's rotated keys and values are
// written at positions P…P+T-1 and the T rows attend to all P+T of them;
// with c nil (training: a whole sequence, P = 0) they attend to their own.
func (m *Model) block(l int, X, tmp, cos, sin []float32, T int, a *LayerActs, save bool, c *Cache, P int) {
	cfg := &m.Cfg
	C, F, NH, NKV, hd := cfg.HiddenSize, cfg.IntermediateSize, cfg.NumHeads, cfg.NumKVHeads, cfg.HeadDim
	QD, KD := NH*hd, NKV*hd
	QKVD := QD + 2*KD
	eps := float32(cfg.RMSNormEps)
	L := &m.W.Layers[l]
	a.LN1, a.LN1Rstd = buf(a.LN1, T*C), buf(a.LN1Rstd, T)
	a.QKV, a.AttY = buf(a.QKV, T*QKVD), buf(a.AttY, T*QD)
	a.LN2, a.LN2Rstd = buf(a.LN2, T*C), buf(a.LN2Rstd, T)
	a.GU, a.H = buf(a.GU, T*2*F), buf(a.H, T*F)
	var att []float32
	if save {
		a.In, a.Mid = buf(a.In, T*C), buf(a.Mid, T*C)
		a.Att = buf(a.Att, NH*T*(P+T))
		att = a.Att
		copy(a.In, X)
	}
	// Attention block.
	nn.RMSNorm(a.LN1, a.LN1Rstd, X, L.AttnNorm, T, C, eps)
	linear(a.QKV, a.LN1, L.QKVWT, L.QKVW16, L.QKVQ, L.QKVB, T, C, QKVD)
	nn.RoPE(a.QKV, QKVD, cos, sin, T, NH, hd)
	nn.RoPE(a.QKV[QD:], QKVD, cos, sin, T, NKV, hd)
	K, Vc, kvStride := a.QKV[QD:], a.QKV[QD+KD:], QKVD
	if c != nil {
		K, Vc, kvStride = c.K[l], c.V[l], KD
		for t := 0; t < T; t++ {
			row := a.QKV[t*QKVD:]
			copy(K[(P+t)*KD:(P+t+1)*KD], row[QD:QD+KD])
			copy(Vc[(P+t)*KD:(P+t+1)*KD], row[QD+KD:QKVD])
		}
	}
	nn.CausalAttention(a.AttY, att, a.QKV, QKVD, K, Vc, kvStride, T, P, NH, NKV, hd)
	linear(tmp, a.AttY, L.OWT, L.OW16, L.OQ, L.OB, T, QD, C)
	nn.Add(X, X, tmp)
	if save {
		copy(a.Mid, X)
	}
	// MLP block.
	nn.RMSNorm(a.LN2, a.LN2Rstd, X, L.MLPNorm, T, C, eps)
	linear(a.GU, a.LN2, L.GateUpWT, L.GateUpW16, L.GateUpQ, L.GateUpB, T, C, 2*F)
	nn.SwiGLU(a.H, a.GU, T, F)
	linear(tmp, a.H, L.DownWT, L.DownW16, L.DownQ, L.DownB, T, F, C)
	nn.Add(X, X, tmp)
}
