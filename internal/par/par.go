// Package par runs loop bodies on several goroutines: the one parallel
// for-loop of eval's query batches and vector's batched search.
package par

import (
	"context"
	"runtime"
	"sync"
)

// For calls fn(i) for i in [0, n) on up to workers goroutines (at most
// runtime.NumCPU(); workers < 1 means GOMAXPROCS), handing out chunks of
// 16 indices, and returns ctx's error if ctx is done before all are
// called (the calls already started finish first).
func For(ctx context.Context, workers, n int, fn func(i int)) error {
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
