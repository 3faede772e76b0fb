package topk

import "slices"

// Top keeps the k best items offered to it by better, a strict order
// (better(a, b): a ranks before b). It is a heap whose root is the worst
// item kept, so an item that does not beat the root costs one comparison.
// The zero Top is not usable; make one with New.
type Top[T any] struct {
	k      int
	better func(a, b T) bool
	h      Heap[T]
}

// New returns a Top that keeps the k best items by better.
func New[T any](k int, better func(a, b T) bool) *Top[T] {
	t := &Top[T]{k: k, better: better}
	t.h = NewHeap(func(a, b T) bool { return better(b, a) }, k)
	return t
}

// K is the most items kept.
func (t *Top[T]) K() int { return t.k }

// Len is the number of items kept.
func (t *Top[T]) Len() int { return t.h.Len() }

// Full reports whether k items are kept (then Worst is the bar to beat).
func (t *Top[T]) Full() bool { return t.h.Len() >= t.k }

// Worst returns the worst item kept; t must not be empty.
func (t *Top[T]) Worst() T { return t.h.Peek() }

// Push offers x: it is kept while fewer than k items are, or when it is
// better than the worst kept, which it then replaces.
func (t *Top[T]) Push(x T) {
	if t.h.Len() < t.k {
		t.h.Push(x)
		return
	}
	if t.k > 0 && t.better(x, t.h.Peek()) {
		t.h.replace(x)
	}
}

// Pop removes and returns the worst item kept; t must not be empty.
func (t *Top[T]) Pop() T { return t.h.Pop() }

// Merge offers every item o keeps.
func (t *Top[T]) Merge(o *Top[T]) {
	for _, x := range o.h.Items() {
		t.Push(x)
	}
}

// Items returns the items kept in heap order (a view: do not modify it).
func (t *Top[T]) Items() []T { return t.h.Items() }

// Reset empties t, keeping its memory.
func (t *Top[T]) Reset() { t.h.Reset() }

// Sorted returns the items kept, best first, and empties t: the returned
// slice is the caller's.
func (t *Top[T]) Sorted() []T {
	out := t.h.s
	slices.SortFunc(out, func(a, b T) int {
		if t.better(a, b) {
			return -1
		}
		if t.better(b, a) {
			return 1
		}
		return 0
	})
	t.h.s = nil
	return out
}
