package decoder

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Sampling chooses how Generate picks each token, as transformers'
// generate: the repetition penalty first (also when greedy), then
// temperature, top-k and top-p, then a draw from the softmax.
type Sampling struct {
	// Temperature divides the logits; 0 decodes greedily (argmax, the
	// first of equal maxima, as torch.argmax).
	Temperature float64
	// TopK keeps the k highest logits (0: all).
	TopK int
	// TopP keeps the smallest set of most probable tokens whose
	// probabilities sum to at least TopP (0 or 1: all).
	TopP float64
	// RepetitionPenalty (CTRL's; 0 or 1: none) divides the positive logits
	// and multiplies the negative ones of every token already in the
	// sequence, prompt included.
	RepetitionPenalty float64
	// Seed seeds the draws (PCG): the same seed gives the same tokens.
	Seed uint64
}

// Generate decodes greedily with the KV cache: it runs the prompt ids,
// then appends the argmax token and runs it, until maxNew tokens or a
// token for which stop returns true (that token included, as
// transformers' generate). stop nil stops at m.GenEOS. It returns the new
// tokens only.
func (m *Model) Generate(ctx context.Context, ids []int, maxNew int, stop func(id int) bool) ([]int, error) {
	return m.GenerateSampled(ctx, ids, maxNew, stop, Sampling{})
}

// GenerateSampled is Generate with the token choice of s.
func (m *Model) GenerateSampled(ctx context.Context, ids []int, maxNew int, stop func(id int) bool, s Sampling) ([]int, error) {
	if len(ids) == 0 {
		return nil, fmt.Errorf("decoder: empty prompt")
	}
	if stop == nil {
		eos := map[int]bool{}
		for _, id := range m.GenEOS {
			eos[id] = true
		}
		stop = func(id int) bool { return eos[id] }
	}
	rng := rand.New(rand.NewPCG(s.Seed, 0x6b6f726d6564))
	seen := map[int]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	ws := &Workspace{}
	c := m.NewCache()
	c.Reserve(min(len(ids)+maxNew, m.Cfg.MaxPositions))
	var out []int
	next := ids
	var scratch []float32
	for len(out) < maxNew {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		logits, err := m.Forward(ws, c, next, false)
		if err != nil {
			return out, err
		}
		scratch = append(scratch[:0], logits...)
		id := s.pick(scratch, seen, rng)
		out = append(out, id)
		seen[id] = true
		if stop(id) {
			break
		}
		next = []int{id}
	}
	return out, nil
}

// Argmax returns the index of the largest value (the first of equal ones).
func Argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// pick chooses the next token from logits (which it modifies).
func (s Sampling) pick(logits []float32, seen map[int]bool, rng *rand.Rand) int {
	if p := float32(s.RepetitionPenalty); p > 0 && p != 1 {
		for id := range seen {
			if logits[id] < 0 {
				logits[id] *= p
			} else {
				logits[id] /= p
			}
		}
	}
	if s.Temperature <= 0 {
		return Argmax(logits)
	}
	type cand struct {
		id int
		l  float64
	}
	cs := make([]cand, len(logits))
	for i, l := range logits {
		cs[i] = cand{i, float64(l) / s.Temperature}
	}
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].l > cs[j].l })
	if s.TopK > 0 && s.TopK < len(cs) {
		kth := cs[s.TopK-1].l
		n := s.TopK
		for n < len(cs) && cs[n].l >= kth { // ties with the k-th stay, as transformers
			n++
		}
		cs = cs[:n]
	}
	probs := make([]float64, len(cs))
	var sum float64
	for i, c := range cs {
		probs[i] = math.Exp(c.l - cs[0].l)
		sum += probs[i]
	}
	if s.TopP > 0 && s.TopP < 1 {
		var cum float64
		for i := range probs {
			cum += probs[i] / sum
			if cum >= s.TopP {
				probs, cs = probs[:i+1], cs[:i+1]
				break
			}
		}
		sum = 0
		for _, p := range probs {
			sum += p
		}
	}
	u := rng.Float64() * sum
	for i, p := range probs {
		if u < p {
			return cs[i].id
		}
		u -= p
	}
	return cs[len(cs)-1].id
}
