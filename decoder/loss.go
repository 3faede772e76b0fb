package decoder

import (
	"fmt"
	"math"
)

// IgnoreIndex is the label of positions the loss skips (PyTorch's
// cross_entropy ignore_index, transformers' -100).
const IgnoreIndex = -100

// PromptLabels returns the labels of a causal-LM example whose first
// promptLen ids are the prompt: the ids, with the prompt's replaced by
// IgnoreIndex (trained on the answer only).
func PromptLabels(ids []int, promptLen int) []int {
	labels := append([]int(nil), ids...)
	for i := 0; i < promptLen && i < len(labels); i++ {
		labels[i] = IgnoreIndex
	}
	return labels
}

// CausalLMLoss is transformers' causal-LM loss (ForCausalLMLoss with the
// default mean reduction): position t's logits predict labels[t+1] (the
// shift by one; the last position predicts nothing), labels equal to
// IgnoreIndex are skipped, and the loss is the mean cross-entropy over the
// n positions that remain. logits are [T,V], labels [T]. It writes dlogits
// [T,V], the loss's gradient (zero rows for skipped positions), when
// dlogits is non-nil. The log-softmax is computed in float64. With n = 0
// the loss is 0 and dlogits is zero (PyTorch would give NaN).
func CausalLMLoss(dlogits, logits []float32, labels []int, V int) (loss float64, n int, err error) {
	T := len(labels)
	if len(logits) != T*V {
		return 0, 0, fmt.Errorf("decoder: %d logits for %d labels of vocabulary %d", len(logits), T, V)
	}
	if dlogits != nil {
		if len(dlogits) != T*V {
			return 0, 0, fmt.Errorf("decoder: dlogits has %d values, want %d", len(dlogits), T*V)
		}
		clear(dlogits)
	}
	for t := 0; t+1 < T; t++ {
		y := labels[t+1]
		if y == IgnoreIndex {
			continue
		}
		if y < 0 || y >= V {
			return 0, 0, fmt.Errorf("decoder: label %d out of the vocabulary [0,%d)", y, V)
		}
		n++
	}
	if n == 0 {
		return 0, 0, nil
	}
	inv := 1 / float64(n)
	for t := 0; t+1 < T; t++ {
		y := labels[t+1]
		if y == IgnoreIndex {
			continue
		}
		row := logits[t*V : (t+1)*V]
		mx := math.Inf(-1)
		for _, v := range row {
			mx = math.Max(mx, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(s)
		loss += (lse - float64(row[y])) * inv
		if dlogits != nil {
			d := dlogits[t*V : (t+1)*V]
			for j, v := range row {
				d[j] = float32(math.Exp(float64(v)-lse) * inv)
			}
			d[y] -= float32(inv)
		}
	}
	return loss, n, nil
}
