package optim

import (
	"fmt"
	"math"
)

// Schedule names a learning-rate schedule of transformers'
// optimization.py: the learning rate at optimiser step s (counted from 0,
// the step about to be taken) is lr·Factor(s).
type Schedule struct {
	Kind   string // "linear" (default), "cosine", "constant", "constant_with_warmup"
	Warmup int    // warm-up steps
	Total  int    // training steps in all
}

// Schedules lists the accepted kinds.
var Schedules = []string{"linear", "cosine", "constant", "constant_with_warmup"}

// Check reports a bad kind or step counts.
func (s Schedule) Check() error {
	switch s.Kind {
	case "", "linear", "cosine", "constant", "constant_with_warmup":
	default:
		return fmt.Errorf("unknown schedule %q (want one of %v)", s.Kind, Schedules)
	}
	if s.Warmup < 0 || s.Total < 0 {
		return fmt.Errorf("schedule: warm-up %d and total %d steps must not be negative", s.Warmup, s.Total)
	}
	return nil
}

// Factor is the learning-rate multiplier at step s:
//
//	linear (get_linear_schedule_with_warmup):  s/W during warm-up, then max(0, (N−s)/(N−W))
//	cosine (get_cosine_schedule_with_warmup):  s/W, then max(0, ½(1+cos(π·(s−W)/(N−W))))
//	constant:                                  1
//	constant_with_warmup:                      s/W, then 1
//
// with W warm-up steps and N total (each denominator at least 1, as in
// transformers). Example, linear with W = 2, N = 10: steps 0, 1, 2, 6
// give 0, 0.5, 1, 0.5. The first step of a warm-up runs at learning rate 0,
// as in PyTorch.
func (s Schedule) Factor(step int) float64 {
	w, n := float64(s.Warmup), float64(s.Total)
	x := float64(step)
	if s.Kind != "constant" && step < s.Warmup {
		return x / math.Max(1, w)
	}
	switch s.Kind {
	case "constant", "constant_with_warmup":
		return 1
	case "cosine":
		progress := (x - w) / math.Max(1, n-w)
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*progress)))
	default:
		return math.Max(0, (n-x)/math.Max(1, n-w))
	}
}

// WarmupSteps resolves a warm-up given as steps or as a ratio of the total
// (HF's warmup_steps / warmup_ratio: ceil(ratio·total)).
func WarmupSteps(steps int, ratio float64, total int) int {
	if steps > 0 {
		return steps
	}
	return int(math.Ceil(ratio * float64(total)))
}
