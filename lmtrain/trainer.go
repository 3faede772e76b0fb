package lmtrain

import (
	"errors"
	"fmt"
	"math"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/optim"
)

// Trainer holds a model being fine-tuned: its gradients of the top blocks,
// final norm and LM head, their optimiser slots and AdamW. Frozen tensors
// have no gradient and no optimiser state.
type Trainer struct {
	M     *decoder.Model
	G     *decoder.Grads
	Slots []optim.Slot
	Opt   *optim.AdamW

	tw *decoder.TrainWorkspace
	dl []float32
}

// NewTrainer makes a trainer of m's top topN blocks (1 … NumLayers), final
// norm and LM head, with AdamW (β1, β2, ε, weight decay; decay is off for
// norms and biases as decoder.Model.Slots says).
func NewTrainer(m *decoder.Model, topN int, beta1, beta2, eps, weightDecay float64) (*Trainer, error) {
	if topN < 1 || topN > m.Cfg.NumLayers {
		return nil, fmt.Errorf("top_n = %d: the model has %d layers (want 1…%d)", topN, m.Cfg.NumLayers, m.Cfg.NumLayers)
	}
	g, err := m.NewGrads(topN, false)
	if err != nil {
		return nil, err
	}
	slots := m.Slots(g)
	return &Trainer{M: m, G: g, Slots: slots, Opt: optim.NewAdamW(slots, beta1, beta2, eps, weightDecay),
		tw: &decoder.TrainWorkspace{}}, nil
}

// Counts returns the trainable and all parameters.
func (t *Trainer) Counts() (trainable, all int) {
	for _, s := range t.Slots {
		trainable += len(s.Data)
	}
	all = t.M.W.Size().Params
	return trainable, all
}

// Gradients zeroes the gradients and accumulates those of the mean of the
// examples' losses (each example's loss the mean over its answer tokens,
// as transformers' loss with batch 1 divided by the accumulation steps).
// It returns that mean loss and the number of trained tokens.
func (t *Trainer) Gradients(exs []Example) (loss float64, tokens int, err error) {
	if len(exs) == 0 {
		return 0, 0, errors.New("no examples")
	}
	t.G.Zero()
	V := t.M.Cfg.VocabSize
	scale := float32(1 / float64(len(exs)))
	for _, ex := range exs {
		logits, err := t.M.TrainForward(t.tw, ex.IDs, t.G.First)
		if err != nil {
			return 0, 0, err
		}
		T := len(ex.IDs)
		if cap(t.dl) < T*V {
			t.dl = make([]float32, T*V)
		}
		dl := t.dl[:T*V]
		l, n, err := decoder.CausalLMLoss(dl, logits, ex.Labels(), V)
		if err != nil {
			return 0, 0, err
		}
		if scale != 1 {
			for i := range dl {
				dl[i] *= scale
			}
		}
		if err := t.M.Backward(t.tw, t.G, dl); err != nil {
			return 0, 0, err
		}
		loss += l / float64(len(exs))
		tokens += n
	}
	return loss, tokens, nil
}

// Step runs one optimiser step on exs (the micro-batches of one step):
// gradients, clipping to maxNorm (≤ 0: none) and AdamW at lr. It returns
// the loss and the gradient norm before clipping.
func (t *Trainer) Step(exs []Example, lr, maxNorm float64) (loss, norm float64, tokens int, err error) {
	loss, tokens, err = t.Gradients(exs)
	if err != nil {
		return 0, 0, 0, err
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, 0, tokens, fmt.Errorf("the loss is %v (diverged; lower lr or check the data)", loss)
	}
	norm = optim.ClipGradNorm(t.Slots, maxNorm)
	if err := t.Opt.Update(t.Slots, lr); err != nil {
		return 0, 0, 0, err
	}
	return loss, norm, tokens, nil
}
