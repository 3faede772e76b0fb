package topk

// Heap is a binary heap whose root is its least item by less: Push and
// Pop cost O(log n) comparisons, Peek one look. The zero Heap is not
// usable; make one with NewHeap.
type Heap[T any] struct {
	less func(a, b T) bool
	s    []T
}

// NewHeap returns an empty heap ordered by less, with room for size items.
func NewHeap[T any](less func(a, b T) bool, size int) Heap[T] {
	return Heap[T]{less: less, s: make([]T, 0, size)}
}

// Len is the number of items held.
func (h *Heap[T]) Len() int { return len(h.s) }

// Peek returns the least item; the heap must not be empty.
func (h *Heap[T]) Peek() T { return h.s[0] }

// Items returns the items in heap order (a view: do not modify it).
func (h *Heap[T]) Items() []T { return h.s }

// Reset empties the heap, keeping its memory.
func (h *Heap[T]) Reset() { h.s = h.s[:0] }

// Push adds x.
func (h *Heap[T]) Push(x T) {
	h.s = append(h.s, x)
	h.up(len(h.s) - 1)
}

// Pop removes and returns the least item; the heap must not be empty.
func (h *Heap[T]) Pop() T {
	s := h.s
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	h.s = s[:n]
	h.down(0)
	return top
}

// replace puts x in the root's place and restores the order.
func (h *Heap[T]) replace(x T) {
	h.s[0] = x
	h.down(0)
}

func (h *Heap[T]) up(j int) {
	s, less := h.s, h.less
	for j > 0 {
		p := (j - 1) / 2
		if !less(s[j], s[p]) {
			break
		}
		s[j], s[p] = s[p], s[j]
		j = p
	}
}

func (h *Heap[T]) down(j int) {
	s, less := h.s, h.less
	n := len(s)
	for {
		c := 2*j + 1
		if c >= n {
			return
		}
		if c+1 < n && less(s[c+1], s[c]) {
			c++
		}
		if !less(s[c], s[j]) {
			return
		}
		s[j], s[c] = s[c], s[j]
		j = c
	}
}
