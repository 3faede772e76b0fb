package optim

import (
	"math"
	"testing"
)

func TestScheduleExample(t *testing.T) {
	s := Schedule{Kind: "linear", Warmup: 2, Total: 10}
	for step, want := range map[int]float64{0: 0, 1: 0.5, 2: 1, 6: 0.5, 10: 0, 12: 0} {
		if got := s.Factor(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("linear step %d: %g, want %g", step, got, want)
		}
	}
	c := Schedule{Kind: "cosine", Warmup: 0, Total: 4}
	for step, want := range map[int]float64{0: 1, 2: 0.5, 4: 0} {
		if got := c.Factor(step); math.Abs(got-want) > 1e-12 {
			t.Errorf("cosine step %d: %g, want %g", step, got, want)
		}
	}
	if (Schedule{Kind: "constant", Warmup: 3}).Factor(0) != 1 || (Schedule{Kind: "constant_with_warmup", Warmup: 4}).Factor(1) != 0.25 {
		t.Error("constant schedules")
	}
	if WarmupSteps(0, 0.1, 95) != 10 || WarmupSteps(7, 0.1, 95) != 7 {
		t.Error("warm-up ratio rounds up as transformers does; steps win over the ratio")
	}
	if (Schedule{Kind: "step"}).Check() == nil {
		t.Error("unknown schedule accepted")
	}
}
