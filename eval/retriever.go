// Package eval runs retrievers over a retrieval dataset, scores them with
// package metrics, keeps the results as JSON, renders a leaderboard across
// runs (Markdown, standalone HTML, PNG chart) and diagnoses embedding
// collapse.
package eval

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sort"
	"sync"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/metrics"
	"github.com/kormed/kormed/vector"
)

// Retriever finds documents for queries.
type Retriever interface {
	// Index prepares the retriever over corpus.
	Index(ctx context.Context, corpus []dataset.Doc) error
	// Search returns up to k hits for each query, keyed by query id.
	Search(ctx context.Context, queries []dataset.Query, k int) (map[string][]metrics.Hit, error)
}

// BM25 is the lexical baseline of package bm25.
type BM25 struct {
	Options bm25.Options
	ix      *bm25.Index
}

// Index builds the BM25 index.
func (r *BM25) Index(ctx context.Context, corpus []dataset.Doc) error {
	docs := make([]bm25.Doc, len(corpus))
	for i, d := range corpus {
		docs[i] = bm25.Doc{ID: d.ID, Text: fusion.DocText(d.Title, d.Text)}
	}
	ix, err := bm25.Build(docs, r.Options)
	if err != nil {
		return err
	}
	r.ix = ix
	return nil
}

// Search runs the queries in parallel.
func (r *BM25) Search(ctx context.Context, queries []dataset.Query, k int) (map[string][]metrics.Hit, error) {
	if r.ix == nil {
		return nil, fmt.Errorf("bm25: Search before Index")
	}
	out := make([][]metrics.Hit, len(queries))
	err := parallel(ctx, len(queries), func(i int) {
		hs := r.ix.Search(queries[i].Text, k)
		mh := make([]metrics.Hit, len(hs))
		for j, h := range hs {
			mh[j] = metrics.Hit{ID: h.ID, Score: h.Score}
		}
		out[i] = mh
	})
	if err != nil {
		return nil, err
	}
	return byQuery(queries, out), nil
}

// Encoder embeds queries and passages; *model.Model is one.
type Encoder interface {
	EncodeQueries(ctx context.Context, texts []string) ([][]float32, error)
	EncodePassages(ctx context.Context, texts []string) ([][]float32, error)
}

// Dense retrieves by exact cosine similarity: corpus and queries are
// embedded with Enc, L2-normalised, and each query's top k documents are
// found by a dot product with every document (vector.Flat's SearchBatch:
// a blocked matrix product, then a parallel heap per query). Equal scores
// are ordered by document id descending, the order package metrics ranks
// them in.
type Dense struct {
	Enc Encoder

	docs    docMatrix
	dim     int
	queries map[string][]float32 // last Search's normalised query vectors
}

// Index embeds the corpus.
func (r *Dense) Index(ctx context.Context, corpus []dataset.Doc) error {
	texts := make([]string, len(corpus))
	ids := make([]string, len(corpus))
	for i, d := range corpus {
		texts[i] = fusion.DocText(d.Title, d.Text)
		ids[i] = d.ID
	}
	vecs, err := r.Enc.EncodePassages(ctx, texts)
	if err != nil {
		return err
	}
	docs, dim, err := flatten(vecs, len(corpus), "document")
	if err != nil {
		return err
	}
	r.docs, r.dim = newDocMatrix(docs, dim, ids), dim
	return nil
}

// Search embeds the queries and ranks the corpus for each.
func (r *Dense) Search(ctx context.Context, queries []dataset.Query, k int) (map[string][]metrics.Hit, error) {
	texts := make([]string, len(queries))
	for i, q := range queries {
		texts[i] = q.Text
	}
	vecs, err := r.Enc.EncodeQueries(ctx, texts)
	if err != nil {
		return nil, err
	}
	qs, dim, err := flatten(vecs, len(queries), "query")
	if err != nil {
		return nil, err
	}
	if len(queries) > 0 && len(r.docs.ids) > 0 && dim != r.dim {
		return nil, fmt.Errorf("dense: query dimension %d differs from document dimension %d", dim, r.dim)
	}
	r.queries = make(map[string][]float32, len(queries))
	for i, q := range queries {
		r.queries[q.ID] = qs[i*dim : (i+1)*dim]
	}
	hits, err := r.docs.search(ctx, qs, dim, k)
	if err != nil {
		return nil, err
	}
	return byQuery(queries, hits), nil
}

// Embeddings returns the normalised document vectors of Index and query
// vectors of the last Search, keyed by id (for collapse diagnostics).
func (r *Dense) Embeddings() (queries, docs map[string][]float32) {
	docs = make(map[string][]float32, len(r.docs.ids))
	for i, id := range r.docs.ids {
		docs[id] = r.docs.flat.Row(i)
	}
	return r.queries, docs
}

// flatten checks n vectors of one dimension and returns them
// L2-normalised in one row-major slice.
func flatten(vecs [][]float32, n int, what string) ([]float32, int, error) {
	if len(vecs) != n {
		return nil, 0, fmt.Errorf("dense: encoder returned %d %s vectors for %d texts", len(vecs), what, n)
	}
	if n == 0 {
		return nil, 0, nil
	}
	dim := len(vecs[0])
	if dim == 0 {
		return nil, 0, fmt.Errorf("dense: empty %s vector", what)
	}
	out := make([]float32, n*dim)
	for i, v := range vecs {
		if len(v) != dim {
			return nil, 0, fmt.Errorf("dense: %s vector %d has dimension %d, want %d", what, i, len(v), dim)
		}
		if err := normalize(out[i*dim:(i+1)*dim], v); err != nil {
			return nil, 0, fmt.Errorf("dense: %s vector %d: %v", what, i, err)
		}
	}
	return out, dim, nil
}

// normalize writes v/‖v‖ to dst.
func normalize(dst, v []float32) error {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
		return fmt.Errorf("norm is %v", math.Sqrt(ss))
	}
	inv := 1 / math.Sqrt(ss)
	for i, x := range v {
		dst[i] = float32(float64(x) * inv)
	}
	return nil
}

// TopKCosine returns, for each row of queries (nq × dim), the k rows of
// docs (len(ids) × dim) with the largest dot product, best first, equal
// scores by id descending. With normalised rows the dot product is the
// cosine. k <= 0 or k > len(ids) returns every document.
func TopKCosine(ctx context.Context, queries, docs []float32, dim int, ids []string, k int) ([][]metrics.Hit, error) {
	if dim == 0 {
		return make([][]metrics.Hit, 0), nil
	}
	if nd := len(ids); len(docs) != nd*dim {
		return nil, fmt.Errorf("dense: %d document values for %d ids of dimension %d", len(docs), nd, dim)
	}
	return newDocMatrix(docs, dim, ids).search(ctx, queries, dim, k)
}

// docMatrix is the documents of a dense search: their vectors are the rows
// of a vector.Flat in id-descending order, so that the Flat's order for
// equal scores (lower row first) is metrics' (id descending).
type docMatrix struct {
	ids  []string     // the documents' ids, by row
	flat *vector.Flat // nil when there are no documents
}

// newDocMatrix copies the len(ids) rows of docs (len(ids) × dim) into a
// docMatrix.
func newDocMatrix(docs []float32, dim int, ids []string) docMatrix {
	order := make([]int, len(ids))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return ids[order[a]] > ids[order[b]] })
	m := docMatrix{ids: make([]string, len(ids))}
	if len(ids) == 0 {
		return m
	}
	rows := make([][]float32, len(ids))
	for j, i := range order {
		m.ids[j] = ids[i]
		rows[j] = docs[i*dim : (i+1)*dim]
	}
	m.flat = vector.NewFlat(dim)
	if _, err := m.flat.Add(rows...); err != nil {
		panic(err) // every row has dim values
	}
	return m
}

// search returns, for each row of queries (nq × dim), the k best
// documents (k <= 0: all), best first, equal scores by id descending.
func (m docMatrix) search(ctx context.Context, queries []float32, dim, k int) ([][]metrics.Hit, error) {
	if dim == 0 {
		return make([][]metrics.Hit, 0), nil
	}
	nq := len(queries) / dim
	out := make([][]metrics.Hit, nq)
	if m.flat == nil {
		for i := range out {
			out[i] = []metrics.Hit{}
		}
		return out, nil
	}
	if dim != m.flat.Dim() {
		return nil, fmt.Errorf("dense: %d document values for %d ids of dimension %d", len(m.ids)*m.flat.Dim(), len(m.ids), dim)
	}
	rs, err := m.flat.SearchBatch(ctx, queries[:nq*dim], k)
	if err != nil {
		return nil, err
	}
	for i, r := range rs {
		hs := make([]metrics.Hit, len(r))
		for j, x := range r {
			hs[j] = metrics.Hit{ID: m.ids[x.Index], Score: float64(x.Score)}
		}
		out[i] = hs
	}
	return out, nil
}

// parallel calls fn(i) for i in [0, n) on blas.Threads() goroutines.
func parallel(ctx context.Context, n int, fn func(i int)) error {
	workers := min(max(blas.Threads(), 1), runtime.NumCPU(), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			if i%64 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			fn(i)
		}
		return nil
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	next := 0
	const chunk = 16
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					fn(i)
				}
			}
		}()
	}
	wg.Wait()
	return ctx.Err()
}

func byQuery(queries []dataset.Query, hits [][]metrics.Hit) map[string][]metrics.Hit {
	m := make(map[string][]metrics.Hit, len(queries))
	for i, q := range queries {
		m[q.ID] = hits[i]
	}
	return m
}
