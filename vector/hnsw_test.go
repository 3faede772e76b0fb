package vector

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The HNSW tests share one clustered data set: 10,000 rows of dimension
// 128 around 100 centres, and 200 queries drawn the same way.
var hnswData struct {
	once    sync.Once
	data    [][]float32
	queries [][]float32
}

func hnswSet() ([][]float32, [][]float32) {
	hnswData.once.Do(func() {
		hnswData.data, hnswData.queries = clustered(21, 10000, 200, 128, 100, 0.8)
	})
	return hnswData.data, hnswData.queries
}

// meanRecall is the mean recall@k of h against the exact search.
func meanRecall(h *HNSW, queries [][]float32, k, ef int, allow *Bitset) float64 {
	var s float64
	for _, q := range queries {
		s += recall(h.SearchEf(q, k, ef, allow), h.Flat().Search(q, k, allow))
	}
	return s / float64(len(queries))
}

func TestHNSWRecall(t *testing.T) {
	data, queries := hnswSet()
	f := flatOf(t, 128, data)
	p := DefaultHNSWParams()
	p.EfConstruction = 100
	seq := NewHNSW(f, p)
	seq.AddAll(1)
	par := NewHNSW(f, p)
	par.AddAll(2)
	for name, h := range map[string]*HNSW{"sequential": seq, "parallel": par} {
		if h.Len() != 10000 {
			t.Fatalf("%s: %d rows", name, h.Len())
		}
		r := meanRecall(h, queries, 10, 64, nil)
		t.Logf("%s build: recall@10 %.4f at ef 64, %.4f at ef 16", name, r, meanRecall(h, queries, 10, 16, nil))
		if r < 0.95 {
			t.Errorf("%s: recall@10 %.4f < 0.95", name, r)
		}
		// Scores are the exact ones, best first.
		for _, q := range queries[:20] {
			res := h.Search(q, 10, nil)
			if len(res) != 10 {
				t.Fatalf("%s: %d results", name, len(res))
			}
			for j, x := range res {
				if x.Score != Dot(q, f.Row(x.Index)) || (j > 0 && ahead(x, res[j-1])) {
					t.Fatalf("%s: result %d %+v not exact or out of order: %v", name, j, x, res)
				}
			}
		}
	}
	// One goroutine: the same graph every time.
	again := NewHNSW(f, p)
	again.AddAll(1)
	var a, b bytes.Buffer
	seq.WriteTo(&a)
	again.WriteTo(&b)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Error("two single-threaded builds differ")
	}
	if got := seq.Search(queries[0], 0, nil); got != nil {
		t.Errorf("k=0: %v", got)
	}
	if got := NewHNSW(f, p).Search(queries[0], 5, nil); got != nil {
		t.Errorf("empty graph: %v", got)
	}
}

func TestHNSWFiltered(t *testing.T) {
	data, queries := hnswSet()
	f := flatOf(t, 128, data)
	p := DefaultHNSWParams()
	p.EfConstruction = 100
	h := NewHNSW(f, p)
	h.AddAll(0)
	for _, tc := range []struct {
		name   string
		every  int // allow rows i with i%every == 3
		cutoff int
		exact  bool // the exact scan runs
	}{
		{"10% graph", 10, -1, false},
		{"10% auto", 10, 0, true}, // 1,000² < 10,000·64·32
		{"0.5% graph", 200, -1, false},
		{"0.5% auto", 200, 0, true},
		{"50% auto", 2, 0, false},
	} {
		allow := NewBitset(10000)
		for i := 3; i < 10000; i += tc.every {
			allow.Set(i)
		}
		h.p.FlatCutoff = tc.cutoff
		if got := h.useFlat(allow.Count(), 64); got != tc.exact {
			t.Errorf("%s: useFlat %v", tc.name, got)
		}
		var sum float64
		for _, q := range queries {
			res := h.Search(q, 10, allow)
			if len(res) != 10 {
				t.Fatalf("%s: %d results", tc.name, len(res))
			}
			for _, x := range res {
				if !allow.Has(x.Index) {
					t.Fatalf("%s: row %d is not allowed", tc.name, x.Index)
				}
			}
			want := f.Search(q, 10, allow)
			if tc.exact {
				sameResults(t, tc.name, res, want)
			}
			sum += recall(res, want)
		}
		r := sum / float64(len(queries))
		t.Logf("%s: recall@10 %.4f", tc.name, r)
		if r < 0.95 {
			t.Errorf("%s: recall@10 %.4f < 0.95", tc.name, r)
		}
	}
	h.p.FlatCutoff = 0
	// Fewer allowed rows than k: all of them.
	few := NewBitset(10000)
	few.Set(17)
	few.Set(4242)
	if got := h.Search(queries[0], 10, few); len(got) != 2 {
		t.Errorf("two allowed rows: %v", got)
	}
	if got := h.Search(queries[0], 10, NewBitset(10000)); got != nil {
		t.Errorf("no allowed rows: %v", got)
	}
}

func TestHNSWIncrementalAdd(t *testing.T) {
	data, queries := hnswSet()
	f := flatOf(t, 128, data[:8000])
	p := DefaultHNSWParams()
	p.EfConstruction = 100
	h := NewHNSW(f, p)
	h.AddAll(0)
	f.Add(data[8000:]...)
	// Rows not yet in the graph are never returned, even by the exact fallback.
	only := NewBitset(10000)
	only.Set(9000)
	only.Set(10)
	if got := h.Search(f.Row(9000), 5, only); len(got) != 1 || got[0].Index != 10 {
		t.Fatalf("row 9000 not yet added: %v", got)
	}
	for i := 8000; i < 10000; i++ {
		h.Add(i)
	}
	h.Add(5) // already in: nothing happens
	if h.Len() != 10000 {
		t.Fatalf("%d rows", h.Len())
	}
	if r := meanRecall(h, queries, 10, 64, nil); r < 0.95 {
		t.Errorf("recall@10 after Add: %.4f", r)
	}
	for i := 8000; i < 10000; i += 97 {
		if got := h.Search(f.Row(i), 1, nil); got[0].Index != i {
			t.Errorf("row %d: nearest is %v", i, got)
		}
	}
}

func TestHNSWRoundTrip(t *testing.T) {
	data, queries := hnswSet()
	f := flatOf(t, 128, data[:3000])
	p := HNSWParams{M: 8, EfConstruction: 60, EfSearch: 40, Seed: 9, FlatCutoff: 77}
	h := NewHNSW(f, p)
	h.AddAll(0)
	var buf bytes.Buffer
	n, err := h.WriteTo(&buf)
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("WriteTo: %d bytes (buffer %d), err %v", n, buf.Len(), err)
	}
	file := slices.Clone(buf.Bytes())
	g, err := ReadHNSW(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	if g.Params() != p || g.Len() != 3000 {
		t.Fatalf("read back %+v, %d rows", g.Params(), g.Len())
	}
	allow := NewBitset(3000)
	for i := 0; i < 3000; i += 4 {
		allow.Set(i)
	}
	for _, q := range queries {
		sameResults(t, "loaded", g.Search(q, 10, nil), h.Search(q, 10, nil))
		sameResults(t, "loaded, filtered", g.SearchEf(q, 10, 80, allow), h.SearchEf(q, 10, 80, allow))
	}
	var again bytes.Buffer
	g.WriteTo(&again)
	if !bytes.Equal(again.Bytes(), file) {
		t.Error("writing the loaded graph gives other bytes")
	}
	// A graph loaded over a Flat that grew since is extended by Add.
	f.Add(data[3000:3100]...)
	g2, err := ReadHNSW(bytes.NewReader(file), f)
	if err != nil {
		t.Fatal(err)
	}
	g2.AddAll(1)
	if g2.Len() != 3100 || g2.Search(f.Row(3050), 1, nil)[0].Index != 3050 {
		t.Errorf("after AddAll on the loaded graph: %d rows", g2.Len())
	}

	for _, cut := range []int{0, 5, 40, len(file) / 2, len(file) - 1} {
		if _, err := ReadHNSW(bytes.NewReader(file[:cut]), f); err == nil || !strings.Contains(err.Error(), "truncated HNSW graph") {
			t.Errorf("cut at %d: err %v", cut, err)
		}
	}
	bad := slices.Clone(file)
	bad[len(bad)/2] ^= 1
	if _, err := ReadHNSW(bytes.NewReader(bad), f); err == nil || !strings.Contains(err.Error(), "corrupt HNSW graph") {
		t.Errorf("flipped bit: err %v", err)
	}
	if _, err := ReadHNSW(bytes.NewReader(file), flatOf(t, 128, data[:100])); err == nil || !strings.Contains(err.Error(), "3000 rows, the Flat has 100") {
		t.Errorf("short Flat: err %v", err)
	}
	if _, err := ReadHNSW(bytes.NewReader(file), NewFlat(64)); err == nil || !strings.Contains(err.Error(), "dimension 128, the Flat has 64") {
		t.Errorf("other dimension: err %v", err)
	}
}
