package eval

import (
	"context"
	"fmt"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/metrics"
)

// Hybrid fuses a BM25 run and a dense run per query, exactly as the search
// service does (package fusion's RRF or relative-score fusion over each
// retriever's top fusion.Candidates(k), weight Alpha on the dense side),
// so fusion settings are measured like any retriever.
//
// Several Hybrid retrievers may share one Base: the corpus is indexed and
// the two runs are made once, and each Hybrid only fuses.
type Hybrid struct {
	Base   *HybridBase
	Alpha  float64
	Fusion string  // fusion.MethodRRF or fusion.MethodRelative
	K      float64 // RRF's k; 0 is fusion.RRFK
	// Calibrate, when set, has Search choose Alpha, Fusion and K first
	// (HybridBase.Calibrate) and keep what it chose in Calibration.
	Calibrate   *Calibrate
	Calibration *fusion.Calibration
}

// HybridBase holds the two retrievers of one or more Hybrid runs.
type HybridBase struct {
	BM25  *BM25
	Dense *Dense

	indexed bool
	corpus  []dataset.Doc // for calibration's pseudo-queries
	depth   int
	runs    [2]map[string][]metrics.Hit
	queries []dataset.Query
}

// Index indexes the corpus with both retrievers, once per base.
func (h *Hybrid) Index(ctx context.Context, corpus []dataset.Doc) error {
	b := h.Base
	if b.indexed {
		return nil
	}
	if err := b.BM25.Index(ctx, corpus); err != nil {
		return err
	}
	if err := b.Dense.Index(ctx, corpus); err != nil {
		return err
	}
	b.indexed = true
	b.corpus = corpus
	return nil
}

// Search runs both retrievers (once per base and query set) and fuses.
func (h *Hybrid) Search(ctx context.Context, queries []dataset.Query, k int) (map[string][]metrics.Hit, error) {
	b := h.Base
	if h.Calibrate != nil && h.Calibration == nil {
		cal, err := b.Calibrate(ctx, *h.Calibrate)
		if err != nil {
			return nil, err
		}
		h.Calibration = &cal
		h.Alpha, h.Fusion, h.K = cal.Alpha, cal.Fusion, cal.K
	}
	if h.Fusion != fusion.MethodRRF && h.Fusion != fusion.MethodRelative {
		return nil, fmt.Errorf("hybrid: fusion %q, want rrf or relative", h.Fusion)
	}
	depth := fusion.Candidates(k)
	if b.runs[0] == nil || b.depth != depth || !sameQueries(b.queries, queries) {
		var err error
		if b.runs[0], err = b.BM25.Search(ctx, queries, depth); err != nil {
			return nil, err
		}
		if b.runs[1], err = b.Dense.Search(ctx, queries, depth); err != nil {
			return nil, err
		}
		b.depth, b.queries = depth, queries
	}
	out := make(map[string][]metrics.Hit, len(queries))
	for _, q := range queries {
		lists := make([][]fusion.Ranked[string], 2)
		for i, run := range b.runs {
			for _, x := range run[q.ID] {
				lists[i] = append(lists[i], fusion.Ranked[string]{ID: x.ID, Score: x.Score})
			}
		}
		w := []float64{1 - h.Alpha, h.Alpha}
		var fused []fusion.Fused[string]
		if h.Fusion == fusion.MethodRelative {
			fused = fusion.RelativeScore(lists, w)
		} else {
			k := h.K
			if k == 0 {
				k = fusion.RRFK
			}
			fused = fusion.RRF(lists, w, k)
		}
		if len(fused) > k {
			fused = fused[:k]
		}
		hits := make([]metrics.Hit, len(fused))
		for i, f := range fused {
			hits[i] = metrics.Hit{ID: f.ID, Score: f.Score}
		}
		out[q.ID] = hits
	}
	return out, nil
}

func sameQueries(a, b []dataset.Query) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Text != b[i].Text {
			return false
		}
	}
	return true
}
