package tokenizer

import (
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// Encoding is one encoded input: ids with special tokens, token type ids and token strings.
type Encoding struct {
	IDs, TypeIDs []int32
	Tokens       []string
}

// Batch is a padded batch: [B,T] row-major; Mask is 1 for tokens and 0 for padding.
type Batch struct {
	B, T    int
	IDs     []int32
	TypeIDs []int32
	Mask    []float32
}

type addedToken struct {
	id             int32
	content        string
	lstrip, rstrip bool
	singleWord     bool
	special        bool
}

// Tokenizer is a loaded tokenizer.json.
type Tokenizer struct {
	path        string
	kind        string
	normalizers []normalizer
	pretoks     []preTokenizer
	unigram     *unigramModel
	wordpiece   *wordpieceModel
	bpe         *bpeModel
	added       []addedToken // longest content first
	post        postProcessor
	vocab       []string // id -> token
	special     map[int32]bool
	decoder     string // "ByteLevel", "" (none: tokens joined by spaces) or an unsupported type
	padID       int32
	pool        sync.Pool
}

type scratch struct {
	n1, n2   []byte
	arena    []byte
	sp1, sp2 []span
	lattice  []vNode
	rev      []piece
	syms     []bpeSym
	heap     []bpeCand
	ids      []int32
	toks     []string
}

func (sc *scratch) emit(id int32, tok string) {
	sc.ids = append(sc.ids, id)
	sc.toks = append(sc.toks, tok)
}

// Kind is "unigram", "wordpiece" or "bpe".
func (t *Tokenizer) Kind() string { return t.kind }

// VocabSize is the number of ids (model vocabulary plus added tokens beyond it).
func (t *Tokenizer) VocabSize() int { return len(t.vocab) }

// PadID is the padding id: padding.pad_id when the file sets one, else the id of <pad> or
// [PAD], else 0.
func (t *Tokenizer) PadID() int32 { return t.padID }

// IDToken returns the token string of id ("" when out of range).
func (t *Tokenizer) IDToken(id int32) string {
	if id < 0 || int(id) >= len(t.vocab) {
		return ""
	}
	return t.vocab[id]
}

func (t *Tokenizer) get() *scratch {
	sc, _ := t.pool.Get().(*scratch)
	if sc == nil {
		sc = &scratch{}
	}
	sc.ids = sc.ids[:0]
	sc.toks = sc.toks[:0]
	return sc
}

func (t *Tokenizer) put(sc *scratch) {
	if cap(sc.arena) > 1<<20 || cap(sc.lattice) > 1<<18 {
		return // do not keep huge buffers
	}
	clear(sc.toks) // drop references to (unknown-token) strings
	t.pool.Put(sc)
}

// Encode encodes one text with special tokens. maxLen > 0 truncates so that the result,
// special tokens included, has at most maxLen ids; 0 means no truncation.
func (t *Tokenizer) Encode(text string, maxLen int) Encoding {
	sc := t.get()
	defer t.put(sc)
	t.encodeInto(sc, text)
	n := len(sc.ids)
	if maxLen > 0 {
		n = min(n, max(0, maxLen-t.post.added(false)))
	}
	return t.post.apply(sc, n, -1, 0)
}

// EncodePair encodes a text pair with special tokens; maxLen > 0 truncates with the
// longest_first strategy of the tokenizers library.
func (t *Tokenizer) EncodePair(a, b string, maxLen int) Encoding {
	sc := t.get()
	defer t.put(sc)
	t.encodeInto(sc, a)
	na := len(sc.ids)
	t.encodeInto(sc, b)
	nb := len(sc.ids) - na
	ka, kb := na, nb
	if maxLen > 0 {
		ka, kb = longestFirst(na, nb, max(0, maxLen-t.post.added(true)))
	}
	return t.post.apply(sc, ka, na, kb)
}

// longestFirst returns how many tokens of each sequence to keep (tokenizers' truncate_encodings,
// LongestFirst).
func longestFirst(n1, n2, maxLen int) (int, int) {
	if n1+n2 <= maxLen {
		return n1, n2
	}
	swap := n1 > n2
	if swap {
		n1, n2 = n2, n1
	}
	if n1 > maxLen {
		n2 = n1
	} else {
		n2 = max(n1, maxLen-n1)
	}
	if n1+n2 > maxLen {
		n1 = maxLen / 2
		n2 = n1 + maxLen%2
	}
	if swap {
		n1, n2 = n2, n1
	}
	return n1, n2
}

// Tokenize returns the token strings of text without special tokens.
func (t *Tokenizer) Tokenize(text string) []string {
	sc := t.get()
	defer t.put(sc)
	t.encodeInto(sc, text)
	return append([]string(nil), sc.toks...)
}

// Pad pads encodings to the longest one.
func (t *Tokenizer) Pad(encs []Encoding) Batch {
	T := 0
	for _, e := range encs {
		T = max(T, len(e.IDs))
	}
	b := Batch{B: len(encs), T: T, IDs: make([]int32, len(encs)*T), TypeIDs: make([]int32, len(encs)*T),
		Mask: make([]float32, len(encs)*T)}
	for i, e := range encs {
		row := i * T
		copy(b.IDs[row:], e.IDs)
		copy(b.TypeIDs[row:], e.TypeIDs)
		for j := range e.IDs {
			b.Mask[row+j] = 1
		}
		for j := len(e.IDs); j < T; j++ {
			b.IDs[row+j] = t.padID
		}
	}
	return b
}

// encodeInto appends the ids of text (no special tokens added) to sc.
func (t *Tokenizer) encodeInto(sc *scratch, text string) {
	pos := 0
	for pos < len(text) {
		ms, me, id := t.findAdded(text, pos)
		if ms < 0 {
			t.encodeSegment(sc, text[pos:], pos == 0)
			return
		}
		if ms > pos {
			t.encodeSegment(sc, text[pos:ms], pos == 0)
		}
		sc.emit(t.added[id].id, t.added[id].content)
		pos = me
	}
}

// findAdded finds the leftmost (then longest) added token at or after pos; it returns the
// match extent (widened by lstrip/rstrip) and the index into t.added, or -1.
func (t *Tokenizer) findAdded(text string, pos int) (int, int, int) {
	if len(t.added) == 0 {
		return -1, -1, -1
	}
	best, bestIdx := -1, -1
	for i, a := range t.added {
		k := strings.Index(text[pos:], a.content)
		for k >= 0 && a.singleWord && !isWordBoundary(text, pos+k, pos+k+len(a.content)) {
			k2 := strings.Index(text[pos+k+1:], a.content)
			if k2 < 0 {
				k = -1
				break
			}
			k += 1 + k2
		}
		if k < 0 {
			continue
		}
		if best < 0 || pos+k < best { // t.added is longest first, so ties keep the longer
			best, bestIdx = pos+k, i
		}
	}
	if best < 0 {
		return -1, -1, -1
	}
	a := t.added[bestIdx]
	ms, me := best, best+len(a.content)
	if a.lstrip {
		for ms > pos {
			r, sz := utf8.DecodeLastRuneInString(text[pos:ms])
			if !unicode.IsSpace(r) {
				break
			}
			ms -= sz
		}
	}
	if a.rstrip {
		for me < len(text) {
			r, sz := utf8.DecodeRuneInString(text[me:])
			if !unicode.IsSpace(r) {
				break
			}
			me += sz
		}
	}
	return ms, me, bestIdx
}

func isWordBoundary(text string, s, e int) bool {
	if s > 0 {
		r, _ := utf8.DecodeLastRuneInString(text[:s])
		if isWordRune(r) {
			return false
		}
	}
	if e < len(text) {
		r, _ := utf8.DecodeRuneInString(text[e:])
		if isWordRune(r) {
			return false
		}
	}
	return true
}

func (t *Tokenizer) encodeSegment(sc *scratch, seg string, first bool) {
	// normalise
	var norm []byte
	switch len(t.normalizers) {
	case 0:
		sc.n1 = append(sc.n1[:0], seg...)
		norm = sc.n1
	default:
		sc.n2 = append(sc.n2[:0], seg...)
		cur := sc.n2
		for _, n := range t.normalizers {
			out := n.normalize(sc.n1[:0], cur)
			sc.n1, sc.n2 = cur[:0], out
			cur = out
		}
		norm = cur
	}
	if len(norm) == 0 {
		return
	}
	sc.arena = append(sc.arena[:0], norm...)
	spans := append(sc.sp1[:0], span{0, int32(len(sc.arena)), first})
	other := sc.sp2[:0]
	for _, p := range t.pretoks {
		other = p.split(&sc.arena, spans, other[:0])
		spans, other = other, spans
	}
	sc.sp1, sc.sp2 = spans, other
	for _, s := range spans {
		w := sc.arena[s.start:s.end]
		switch {
		case t.unigram != nil:
			t.unigram.tokenize(sc, w)
		case t.bpe != nil:
			t.bpe.tokenize(sc, w)
		default:
			t.wordpiece.tokenize(sc, w)
		}
	}
}

// postProcessor adds special tokens by template.
type tmplItem struct {
	seq    int // -1 special, 0 A, 1 B
	ids    []int32
	toks   []string
	typeID int32
}

type postProcessor struct {
	single, pair []tmplItem
	// roberta: every type id is 0 (tokenizers' RobertaProcessing)
}

func (p *postProcessor) added(pair bool) int {
	items := p.single
	if pair {
		items = p.pair
	}
	n := 0
	for _, it := range items {
		n += len(it.ids)
	}
	return n
}

// apply builds the final encoding from sc: sequence A is sc.ids[:ka]; when na >= 0, sequence B is
// sc.ids[na:na+kb].
func (p *postProcessor) apply(sc *scratch, ka, na, kb int) Encoding {
	items := p.single
	if na >= 0 {
		items = p.pair
	}
	n := 0
	for _, it := range items {
		switch it.seq {
		case -1:
			n += len(it.ids)
		case 0:
			n += ka
		case 1:
			n += kb
		}
	}
	both := make([]int32, 2*n)
	e := Encoding{IDs: both[:0:n], TypeIDs: both[n : n : 2*n], Tokens: make([]string, 0, n)}
	add := func(ids []int32, toks []string, typeID int32) {
		e.IDs = append(e.IDs, ids...)
		e.Tokens = append(e.Tokens, toks...)
		for range ids {
			e.TypeIDs = append(e.TypeIDs, typeID)
		}
	}
	for _, it := range items {
		switch it.seq {
		case -1:
			add(it.ids, it.toks, it.typeID)
		case 0:
			add(sc.ids[:ka], sc.toks[:ka], it.typeID)
		case 1:
			add(sc.ids[na:na+kb], sc.toks[na:na+kb], it.typeID)
		}
	}
	return e
}

func sortAdded(a []addedToken) {
	sort.SliceStable(a, func(i, j int) bool { return len(a[i].content) > len(a[j].content) })
}

// EncodeBatch encodes texts concurrently (up to GOMAXPROCS goroutines) and pads them to the
// longest; the result is the same as Pad of Encode of each text.
func (t *Tokenizer) EncodeBatch(texts []string, maxLen int) Batch {
	encs := make([]Encoding, len(texts))
	workers := min(runtime.GOMAXPROCS(0), len(texts))
	if workers <= 1 {
		for i, s := range texts {
			encs[i] = t.Encode(s, maxLen)
		}
		return t.Pad(encs)
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(texts) {
					return
				}
				encs[i] = t.Encode(texts[i], maxLen)
			}
		}()
	}
	wg.Wait()
	return t.Pad(encs)
}
