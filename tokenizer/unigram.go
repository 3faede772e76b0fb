package tokenizer

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// byteTrie is a byte-wise trie over the vocabulary with flat edge arrays; the root has a
// direct 256-entry table. common prefix search walks at most the longest piece.
type byteTrie struct {
	root  [256]int32 // child node of the root per byte, -1 none
	first []int32    // edges of node n: [first[n], first[n+1])
	label []byte
	child []int32
	value []int32 // id ending at node, -1 none
	// Nodes with many children also get a dense 256-entry child table: dense[n] >= 0 is its
	// offset in table.
	dense []int32
	table []int32
}

func buildTrie(keys []string) *byteTrie {
	// Insert keys in byte order: a node's children are then created in label order and the
	// child to descend into is always the most recent one. Edges are recorded in creation
	// order and grouped by parent with a stable counting sort.
	order := make([]int32, 0, len(keys))
	for i, k := range keys {
		if k != "" {
			order = append(order, int32(i))
		}
	}
	slices.SortFunc(order, func(a, b int32) int {
		if c := strings.Compare(keys[a], keys[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	type edge struct {
		parent int32
		label  byte
	}
	var (
		value     = []int32{-1}
		lastLabel = []int16{-1}
		lastKid   = []int32{0}
		edges     []edge // edge i leads to node i+1
	)
	for _, id := range order {
		k := keys[id]
		n := int32(0)
		for i := 0; i < len(k); i++ {
			c := k[i]
			if lastLabel[n] == int16(c) {
				n = lastKid[n]
				continue
			}
			nx := int32(len(value))
			lastLabel[n], lastKid[n] = int16(c), nx
			edges = append(edges, edge{n, c})
			value = append(value, -1)
			lastLabel = append(lastLabel, -1)
			lastKid = append(lastKid, 0)
			n = nx
		}
		if value[n] < 0 { // the first id wins for duplicate pieces
			value[n] = id
		}
	}
	nn := len(value)
	t := &byteTrie{first: make([]int32, nn+1), value: value,
		label: make([]byte, len(edges)), child: make([]int32, len(edges))}
	for _, e := range edges {
		t.first[e.parent+1]++
	}
	for i := 1; i <= nn; i++ {
		t.first[i] += t.first[i-1]
	}
	fill := append([]int32(nil), t.first[:nn]...)
	for i, e := range edges {
		k := fill[e.parent]
		fill[e.parent]++
		t.label[k] = e.label
		t.child[k] = int32(i + 1)
	}
	for c := range t.root {
		t.root[c] = -1
	}
	for e := t.first[0]; e < t.first[1]; e++ {
		t.root[t.label[e]] = t.child[e]
	}
	t.dense = make([]int32, nn)
	for n := range t.dense {
		t.dense[n] = -1
		if t.first[n+1]-t.first[n] < denseMin || n == 0 {
			continue
		}
		off := int32(len(t.table))
		t.dense[n] = off
		for c := 0; c < 256; c++ {
			t.table = append(t.table, -1)
		}
		for e := t.first[n]; e < t.first[n+1]; e++ {
			t.table[off+int32(t.label[e])] = t.child[e]
		}
	}
	return t
}

const denseMin = 12

func (t *byteTrie) next(n int32, c byte) int32 {
	if n == 0 {
		return t.root[c]
	}
	if d := t.dense[n]; d >= 0 {
		return t.table[d+int32(c)]
	}
	lo, end := t.first[n], t.first[n+1]
	for hi := end; hi-lo > 8; {
		mid := (lo + hi) / 2
		if t.label[mid] < c {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	for e := lo; e < end; e++ {
		if t.label[e] == c {
			return t.child[e]
		}
		if t.label[e] > c {
			return -1
		}
	}
	return -1
}

// unigramModel is HF tokenizers' Unigram model (encode_optimized: sentencepiece's
// EncodeOptimized Viterbi) with fused unknowns and optional byte fallback.
type unigramModel struct {
	pieces      []string
	scores      []float64
	ids         map[string]int32
	trie        *byteTrie
	unkID       int32
	unkScore    float64
	byteFallbck bool
	byteIDs     [256]int32
	// spArith rounds path scores to float32 when stored, as sentencepiece's EncodeOptimized
	// does (its candidate sums are double, its best_path_score float). The tokenizers library
	// keeps float64 throughout; the two can break exact ties differently. Tests only.
	spArith bool
}

func newUnigram(pieces []string, scores []float64, unkID int, byteFallback bool) (*unigramModel, error) {
	if unkID < 0 || unkID >= len(pieces) {
		return nil, fmt.Errorf("model.unk_id %d outside vocab of %d", unkID, len(pieces))
	}
	m := &unigramModel{pieces: pieces, scores: scores, ids: make(map[string]int32, len(pieces)),
		unkID: int32(unkID), byteFallbck: byteFallback}
	minScore := math.Inf(1)
	for i, p := range pieces {
		if _, ok := m.ids[p]; !ok {
			m.ids[p] = int32(i)
		}
		minScore = math.Min(minScore, scores[i])
	}
	m.unkScore = minScore - 10
	m.trie = buildTrie(pieces)
	for b := 0; b < 256; b++ {
		m.byteIDs[b] = -1
		if id, ok := m.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	return m, nil
}

type vNode struct {
	score  float64
	start  int32
	id     int32
	filled bool
}

// tokenize appends the ids (and token strings) of one pre-tokenized word.
func (m *unigramModel) tokenize(sc *scratch, w []byte) {
	n := len(w)
	if n == 0 {
		return
	}
	if cap(sc.lattice) < n+1 {
		sc.lattice = make([]vNode, n+1)
	}
	best := sc.lattice[:n+1]
	for i := range best {
		best[i] = vNode{}
	}
	best[0].filled = true
	t := m.trie
	for pos := 0; pos < n; {
		base := best[pos].score
		mblen := 1
		if w[pos] >= utf8.RuneSelf {
			_, mblen = utf8.DecodeRune(w[pos:])
		}
		single := false
		node := int32(0)
		for k := pos; k < n; k++ {
			node = t.next(node, w[k])
			if node < 0 {
				break
			}
			if id := t.value[node]; id >= 0 {
				end := k + 1
				cand := base + m.scores[id]
				if b := &best[end]; !b.filled || cand > b.score {
					if m.spArith {
						cand = float64(float32(cand))
					}
					*b = vNode{score: cand, start: int32(pos), id: id, filled: true}
				}
				if end-pos == mblen {
					single = true
				}
			}
		}
		if !single {
			end := pos + mblen
			cand := base + m.unkScore
			if b := &best[end]; !b.filled || cand > b.score {
				if m.spArith {
					cand = float64(float32(cand))
				}
				*b = vNode{score: cand, start: int32(pos), id: m.unkID, filled: true}
			}
		}
		pos += mblen
	}
	// Backtrack into sc.rev as (start,end,id) triples in reverse, fusing unknowns.
	rev := sc.rev[:0]
	for end := n; end > 0; {
		b := best[end]
		st := int(b.start)
		if b.id == m.unkID && len(rev) > 0 && rev[len(rev)-1].id == m.unkID && rev[len(rev)-1].fused {
			rev[len(rev)-1].start = int32(st)
		} else {
			rev = append(rev, piece{start: int32(st), end: int32(end), id: b.id, fused: b.id == m.unkID})
		}
		end = st
	}
	sc.rev = rev
	for i := len(rev) - 1; i >= 0; i-- {
		p := rev[i]
		id := p.id
		s := w[p.start:p.end]
		if id == m.unkID {
			// HF looks the (fused) string up in the vocab again.
			if v, ok := m.ids[string(s)]; ok {
				id = v
			} else if m.byteFallbck {
				ok := true
				for _, c := range s {
					if m.byteIDs[c] < 0 {
						ok = false
						break
					}
				}
				if ok {
					for _, c := range s {
						sc.emit(m.byteIDs[c], m.pieces[m.byteIDs[c]])
					}
					continue
				}
			}
			if id == m.unkID {
				sc.emit(id, string(s))
				continue
			}
		}
		sc.emit(id, m.pieces[id])
	}
}

type piece struct {
	start, end int32
	id         int32
	fused      bool
}
