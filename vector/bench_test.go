package vector

import (
	"sync"
	"testing"
)

var bench100k struct {
	once sync.Once
	f    *Flat
	q    [][]float32
}

func flat100k(b *testing.B) (*Flat, [][]float32) {
	bench100k.once.Do(func() {
		data, q := clustered(7, 100000, 64, 384, 100, 0.8)
		bench100k.f = flatOf(b, 384, data)
		bench100k.q = q
	})
	return bench100k.f, bench100k.q
}

// BenchmarkFlatSearch100k: exact top-10 over 100,000 × 384, one query at a
// time (the scan split over GOMAXPROCS goroutines).
func BenchmarkFlatSearch100k(b *testing.B) {
	f, q := flat100k(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Search(q[i%len(q)], 10, nil)
	}
}
