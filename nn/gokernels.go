package nn

import (
	"math"
	"sync"

	"github.com/kormed/kormed/blas"
)

// The pure-Go kernels (goLayerNorm, goAttention, goBiasGELU, … each in
// the file of the kernel it implements) are the only path under
// CGO_ENABLED=0 and are compiled in every build so tests can check the C
// kernels against them. Each parallelises over rows (or batch×head pairs)
// with blas.Threads() goroutines and computes in float32 with the same
// formulas as the C code. This file holds what they share.

// parallelRows runs f over [0,n) cut into at most blas.Threads() contiguous
// chunks, each on its own goroutine. minChunk keeps tiny work serial.
func parallelRows(n, minChunk int, f func(lo, hi int)) {
	parallelChunks(n, minChunk, func(_, lo, hi int) { f(lo, hi) })
}

// parallelChunks is parallelRows that also tells f its chunk number g
// (0 ≤ g < blas.Threads()), for per-chunk partial results that are then
// combined in a fixed order.
func parallelChunks(n, minChunk int, f func(g, lo, hi int)) {
	w := min(blas.Threads(), (n+minChunk-1)/max(minChunk, 1))
	if w <= 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for g := 1; g < w; g++ {
		go func(g int) {
			defer wg.Done()
			f(g, g*n/w, (g+1)*n/w)
		}(g)
	}
	f(0, 0, n/w)
	wg.Wait()
}

// exp32 is Cephes' expf: 0 below -87.3, about 1 ulp elsewhere. n is
// rounded to nearest with the 1.5·2²³ trick (float32 arithmetic).
func exp32(x float32) float32 {
	if x < -87.3 {
		return 0
	}
	if x > 88.3762626647949 {
		x = 88.3762626647949
	}
	n := (x*1.44269504088896341 + 12582912) - 12582912
	r := x - n*0.693359375
	r = r - n*-2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
}
