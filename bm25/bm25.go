// Package bm25 is a compact in-memory Okapi BM25 index for Korean text.
//
// Scoring is Lucene's BM25 (the form Lucene ≥ 8 and Elasticsearch use):
//
//	idf(t)      = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5))
//	score(q, d) = Σ_{t ∈ q} idf(t) · tf(t,d)·(k1+1) / (tf(t,d) + k1·(1 − b + b·|d|/avgdl))
//
// where a term repeated in the query counts once per occurrence, |d| is the
// number of terms the analyzer produced for d and avgdl their mean over the
// corpus. Unlike Lucene, document lengths are kept exactly (Lucene rounds
// them to one byte), so scores match the formula to float64 precision.
//
// Terms come from the analyzers of package analysis ("bigram", "morph",
// "union"). An index remembers its analyzer and its settings; Save and
// Load keep them in a checksummed binary file.
package bm25

import (
	"fmt"
	"math"
	"sort"
	"sync"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/internal/topk"
	"github.com/kormed/kormed/progress"
)

// Default BM25 parameters: k1 = 0.9 (Anserini's BEIR setting; on the
// drug-bench train split it beats Lucene's 1.2 by 0.4 NDCG@10), b = 0.75.
const (
	DefaultK1 = 0.9
	DefaultB  = 0.75
)

// Doc is one document to index.
type Doc struct {
	ID, Text string
}

// Hit is one search result.
type Hit struct {
	ID    string
	Score float64
	Doc   int // the document's number: its position in insertion order
}

// Options configure an index.
type Options struct {
	// Analyzer names the analyzer: "bigram", "morph", "union"; ""
	// means analysis.Default.
	Analyzer string
	// K1 and B are the BM25 parameters; 0 means DefaultK1, DefaultB.
	K1, B float64
	// Progress, when set, is advanced by one per document added. It is
	// not saved with the index.
	Progress *progress.Bar
}

// resolve fills in defaults and validates o.
func (o Options) resolve() (Options, analysis.Analyzer, error) {
	a, err := analysis.New(o.Analyzer)
	if err != nil {
		return o, nil, fmt.Errorf("bm25: %w", err)
	}
	o.Analyzer = a.Name()
	if o.K1 == 0 {
		o.K1 = DefaultK1
	}
	if o.B == 0 {
		o.B = DefaultB
	}
	if !(o.K1 > 0) || math.IsInf(o.K1, 0) {
		return o, nil, fmt.Errorf("bm25: k1 = %v, want > 0", o.K1)
	}
	if !(o.B >= 0 && o.B <= 1) {
		return o, nil, fmt.Errorf("bm25: b = %v, want in [0, 1]", o.B)
	}
	return o, a, nil
}

// Index is a BM25 index. Search is safe for concurrent use.
type Index struct {
	opts   Options
	an     analysis.Analyzer
	ids    []string
	docLen []uint32
	avgdl  float64

	// Terms in sorted order; postings of term t are
	// docs[off[t]:off[t+1]] (ascending) with frequencies tfs[...].
	terms  []string
	termID map[string]uint32
	off    []uint64
	docs   []uint32
	tfs    []uint32

	// norm[d] = k1·(1 − b + b·|d|/avgdl), derived from docLen.
	norm []float64
	acc  sync.Pool // *accumulator
}

// Build indexes docs in memory. Document IDs must be unique and non-empty.
func Build(docs []Doc, opts Options) (*Index, error) {
	b, err := NewBuilder(opts)
	if err != nil {
		return nil, err
	}
	for _, d := range docs {
		if err := b.Add(d); err != nil {
			return nil, err
		}
	}
	return b.Finish()
}

// Len is the number of documents.
func (ix *Index) Len() int { return len(ix.ids) }

// Terms is the number of distinct terms.
func (ix *Index) Terms() int { return len(ix.terms) }

// Postings is the total number of (term, document) pairs.
func (ix *Index) Postings() int { return len(ix.docs) }

// Options returns the index's resolved settings (analyzer name, k1, b).
func (ix *Index) Options() Options {
	return Options{Analyzer: ix.opts.Analyzer, K1: ix.opts.K1, B: ix.opts.B}
}

// AvgDocLen is the mean number of terms per document.
func (ix *Index) AvgDocLen() float64 { return ix.avgdl }

// IDF returns the BM25 idf of term (already analysed) and its document
// frequency; a term that is not in the index has df 0 and idf 0.
func (ix *Index) IDF(term string) (idf float64, df int) {
	t, ok := ix.termID[term]
	if !ok {
		return 0, 0
	}
	df = int(ix.off[t+1] - ix.off[t])
	return idf64(len(ix.ids), df), df
}

// IDFOf is the BM25 idf of a term found in df of n documents; at df 0 it
// is the largest value an index of n documents can give (a term the index
// has never seen is the rarest).
func IDFOf(n, df int) float64 { return idf64(n, df) }

func idf64(n, df int) float64 {
	return math.Log(1 + (float64(n)-float64(df)+0.5)/(float64(df)+0.5))
}

// Has reports whether the analysed term occurs in document doc (its
// number), by binary search in the term's postings.
func (ix *Index) Has(term string, doc int) bool {
	t, ok := ix.termID[term]
	if !ok || doc < 0 {
		return false
	}
	ds := ix.docs[ix.off[t]:ix.off[t+1]]
	i := sort.Search(len(ds), func(i int) bool { return int(ds[i]) >= doc })
	return i < len(ds) && int(ds[i]) == doc
}

// Analyze returns the terms the index's analyzer produces for text.
func (ix *Index) Analyze(text string) []string { return ix.an.Analyze(nil, text) }

// finish derives avgdl, norms and the term map.
func (ix *Index) finish() {
	var total uint64
	for _, l := range ix.docLen {
		total += uint64(l)
	}
	ix.avgdl = 1
	if len(ix.docLen) > 0 && total > 0 {
		ix.avgdl = float64(total) / float64(len(ix.docLen))
	}
	ix.norm = make([]float64, len(ix.docLen))
	k1, b := ix.opts.K1, ix.opts.B
	for d, l := range ix.docLen {
		ix.norm[d] = k1 * (1 - b + b*float64(l)/ix.avgdl)
	}
	if ix.termID == nil {
		ix.termID = make(map[string]uint32, len(ix.terms))
		for i, t := range ix.terms {
			ix.termID[t] = uint32(i)
		}
	}
	n := len(ix.ids)
	ix.acc.New = func() any { return &accumulator{score: make([]float64, n)} }
}

type accumulator struct {
	score   []float64
	touched []uint32
}

// Search returns the k best documents for query, by score descending and
// ID descending among equal scores (trec_eval's order, which package
// metrics and the search service use too; documents sharing an ID, which
// only a caller that replaces documents by appending has, by number).
// Only documents sharing at least one term with the query are returned;
// k <= 0 returns all of them.
func (ix *Index) Search(query string, k int) []Hit {
	return ix.SearchFunc(query, k, nil)
}

// SearchFunc is Search over the documents for which allow(doc) is true
// (all of them when allow is nil), doc being the document's number. The
// filter applies while scoring, so up to k allowed documents come back
// however many better ones it rejects; the statistics (idf, average
// length) stay those of the whole index.
func (ix *Index) SearchFunc(query string, k int, allow func(doc int) bool) []Hit {
	return ix.SearchTerms(ix.an.Analyze(nil, query), k, allow)
}

// SearchTerms is SearchFunc for a query already analysed (Analyze), for a
// caller that needs its terms too.
func (ix *Index) SearchTerms(toks []string, k int, allow func(doc int) bool) []Hit {
	if len(toks) == 0 || len(ix.ids) == 0 {
		return nil
	}
	// Query terms in order of first occurrence, with their counts.
	type qterm struct {
		id  uint32
		qtf int
	}
	var qs []qterm
	seen := make(map[uint32]int, len(toks))
	for _, t := range toks {
		id, ok := ix.termID[t]
		if !ok {
			continue
		}
		if j, ok := seen[id]; ok {
			qs[j].qtf++
			continue
		}
		seen[id] = len(qs)
		qs = append(qs, qterm{id, 1})
	}
	if len(qs) == 0 {
		return nil
	}
	acc := ix.acc.Get().(*accumulator)
	defer ix.acc.Put(acc)
	score, touched := acc.score, acc.touched[:0]
	k1p1 := ix.opts.K1 + 1
	for _, q := range qs {
		lo, hi := ix.off[q.id], ix.off[q.id+1]
		w := float64(q.qtf) * idf64(len(ix.ids), int(hi-lo)) * k1p1
		docs, tfs := ix.docs[lo:hi], ix.tfs[lo:hi]
		for i, d := range docs {
			if allow != nil && !allow(int(d)) {
				continue
			}
			tf := float64(tfs[i])
			if score[d] == 0 {
				touched = append(touched, d)
			}
			score[d] += w * tf / (tf + ix.norm[d])
		}
	}
	if k <= 0 || k > len(touched) {
		k = len(touched)
	}
	better := func(a, b uint32) bool { // Search's order
		if score[a] != score[b] {
			return score[a] > score[b]
		}
		if ix.ids[a] != ix.ids[b] {
			return ix.ids[a] > ix.ids[b]
		}
		return a < b
	}
	h := topk.New(k, better)
	for _, d := range touched {
		if !h.Full() || score[d] >= score[h.Worst()] { // else d cannot enter
			h.Push(d)
		}
	}
	best := h.Sorted()
	out := make([]Hit, len(best))
	for i, d := range best {
		out[i] = Hit{ID: ix.ids[d], Score: score[d], Doc: int(d)}
	}
	for _, d := range touched {
		score[d] = 0
	}
	acc.touched = touched[:0]
	return out
}
