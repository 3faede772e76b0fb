package vector

import (
	"sync"
	"testing"
)

// The benchmarks share clustered data sets of dimension 384: 100,000 rows
// for the scans, 10,000 for the graph (a 100,000-row build takes minutes on
// two cores; bench/vectorcmp times it).
var benchSets sync.Map

func benchSet(b *testing.B, n int) (*Flat, [][]float32) {
	type set struct {
		f *Flat
		q [][]float32
	}
	if s, ok := benchSets.Load(n); ok {
		return s.(set).f, s.(set).q
	}
	data, q := clustered(7, n, 64, 384, 100, 0.8)
	s := set{flatOf(b, 384, data), q}
	benchSets.Store(n, s)
	return s.f, s.q
}

// BenchmarkFlatSearch100k: exact top-10 over 100,000 × 384, one query at a
// time, the scan split over GOMAXPROCS goroutines.
func BenchmarkFlatSearch100k(b *testing.B) {
	f, q := benchSet(b, 100000)
	b.SetBytes(f.Bytes())
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Search(q[i%len(q)], 10, nil)
	}
}

// BenchmarkFlatSearch100kFiltered: the same with 10% of the rows allowed.
func BenchmarkFlatSearch100kFiltered(b *testing.B) {
	f, q := benchSet(b, 100000)
	allow := NewBitset(f.Len())
	for i := 0; i < f.Len(); i += 10 {
		allow.Set(i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.Search(q[i%len(q)], 10, allow)
	}
}

// BenchmarkQuantizedSearch100k: int8 and bf16 scans of 100,000 × 384 with
// 40 candidates re-scored exactly.
func BenchmarkQuantizedSearch100k(b *testing.B) {
	f, q := benchSet(b, 100000)
	for _, kind := range []string{"int8", "bf16"} {
		b.Run(kind, func(b *testing.B) {
			qz, _ := Quantize(f, kind)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				qz.Search(q[i%len(q)], 10, nil)
			}
		})
	}
}

var bench10kGraph struct {
	once sync.Once
	h    *HNSW
}

// BenchmarkHNSWSearch10k: top-10 from the graph over 10,000 × 384 (M 16,
// efC 100), ef 64.
func BenchmarkHNSWSearch10k(b *testing.B) {
	f, q := benchSet(b, 10000)
	bench10kGraph.once.Do(func() {
		p := DefaultHNSWParams()
		p.EfConstruction = 100
		bench10kGraph.h = NewHNSW(f, p)
		bench10kGraph.h.AddAll(0)
	})
	h := bench10kGraph.h
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h.Search(q[i%len(q)], 10, nil)
	}
}

// BenchmarkHNSWBuild5k: inserting 5,000 rows of 384 values (M 16, efC
// 100) with GOMAXPROCS goroutines; docs/s = 5000 / (ns/op · 1e-9).
func BenchmarkHNSWBuild5k(b *testing.B) {
	data, _ := clustered(8, 5000, 1, 384, 50, 0.8)
	f := flatOf(b, 384, data)
	p := DefaultHNSWParams()
	p.EfConstruction = 100
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		NewHNSW(f, p).AddAll(0)
	}
}
