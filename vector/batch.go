package vector

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/kormed/kormed/blas"
)

// batchBlock is how many queries one matrix product of SearchBatch
// scores at a time.
const batchBlock = 256

// SearchBatch is Search for many queries at once: queries holds them row
// after row (a multiple of Dim values), and the result holds each one's k
// best rows, best first (ties: lower row first). k < 1 or k > Len() gives
// every row. It panics if len(queries) is not a multiple of Dim().
//
// The scores of a block of 256 queries are one matrix product
// (blas.Sgemm, so blas.SetPrecision applies), and each query's k best are
// then kept in a heap on SetThreads goroutines: far faster than one scan
// per query when there are many, with scores that may differ from
// Search's in the last bits (another summation order). It returns ctx's
// error, and no results, when ctx is done before it finishes.
func (f *Flat) SearchBatch(ctx context.Context, queries []float32, k int) ([][]Result, error) {
	if len(queries)%f.dim != 0 {
		panic(fmt.Sprintf("vector: %d query values are not rows of dimension %d", len(queries), f.dim))
	}
	nq, nd := len(queries)/f.dim, f.Len()
	if k < 1 || k > nd {
		k = nd
	}
	out := make([][]Result, nq)
	if nd == 0 {
		for i := range out {
			out[i] = []Result{}
		}
		return out, nil
	}
	scores := make([]float32, min(batchBlock, nq)*nd)
	for q0 := 0; q0 < nq; q0 += batchBlock {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		b := min(batchBlock, nq-q0)
		blas.Sgemm(false, true, b, nd, f.dim, 1, queries[q0*f.dim:], f.dim, f.data, f.dim, 0, scores, nd)
		err := f.each(ctx, b, func(i int) {
			t := newTopK(k)
			for d, s := range scores[i*nd : (i+1)*nd] {
				if !t.Full() || s >= t.Worst().Score {
					t.Push(Result{d, s})
				}
			}
			out[q0+i] = t.Sorted()
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// each calls fn(i) for i in [0, n) on up to SetThreads goroutines, in
// chunks of 16, and returns ctx's error if ctx is done before all are
// called.
func (f *Flat) each(ctx context.Context, n int, fn func(i int)) error {
	workers := f.threads
	if workers < 1 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, runtime.NumCPU(), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			fn(i)
		}
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	const chunk = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}
