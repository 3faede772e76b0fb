package vector

import "math/bits"

func popcount(w uint64) int { return bits.OnesCount64(w) }

// Bitset is a fixed-length set of row numbers: the rows a filtered search
// may return (documents not deleted, of the right kind, …). A nil *Bitset
// passed to a search allows every row; rows at or past Len are not allowed.
type Bitset struct {
	w []uint64
	n int
}

// NewBitset returns an empty set over rows 0..n-1.
func NewBitset(n int) *Bitset {
	if n < 0 {
		panic("vector: negative bitset length")
	}
	return &Bitset{w: make([]uint64, (n+63)/64), n: n}
}

// Len is the number of rows the set covers.
func (b *Bitset) Len() int { return b.n }

// Set adds row i; it panics if i is outside 0..Len()-1.
func (b *Bitset) Set(i int) {
	if uint(i) >= uint(b.n) {
		panic("vector: bitset index out of range")
	}
	b.w[i>>6] |= 1 << (uint(i) & 63)
}

// Clear removes row i; it panics if i is outside 0..Len()-1.
func (b *Bitset) Clear(i int) {
	if uint(i) >= uint(b.n) {
		panic("vector: bitset index out of range")
	}
	b.w[i>>6] &^= 1 << (uint(i) & 63)
}

// Has reports whether row i is in the set (false outside 0..Len()-1).
func (b *Bitset) Has(i int) bool {
	return uint(i) < uint(b.n) && b.w[i>>6]&(1<<(uint(i)&63)) != 0
}

// Count is the number of rows in the set.
func (b *Bitset) Count() int { return b.countBelow(b.n) }

// countBelow counts the rows of the set below n.
func (b *Bitset) countBelow(n int) int {
	if n > b.n {
		n = b.n
	}
	if n <= 0 {
		return 0
	}
	c := 0
	full := n >> 6
	for _, w := range b.w[:full] {
		c += bits.OnesCount64(w)
	}
	if r := uint(n) & 63; r != 0 {
		c += bits.OnesCount64(b.w[full] & (1<<r - 1))
	}
	return c
}

// word returns the 64 membership bits of rows 64·wi … 64·wi+63 (0 past the end).
func (b *Bitset) word(wi int) uint64 {
	if b == nil {
		return ^uint64(0)
	}
	if wi >= len(b.w) {
		return 0
	}
	return b.w[wi]
}
