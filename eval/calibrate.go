package eval

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/metrics"
)

// Calibrate says how a Hybrid without a fixed setting chooses one:
// package fusion's Calibrate over pseudo-queries made from the corpus
// (Kind, N documents, Seed), or over labelled Dev queries when given.
type Calibrate struct {
	Kind string // fusion.PseudoICT (default), PseudoTitle, PseudoSpan
	N    int    // documents sampled (default fusion.DefaultCalibrationDocs)
	Seed uint64
	// Dev and DevQrels are labelled queries to tune on instead.
	Dev      []dataset.Query
	DevQrels dataset.Qrels
	Options  fusion.CalibrateOptions
}

// Calibrate chooses the fusion of the base's two retrievers (indexed
// first) as c says.
func (b *HybridBase) Calibrate(ctx context.Context, c Calibrate) (fusion.Calibration, error) {
	t0 := time.Now()
	if !b.indexed || b.BM25.ix == nil || b.Dense == nil {
		return fusion.Calibration{}, fmt.Errorf("hybrid: Calibrate before Index")
	}
	depth := fusion.Candidates(10)
	var probes []fusion.Probe[string]
	var encode time.Duration
	var cal fusion.Calibration
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
			p := fusion.Probe[string]{BM25: ranked(brun[q.ID]), Dense: ranked(drun[q.ID])}
			for id, g := range c.DevQrels[q.ID] {
				if g > 0 {
					p.Relevant = append(p.Relevant, id)
				}
			}
			sort.Strings(p.Relevant) // map order would change NDCG's sum in its last bits from run to run
			probes = append(probes, p)
		}
		o := c.Options
		if o.Margin == 0 {
			o.Margin = -1 // the users' own queries: the standard error alone
		}
		cal = fusion.Calibrate(probes, o)
		cal.Source = "labelled queries"
	} else {
		kind := c.Kind
		if kind == "" {
			kind = fusion.PseudoICT
		}
		n := c.N
		if n <= 0 {
			n = fusion.DefaultCalibrationDocs
		}
		docs := make([]fusion.Doc, len(b.corpus))
		for i, d := range b.corpus {
			docs[i] = fusion.Doc{ID: d.ID, Title: d.Title, Text: d.Text}
		}
		pqs := fusion.PseudoQueries(docs, n, c.Seed, kind)
		if len(pqs) < fusion.MinCalibrationQueries {
			return cal, fmt.Errorf("hybrid: %w; pass --alpha (and --fusion) or --dev", &fusion.TooFewError{N: len(pqs)})
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
		if kind != fusion.PseudoSpan {
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
		probes = make([]fusion.Probe[string], len(pqs))
		err = parallel(ctx, len(pqs), func(i int) {
			p := pqs[i]
			terms := ix.Analyze(p.Query)
			var bl []fusion.Ranked[string]
			for _, h := range ix.SearchTerms(terms, depth, nil) {
				bl = append(bl, fusion.Ranked[string]{ID: h.ID, Score: h.Score})
			}
			dl := ranked(dhits[i])
			if kind != fusion.PseudoSpan {
				removed := terms
				if p.Removed != p.Query {
					removed = ix.Analyze(p.Removed)
				}
				s := ix.ScoreWithout(terms, num[p.DocID], removed)
				bl = fusion.Substitute(bl, p.DocID, s, s > 0, depth)
				var dot float32
				for j := 0; j < dim; j++ {
					dot += qs[i*dim+j] * rs[i*dim+j]
				}
				dl = fusion.Substitute(dl, p.DocID, float64(dot), true, depth)
			}
			probes[i] = fusion.Probe[string]{Relevant: []string{p.DocID}, BM25: bl, Dense: dl}
		})
		if err != nil {
			return cal, err
		}
		cal = fusion.Calibrate(probes, c.Options)
		cal.Source, cal.Queries, cal.Seed = "pseudo-queries", kind, c.Seed
	}
	cal.TookMS = float64(time.Since(t0).Microseconds()) / 1000
	cal.EncodeMS = float64(encode.Microseconds()) / 1000
	return cal, nil
}

func ranked(hs []metrics.Hit) []fusion.Ranked[string] {
	out := make([]fusion.Ranked[string], len(hs))
	for i, h := range hs {
		out[i] = fusion.Ranked[string]{ID: h.ID, Score: h.Score}
	}
	return out
}

// LabelledQueries are d's queries with a relevant document (grade > 0),
// each with its relevant document ids sorted, in query order: labelled
// queries for search's Index.CalibrateLabelled.
func LabelledQueries(d *dataset.Dataset) []fusion.LabelledQuery {
	var qs []fusion.LabelledQuery
	for _, q := range d.Queries {
		lq := fusion.LabelledQuery{Text: q.Text}
		for id, g := range d.Qrels[q.ID] {
			if g > 0 {
				lq.Relevant = append(lq.Relevant, id)
			}
		}
		if len(lq.Relevant) > 0 {
			sort.Strings(lq.Relevant)
			qs = append(qs, lq)
		}
	}
	return qs
}
