package bench

import (
	"context"
	"time"

	"github.com/kormed/kormed/blas"
)

// timeSteps runs step warm times untimed, then iters times timed, and
// returns the timed seconds; step gets the running index from 0.
func timeSteps(ctx context.Context, warm, iters int, step func(i int) error) (float64, error) {
	for i := 0; i < warm; i++ {
		if err := step(i); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := step(warm + i); err != nil {
			return 0, err
		}
	}
	return time.Since(t0).Seconds(), nil
}

// engineName names kormed's engine in benchmark records: the matrix-product
// backend and, under --precision bf16 or int8, the precision.
func engineName() string {
	switch blas.CurrentPrecision() {
	case blas.BF16:
		return "kormed bf16 " + blas.Backend()
	case blas.INT8:
		return "kormed int8 " + blas.Backend()
	}
	return "kormed " + blas.Backend()
}
