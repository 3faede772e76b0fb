package search

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kormed/kormed/vector"
)

// CalibrateConfig says how Index.Calibrate samples the corpus; the zero
// value is the default (300 inverse-cloze pseudo-queries, seed 1).
type CalibrateConfig struct {
	Kind    string // PseudoICT (default), PseudoTitle or PseudoSpan
	Docs    int    // documents sampled; DefaultCalibrationDocs when 0
	Seed    uint64 // 0 means 1
	Options CalibrateOptions
}

// ErrNoDenseModel is Calibrate on a BM25-only index: there is nothing to
// fuse.
var ErrNoDenseModel = errors.New("search: calibration needs a dense model; this index is BM25 only")

// MinCalibrationQueries is the fewest pseudo-queries calibration decides
// on; a smaller corpus (or one of one-sentence documents) keeps the
// built-in default.
const MinCalibrationQueries = 10

// TooFewError is Calibrate on a corpus that gives too few pseudo-queries.
type TooFewError struct{ N int }

func (e *TooFewError) Error() string {
	return fmt.Sprintf("search: calibration: only %d documents could make a pseudo-query (at least %d needed: documents of two sentences or more)", e.N, MinCalibrationQueries)
}

// Calibrate chooses the index's hybrid fusion without labels: it makes
// pseudo-queries from a seeded sample of its live documents
// (PseudoQueries), runs each through BM25 and the dense index (exact
// scan) as Search would, with the source document re-scored on what is
// left of it once the query is taken out (BM25 by bm25.Index.ScoreWithout,
// dense by enc's embedding of the rest; other documents keep their
// indexed scores), and measures every setting of CalibrationGrid on them
// (Calibrate, the package function). enc must be the index's model. The
// result is deterministic for the documents and seed; store it with
// SetCalibration.
func (ix *Index) Calibrate(ctx context.Context, enc Encoder, cfg CalibrateConfig) (Calibration, error) {
	t0 := time.Now()
	if cfg.Kind == "" {
		cfg.Kind = PseudoICT
	}
	if cfg.Docs <= 0 {
		cfg.Docs = DefaultCalibrationDocs
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	ix.mu.RLock()
	if ix.st.flat == nil {
		ix.mu.RUnlock()
		return Calibration{}, ErrNoDenseModel
	}
	docs := make([]Doc, 0, len(ix.st.docs)-ix.st.ndead)
	for n, d := range ix.st.docs {
		if !ix.st.dead.has(n) {
			docs = append(docs, Doc{ID: d.ID, Title: d.Title, Text: d.Text})
		}
	}
	ix.mu.RUnlock()
	pqs := PseudoQueries(docs, cfg.Docs, cfg.Seed, cfg.Kind)
	if len(pqs) < MinCalibrationQueries {
		return Calibration{}, &TooFewError{len(pqs)}
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
			return Calibration{}, err
		}
		if cfg.Kind != PseudoSpan {
			if rv, err = enc.EncodePassages(ctx, rests); err != nil {
				return Calibration{}, err
			}
		}
	}
	encode := time.Since(te)
	if len(qv) != len(pqs) || cfg.Kind != PseudoSpan && len(rv) != len(pqs) {
		return Calibration{}, errors.New("search: calibration: the encoder returned the wrong number of vectors")
	}
	depth := Candidates(10)
	probes := make([]Probe, len(pqs))
	ix.mu.RLock()
	st := ix.st
	live := st.liveVector()
	notDead := func(n int) bool { return !st.dead.has(n) }
	dim := st.flat.Dim()
	for i := range qv {
		if len(qv[i]) != dim || cfg.Kind != PseudoSpan && len(rv[i]) != dim {
			ix.mu.RUnlock()
			return Calibration{}, errors.New("search: calibration: the encoder's dimension is not the index's")
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
				var bl []Ranked
				for _, h := range st.bm.SearchTerms(terms, depth, notDead) {
					bl = append(bl, Ranked{ID: h.ID, Score: h.Score})
				}
				q := Normalized(qv[i])
				var dl []Ranked
				for _, r := range st.denseTop(depth, func(k int) []vector.Result { return st.flat.Search(q, k, live) }) {
					dl = append(dl, Ranked{ID: st.docs[r.Index].ID, Score: float64(r.Score)})
				}
				if cfg.Kind != PseudoSpan {
					removed := terms
					if p.Removed != p.Query {
						removed = st.bm.Analyze(p.Removed)
					}
					s := st.bm.ScoreWithout(terms, st.byID[p.DocID], removed)
					bl = Substitute(bl, p.DocID, s, s > 0, depth)
					r := Normalized(rv[i])
					var dot float32
					for j := range q {
						dot += q[j] * r[j]
					}
					dl = Substitute(dl, p.DocID, float64(dot), true, depth)
				}
				probes[i] = Probe{Relevant: []string{p.DocID}, BM25: bl, Dense: dl}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		ix.mu.RUnlock()
		return Calibration{}, err
	}
	ix.mu.RUnlock()
	cal := Calibrate(probes, cfg.Options)
	cal.Source, cal.Queries, cal.Seed = "pseudo-queries", cfg.Kind, cfg.Seed
	cal.TookMS = float64(time.Since(t0).Microseconds()) / 1000
	cal.EncodeMS = float64(encode.Microseconds()) / 1000
	return cal, nil
}

// SetCalibration makes c the index's hybrid default (nil: none, the
// package defaults). It is kept in Options, so the next Save or Compact
// writes it into the manifest, and a Builder's Finish when set from its
// BeforeWrite.
func (ix *Index) SetCalibration(c *Calibration) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	ix.opts.Calibration = c
}

// Calibration is the index's stored calibration, nil when it has none.
func (ix *Index) Calibration() *Calibration {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.opts.Calibration
}

// FusionDefaults are the hybrid defaults a calibration sets: alpha, fusion
// and RRF's k (RRFK when the fusion is relative or k was not set).
func (c *Calibration) FusionDefaults() (alpha float64, fusion string, k float64) {
	k = c.K
	if k == 0 {
		k = RRFK
	}
	return c.Alpha, c.Fusion, k
}

// LabelledQuery is a query with the documents it should find.
type LabelledQuery struct {
	Text     string
	Relevant []string
}

// CalibrateLabelled chooses the index's hybrid fusion on labelled queries
// (kormed index --dev): each is searched with BM25 and the dense index as
// Search would, and Calibrate measures every setting on them. With the
// users' own queries there is no minimum margin (o.Margin 0 means none
// here); the one-standard-error guard stays.
func (ix *Index) CalibrateLabelled(ctx context.Context, enc Encoder, qs []LabelledQuery, o CalibrateOptions) (Calibration, error) {
	t0 := time.Now()
	ix.mu.RLock()
	hasDense := ix.st.flat != nil
	ix.mu.RUnlock()
	if !hasDense {
		return Calibration{}, ErrNoDenseModel
	}
	texts := make([]string, len(qs))
	for i, q := range qs {
		texts[i] = q.Text
	}
	var qv [][]float32
	if len(qs) > 0 {
		var err error
		if qv, err = enc.EncodeQueries(ctx, texts); err != nil {
			return Calibration{}, err
		}
	}
	encode := time.Since(t0)
	depth := Candidates(10)
	probes := make([]Probe, len(qs))
	ix.mu.RLock()
	st := ix.st
	live := st.liveVector()
	notDead := func(n int) bool { return !st.dead.has(n) }
	for i, lq := range qs {
		if err := ctx.Err(); err != nil {
			ix.mu.RUnlock()
			return Calibration{}, err
		}
		q := Normalized(qv[i])
		if len(q) != st.flat.Dim() {
			ix.mu.RUnlock()
			return Calibration{}, errors.New("search: calibration: the encoder's dimension is not the index's")
		}
		p := Probe{Relevant: lq.Relevant}
		for _, h := range st.bm.SearchTerms(st.bm.Analyze(lq.Text), depth, notDead) {
			p.BM25 = append(p.BM25, Ranked{ID: h.ID, Score: h.Score})
		}
		for _, r := range st.denseTop(depth, func(k int) []vector.Result { return st.flat.Search(q, k, live) }) {
			p.Dense = append(p.Dense, Ranked{ID: st.docs[r.Index].ID, Score: float64(r.Score)})
		}
		probes[i] = p
	}
	ix.mu.RUnlock()
	if o.Margin == 0 {
		o.Margin = -1
	}
	cal := Calibrate(probes, o)
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
