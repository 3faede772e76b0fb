package train

import (
	"sync"

	"github.com/kormed/kormed/blas"
)

// parallelFor runs f over [0,n) in at most blas.Threads() contiguous
// chunks of at least minChunk (elementwise work only: the chunking never
// changes a result).
func parallelFor(n, minChunk int, f func(lo, hi int)) {
	w := min(blas.Threads(), (n+minChunk-1)/max(minChunk, 1))
	if w <= 1 {
		f(0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w)
	for g := 0; g < w; g++ {
		go func(g int) {
			defer wg.Done()
			f(g*n/w, (g+1)*n/w)
		}(g)
	}
	wg.Wait()
}
