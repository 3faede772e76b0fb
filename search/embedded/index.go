package embedded

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/vector"
)

// Dense index kinds.
const (
	DenseAuto  = "auto"  // exact below Options.ANNThreshold documents, HNSW above
	DenseExact = "exact" // float32 scan
	DenseInt8  = "int8"  // int8 scan, exact re-scoring
	DenseBF16  = "bf16"  // bf16 scan, exact re-scoring
	DenseHNSW  = "hnsw"  // HNSW graph
)

// DefaultANNThreshold is the corpus size from which DenseAuto builds HNSW:
// below it an exact scan takes under a millisecond on two cores.
const DefaultANNThreshold = 20000

// Options configure an embedded index.
type Options struct {
	// Analyzer, K1 and B configure BM25 (package bm25's defaults when
	// zero).
	Analyzer string  `json:"analyzer"`
	K1       float64 `json:"k1"`
	B        float64 `json:"b"`
	// Model is the embedding model; Model.Name "" means BM25 only.
	Model search.ModelInfo `json:"model"`
	// Dense is the dense index kind (DenseAuto when empty); ANNThreshold
	// the size from which DenseAuto uses HNSW.
	Dense        string            `json:"dense"`
	ANNThreshold int               `json:"ann_threshold"`
	HNSW         vector.HNSWParams `json:"hnsw"`
	Alpha        float64           `json:"alpha"`  // default hybrid alpha
	Fusion       string            `json:"fusion"` // default fusion
	// Calibration is the fusion kormed index chose for this corpus and
	// model, and what it measured (calibrate.go); when set it is the
	// service's hybrid default. A rebuild's UpToDate ignores it.
	Calibration *fusion.Calibration `json:"calibration,omitempty"`
}

func (o *Options) resolve() error {
	if o.Dense == "" {
		o.Dense = DenseAuto
	}
	switch o.Dense {
	case DenseAuto, DenseExact, DenseInt8, DenseBF16, DenseHNSW:
	default:
		return fmt.Errorf("search: dense index %q: want auto, exact, int8, bf16 or hnsw", o.Dense)
	}
	if o.ANNThreshold <= 0 {
		o.ANNThreshold = DefaultANNThreshold
	}
	if o.HNSW.M == 0 {
		o.HNSW = vector.DefaultHNSWParams()
	}
	if o.Fusion == "" {
		o.Fusion = search.DefaultFusion
	}
	if o.Fusion != search.FusionRRF && o.Fusion != search.FusionRelative {
		return fmt.Errorf("search: fusion %q: want rrf or relative", o.Fusion)
	}
	if o.Alpha < 0 || o.Alpha > 1 {
		return fmt.Errorf("search: alpha %v: want [0, 1]", o.Alpha)
	}
	if o.Model.Name != "" && o.Model.Dim <= 0 {
		return fmt.Errorf("search: model %s: dimension %d", o.Model.Name, o.Model.Dim)
	}
	return nil
}

// Index is the embedded backend: documents, a BM25 index and a dense
// index side by side, in memory, numbered in insertion order. Updates and
// deletions leave tombstones that searches skip (BM25 statistics keep
// counting them, as Lucene's do, until Compact). Searches run
// concurrently; writers are serialised and hold readers off only while
// the new state is swapped in (and while HNSW inserts new vectors).
//
// An Index opened from a directory (Open) persists every write in a
// write-ahead log before applying it; see store.go.
type Index struct {
	opts Options

	wmu    sync.Mutex   // serialises writers
	mu     sync.RWMutex // guards the state below
	st     *state
	log    *wal   // nil for an in-memory index
	gen    string // the loaded generation
	dir    string // "" for an in-memory index
	closed bool

	// Background compaction (compact.go); guarded by wmu.
	cmu            sync.Mutex // held by a save (one at a time)
	bg             sync.WaitGroup
	compactBytes   int64
	compactRecords int
	compacting     bool
	compactAfter   time.Time  // no retry before, after a failure
	compactDone    *sync.Cond // on wmu, broadcast when a background compaction ends
	onSwap         func(trigger string, err error)
	swappedByWrite bool // beginWrite swapped generations
}

// state is the searchable content.
type state struct {
	docs   []search.Doc
	dead   bitset // tombstones
	ndead  int
	byID   map[string]int
	bm     *bm25.Index
	flat   *vector.Flat // nil without a model
	quant  *vector.Quantized
	hnsw   *vector.HNSW
	fields map[string]map[string][]int // field → value → doc numbers (ascending)
	dur    map[string][]int            // DUR type → doc numbers
}

// New returns an empty in-memory index.
func New(opts Options) (*Index, error) {
	if err := opts.resolve(); err != nil {
		return nil, err
	}
	bm, err := bm25.Build(nil, bm25.Options{Analyzer: opts.Analyzer, K1: opts.K1, B: opts.B})
	if err != nil {
		return nil, err
	}
	o := bm.Options()
	opts.Analyzer, opts.K1, opts.B = o.Analyzer, o.K1, o.B
	ix := &Index{opts: opts, st: &state{byID: map[string]int{}, bm: bm, fields: map[string]map[string][]int{}, dur: map[string][]int{}}}
	if opts.Model.Name != "" {
		ix.st.flat = vector.NewFlat(opts.Model.Dim)
	}
	return ix, nil
}

// Options returns the index's settings.
func (ix *Index) Options() Options {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.opts
}

// Len is the number of live documents.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.st.docs) - ix.st.ndead
}

// Info describes the index.
func (ix *Index) Info(context.Context) (search.Info, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	fields := make([]string, 0, len(ix.st.fields))
	for f := range ix.st.fields {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	var types []string
	for t, docs := range ix.st.dur {
		if ix.st.anyLive(docs) {
			types = append(types, t)
		}
	}
	sort.Strings(types)
	return search.Info{Backend: "embedded", Docs: len(ix.st.docs) - ix.st.ndead, Model: ix.opts.Model,
		Analyzer: ix.opts.Analyzer, Fields: fields, Generated: ix.gen, DURTypes: types}, nil
}

// HoldsDUR reports whether a live document carries a DUR flag: whether
// the population rules apply to this index (Service).
func (ix *Index) HoldsDUR() bool {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for _, docs := range ix.st.dur {
		if ix.st.anyLive(docs) {
			return true
		}
	}
	return false
}

// anyLive reports whether one of the documents numbered docs is live.
func (st *state) anyLive(docs []int) bool {
	for _, n := range docs {
		if !st.dead.has(n) {
			return true
		}
	}
	return false
}

// Get returns the live document with id.
func (ix *Index) Get(_ context.Context, id string) (search.Doc, bool, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	n, ok := ix.st.byID[id]
	if !ok {
		return search.Doc{}, false, nil
	}
	return ix.st.docs[n], true, nil
}

// Docs calls fn for every live document in insertion order with its
// vector (nil without a model), stopping at the first error.
func (ix *Index) Docs(fn func(d search.Doc, vec []float32) error) error {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	for n, d := range ix.st.docs {
		if ix.st.dead.has(n) {
			continue
		}
		var v []float32
		if ix.st.flat != nil {
			v = ix.st.flat.Row(n)
		}
		if err := fn(d, v); err != nil {
			return err
		}
	}
	return nil
}

// Close releases the write-ahead log, after waiting for a background
// compaction to finish (it is not swapped in).
func (ix *Index) Close() error {
	ix.wmu.Lock()
	ix.closed = true
	var err error
	if ix.log != nil {
		err = ix.log.close()
		ix.log = nil
	}
	ix.wmu.Unlock()
	ix.bg.Wait()
	return err
}

// endWrite ends a write (begun by taking wmu): it starts a background
// compaction if the log passed a threshold, releases wmu and tells the
// OnSwap hook about a generation the write swapped to.
func (ix *Index) endWrite() {
	ix.maybeCompactLocked()
	swapped, fn := ix.swappedByWrite, ix.onSwap
	ix.swappedByWrite = false
	ix.wmu.Unlock()
	if swapped && fn != nil {
		fn(SwapWrite, nil)
	}
}

var errClosed = errors.New("search: index closed")

// checkDocs validates a write.
func (ix *Index) checkDocs(docs []search.Doc, vecs [][]float32) error {
	seen := make(map[string]bool, len(docs))
	for i, d := range docs {
		if d.ID == "" {
			return fmt.Errorf("document %d: empty id", i+1)
		}
		if seen[d.ID] {
			return fmt.Errorf("document %d: id %q repeated in one request", i+1, d.ID)
		}
		seen[d.ID] = true
		for f := range d.Fields {
			if f == "" {
				return fmt.Errorf("document %q: empty field name", d.ID)
			}
		}
	}
	if ix.opts.Model.Name == "" {
		if vecs != nil {
			return fmt.Errorf("search: vectors given to a BM25-only index")
		}
		return nil
	}
	if len(vecs) != len(docs) {
		return fmt.Errorf("search: %d vectors for %d documents", len(vecs), len(docs))
	}
	for i, v := range vecs {
		if len(v) != ix.opts.Model.Dim {
			return fmt.Errorf("document %q: vector dimension %d, index has %d", docs[i].ID, len(v), ix.opts.Model.Dim)
		}
	}
	return nil
}

// Upsert adds documents, replacing those with the same id.
func (ix *Index) Upsert(ctx context.Context, docs []search.Doc, vecs [][]float32) error {
	if len(docs) == 0 {
		return nil
	}
	ix.wmu.Lock()
	defer ix.endWrite()
	ix.waitCompactionLocked()
	if ix.closed {
		return errClosed
	}
	end, err := ix.beginWrite()
	if err != nil {
		return err
	}
	defer end()
	if err := ix.checkDocs(docs, vecs); err != nil {
		return err
	}
	// The texts are analysed before anything is logged, so that a write
	// whose request was cancelled meanwhile (its deadline passed while it
	// was encoded, waited for the lock or was analysed) is not committed:
	// the analysis is most of a large write's time.
	bm, err := ix.analyse(docs)
	if err != nil {
		return err
	}
	afterAnalyse()
	if err := search.Commit(ctx); err != nil {
		return err
	}
	if ix.log != nil {
		if err := ix.log.upsert(docs, vecs); err != nil {
			return err
		}
	}
	return ix.install(docs, vecs, bm)
}

// afterAnalyse runs between Upsert's analysis and its commit (a hook for
// tests).
var afterAnalyse = func() {}

// apply appends docs to the state (the caller holds wmu).
func (ix *Index) apply(docs []search.Doc, vecs [][]float32) error {
	bm, err := ix.analyse(docs)
	if err != nil {
		return err
	}
	return ix.install(docs, vecs, bm)
}

// analyse returns the BM25 index with docs appended, leaving the current
// state untouched (the caller holds wmu, so the state cannot change
// before install).
func (ix *Index) analyse(docs []search.Doc) (*bm25.Index, error) {
	bdocs := make([]bm25.Doc, len(docs))
	for i, d := range docs {
		bdocs[i] = bm25.Doc{ID: d.ID, Text: fusion.DocText(d.Title, d.Text)}
	}
	return ix.st.bm.Append(bdocs)
}

// install makes docs, their vectors and the BM25 index analyse returned
// for them the current state (the caller holds wmu).
func (ix *Index) install(docs []search.Doc, vecs [][]float32, bm *bm25.Index) error {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	st := ix.st
	st.bm = bm
	for i, d := range docs {
		n := len(st.docs)
		if prev, ok := st.byID[d.ID]; ok {
			st.kill(prev)
		}
		st.docs = append(st.docs, d)
		st.byID[d.ID] = n
		st.index(n, d)
		if st.flat != nil {
			if _, err := st.flat.Add(vecs[i]); err != nil {
				return err
			}
		}
	}
	ix.syncDense()
	return nil
}

// syncDense brings the dense index up to the flat matrix (the caller holds
// mu for writing): HNSW gets the new rows, a quantised copy is extended.
func (ix *Index) syncDense() {
	st := ix.st
	if st.flat == nil {
		return
	}
	n := st.flat.Len()
	kind := ix.opts.Dense
	if kind == DenseAuto {
		kind = DenseExact
		if n >= ix.opts.ANNThreshold || st.hnsw != nil {
			kind = DenseHNSW
		}
	}
	switch kind {
	case DenseHNSW:
		if st.hnsw == nil {
			st.hnsw = vector.NewHNSW(st.flat, ix.opts.HNSW)
			st.hnsw.AddAll(0)
			return
		}
		for i := st.hnsw.Len(); i < n; i++ {
			st.hnsw.Add(i)
		}
	case DenseInt8, DenseBF16:
		if st.quant == nil {
			q, err := vector.Quantize(st.flat, kind)
			if err != nil {
				panic(err) // kinds are validated in resolve
			}
			st.quant = q
			return
		}
		st.quant.Sync()
	}
}

func (st *state) kill(n int) {
	if !st.dead.has(n) {
		st.dead.set(n)
		st.ndead++
	}
}

// Delete removes documents by id.
func (ix *Index) Delete(ctx context.Context, ids []string) (int, error) {
	ix.wmu.Lock()
	defer ix.endWrite()
	ix.waitCompactionLocked()
	if ix.closed {
		return 0, errClosed
	}
	end, err := ix.beginWrite()
	if err != nil {
		return 0, err
	}
	defer end()
	// Log only the ids that exist (writers hold wmu, so byID is stable):
	// deleting nothing writes nothing.
	var found []string
	seen := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, ok := ix.st.byID[id]; ok && !seen[id] {
			seen[id] = true
			found = append(found, id)
		}
	}
	if len(found) == 0 {
		return 0, nil
	}
	// A delete whose request ended while it waited for the write lock
	// (behind a large write or a compaction) is not committed.
	if err := search.Commit(ctx); err != nil {
		return 0, err
	}
	if ix.log != nil {
		if err := ix.log.delete(found); err != nil {
			return 0, err
		}
	}
	return ix.applyDelete(found), nil
}

func (ix *Index) applyDelete(ids []string) int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	found := 0
	for _, id := range ids {
		if n, ok := ix.st.byID[id]; ok {
			ix.st.kill(n)
			delete(ix.st.byID, id)
			found++
		}
	}
	return found
}

// allowed returns the documents a query may return: live, matching the
// filters, without an excluded DUR type, not excluded by id; nil means all
// documents.
func (st *state) allowed(q *search.Query) (bitset, error) {
	if len(q.Filters) == 0 && len(q.ExcludeDUR) == 0 && len(q.Exclude) == 0 && st.ndead == 0 {
		return nil, nil
	}
	n := len(st.docs)
	allow := newBitset(n)
	allow.fill(n)
	names := make([]string, 0, len(q.Filters))
	for f := range q.Filters {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		vals, ok := st.fields[f]
		if !ok {
			return nil, fmt.Errorf("filter on unknown field %q (fields: %s)", f, strings.Join(sortedKeys(st.fields), ", "))
		}
		any := newBitset(n)
		for _, v := range q.Filters[f] {
			for _, d := range vals[v] {
				any.set(d)
			}
		}
		allow.and(any)
	}
	for _, t := range q.ExcludeDUR {
		for _, d := range st.dur[t] {
			allow.clear(d)
		}
	}
	for _, id := range q.Exclude {
		if d, ok := st.byID[id]; ok {
			allow.clear(d)
		}
	}
	allow.andNot(st.dead)
	return allow, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func dedup(xs []string) []string {
	if len(xs) < 2 {
		return xs
	}
	out := slices.Clone(xs)
	sort.Strings(out)
	return slices.Compact(out)
}

// Search runs one resolved query.
func (ix *Index) Search(ctx context.Context, q search.Query) ([]search.Hit, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.st
	allow, err := st.allowed(&q)
	if err != nil {
		return nil, err
	}
	k := q.K
	var lists [][]fusion.Ranked[string]
	var weights []float64
	useBM := q.Mode == search.ModeBM25 || q.Mode == search.ModeHybrid && q.Alpha < 1
	useDense := q.Mode == search.ModeDense || q.Mode == search.ModeHybrid && q.Alpha > 0
	if useDense && (st.flat == nil || q.Vector == nil) {
		return nil, fmt.Errorf("search: %s search needs a dense model; this index is BM25 only", q.Mode)
	}
	depth := k
	if useBM && useDense {
		depth = fusion.Candidates(k)
	}
	var bmList, deList []fusion.Ranked[string]
	qterms := st.bm.Analyze(q.Query) // for BM25 and every hit's Coverage
	if useBM {
		var fn func(int) bool
		if allow != nil {
			fn = allow.has
		}
		for _, h := range st.bm.SearchTerms(qterms, depth, fn) {
			bmList = append(bmList, fusion.Ranked[string]{ID: h.ID, Score: h.Score})
		}
		lists = append(lists, bmList)
		weights = append(weights, 1-q.Alpha)
	}
	if useDense {
		if len(q.Vector) != st.flat.Dim() {
			return nil, fmt.Errorf("search: query vector dimension %d, index has %d", len(q.Vector), st.flat.Dim())
		}
		var va *vector.Bitset
		if allow != nil {
			va = allow.vector(len(st.docs))
		}
		rs := st.denseTop(depth, func(k int) []vector.Result {
			switch {
			case st.hnsw != nil:
				return st.hnsw.Search(q.Vector, k, va)
			case st.quant != nil:
				return st.quant.Search(q.Vector, k, va)
			}
			return st.flat.Search(q.Vector, k, va)
		})
		for _, r := range rs {
			deList = append(deList, fusion.Ranked[string]{ID: st.docs[r.Index].ID, Score: float64(r.Score)})
		}
		lists = append(lists, deList)
		weights = append(weights, q.Alpha)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var fused []fusion.Fused[string]
	switch {
	case len(lists) == 1:
		fused = fusion.RRF(lists, []float64{1}, fusion.RRFK) // one list: keep its order
		for i := range fused {
			fused[i].Score = fused[i].Scores[0]
		}
	case q.Fusion == search.FusionRelative:
		fused = fusion.RelativeScore(lists, weights)
	default:
		rk := q.RRFK
		if rk <= 0 {
			rk = fusion.RRFK
		}
		fused = fusion.RRF(lists, weights, rk)
	}
	if len(fused) > k {
		fused = fused[:k]
	}
	idf := func(t string) float64 {
		_, df := st.bm.IDF(t)
		return bm25.IDFOf(st.bm.Len(), df)
	}
	hits := make([]search.Hit, len(fused))
	for i, f := range fused {
		n := st.byID[f.ID] // the lists hold live documents only
		d := st.docs[n]
		h := search.Hit{ID: d.ID, Score: f.Score, Title: d.Title, Text: d.Text, Fields: d.Fields, DUR: d.DUR}
		li := 0
		if useBM {
			if f.Ranks[li] > 0 {
				h.BM25 = &search.Part{Rank: f.Ranks[li], Score: f.Scores[li]}
			}
			li++
		}
		if useDense && f.Ranks[li] > 0 {
			h.Dense = &search.Part{Rank: f.Ranks[li], Score: f.Scores[li]}
		}
		h.Warnings = warnings(d, q.FlagDUR)
		c := Coverage(qterms, idf, func(t string) bool { return st.bm.Has(t, n) })
		h.Coverage = &c
		hits[i] = h
	}
	return hits, nil
}

// Coverage is how much of a query a document holds: the idf-weighted
// share of the query's distinct terms that occur in it,
//
//	coverage = Σ_{t ∈ q ∩ d} idf(t) / Σ_{t ∈ q} idf(t)
//
// in [0, 1], 0 for a query without terms. terms are the query's terms as
// the index's analyzer produces them (the terms BM25 scores; a repeated
// term counts once), idf gives a term's BM25 idf and has whether the
// document (its title and text, as indexed) holds a term. The embedded
// index gives a term absent from the index the idf of document frequency
// 0, the largest there is (bm25.IDFOf): a query word no document has is
// missing from every hit and weighs most, where BM25 ignores it.
//
// Worked example, the corpus of three documents d1 "두통 해열", d2 "두통
// 감기", d3 "감기 기침 해열" with the bigram analyzer (N = 3, idf(t) =
// ln(1 + (N − df + 0.5)/(df + 0.5))): the query "두통 기침 날씨" has the
// terms 두통 (df 2, idf ln 1.6 = 0.4700), 기침 (df 1, ln(8/3) = 0.9808)
// and 날씨 (df 0, ln 8 = 2.0794), Σ 3.5302. d1 holds 두통 only: coverage
// 0.4700/3.5302 = 0.1331; d3 holds 기침: 0.9808/3.5302 = 0.2778. Without
// 날씨 in the query d3 would cover 0.9808/1.4508 = 0.6760.
func Coverage(terms []string, idf func(term string) float64, has func(term string) bool) float64 {
	var all, in float64
	seen := make(map[string]bool, len(terms))
	for _, t := range terms {
		if seen[t] {
			continue
		}
		seen[t] = true
		w := idf(t)
		all += w
		if has(t) {
			in += w
		}
	}
	if all <= 0 {
		return 0
	}
	return min(in/all, 1)
}

// denseTop returns the k best rows of a dense search in fusion.Before's order
// (score descending, document id descending). The vector indexes break
// ties by row number, which is insertion order, so when rows beyond the
// k-th might tie with it the search is widened until the k-th score is
// strictly above the last row returned (or every row is returned).
func (st *state) denseTop(k int, search func(k int) []vector.Result) []vector.Result {
	n := k
	rs := search(n)
	for n > 0 && len(rs) == n && n < len(st.docs) && rs[n-1].Score == rs[k-1].Score {
		n = min(2*n, len(st.docs))
		rs = search(n)
	}
	sort.SliceStable(rs, func(i, j int) bool {
		return fusion.Before(float64(rs[i].Score), st.docs[rs[i].Index].ID, float64(rs[j].Score), st.docs[rs[j].Index].ID)
	})
	if len(rs) > k {
		rs = rs[:k]
	}
	return rs
}

// warnings lists the DUR types of d among flag, in flag's order.
func warnings(d search.Doc, flag []string) []string {
	var out []string
	for _, t := range flag {
		for _, f := range d.DUR {
			if f.Type == t {
				out = append(out, t)
				break
			}
		}
	}
	return out
}

// Facets returns the n most frequent values of field among live documents
// (all of them when n <= 0), by count descending then value; nil for an
// unknown field.
func (ix *Index) Facets(_ context.Context, field string, n int) ([]search.Facet, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.st
	var out []search.Facet
	for v, docs := range st.fields[field] {
		c := 0
		for _, d := range docs {
			if !st.dead.has(d) {
				c++
			}
		}
		if c > 0 {
			out = append(out, search.Facet{Value: v, Count: c})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if n > 0 && len(out) > n {
		out = out[:n]
	}
	return out, nil
}

// ANNRecall measures the HNSW index against exact search: recall@k over n
// of the index's own vectors used as queries (spread evenly over the
// corpus). ok is false when the dense side is exact.
func (ix *Index) ANNRecall(n, k int) (recall float64, ok bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.st
	if st.hnsw == nil || st.flat == nil || st.flat.Len() == 0 {
		return 0, false
	}
	rows := st.flat.Len()
	n = min(n, rows)
	found, total := 0, 0
	for i := 0; i < n; i++ {
		q := st.flat.Row(i * rows / n)
		exact := st.flat.Search(q, k, nil)
		approx := st.hnsw.Search(q, k, nil)
		in := make(map[int]bool, len(approx))
		for _, r := range approx {
			in[r.Index] = true
		}
		for _, r := range exact {
			if in[r.Index] {
				found++
			}
		}
		total += len(exact)
	}
	return float64(found) / float64(max(total, 1)), true
}
