package eval

import (
	"context"
	"fmt"
	"time"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/metrics"
	"github.com/kormed/kormed/search"
)

// Calibrate says how a Hybrid without a fixed setting chooses one:
// package search's Calibrate over pseudo-queries made from the corpus
// (Kind, N documents, Seed), or over labelled Dev queries when given.
type Calibrate struct {
	Kind string // search.PseudoICT (default), PseudoTitle, PseudoSpan
	N    int    // documents sampled (default search.DefaultCalibrationDocs)
	Seed uint64
	// Dev and DevQrels are labelled queries to tune on instead.
	Dev      []dataset.Query
	DevQrels dataset.Qrels
	Options  search.CalibrateOptions
}

// Calibrate chooses the fusion of the base's two retrievers (indexed
// first) as c says.
func (b *HybridBase) Calibrate(ctx context.Context, c Calibrate) (search.Calibration, error) {
	t0 := time.Now()
	if !b.indexed || b.BM25.ix == nil || b.Dense == nil {
		return search.Calibration{}, fmt.Errorf("hybrid: Calibrate before Index")
	}
	depth := search.Candidates(10)
	var probes []search.Probe
	var encode time.Duration
	var cal search.Calibration
	if len(c.Dev) > 0 {
		var qs []dataset.Query
		for _, q := range c.Dev {
			if metrics.NumRelevant(c.DevQrels[q.ID]) > 0 {
				qs = append(qs, q)
			}
		}
		if len(qs) == 0 {
			return cal, fmt.Errorf("hybrid: calibration: no dev query has a relevant document")
		}
		bm := b.BM25
		te := time.Now()
		dr := &Dense{Enc: b.Dense.Enc, docs: b.Dense.docs, dim: b.Dense.dim}
		drun, err := dr.Search(ctx, qs, depth)
		if err != nil {
			return cal, err
		}
		encode = time.Since(te)
		brun, err := bm.Search(ctx, qs, depth)
		if err != nil {
			return cal, err
		}
		for _, q := range qs {
			p := search.Probe{BM25: ranked(brun[q.ID]), Dense: ranked(drun[q.ID])}
			for id, g := range c.DevQrels[q.ID] {
				if g > 0 {
					p.Relevant = append(p.Relevant, id)
				}
			}
			probes = append(probes, p)
		}
		o := c.Options
		if o.Margin == 0 {
			o.Margin = -1 // the users' own queries: the standard error alone
		}
		cal = search.Calibrate(probes, o)
		cal.Source = "labelled queries"
	} else {
		kind := c.Kind
		if kind == "" {
			kind = search.PseudoICT
		}
		n := c.N
		if n <= 0 {
			n = search.DefaultCalibrationDocs
		}
		docs := make([]search.Doc, len(b.corpus))
		for i, d := range b.corpus {
			docs[i] = search.Doc{ID: d.ID, Title: d.Title, Text: d.Text}
		}
		pqs := search.PseudoQueries(docs, n, c.Seed, kind)
		if len(pqs) < search.MinCalibrationQueries {
			return cal, fmt.Errorf("hybrid: %w; pass --alpha (and --fusion) or --dev", &search.TooFewError{N: len(pqs)})
		}
		qtexts := make([]string, len(pqs))
		rests := make([]string, len(pqs))
		for i, p := range pqs {
			qtexts[i], rests[i] = p.Query, p.Rest
		}
		te := time.Now()
		qv, err := b.Dense.Enc.EncodeQueries(ctx, qtexts)
		if err != nil {
			return cal, err
		}
		qs, dim, err := flatten(qv, len(pqs), "query")
		if err != nil {
			return cal, err
		}
		var rs []float32
		if kind != search.PseudoSpan {
			rv, err := b.Dense.Enc.EncodePassages(ctx, rests)
			if err != nil {
				return cal, err
			}
			if rs, _, err = flatten(rv, len(pqs), "document"); err != nil {
				return cal, err
			}
		}
		encode = time.Since(te)
		dhits, err := b.Dense.docs.search(ctx, qs, dim, depth)
		if err != nil {
			return cal, err
		}
		ix := b.BM25.ix
		num := make(map[string]int, len(b.corpus)) // BM25's document numbers
		for i, d := range b.corpus {
			num[d.ID] = i
		}
		probes = make([]search.Probe, len(pqs))
		err = parallel(ctx, len(pqs), func(i int) {
			p := pqs[i]
			terms := ix.Analyze(p.Query)
			var bl []search.Ranked
			for _, h := range ix.SearchTerms(terms, depth, nil) {
				bl = append(bl, search.Ranked{ID: h.ID, Score: h.Score})
			}
			dl := ranked(dhits[i])
			if kind != search.PseudoSpan {
				removed := terms
				if p.Removed != p.Query {
					removed = ix.Analyze(p.Removed)
				}
				s := ix.ScoreWithout(terms, num[p.DocID], removed)
				bl = search.Substitute(bl, p.DocID, s, s > 0, depth)
				var dot float32
				for j := 0; j < dim; j++ {
					dot += qs[i*dim+j] * rs[i*dim+j]
				}
				dl = search.Substitute(dl, p.DocID, float64(dot), true, depth)
			}
			probes[i] = search.Probe{Relevant: []string{p.DocID}, BM25: bl, Dense: dl}
		})
		if err != nil {
			return cal, err
		}
		cal = search.Calibrate(probes, c.Options)
		cal.Source, cal.Queries, cal.Seed = "pseudo-queries", kind, c.Seed
	}
	cal.TookMS = float64(time.Since(t0).Microseconds()) / 1000
	cal.EncodeMS = float64(encode.Microseconds()) / 1000
	return cal, nil
}

func ranked(hs []metrics.Hit) []search.Ranked {
	out := make([]search.Ranked, len(hs))
	for i, h := range hs {
		out[i] = search.Ranked{ID: h.ID, Score: h.Score}
	}
	return out
}
