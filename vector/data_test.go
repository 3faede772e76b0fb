package vector

import (
	"math"
	"math/rand/v2"
	"testing"
)

// normalize scales v to unit length.
func normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s > 0 {
		inv := float32(1 / math.Sqrt(s))
		for i := range v {
			v[i] *= inv
		}
	}
	return v
}

// clustered returns n unit vectors of dimension dim drawn around c Gaussian
// cluster centres (noise of total norm about spread), and nq queries drawn
// the same way: what sentence embeddings look like to an index, where
// uniform random vectors (all nearly orthogonal) would not.
func clustered(seed uint64, n, nq, dim, c int, spread float64) (data, queries [][]float32) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	centres := make([][]float32, c)
	for i := range centres {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		centres[i] = normalize(v)
	}
	sd := spread / math.Sqrt(float64(dim))
	draw := func() []float32 {
		ctr := centres[r.IntN(c)]
		v := make([]float32, dim)
		for j := range v {
			v[j] = ctr[j] + float32(r.NormFloat64()*sd)
		}
		return normalize(v)
	}
	data = make([][]float32, n)
	for i := range data {
		data[i] = draw()
	}
	queries = make([][]float32, nq)
	for i := range queries {
		queries[i] = draw()
	}
	return data, queries
}

// flatOf builds a Flat of the vectors.
func flatOf(tb testing.TB, dim int, vecs [][]float32) *Flat {
	tb.Helper()
	f := NewFlat(dim)
	if _, err := f.Add(vecs...); err != nil {
		tb.Fatal(err)
	}
	return f
}

// recall is the fraction of want's rows that got holds.
func recall(got, want []Result) float64 {
	if len(want) == 0 {
		return 1
	}
	in := map[int]bool{}
	for _, r := range want {
		in[r.Index] = true
	}
	hit := 0
	for _, r := range got {
		if in[r.Index] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}
