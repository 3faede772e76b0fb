package optim

import (
	"fmt"
	"math"

	"github.com/kormed/kormed/nn"
)

// AdamW is torch.optim.AdamW (Loshchilov & Hutter's decoupled weight
// decay) with PyTorch's arithmetic, element by element in float32:
//
//	p ← p·(1 − lr·wd)                      (only where Decay is set)
//	m ← β1·m + (1−β1)·g
//	v ← β2·v + (1−β2)·g²
//	p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + ε)
//
// t counts optimiser steps from 1. Parameters without a gradient buffer
// (frozen) keep no state and never change. Weight decay is off for biases
// and LayerNorm parameters (Slot.Decay false), as the HF Trainer groups them.
//
// Example: one step at lr 0.1, β (0.9, 0.999), ε 1e-8, wd 0, from p = 1
// with g = 0.5: m = 0.05, v = 2.5e-4, m̂ = 0.5, v̂ = 0.25, p = 1 − 0.1·0.5/0.5 = 0.9
// (Adam's first step moves every element by lr·sign(g)).
type AdamW struct {
	Beta1, Beta2, Eps, WeightDecay float64
	// Step is the number of updates done (t before the next update).
	Step int
	// M and V are the moment estimates, one per Slot (nil for frozen ones).
	M, V [][]float32
}

// Slot is one tensor the optimiser updates: its data, its gradient and
// whether weight decay applies.
type Slot struct {
	Name  string
	Data  []float32
	Grad  []float32 // nil: frozen
	Decay bool
}

// NewAdamW returns an optimiser with moment buffers for the trainable slots.
func NewAdamW(slots []Slot, beta1, beta2, eps, weightDecay float64) *AdamW {
	o := &AdamW{Beta1: beta1, Beta2: beta2, Eps: eps, WeightDecay: weightDecay,
		M: make([][]float32, len(slots)), V: make([][]float32, len(slots))}
	for i, s := range slots {
		if s.Grad != nil {
			o.M[i] = make([]float32, len(s.Data))
			o.V[i] = make([]float32, len(s.Data))
		}
	}
	return o
}

// Update applies one step at learning rate lr to every trainable slot.
func (o *AdamW) Update(slots []Slot, lr float64) error {
	if len(slots) != len(o.M) {
		return fmt.Errorf("adamw: %d slots, the optimiser was made for %d", len(slots), len(o.M))
	}
	o.Step++
	t := float64(o.Step)
	bc1 := 1 - math.Pow(o.Beta1, t)
	bc2 := 1 - math.Pow(o.Beta2, t)
	a := nn.AdamWParams{Decay: 1, Beta1: float32(o.Beta1), Beta2: float32(o.Beta2),
		C1: float32(1 - o.Beta1), C2: float32(1 - o.Beta2), Eps: float32(o.Eps),
		BC2Sqrt: float32(math.Sqrt(bc2)), StepSize: float32(lr / bc1)}
	for i, s := range slots {
		if s.Grad == nil {
			continue
		}
		if len(s.Grad) != len(s.Data) || len(o.M[i]) != len(s.Data) {
			return fmt.Errorf("adamw: slot %s has %d values, gradient %d, state %d", s.Name, len(s.Data), len(s.Grad), len(o.M[i]))
		}
		a.Decay = 1
		if s.Decay && o.WeightDecay != 0 {
			a.Decay = float32(1 - lr*o.WeightDecay)
		}
		nn.AdamW(s.Data, s.Grad, o.M[i], o.V[i], a)
	}
	return nil
}

// ClipGradNorm is torch.nn.utils.clip_grad_norm_: it scales every gradient
// by maxNorm/(‖g‖+1e-6) when the global 2-norm ‖g‖ over all trainable
// slots exceeds maxNorm, and returns ‖g‖ (before clipping). maxNorm ≤ 0
// only measures.
func ClipGradNorm(slots []Slot, maxNorm float64) float64 {
	var ss float64
	for _, s := range slots {
		ss += nn.SumSquares(s.Grad)
	}
	norm := math.Sqrt(ss)
	if maxNorm > 0 {
		coef := maxNorm / (norm + 1e-6)
		if coef < 1 {
			c := float32(coef)
			for _, s := range slots {
				for j := range s.Grad {
					s.Grad[j] *= c
				}
			}
		}
	}
	return norm
}
