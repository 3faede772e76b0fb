//go:build cgo && !nodnnl

package blas

import (
	"fmt"
	"sync"
	"testing"
)

// Every item runs exactly once, whatever the thread count and the number
// of items (fewer items than threads included), one loop after another.
func TestPoolRunsEveryItemOnce(t *testing.T) {
	for _, nt := range []int{1, 2, 3, 8} {
		for _, n := range []int{1, 2, 7, 128, 1000} {
			for rep := 0; rep < 20; rep++ {
				hits, _ := poolProbe(nt, n, 0)
				for i, h := range hits {
					if h != 1 {
						t.Fatalf("nt %d, n %d, loop %d: item %d ran %d times", nt, n, rep, i, h)
					}
				}
			}
		}
	}
}

// Items that take a while are shared between the threads, and never by
// more threads than asked for.
func TestPoolSharesItems(t *testing.T) {
	for _, nt := range []int{1, 2, 4} {
		_, threads := poolProbe(nt, 400, 20000) // 20 µs an item: 8 ms of work
		seen := map[uint64]bool{}
		for _, th := range threads {
			seen[th] = true
		}
		if len(seen) > nt {
			t.Errorf("nt %d: %d threads ran items", nt, len(seen))
		}
		if nt > 1 && len(seen) < 2 {
			t.Errorf("nt %d: one thread ran all 400 items", nt)
		}
	}
}

// Loops from several goroutines at once each run every item once: one
// holds the pool, the others run theirs on their own threads.
func TestPoolConcurrentCallers(t *testing.T) {
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rep := 0; rep < 50; rep++ {
				hits, _ := poolProbe(2, 64, 1000)
				for i, h := range hits {
					if h != 1 {
						errs <- fmt.Sprintf("loop %d: item %d ran %d times", rep, i, h)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatal(e)
	}
}
