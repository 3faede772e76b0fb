package vector

import (
	"bytes"
	"io"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// naive is the reference search: every allowed row scored with Dot, sorted
// by score descending then row ascending.
func naive(f *Flat, q []float32, k int, allow *Bitset) []Result {
	if k < 1 {
		return nil
	}
	var all []Result
	for i := 0; i < f.Len(); i++ {
		if allow == nil || allow.Has(i) {
			all = append(all, Result{i, Dot(q, f.Row(i))})
		}
	}
	slices.SortFunc(all, func(a, b Result) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return a.Index - b.Index
	})
	if len(all) > k {
		all = all[:k]
	}
	return all
}

func randVec(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	for j := range v {
		v[j] = float32(r.NormFloat64())
	}
	return v
}

func sameResults(t *testing.T, what string, got, want []Result) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d results, want %d\ngot  %v\nwant %v", what, len(got), len(want), got, want)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: result %d is %+v, want %+v", what, i, got[i], want[i])
		}
	}
}

func TestDotMatchesFloat64AndDot4(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, dim := range []int{1, 3, 4, 7, 8, 9, 15, 16, 17, 31, 64, 100, 384, 385} {
		q := randVec(r, dim)
		rows := [4][]float32{randVec(r, dim), randVec(r, dim), randVec(r, dim), randVec(r, dim)}
		var out [4]float32
		dot4(q, rows[0], rows[1], rows[2], rows[3], &out)
		for i, row := range rows {
			var exact, mag float64
			for j := range q {
				exact += float64(q[j]) * float64(row[j])
				mag += math.Abs(float64(q[j]) * float64(row[j]))
			}
			d := Dot(q, row)
			if math.Abs(float64(d)-exact) > 1e-6*mag {
				t.Errorf("dim %d: Dot %v, float64 %v", dim, d, exact)
			}
			if math.Float32bits(out[i]) != math.Float32bits(d) {
				t.Errorf("dim %d row %d: dot4 %v != Dot %v (must be bit-equal)", dim, i, out[i], d)
			}
		}
	}
}

func TestFlatSearchMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, dim := range []int{1, 5, 8, 17, 64} {
		for _, n := range []int{0, 1, 3, 4, 5, 63, 64, 65, 130, 5000} {
			f := NewFlat(dim)
			for i := 0; i < n; i++ {
				if _, err := f.Add(randVec(r, dim)); err != nil {
					t.Fatal(err)
				}
			}
			half := NewBitset(n)
			short := NewBitset(n / 2) // rows past its end are not allowed
			long := NewBitset(n + 100)
			for i := 0; i < n; i++ {
				if r.IntN(10) < 3 {
					half.Set(i)
				}
				if i < short.Len() && i%3 == 0 {
					short.Set(i)
				}
				if i%5 == 0 {
					long.Set(i)
				}
			}
			long.Set(n + 50)
			q := randVec(r, dim)
			for _, allow := range []*Bitset{nil, half, short, long, NewBitset(n)} {
				for _, k := range []int{-1, 0, 1, 4, 10, n, n + 7} {
					for _, threads := range []int{1, 0, 3} {
						f.SetThreads(threads)
						sameResults(t, "search", f.Search(q, k, allow), naive(f, q, k, allow))
					}
				}
			}
		}
	}
}

func TestFlatTies(t *testing.T) {
	// Rows 0..9 repeat three vectors; equal scores come back lowest row first.
	vs := [][]float32{{1, 0, 0}, {0, 1, 0}, {0.6, 0.8, 0}}
	f := NewFlat(3)
	for i := 0; i < 10; i++ {
		f.Add(vs[(i*7)%3])
	}
	got := f.Search([]float32{1, 0, 0}, 10, nil)
	want := []Result{{0, 1}, {3, 1}, {6, 1}, {9, 1}, {2, 0.6}, {5, 0.6}, {8, 0.6}, {1, 0}, {4, 0}, {7, 0}}
	sameResults(t, "ties", got, want)
	sameResults(t, "ties k=5", f.Search([]float32{1, 0, 0}, 5, nil), want[:5])
}

func TestFlatDimensionErrors(t *testing.T) {
	f := NewFlat(4)
	if _, err := f.Add([]float32{1, 2, 3, 4}, []float32{1, 2, 3}); err == nil || !strings.Contains(err.Error(), "vector 1 has dimension 3, the index has 4") {
		t.Fatalf("Add with a 3-value vector: err %v", err)
	}
	if f.Len() != 0 {
		t.Fatalf("a failed Add added %d rows", f.Len())
	}
	first, err := f.Add([]float32{1, 2, 3, 4}, []float32{5, 6, 7, 8})
	if err != nil || first != 0 || f.Len() != 2 {
		t.Fatalf("Add: first %d, err %v, len %d", first, err, f.Len())
	}
	if first, _ := f.Add([]float32{0, 0, 0, 1}); first != 2 {
		t.Fatalf("third row numbered %d", first)
	}
	if !slices.Equal(f.Row(1), []float32{5, 6, 7, 8}) {
		t.Fatalf("Row(1) = %v", f.Row(1))
	}
	defer func() {
		if p := recover(); p == nil || !strings.Contains(p.(string), "query has dimension 3") {
			t.Fatalf("Search with a 3-value query: panic %v", p)
		}
	}()
	f.Search([]float32{1, 2, 3}, 1, nil)
}

func TestFlatRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	f := NewFlat(7)
	for i := 0; i < 100; i++ {
		f.Add(randVec(r, 7))
	}
	var buf bytes.Buffer
	n, err := f.WriteTo(&buf)
	if err != nil || n != 24+100*7*4+4 || int64(buf.Len()) != n {
		t.Fatalf("WriteTo: %d bytes (buffer %d), err %v; want %d", n, buf.Len(), err, 24+100*7*4+4)
	}
	file := slices.Clone(buf.Bytes())
	// Two files in one stream read back one after the other.
	e := NewFlat(3)
	e.WriteTo(&buf)
	g, err := ReadFlat(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if g.Dim() != 7 || g.Len() != 100 || !slices.Equal(g.Data(), f.Data()) {
		t.Fatalf("read back dim %d, %d rows, equal %v", g.Dim(), g.Len(), slices.Equal(g.Data(), f.Data()))
	}
	if g2, err := ReadFlat(&buf); err != nil || g2.Dim() != 3 || g2.Len() != 0 {
		t.Fatalf("second file: %v, %v", g2, err)
	}
	q := randVec(r, 7)
	sameResults(t, "after reading", g.Search(q, 5, nil), f.Search(q, 5, nil))

	for _, cut := range []int{0, 3, 10, 23, 24, 100, len(file) - 5, len(file) - 1} {
		_, err := ReadFlat(bytes.NewReader(file[:cut]))
		if err == nil || !strings.Contains(err.Error(), "truncated flat index") {
			t.Errorf("cut at %d: err %v", cut, err)
		}
	}
	bad := slices.Clone(file)
	bad[500] ^= 0x10
	if _, err := ReadFlat(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "corrupt flat index: checksum") {
		t.Errorf("flipped bit: err %v", err)
	}
	bad = slices.Clone(file)
	bad[0] = 'X'
	if _, err := ReadFlat(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "not a flat index") {
		t.Errorf("bad magic: err %v", err)
	}
	bad = slices.Clone(file)
	bad[4] = 9
	if _, err := ReadFlat(bytes.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "version 9 not supported") {
		t.Errorf("bad version: err %v", err)
	}
	// A header claiming 2⁴⁰ rows fails on the short read, not on allocation.
	bad = slices.Clone(file[:24])
	bad[16+5] = 1
	if _, err := ReadFlat(io.MultiReader(bytes.NewReader(bad), bytes.NewReader(file[24:]))); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("huge row count: err %v", err)
	}
}

func TestBitset(t *testing.T) {
	b := NewBitset(130)
	for _, i := range []int{0, 63, 64, 129} {
		b.Set(i)
	}
	b.Set(5)
	b.Clear(5)
	if b.Count() != 4 || b.Len() != 130 || !b.Has(63) || b.Has(5) || b.Has(130) || b.Has(-1) {
		t.Fatalf("count %d len %d", b.Count(), b.Len())
	}
	if c := b.countBelow(64); c != 2 {
		t.Fatalf("countBelow(64) = %d", c)
	}
}
