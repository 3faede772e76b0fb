package vector

import (
	"sync"
	"testing"
)

// TestConcurrentSearch runs searches of the three indexes from several
// goroutines at once (after a parallel graph build) and checks each against
// the same search run alone; under -race it also checks the locking of
// the parallel build.
func TestConcurrentSearch(t *testing.T) {
	data, queries := clustered(31, 3000, 40, 32, 20, 0.8)
	f := flatOf(t, 32, data)
	f.SetThreads(3)
	qz, _ := Quantize(f, "bf16")
	h := NewHNSW(f, HNSWParams{M: 8, EfConstruction: 40})
	h.AddAll(4)
	allow := NewBitset(3000)
	for i := 0; i < 3000; i += 7 {
		allow.Set(i)
	}
	type res struct{ flat, quant, graph []Result }
	want := make([]res, len(queries))
	for i, q := range queries {
		want[i] = res{f.Search(q, 10, nil), qz.Search(q, 10, allow), h.Search(q, 10, allow)}
	}
	var wg sync.WaitGroup
	errs := make(chan string, 8*len(queries))
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i, q := range queries {
				for what, pair := range map[string][2][]Result{
					"flat":  {f.Search(q, 10, nil), want[i].flat},
					"quant": {qz.Search(q, 10, allow), want[i].quant},
					"graph": {h.Search(q, 10, allow), want[i].graph},
				} {
					if len(pair[0]) != len(pair[1]) {
						errs <- what
						continue
					}
					for j := range pair[0] {
						if pair[0][j] != pair[1][j] {
							errs <- what
							break
						}
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Fatalf("%s: a concurrent search differs from the same search alone", e)
	}
}
