package train

import (
	"errors"
	"fmt"

	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/nn"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/tokenizer"
)

// Tower is one encoder under training: the model, its gradient buffers
// (nil for frozen parameters) and the optimiser slots, aligned with the
// model's Params. A bi-encoder (DPR) has two towers; a shared encoder one.
type Tower struct {
	M      *model.Model
	Params []model.Param // the model's tensors
	Grads  *model.Weights
	Slots  []optim.Slot

	ws []*model.Workspace // saved-activation workspaces, one per column in flight
}

// NewTower prepares m for training the parameters trainable accepts.
func NewTower(m *model.Model, trainable func(model.Param) bool) *Tower {
	cfg := &m.Enc.Cfg
	m.Enc.W.DropBF16() // the packed inference copy would not follow the training
	t := &Tower{M: m, Params: m.Enc.W.Params(cfg)}
	t.Grads = model.NewGrads(cfg, m.Enc.W, trainable)
	gp := t.Grads.Params(cfg)
	for i, p := range t.Params {
		if *p.Data == nil {
			continue
		}
		t.Slots = append(t.Slots, optim.Slot{Name: p.Name, Data: *p.Data, Grad: *gp[i].Data, Decay: p.Decay})
	}
	return t
}

// Trainable counts the trainable elements.
func (t *Tower) Trainable() (n int) {
	for _, s := range t.Slots {
		if s.Grad != nil {
			n += len(s.Data)
		}
	}
	return n
}

// ZeroGrad clears the gradients.
func (t *Tower) ZeroGrad() {
	for _, s := range t.Slots {
		clear(s.Grad)
	}
}

func (t *Tower) workspace(i int) *model.Workspace {
	for len(t.ws) <= i {
		t.ws = append(t.ws, &model.Workspace{Save: true})
	}
	return t.ws[i]
}

// Batch is one training batch: Texts[c][i] is column c of example i.
type Batch struct {
	Texts  [][]string
	Labels []float32 // nil unless the loss takes labels
	Groups []int     // nil unless the loss takes groups
}

// Size is the number of examples.
func (b *Batch) Size() int {
	if len(b.Texts) == 0 {
		return 0
	}
	return len(b.Texts[0])
}

// Step computes the loss of batches and their gradients: forward, loss,
// backward. Column c is encoded by Towers[c] with Prefixes[c] prepended.
type Step struct {
	Towers   []*Tower
	Prefixes []string
	Loss     Loss
	// MaxLength truncates every text (special tokens included).
	MaxLength int
	// MiniBatch > 0 turns on GradCache (Gao et al. 2021, sentence-
	// transformers' Cached* losses): embeddings of the whole batch are
	// computed mini-batch by mini-batch, the loss and its gradient with
	// respect to the embeddings on the whole batch, then each mini-batch is
	// encoded again and back-propagated with its slice of that gradient.
	// The update is the uncached one; activations are held for one
	// mini-batch at a time, so memory does not grow with the batch.
	MiniBatch int
	// HiddenDropout and AttentionDropout are the training dropout rates
	// (config.json's hidden_dropout_prob, attention_probs_dropout_prob); 0: off.
	HiddenDropout, AttentionDropout float32

	dh []float32
}

// columnTokens tokenises one column.
func (s *Step) columnTokens(c int, texts []string) []tokenizer.Encoding {
	m := s.Towers[c].M
	encs := make([]tokenizer.Encoding, len(texts))
	maxLen := s.MaxLength
	if maxLen <= 0 || maxLen > m.Enc.Cfg.MaxTokens() {
		maxLen = m.Enc.Cfg.MaxTokens()
	}
	for i, t := range texts {
		encs[i] = m.Tok.Encode(s.Prefixes[c]+t, maxLen)
	}
	return encs
}

// rowKeys are the dropout keys of rows lo..hi of column c: a function of
// the step key, the column and the row's place in the whole batch only,
// so that GradCache's mini-batches drop exactly what the full batch does.
func rowKeys(key uint64, c, lo, hi int) []uint64 {
	ks := make([]uint64, hi-lo)
	ck := nn.DropKey(key, uint64(c)+1)
	for i := range ks {
		ks[i] = nn.DropKey(ck, uint64(lo+i)+1)
	}
	return ks
}

func (s *Step) dropout(key uint64, c, lo, hi int) *model.Dropout {
	if s.HiddenDropout <= 0 && s.AttentionDropout <= 0 {
		return nil
	}
	return &model.Dropout{Hidden: s.HiddenDropout, Attention: s.AttentionDropout, Keys: rowKeys(key, c, lo, hi)}
}

// encode runs the forward pass of rows [lo,hi) of column c in ws and pools
// them into emb [hi-lo, D]. It returns the padded batch and the last hidden state.
func (s *Step) encode(ws *model.Workspace, c int, encs []tokenizer.Encoding, lo, hi int, key uint64, emb []float32) (tokenizer.Batch, []float32, error) {
	tw := s.Towers[c]
	bt := tw.M.Tok.Pad(encs[lo:hi])
	ws.Save = true
	ws.Drop = s.dropout(key, c, lo, hi)
	h, err := tw.M.Enc.Forward(ws, bt.IDs, bt.TypeIDs, bt.Mask, bt.B, bt.T, nil)
	if err != nil {
		return bt, nil, err
	}
	return bt, h, tw.M.Enc.Pool(emb, h, bt.Mask, bt.B, bt.T, tw.M.Pooling, tw.M.Normalize)
}

// backward back-propagates dEmb (rows of one forward in ws) through
// pooling and the encoder of column c's tower, accumulating gradients.
func (s *Step) backward(ws *model.Workspace, c int, bt tokenizer.Batch, h, demb []float32) error {
	tw := s.Towers[c]
	n := len(h)
	if cap(s.dh) < n {
		s.dh = make([]float32, n)
	}
	dh := s.dh[:n]
	clear(dh)
	if err := tw.M.Enc.PoolBackward(dh, tw.Grads, demb, h, bt.Mask, bt.B, bt.T, tw.M.Pooling, tw.M.Normalize); err != nil {
		return err
	}
	return tw.M.Enc.Backward(ws, tw.Grads, dh)
}

// LossAndGrad computes the loss of b and accumulates scale·∇loss into the
// towers' gradients. key seeds the dropout masks (the trainer derives it
// from the seed and the step, so a resumed run drops the same units).
func (s *Step) LossAndGrad(b *Batch, key uint64, scale float64) (float64, error) {
	nc := len(b.Texts)
	if nc == 0 || nc > len(s.Towers) || nc > len(s.Prefixes) {
		return 0, fmt.Errorf("batch has %d text columns, the step is set up for %d", nc, len(s.Towers))
	}
	if b.Size() == 0 {
		return 0, errors.New("empty batch")
	}
	encs := make([][]tokenizer.Encoding, nc)
	for c := 0; c < nc; c++ {
		if len(b.Texts[c]) != b.Size() {
			return 0, fmt.Errorf("column %d has %d texts, column 0 %d", c, len(b.Texts[c]), b.Size())
		}
		encs[c] = s.columnTokens(c, b.Texts[c])
	}
	return s.LossAndGradTokens(encs, b.Labels, b.Groups, key, scale)
}

// LossAndGradTokens is LossAndGrad on tokenised columns (encs[c][i]:
// column c of example i).
func (s *Step) LossAndGradTokens(encs [][]tokenizer.Encoding, labels []float32, groups []int, key uint64, scale float64) (float64, error) {
	nc := len(encs)
	if nc == 0 || nc > len(s.Towers) {
		return 0, fmt.Errorf("batch has %d text columns, the step is set up for %d", nc, len(s.Towers))
	}
	B := len(encs[0])
	D := s.Towers[0].M.Dim()
	emb := make([][]float32, nc)
	grad := make([][]float32, nc)
	for c := 0; c < nc; c++ {
		if len(encs[c]) != B {
			return 0, fmt.Errorf("column %d has %d texts, column 0 %d", c, len(encs[c]), B)
		}
		if d := s.Towers[c].M.Dim(); d != D {
			return 0, fmt.Errorf("column %d's encoder has dimension %d, column 0's %d", c, d, D)
		}
		emb[c], grad[c] = make([]float32, B*D), make([]float32, B*D)
	}
	in := LossInput{Emb: emb, B: B, D: D, Labels: labels, Groups: groups, Grad: grad}
	mb := s.MiniBatch
	if mb <= 0 {
		// Plain: every column's activations are kept until the backward.
		bts := make([]tokenizer.Batch, nc)
		hs := make([][]float32, nc)
		for c := 0; c < nc; c++ {
			var err error
			if bts[c], hs[c], err = s.encode(s.Towers[c].workspace(c), c, encs[c], 0, B, key, emb[c]); err != nil {
				return 0, err
			}
		}
		loss, err := s.Loss.Compute(in)
		if err != nil {
			return 0, err
		}
		for c := 0; c < nc; c++ {
			scaleGrad(grad[c], scale)
			if err := s.backward(s.Towers[c].workspace(c), c, bts[c], hs[c], grad[c]); err != nil {
				return 0, err
			}
		}
		return loss, nil
	}
	// GradCache: 1. embed without keeping activations across mini-batches,
	for c := 0; c < nc; c++ {
		ws := s.Towers[c].workspace(0)
		for lo := 0; lo < B; lo += mb {
			hi := min(lo+mb, B)
			if _, _, err := s.encode(ws, c, encs[c], lo, hi, key, emb[c][lo*D:hi*D]); err != nil {
				return 0, err
			}
		}
	}
	// 2. the loss and its gradient on the whole batch,
	loss, err := s.Loss.Compute(in)
	if err != nil {
		return 0, err
	}
	// 3. each mini-batch again, with the same dropout, then its backward.
	tmp := make([]float32, mb*D)
	for c := 0; c < nc; c++ {
		scaleGrad(grad[c], scale)
		ws := s.Towers[c].workspace(0)
		for lo := 0; lo < B; lo += mb {
			hi := min(lo+mb, B)
			bt, h, err := s.encode(ws, c, encs[c], lo, hi, key, tmp[:(hi-lo)*D])
			if err != nil {
				return 0, err
			}
			if err := s.backward(ws, c, bt, h, grad[c][lo*D:hi*D]); err != nil {
				return 0, err
			}
		}
	}
	return loss, nil
}

func scaleGrad(g []float32, scale float64) {
	if scale == 1 {
		return
	}
	f := float32(scale)
	for i := range g {
		g[i] *= f
	}
}
