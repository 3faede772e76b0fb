package topk

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type item struct {
	score float32
	id    int
}

// ahead is score descending, then id descending.
func ahead(a, b item) bool { return a.score > b.score || (a.score == b.score && a.id > b.id) }

func TestTopAgainstSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{0, 1, 5, 100, 1000} {
		for _, k := range []int{0, 1, 3, 10, 2000} {
			all := make([]item, n)
			for i := range all {
				all[i] = item{float32(rng.IntN(20)), i} // many ties
			}
			top := New(k, ahead)
			half := New(k, ahead)
			for i, x := range all {
				if i%2 == 0 {
					top.Push(x)
				} else {
					half.Push(x)
				}
			}
			top.Merge(half)
			want := slices.Clone(all)
			slices.SortFunc(want, func(a, b item) int {
				if ahead(a, b) {
					return -1
				}
				return 1
			})
			want = want[:min(k, n)]
			if got := top.Sorted(); !slices.Equal(got, want) {
				t.Fatalf("n %d k %d: got %v, want %v", n, k, got, want)
			}
		}
	}
}

func TestTopWorstAndPop(t *testing.T) {
	top := New(3, ahead)
	for _, x := range []item{{1, 1}, {5, 2}, {3, 3}, {5, 4}, {0, 5}} {
		top.Push(x)
	}
	if !top.Full() || top.Len() != 3 || top.Worst() != (item{3, 3}) {
		t.Fatalf("full %v len %d worst %v", top.Full(), top.Len(), top.Worst())
	}
	var got []item
	for top.Len() > 0 {
		got = append(got, top.Pop())
	}
	if want := []item{{3, 3}, {5, 2}, {5, 4}}; !slices.Equal(got, want) {
		t.Errorf("pops %v, want %v", got, want)
	}
}

func TestHeap(t *testing.T) {
	h := NewHeap(func(a, b int) bool { return a < b }, 0)
	rng := rand.New(rand.NewPCG(3, 4))
	var want []int
	for range 500 {
		x := rng.IntN(100)
		h.Push(x)
		want = append(want, x)
	}
	slices.Sort(want)
	if h.Peek() != want[0] {
		t.Fatalf("peek %d, want %d", h.Peek(), want[0])
	}
	for i, w := range want {
		if x := h.Pop(); x != w {
			t.Fatalf("pop %d: %d, want %d", i, x, w)
		}
	}
	h.Push(7)
	h.Reset()
	if h.Len() != 0 {
		t.Errorf("len %d after Reset", h.Len())
	}
}
