package bm25

import (
	"errors"
	"fmt"
	"runtime"
	"sort"
	"sync"

	"github.com/kormed/kormed/analysis"
)

// chunkSize is how many documents the builder buffers before analysing
// them in parallel; only these raw texts are held at any time.
const chunkSize = 512

// Builder builds an index from a stream of documents without keeping
// their texts: documents are analysed in parallel in chunks and only their
// postings are kept.
type Builder struct {
	opts Options
	an   analysis.Analyzer

	pending []Doc
	seen    map[string]struct{}
	ids     []string
	docLen  []uint32
	termID  map[string]uint32
	post    [][]posting // by term number in order of first appearance
	workers int
	err     error
}

type posting struct{ doc, tf uint32 }

// analysed is one document after analysis: its distinct terms and counts.
type analysed struct {
	terms  []string
	counts []int
	length int
}

// NewBuilder starts an index with opts.
func NewBuilder(opts Options) (*Builder, error) {
	o, a, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	o.Progress = opts.Progress
	return &Builder{
		opts:    o,
		an:      a,
		seen:    make(map[string]struct{}),
		termID:  make(map[string]uint32),
		workers: runtime.GOMAXPROCS(0),
	}, nil
}

// Add queues one document. IDs must be unique and non-empty.
func (b *Builder) Add(d Doc) error {
	if b.err != nil {
		return b.err
	}
	if d.ID == "" {
		return fmt.Errorf("bm25: document %d has an empty ID", len(b.ids)+len(b.pending)+1)
	}
	if _, dup := b.seen[d.ID]; dup {
		return fmt.Errorf("bm25: duplicate document ID %q", d.ID)
	}
	if len(b.ids)+len(b.pending) >= math32 {
		return errors.New("bm25: too many documents (max 2^32-1)")
	}
	b.seen[d.ID] = struct{}{}
	b.pending = append(b.pending, d)
	if len(b.pending) >= chunkSize {
		b.flush()
	}
	return nil
}

const math32 = 1<<32 - 1

// flush analyses the pending documents in parallel and appends their
// postings in order.
func (b *Builder) flush() {
	if len(b.pending) == 0 {
		return
	}
	out := make([]analysed, len(b.pending))
	var wg sync.WaitGroup
	next := make(chan int, len(b.pending))
	for i := range b.pending {
		next <- i
	}
	close(next)
	for w := 0; w < min(b.workers, len(b.pending)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var toks []string
			tf := make(map[string]int)
			for i := range next {
				toks = b.an.Analyze(toks[:0], b.pending[i].Text)
				clear(tf)
				for _, t := range toks {
					tf[t]++
				}
				a := analysed{terms: make([]string, 0, len(tf)), counts: make([]int, 0, len(tf)), length: len(toks)}
				for t, c := range tf {
					a.terms = append(a.terms, t)
					a.counts = append(a.counts, c)
				}
				out[i] = a
			}
		}()
	}
	wg.Wait()
	for i, a := range out {
		doc := uint32(len(b.ids))
		b.ids = append(b.ids, b.pending[i].ID)
		b.docLen = append(b.docLen, uint32(a.length))
		for j, t := range a.terms {
			id, ok := b.termID[t]
			if !ok {
				// Clone: t may point into a large normalised text.
				t = string([]byte(t))
				id = uint32(len(b.post))
				b.termID[t] = id
				b.post = append(b.post, nil)
			}
			b.post[id] = append(b.post[id], posting{doc, uint32(a.counts[j])})
		}
	}
	if b.opts.Progress != nil {
		b.opts.Progress.Add(int64(len(b.pending)))
	}
	clear(b.pending)
	b.pending = b.pending[:0]
}

// Finish analyses what is still queued and returns the index. The builder
// must not be used afterwards.
func (b *Builder) Finish() (*Index, error) {
	if b.err != nil {
		return nil, b.err
	}
	b.flush()
	b.err = errors.New("bm25: Builder used after Finish")
	if b.opts.Progress != nil {
		b.opts.Progress.Finish()
	}
	terms := make([]string, 0, len(b.termID))
	for t := range b.termID {
		terms = append(terms, t)
	}
	sort.Strings(terms)
	ix := &Index{
		opts:   Options{Analyzer: b.opts.Analyzer, K1: b.opts.K1, B: b.opts.B},
		an:     b.an,
		ids:    b.ids,
		docLen: b.docLen,
		terms:  terms,
		off:    make([]uint64, len(terms)+1),
	}
	total := 0
	for _, p := range b.post {
		total += len(p)
	}
	ix.docs = make([]uint32, 0, total)
	ix.tfs = make([]uint32, 0, total)
	newID := make(map[string]uint32, len(terms))
	for i, t := range terms {
		newID[t] = uint32(i)
		p := b.post[b.termID[t]]
		for _, x := range p {
			ix.docs = append(ix.docs, x.doc)
			ix.tfs = append(ix.tfs, x.tf)
		}
		ix.off[i+1] = uint64(len(ix.docs))
		b.post[b.termID[t]] = nil
	}
	ix.termID = newID
	b.post, b.termID, b.seen = nil, nil, nil
	ix.finish()
	return ix, nil
}
