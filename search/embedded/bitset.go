package embedded

import (
	"math/bits"

	"github.com/kormed/kormed/vector"
)

// bitset is a set of document numbers; a nil bitset is empty.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) has(i int) bool {
	w := i >> 6
	return w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

// set grows *b as needed.
func (b *bitset) set(i int) {
	w := i >> 6
	for w >= len(*b) {
		*b = append(*b, 0)
	}
	(*b)[w] |= 1 << (uint(i) & 63)
}

func (b bitset) clear(i int) {
	if w := i >> 6; w < len(b) {
		b[w] &^= 1 << (uint(i) & 63)
	}
}

// fill sets 0..n-1.
func (b bitset) fill(n int) {
	for i := range b {
		b[i] = ^uint64(0)
	}
	if r := n & 63; r != 0 && len(b) > 0 {
		b[len(b)-1] = 1<<uint(r) - 1
	}
}

func (b bitset) and(o bitset) {
	for i := range b {
		if i < len(o) {
			b[i] &= o[i]
		} else {
			b[i] = 0
		}
	}
}

func (b bitset) andNot(o bitset) {
	for i := range b {
		if i < len(o) {
			b[i] &^= o[i]
		}
	}
}

func (b bitset) count() int {
	c := 0
	for _, w := range b {
		c += bits.OnesCount64(w)
	}
	return c
}

// vector converts b to package vector's set over n rows.
func (b bitset) vector(n int) *vector.Bitset {
	v := vector.NewBitset(n)
	for w, x := range b {
		for x != 0 {
			i := w<<6 + bits.TrailingZeros64(x)
			if i < n {
				v.Set(i)
			}
			x &= x - 1
		}
	}
	return v
}
