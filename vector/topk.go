package vector

import "slices"

// Result is one row of a search: its number and its score (the dot product
// with the query). Searches return results ordered by Score descending,
// then Index ascending.
type Result struct {
	Index int
	Score float32
}

// worse reports whether a ranks below b: lower score, or the same score and
// a higher row number.
func worse(a, b Result) bool {
	return a.Score < b.Score || (a.Score == b.Score && a.Index > b.Index)
}

// topK keeps the k best results seen so far in a min-heap whose root is the
// worst of them, so a row that does not beat the root costs one comparison.
type topK struct {
	k int
	h []Result
}

func newTopK(k int) *topK { return &topK{k: k, h: make([]Result, 0, k)} }

// full reports whether k results are held (then min is the bar to beat).
func (t *topK) full() bool { return len(t.h) == t.k }

// min is the worst result held; call only when full.
func (t *topK) min() float32 { return t.h[0].Score }

// push offers row i with score s.
func (t *topK) push(i int, s float32) {
	r := Result{Index: i, Score: s}
	if len(t.h) < t.k {
		t.h = append(t.h, r)
		t.up(len(t.h) - 1)
		return
	}
	if worse(t.h[0], r) {
		t.h[0] = r
		t.down(0)
	}
}

func (t *topK) up(j int) {
	h := t.h
	for j > 0 {
		p := (j - 1) / 2
		if !worse(h[j], h[p]) {
			break
		}
		h[j], h[p] = h[p], h[j]
		j = p
	}
}

func (t *topK) down(j int) {
	h := t.h
	n := len(h)
	for {
		c := 2*j + 1
		if c >= n {
			return
		}
		if c+1 < n && worse(h[c+1], h[c]) {
			c++
		}
		if !worse(h[c], h[j]) {
			return
		}
		h[j], h[c] = h[c], h[j]
		j = c
	}
}

// merge offers every result of o.
func (t *topK) merge(o *topK) {
	for _, r := range o.h {
		t.push(r.Index, r.Score)
	}
}

// sorted returns the results best first (the heap is consumed).
func (t *topK) sorted() []Result {
	out := t.h
	slices.SortFunc(out, func(a, b Result) int {
		if worse(a, b) {
			return 1
		}
		if worse(b, a) {
			return -1
		}
		return 0
	})
	t.h = nil
	return out
}
