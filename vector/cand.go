package vector

import "github.com/kormed/kormed/internal/topk"

// cand is a graph node and its score against the query being served.
type cand struct {
	s float32
	i uint32
}

// better orders candidates: higher score, then lower row number.
func better(a, b cand) bool { return a.s > b.s || (a.s == b.s && a.i < b.i) }

// newFrontier returns a heap whose root is the best candidate: the node a
// graph search expands next.
func newFrontier() topk.Heap[cand] { return topk.NewHeap(better, 0) }

// newNearest returns a heap whose root is the worst candidate: the ef best
// nodes found so far, the root being the bar a new node must beat.
func newNearest() topk.Heap[cand] {
	return topk.NewHeap(func(a, b cand) bool { return better(b, a) }, 0)
}
