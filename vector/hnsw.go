package vector

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/kormed/kormed/internal/topk"
)

// HNSWParams are the parameters of an HNSW graph.
type HNSWParams struct {
	// M is the number of links a node keeps on the upper layers; layer 0,
	// which holds every node, keeps 2·M. More links: better recall, more
	// memory (4·(2M+1) bytes a row on layer 0) and slower build.
	M int
	// EfConstruction is the candidate list length of the search that
	// picks a new node's neighbours.
	EfConstruction int
	// EfSearch is the candidate list length of Search (at least k is
	// used): the recall/speed knob.
	EfSearch int
	// Seed fixes each row's level (a hash of Seed and the row number).
	Seed int64
	// FlatCutoff picks between the graph and an exact scan for filtered
	// searches: with c rows allowed, > 0 scans exactly when c ≤
	// FlatCutoff; < 0 always walks the graph; 0 (the default) scans when
	// c² < n·ef·2M (below).
	FlatCutoff int
}

// DefaultHNSWParams returns M 16, EfConstruction 200, EfSearch 128, Seed 1:
// recall@10 0.998 at p99 0.42 ms on 100,000 clustered 384-dimensional rows
// (bench/vectorcmp; ef 64 gave 0.974 at 1.5× less time, but missed the
// p99 ≤ 2 ms at recall ≥ 0.95 goal on a loaded machine).
func DefaultHNSWParams() HNSWParams {
	return HNSWParams{M: 16, EfConstruction: 200, EfSearch: 128, Seed: 1}
}

// maxLevel bounds a node's level (with M 16, level 30 has probability
// 16⁻³⁰).
const maxLevel = 30

// HNSW is a hierarchical navigable small world graph (Malkov & Yashunin,
// 2018) over the rows of a Flat, for approximate top-k search by dot
// product. The vectors stay in the Flat; the graph holds only links.
//
// Each row gets a level L with P(L ≥ l) = M⁻ˡ and is linked on layers 0..L
// to up to M neighbours (2M on layer 0) chosen by the paper's heuristic: a
// candidate is kept only if it is closer to the new node than to every
// neighbour already kept, which spreads the links across directions and
// keeps clusters connected to each other. A search descends greedily from
// the top layer's entry point to layer 0, then runs a best-first search
// there with a candidate list of ef nodes.
//
// Filtered searches walk the graph through every node but collect only
// allowed rows, so the top k stays full; when few rows are allowed that
// walk visits about ef·2M/p nodes for an allowed fraction p, more than an
// exact scan of the c = p·n allowed rows once c² < n·ef·2M, and the exact
// scan runs instead (at 100,000 rows, ef 64, M 16: below about 14,300
// allowed rows, 14%; at 10,000 rows below 4,500). A search that ends with
// fewer than k allowed rows while more exist (a graph cut off from part
// of the allowed set) also falls back to the exact scan.
//
// Searches may run concurrently with each other, not with Add or AddAll.
type HNSW struct {
	f    *Flat
	p    HNSWParams
	m0   int
	mult float64

	mu       sync.Mutex // entry and top; held through the insertion of a node above top
	entry    int        // -1: empty graph
	top      int        // the entry's level
	count    int        // rows in the graph
	added    *Bitset    // which rows are in the graph
	level    []int8     // each known row's level (also for rows not yet added)
	links0   []uint32   // layer 0: per row, a count then 2M row numbers
	upper    [][]uint32 // layers 1..level: per layer, a count then M row numbers
	locks    []sync.Mutex
	visiting sync.Pool
}

// NewHNSW returns an empty graph over f's rows (add them with Add or
// AddAll). Zero fields of p take DefaultHNSWParams' values; M < 2 is
// raised to 2.
func NewHNSW(f *Flat, p HNSWParams) *HNSW {
	d := DefaultHNSWParams()
	if p.M == 0 {
		p.M = d.M
	}
	p.M = max(p.M, 2)
	if p.EfConstruction <= 0 {
		p.EfConstruction = d.EfConstruction
	}
	if p.EfSearch <= 0 {
		p.EfSearch = d.EfSearch
	}
	h := &HNSW{f: f, p: p, m0: 2 * p.M, mult: 1 / math.Log(float64(p.M)), entry: -1, added: NewBitset(0)}
	return h
}

// Params returns the graph's parameters.
func (h *HNSW) Params() HNSWParams { return h.p }

// Len is the number of rows in the graph.
func (h *HNSW) Len() int { return h.count }

// Flat is the matrix the graph indexes.
func (h *HNSW) Flat() *Flat { return h.f }

// Bytes is the memory of the graph (the Flat not included). At M 16 that
// is about 170 bytes a row: 132 for layer 0's links (a count and 32 row
// numbers), 24 for the slice of the upper layers' links and about 5 for
// those links (a row is above layer 0 with probability 1/M), 8 for the
// row's lock, 1 for its level.
func (h *HNSW) Bytes() int64 {
	b := int64(len(h.links0))*4 + int64(len(h.level)) + int64(len(h.locks))*8 + int64(len(h.added.w))*8
	for _, u := range h.upper {
		if u != nil {
			b += int64(len(u))*4 + 24
		} else {
			b += 24
		}
	}
	return b
}

// splitmix64 is the finaliser of the SplitMix64 generator: a bijective
// hash whose outputs pass as independent uniform draws.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// levelOf draws row i's level, floor(−ln u / ln M) for u uniform in (0, 1]
// taken from a hash of the seed and i: the same whatever order rows are
// inserted in.
func (h *HNSW) levelOf(i int) int {
	x := splitmix64(uint64(h.p.Seed)*0x2545f4914f6cdd1d ^ splitmix64(uint64(i)))
	u := (float64(x>>11) + 1) / (1 << 53)
	return min(int(-math.Log(u)*h.mult), maxLevel)
}

// grow extends the per-row arrays to n rows.
func (h *HNSW) grow(n int) {
	old := len(h.level)
	if n <= old {
		return
	}
	for i := old; i < n; i++ {
		l := h.levelOf(i)
		h.level = append(h.level, int8(l))
		var u []uint32
		if l > 0 {
			u = make([]uint32, l*(h.p.M+1))
		}
		h.upper = append(h.upper, u)
	}
	need := n * (h.m0 + 1)
	if need > cap(h.links0) {
		l := make([]uint32, len(h.links0), max(need, 2*cap(h.links0)))
		copy(l, h.links0)
		h.links0 = l
	}
	h.links0 = h.links0[:need]
	// No lock is held between insertions: fresh mutexes replace the old.
	h.locks = make([]sync.Mutex, n)
	a := NewBitset(n)
	copy(a.w, h.added.w)
	h.added = a
}

// slot returns row i's links on layer l: a count, then room for the
// layer's maximum.
func (h *HNSW) slot(i, l int) []uint32 {
	if l == 0 {
		s := i * (h.m0 + 1)
		return h.links0[s : s+h.m0+1 : s+h.m0+1]
	}
	s := (l - 1) * (h.p.M + 1)
	return h.upper[i][s : s+h.p.M+1 : s+h.p.M+1]
}

// neighbours returns row i's links on layer l: a view, or with locked a
// copy into buf taken under the row's lock (parallel insertion).
func (h *HNSW) neighbours(i, l int, locked bool, buf []uint32) []uint32 {
	s := h.slot(i, l)
	if !locked {
		return s[1 : 1+s[0]]
	}
	h.locks[i].Lock()
	buf = append(buf[:0], s[1:1+s[0]]...)
	h.locks[i].Unlock()
	return buf
}

// visitSet marks visited rows with a generation number, so that it needs
// clearing only once every 2³² searches.
type visitSet struct {
	mark []uint32
	gen  uint32
	buf  []uint32
	todo []uint32
	res  topk.Heap[cand] // newNearest
	fr   topk.Heap[cand] // newFrontier
}

func (h *HNSW) getVisit() *visitSet {
	v, _ := h.visiting.Get().(*visitSet)
	if v == nil {
		v = &visitSet{res: newNearest(), fr: newFrontier()}
	}
	if len(v.mark) < len(h.level) {
		v.mark = make([]uint32, len(h.level)+len(h.level)/4)
		v.gen = 0
	}
	v.gen++
	if v.gen == 0 {
		clear(v.mark)
		v.gen = 1
	}
	return v
}

// greedy moves from cur to a better neighbour on layer l while there is
// one.
func (h *HNSW) greedy(q []float32, cur cand, l int, locked bool, v *visitSet) cand {
	for changed := true; changed; {
		changed = false
		ns := h.neighbours(int(cur.i), l, locked, v.buf)
		if locked {
			v.buf = ns // never a view of the links: appends would write into them
		}
		for _, n := range ns {
			if c := (cand{dot(q, h.f.Row(int(n))), n}); better(c, cur) {
				cur, changed = c, true
			}
		}
	}
	return cur
}

// searchLayer is the best-first search of layer l from ep with a list of
// ef nodes; only rows allow holds (nil: all) enter the list, every row is
// walked through. The result, in v.res, is a heap, worst first.
func (h *HNSW) searchLayer(q []float32, ep cand, ef, l int, allow *Bitset, locked bool, v *visitSet) {
	v.res.Reset()
	v.fr.Reset()
	v.fr.Push(ep)
	v.mark[ep.i] = v.gen
	if allow == nil || allow.Has(int(ep.i)) {
		v.res.Push(ep)
	}
	var out [4]float32
	for v.fr.Len() > 0 {
		c := v.fr.Pop()
		if v.res.Len() >= ef && c.s < v.res.Peek().s {
			break
		}
		ns := h.neighbours(int(c.i), l, locked, v.buf)
		if locked {
			v.buf = ns
		}
		todo := v.todo[:0]
		for _, n := range ns {
			if v.mark[n] != v.gen {
				v.mark[n] = v.gen
				todo = append(todo, n)
			}
		}
		v.todo = todo
		for j := 0; j < len(todo); j += 4 {
			if j+4 <= len(todo) {
				dot4(q, h.f.Row(int(todo[j])), h.f.Row(int(todo[j+1])), h.f.Row(int(todo[j+2])), h.f.Row(int(todo[j+3])), &out)
			} else {
				for t := j; t < len(todo); t++ {
					out[t-j] = dot(q, h.f.Row(int(todo[t])))
				}
			}
			for t := j; t < min(j+4, len(todo)); t++ {
				n := cand{out[t-j], todo[t]}
				if v.res.Len() < ef || better(n, v.res.Peek()) {
					v.fr.Push(n)
					if allow == nil || allow.Has(int(n.i)) {
						v.res.Push(n)
						if v.res.Len() > ef {
							v.res.Pop()
						}
					}
				}
			}
		}
	}
}

// sortedCands returns the heap's candidates best first.
func sortedCands(res *topk.Heap[cand], dst []cand) []cand {
	dst = append(dst[:0], res.Items()...)
	slices.SortFunc(dst, func(a, b cand) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	return dst
}

// heuristic keeps up to m of the candidates (best first, scored against
// the node being linked): each is kept only if its score with the node is
// higher than with every candidate kept before it (Malkov & Yashunin's
// algorithm 4).
func (h *HNSW) heuristic(cands []cand, m int, out []cand) []cand {
	out = out[:0]
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		rc := h.f.Row(int(c.i))
		good := true
		for _, r := range out {
			if dot(rc, h.f.Row(int(r.i))) > c.s {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}

// insert links row i into the graph (locked: other insertions run at the
// same time).
func (h *HNSW) insert(i int, locked bool, v *visitSet) {
	q := h.f.Row(i)
	L := int(h.level[i])
	h.mu.Lock()
	if h.entry < 0 {
		h.entry, h.top = i, L
		h.mu.Unlock()
		return
	}
	ep, top := h.entry, h.top
	hold := L > top
	if !hold {
		h.mu.Unlock()
	}
	cur := cand{dot(q, h.f.Row(ep)), uint32(ep)}
	for l := top; l > L; l-- {
		cur = h.greedy(q, cur, l, locked, v)
	}
	var sorted, sel, tmp []cand
	for l := min(L, top); l >= 0; l-- {
		v.gen++
		if v.gen == 0 {
			clear(v.mark)
			v.gen = 1
		}
		h.searchLayer(q, cur, h.p.EfConstruction, l, nil, locked, v)
		sorted = sortedCands(&v.res, sorted)
		sel = h.heuristic(sorted, h.p.M, sel)
		s := h.slot(i, l)
		if locked {
			h.locks[i].Lock()
		}
		s[0] = uint32(len(sel))
		for j, c := range sel {
			s[1+j] = c.i
		}
		if locked {
			h.locks[i].Unlock()
		}
		for _, c := range sel {
			tmp = h.link(int(c.i), i, c.s, l, locked, tmp)
		}
		cur = sorted[0]
	}
	if hold {
		h.entry, h.top = i, L
		h.mu.Unlock()
	}
}

// link adds i (score s with e) to e's links on layer l; when e's list is
// full the heuristic picks which of the old links and i to keep.
func (h *HNSW) link(e, i int, s float32, l int, locked bool, tmp []cand) []cand {
	if locked {
		h.locks[e].Lock()
		defer h.locks[e].Unlock()
	}
	sl := h.slot(e, l)
	n := int(sl[0])
	if n < len(sl)-1 {
		sl[1+n] = uint32(i)
		sl[0]++
		return tmp
	}
	re := h.f.Row(e)
	tmp = append(tmp[:0], cand{s, uint32(i)})
	for _, o := range sl[1 : 1+n] {
		tmp = append(tmp, cand{dot(re, h.f.Row(int(o))), o})
	}
	slices.SortFunc(tmp, func(a, b cand) int {
		if better(a, b) {
			return -1
		}
		if better(b, a) {
			return 1
		}
		return 0
	})
	keep := h.heuristic(tmp, len(sl)-1, make([]cand, 0, len(sl)-1))
	sl[0] = uint32(len(keep))
	for j, c := range keep {
		sl[1+j] = c.i
	}
	return tmp
}

// Add inserts row i of the Flat (added to it beforehand); a row already in
// the graph is left as it is. It panics if i is not a row of the Flat.
func (h *HNSW) Add(i int) {
	if i < 0 || i >= h.f.Len() {
		panic(fmt.Sprintf("vector: HNSW.Add(%d): the Flat has %d rows", i, h.f.Len()))
	}
	h.grow(i + 1)
	if h.added.Has(i) {
		return
	}
	v := h.getVisit()
	h.insert(i, false, v)
	h.visiting.Put(v)
	h.added.Set(i)
	h.count++
}

// AddAll inserts every row of the Flat not yet in the graph, in row order,
// with up to threads goroutines (< 1: GOMAXPROCS). With one goroutine the
// graph depends only on the rows, the parameters and the order of earlier
// Add calls; with several, insertions overlap in an order the scheduler
// decides, so the links (not the levels) may differ from run to run, with
// the same recall.
func (h *HNSW) AddAll(threads int) {
	n := h.f.Len()
	h.grow(n)
	var todo []int
	for i := 0; i < n; i++ {
		if !h.added.Has(i) {
			todo = append(todo, i)
		}
	}
	if threads < 1 {
		threads = runtime.GOMAXPROCS(0)
	}
	// The first rows go in one at a time: parallel workers on a graph of
	// a handful of nodes would mostly wait on each other's locks.
	seq := len(todo)
	if threads > 1 {
		seq = min(len(todo), max(0, 256-h.count))
	}
	v := h.getVisit()
	for _, i := range todo[:seq] {
		h.insert(i, false, v)
	}
	h.visiting.Put(v)
	if rest := todo[seq:]; len(rest) > 0 {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < threads; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := h.getVisit()
				defer h.visiting.Put(v)
				for {
					j := int(next.Add(1)) - 1
					if j >= len(rest) {
						return
					}
					h.insert(rest[j], true, v)
				}
			}()
		}
		wg.Wait()
	}
	for _, i := range todo {
		h.added.Set(i)
	}
	h.count += len(todo)
}

// Search returns about the k rows with the highest dot product with q
// among those allow holds (nil: all), best first, with ef = EfSearch.
// Scores are exact (Dot against the Flat); which rows come back is
// approximate. It panics if len(q) is not the Flat's dimension.
func (h *HNSW) Search(q []float32, k int, allow *Bitset) []Result {
	return h.SearchEf(q, k, h.p.EfSearch, allow)
}

// SearchEf is Search with a candidate list of ef nodes (at least k).
func (h *HNSW) SearchEf(q []float32, k, ef int, allow *Bitset) []Result {
	checkQuery(q, h.f.dim)
	if k < 1 || h.entry < 0 {
		return nil
	}
	ef = max(ef, k)
	avail := h.count
	if allow != nil {
		avail = andCount(allow, h.added)
		if avail == 0 {
			return nil
		}
		if h.useFlat(avail, ef) {
			return h.exact(q, k, allow)
		}
	}
	v := h.getVisit()
	defer h.visiting.Put(v)
	cur := cand{dot(q, h.f.Row(h.entry)), uint32(h.entry)}
	for l := h.top; l > 0; l-- {
		cur = h.greedy(q, cur, l, false, v)
	}
	h.searchLayer(q, cur, ef, 0, allow, false, v)
	if v.res.Len() < min(k, avail) {
		return h.exact(q, k, allow)
	}
	for v.res.Len() > k {
		v.res.Pop()
	}
	out := make([]Result, v.res.Len())
	for j := len(out) - 1; j >= 0; j-- {
		c := v.res.Pop()
		out[j] = Result{Index: int(c.i), Score: c.s}
	}
	return out
}

// useFlat reports whether a search with c rows allowed should scan them
// exactly.
func (h *HNSW) useFlat(c, ef int) bool {
	switch {
	case h.p.FlatCutoff > 0:
		return c <= h.p.FlatCutoff
	case h.p.FlatCutoff < 0:
		return false
	}
	return float64(c)*float64(c) < float64(h.count)*float64(ef)*float64(h.m0)
}

// exact scans the rows in the graph that allow holds.
func (h *HNSW) exact(q []float32, k int, allow *Bitset) []Result {
	rows := len(h.level)
	if allow != nil {
		allow = andSet(allow, h.added)
	} else if h.count < rows {
		allow = h.added
	}
	return h.f.search(q, k, allow, rows)
}

// andCount is the number of rows in both sets.
func andCount(a, b *Bitset) int {
	n := min(len(a.w), len(b.w))
	c := 0
	for j := 0; j < n; j++ {
		c += popcount(a.w[j] & b.w[j])
	}
	return c
}

// andSet is the set of rows in both a and b.
func andSet(a, b *Bitset) *Bitset {
	s := NewBitset(min(a.n, b.n))
	for j := range s.w {
		s.w[j] = a.w[j] & b.w[j]
	}
	if r := uint(s.n) & 63; r != 0 {
		s.w[len(s.w)-1] &= 1<<r - 1
	}
	return s
}
