package tokenizer

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

// bpeModel is the tokenizers library's BPE model: each word starts as its characters (with
// continuing_subword_prefix on all but the first, end_of_word_suffix on the last), unknown
// characters become their <0xXX> byte tokens (byte_fallback) or the unknown token (fused when
// fuse_unk), and merges are applied lowest rank first, leftmost first among equal ranks
// (tokenizers' Word::merge_all, a heap over the linked symbols). With ignore_merges a word
// that is itself in the vocabulary is one token. Results are cached per word.
type bpeModel struct {
	pieces       []string // id -> token
	vocab        map[string]int32
	merges       map[uint64]bpeMerge // (left id, right id) -> rank and merged id
	unkID        int32               // -1: none
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string
	suffix       string
	byteIDs      [256]int32 // <0xXX> ids, -1 where absent

	mu    sync.RWMutex
	cache map[string][]int32
}

type bpeMerge struct{ rank, id int32 }

const (
	bpeCacheWords = 10000 // as tokenizers' DEFAULT_CACHE_CAPACITY
	bpeCacheBytes = 256   // longer words are not cached
)

func newBPE(pieces []string, vocab map[string]int32, merges [][2]string, unk string, fuseUnk, byteFallback,
	ignoreMerges bool, prefix, suffix string) (*bpeModel, error) {
	m := &bpeModel{pieces: pieces, vocab: vocab, merges: make(map[uint64]bpeMerge, len(merges)), unkID: -1,
		fuseUnk: fuseUnk, byteFallback: byteFallback, ignoreMerges: ignoreMerges, prefix: prefix,
		suffix: suffix, cache: map[string][]int32{}}
	if unk != "" {
		if id, ok := vocab[unk]; ok {
			m.unkID = id
		}
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	for i, mg := range merges {
		a, ok := vocab[mg[0]]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: %q not in model.vocab", i, mg[0])
		}
		b, ok := vocab[mg[1]]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: %q not in model.vocab", i, mg[1])
		}
		right := mg[1]
		if prefix != "" && len(right) >= len(prefix) && right[:len(prefix)] == prefix {
			right = right[len(prefix):]
		}
		id, ok := vocab[mg[0]+right]
		if !ok {
			return nil, fmt.Errorf("model.merges[%d]: merged token %q not in model.vocab", i, mg[0]+right)
		}
		m.merges[uint64(uint32(a))<<32|uint64(uint32(b))] = bpeMerge{int32(i), id} // the last duplicate wins, as in tokenizers
	}
	return m, nil
}

// bpeSym is a symbol of a word being merged: a linked list over a slice.
type bpeSym struct {
	id         int32
	prev, next int32
	size       int32 // bytes; 0 once merged into its left neighbour
}

type bpeCand struct{ rank, pos, id int32 }

func candLess(a, b bpeCand) bool { return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos }

func (m *bpeModel) tokenize(sc *scratch, w []byte) {
	if len(w) == 0 {
		return
	}
	if m.ignoreMerges {
		if id, ok := m.vocab[string(w)]; ok {
			sc.emit(id, m.pieces[id])
			return
		}
	}
	m.mu.RLock()
	ids, ok := m.cache[string(w)]
	m.mu.RUnlock()
	if ok {
		for _, id := range ids {
			sc.emit(id, m.pieces[id])
		}
		return
	}
	mark := len(sc.ids)
	m.merge(sc, w)
	if len(w) <= bpeCacheBytes {
		m.mu.Lock()
		if len(m.cache) < bpeCacheWords {
			m.cache[string(w)] = append([]int32(nil), sc.ids[mark:]...)
		}
		m.mu.Unlock()
	}
}

func (m *bpeModel) merge(sc *scratch, w []byte) {
	syms := sc.syms[:0]
	add := func(id int32, size int) {
		syms = append(syms, bpeSym{id: id, prev: int32(len(syms)) - 1, next: int32(len(syms)) + 1, size: int32(size)})
	}
	unkID, unkLen := int32(-1), 0
	var key []byte
	for i := 0; i < len(w); {
		_, n := utf8.DecodeRune(w[i:])
		key = key[:0]
		if i > 0 {
			key = append(key, m.prefix...)
		}
		key = append(key, w[i:i+n]...)
		if i+n == len(w) {
			key = append(key, m.suffix...)
		}
		i += n
		if id, ok := m.vocab[string(key)]; ok {
			if unkID >= 0 {
				add(unkID, unkLen)
				unkID = -1
			}
			add(id, n)
			continue
		}
		if m.byteFallback {
			all := true
			for _, c := range key {
				if m.byteIDs[c] < 0 {
					all = false
					break
				}
			}
			if all {
				for _, c := range key {
					add(m.byteIDs[c], 1)
				}
				continue
			}
		}
		if m.unkID < 0 {
			continue // no unknown token: the character is dropped
		}
		if unkID >= 0 && m.fuseUnk {
			unkLen += n
			continue
		}
		if unkID >= 0 {
			add(unkID, unkLen)
		}
		unkID, unkLen = m.unkID, n
	}
	if unkID >= 0 {
		add(unkID, unkLen)
	}
	if len(syms) > 0 {
		syms[len(syms)-1].next = -1
	}

	// merge_all: a binary heap of candidate merges ordered by (rank, position)
	h := sc.heap[:0]
	push := func(c bpeCand) {
		h = append(h, c)
		for i := len(h) - 1; i > 0; {
			p := (i - 1) / 2
			if !candLess(h[i], h[p]) {
				break
			}
			h[i], h[p] = h[p], h[i]
			i = p
		}
	}
	pop := func() bpeCand {
		top := h[0]
		last := len(h) - 1
		h[0] = h[last]
		h = h[:last]
		for i := 0; ; {
			l, r, s := 2*i+1, 2*i+2, i
			if l < len(h) && candLess(h[l], h[s]) {
				s = l
			}
			if r < len(h) && candLess(h[r], h[s]) {
				s = r
			}
			if s == i {
				break
			}
			h[i], h[s] = h[s], h[i]
			i = s
		}
		return top
	}
	pair := func(a, b int32) (bpeMerge, bool) {
		mg, ok := m.merges[uint64(uint32(a))<<32|uint64(uint32(b))]
		return mg, ok
	}
	for i := 0; i+1 < len(syms); i++ {
		if mg, ok := pair(syms[i].id, syms[i+1].id); ok {
			push(bpeCand{mg.rank, int32(i), mg.id})
		}
	}
	for len(h) > 0 {
		top := pop()
		cur := &syms[top.pos]
		if cur.size == 0 || cur.next < 0 {
			continue
		}
		nx := cur.next
		right := syms[nx]
		if mg, ok := pair(cur.id, right.id); !ok || mg.id != top.id {
			continue // stale
		}
		cur.id = top.id
		cur.size += right.size
		cur.next = right.next
		syms[nx].size = 0
		if right.next >= 0 {
			syms[right.next].prev = top.pos
		}
		if cur.prev >= 0 {
			if mg, ok := pair(syms[cur.prev].id, cur.id); ok {
				push(bpeCand{mg.rank, cur.prev, mg.id})
			}
		}
		if cur.next >= 0 {
			if mg, ok := pair(cur.id, syms[cur.next].id); ok {
				push(bpeCand{mg.rank, top.pos, mg.id})
			}
		}
	}
	for _, s := range syms {
		if s.size != 0 {
			sc.emit(s.id, m.pieces[s.id])
		}
	}
	sc.syms, sc.heap = syms, h
}
