package embedded

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/vector"
)

// CalibrateConfig says how Index.Calibrate samples the corpus; the zero
// value is the default (300 inverse-cloze pseudo-queries, seed 1).
type CalibrateConfig struct {
	Kind    string // PseudoICT (default), PseudoTitle or PseudoSpan
	Docs    int    // documents sampled; DefaultCalibrationDocs when 0
	Seed    uint64 // 0 means 1
	Options fusion.CalibrateOptions
}

// ErrNoDenseModel is Calibrate on a BM25-only index: there is nothing to
// fuse.
var ErrNoDenseModel = errors.New("search: calibration needs a dense model; this index is BM25 only")

// Calibrate chooses the index's hybrid fusion without labels: it makes
// pseudo-queries from a seeded sample of its live documents
// (fusion.PseudoQueries), runs each through BM25 and the dense index (exact
// scan) as Search would, with the source document re-scored on what is
// left of it once the query is taken out (BM25 by bm25.Index.ScoreWithout,
// dense by enc's embedding of the rest; other documents keep their
// indexed scores), and measures every setting of fusion.CalibrationGrid on them
// (fusion.Calibrate). enc must be the index's model. The
// result is deterministic for the documents and seed; store it with
// SetCalibration.
func (ix *Index) Calibrate(ctx context.Context, enc search.Encoder, cfg CalibrateConfig) (fusion.Calibration, error) {
	t0 := time.Now()
	if cfg.Kind == "" {
		cfg.Kind = fusion.PseudoICT
	}
	if cfg.Docs <= 0 {
		cfg.Docs = fusion.DefaultCalibrationDocs
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	ix.mu.RLock()
	if ix.st.flat == nil {
		ix.mu.RUnlock()
		return fusion.Calibration{}, ErrNoDenseModel
	}
	docs := make([]fusion.Doc, 0, len(ix.st.docs)-ix.st.ndead)
	for n, d := range ix.st.docs {
		if !ix.st.dead.has(n) {
			docs = append(docs, fusion.Doc{ID: d.ID, Title: d.Title, Text: d.Text})
		}
	}
	ix.mu.RUnlock()
	pqs := fusion.PseudoQueries(docs, cfg.Docs, cfg.Seed, cfg.Kind)
	if len(pqs) < fusion.MinCalibrationQueries {
		return fusion.Calibration{}, &fusion.TooFewError{N: len(pqs)}
	}
	qtexts := make([]string, len(pqs))
	rests := make([]string, len(pqs))
	for i, p := range pqs {
		qtexts[i], rests[i] = p.Query, p.Rest
	}
	te := time.Now()
	var qv, rv [][]float32
	var err error
	if len(pqs) > 0 {
		if qv, err = enc.EncodeQueries(ctx, qtexts); err != nil {
			return fusion.Calibration{}, err
		}
		if cfg.Kind != fusion.PseudoSpan {
			if rv, err = enc.EncodePassages(ctx, rests); err != nil {
				return fusion.Calibration{}, err
			}
		}
	}
	encode := time.Since(te)
	if len(qv) != len(pqs) || cfg.Kind != fusion.PseudoSpan && len(rv) != len(pqs) {
		return fusion.Calibration{}, errors.New("search: calibration: the encoder returned the wrong number of vectors")
	}
	depth := fusion.Candidates(10)
	probes := make([]fusion.Probe[string], len(pqs))
	ix.mu.RLock()
	st := ix.st
	live := st.liveVector()
	notDead := func(n int) bool { return !st.dead.has(n) }
	dim := st.flat.Dim()
	for i := range qv {
		if len(qv[i]) != dim || cfg.Kind != fusion.PseudoSpan && len(rv[i]) != dim {
			ix.mu.RUnlock()
			return fusion.Calibration{}, errors.New("search: calibration: the encoder's dimension is not the index's")
		}
	}
	// One probe per pseudo-query, on every core.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(runtime.GOMAXPROCS(0), len(pqs))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= len(pqs) {
					return
				}
				p := pqs[i]
				terms := st.bm.Analyze(p.Query)
				var bl []fusion.Ranked[string]
				for _, h := range st.bm.SearchTerms(terms, depth, notDead) {
					bl = append(bl, fusion.Ranked[string]{ID: h.ID, Score: h.Score})
				}
				q := search.Normalized(qv[i])
				var dl []fusion.Ranked[string]
				for _, r := range st.denseTop(depth, func(k int) []vector.Result { return st.flat.Search(q, k, live) }) {
					dl = append(dl, fusion.Ranked[string]{ID: st.docs[r.Index].ID, Score: float64(r.Score)})
				}
				if cfg.Kind != fusion.PseudoSpan {
					removed := terms
					if p.Removed != p.Query {
						removed = st.bm.Analyze(p.Removed)
					}
					s := st.bm.ScoreWithout(terms, st.byID[p.DocID], removed)
					bl = fusion.Substitute(bl, p.DocID, s, s > 0, depth)
					r := search.Normalized(rv[i])
					var dot float32
					for j := range q {
						dot += q[j] * r[j]
					}
					dl = fusion.Substitute(dl, p.DocID, float64(dot), true, depth)
				}
				probes[i] = fusion.Probe[string]{Relevant: []string{p.DocID}, BM25: bl, Dense: dl}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		ix.mu.RUnlock()
		return fusion.Calibration{}, err
	}
	ix.mu.RUnlock()
	cal := fusion.Calibrate(probes, cfg.Options)
	cal.Source, cal.Queries, cal.Seed = "pseudo-queries", cfg.Kind, cfg.Seed
	cal.TookMS = float64(time.Since(t0).Microseconds()) / 1000
	cal.EncodeMS = float64(encode.Microseconds()) / 1000
	return cal, nil
}

// SetCalibration makes c the index's hybrid default (nil: none, the
// package defaults). It is kept in Options, so the next Save or Compact
// writes it into the manifest, and a Builder's Finish when set from its
// BeforeWrite.
func (ix *Index) SetCalibration(c *fusion.Calibration) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.opts.Calibration = c
}

// Calibration is the index's stored calibration, nil when it has none.
func (ix *Index) Calibration() *fusion.Calibration {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.opts.Calibration
}

// CalibrateLabelled chooses the index's hybrid fusion on labelled queries
// (kormed index --dev): each is searched with BM25 and the dense index as
// Search would, and fusion.Calibrate measures every setting on them. With the
// users' own queries there is no minimum margin (o.Margin 0 means none
// here); the one-standard-error guard stays.
func (ix *Index) CalibrateLabelled(ctx context.Context, enc search.Encoder, qs []fusion.LabelledQuery, o fusion.CalibrateOptions) (fusion.Calibration, error) {
	t0 := time.Now()
	ix.mu.RLock()
	hasDense := ix.st.flat != nil
	ix.mu.RUnlock()
	if !hasDense {
		return fusion.Calibration{}, ErrNoDenseModel
	}
	texts := make([]string, len(qs))
	for i, q := range qs {
		texts[i] = q.Text
	}
	var qv [][]float32
	if len(qs) > 0 {
		var err error
		if qv, err = enc.EncodeQueries(ctx, texts); err != nil {
			return fusion.Calibration{}, err
		}
	}
	encode := time.Since(t0)
	depth := fusion.Candidates(10)
	probes := make([]fusion.Probe[string], len(qs))
	ix.mu.RLock()
	st := ix.st
	live := st.liveVector()
	notDead := func(n int) bool { return !st.dead.has(n) }
	for i, lq := range qs {
		if err := ctx.Err(); err != nil {
			ix.mu.RUnlock()
			return fusion.Calibration{}, err
		}
		q := search.Normalized(qv[i])
		if len(q) != st.flat.Dim() {
			ix.mu.RUnlock()
			return fusion.Calibration{}, errors.New("search: calibration: the encoder's dimension is not the index's")
		}
		p := fusion.Probe[string]{Relevant: lq.Relevant}
		for _, h := range st.bm.SearchTerms(st.bm.Analyze(lq.Text), depth, notDead) {
			p.BM25 = append(p.BM25, fusion.Ranked[string]{ID: h.ID, Score: h.Score})
		}
		for _, r := range st.denseTop(depth, func(k int) []vector.Result { return st.flat.Search(q, k, live) }) {
			p.Dense = append(p.Dense, fusion.Ranked[string]{ID: st.docs[r.Index].ID, Score: float64(r.Score)})
		}
		probes[i] = p
	}
	ix.mu.RUnlock()
	if o.Margin == 0 {
		o.Margin = -1
	}
	cal := fusion.Calibrate(probes, o)
	cal.Source = "labelled queries"
	cal.TookMS = float64(time.Since(t0).Microseconds()) / 1000
	cal.EncodeMS = float64(encode.Microseconds()) / 1000
	return cal, nil
}

// liveVector is the live documents as a vector.Bitset for the dense
// search's filter, nil when none is dead (no filter).
func (st *state) liveVector() *vector.Bitset {
	if st.ndead == 0 {
		return nil
	}
	b := newBitset(len(st.docs))
	b.fill(len(st.docs))
	b.andNot(st.dead)
	return b.vector(len(st.docs))
}
