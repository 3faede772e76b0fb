package fusion

import (
	"cmp"
	"math"
	"sort"
)

// Ranked is one retriever's result: a document, keyed by K, and its raw
// score, the list ordered best first.
type Ranked[K cmp.Ordered] struct {
	ID    K
	Score float64
}

// Fused is one document after fusion: its fused score and, for each input
// list, its 1-based rank and raw score there (rank 0: not in that list).
type Fused[K cmp.Ordered] struct {
	ID     K
	Score  float64
	Ranks  []int
	Scores []float64
}

// Fusion methods, as a hybrid search request and a Calibration name them.
const (
	MethodRRF      = "rrf"      // reciprocal-rank fusion (RRF)
	MethodRelative = "relative" // relative-score fusion (RelativeScore)
)

// Candidates is how many hits each retriever contributes to a hybrid
// search for k results: enough that a document ranked low by one
// retriever and high by the other is still fused.
func Candidates(k int) int { return max(4*k, 100) }

// RRFK is the rank constant of reciprocal-rank fusion (Cormack, Clarke and
// Büttcher, 2009; the value Weaviate, Elasticsearch and OpenSearch use).
const RRFK = 60

// RRF fuses ranked lists by reciprocal rank: a document's score is
// Σ_i w_i / (k + r_i) over the lists i where it has 1-based rank r_i. Raw
// scores are ignored, so lists on different scales (BM25, cosine) combine
// without normalisation. Results are ordered by fused score descending,
// then ID descending (Before).
//
// Worked example, k = 60, weights bm25 0.25, dense 0.75 (alpha 0.75):
//
//	bm25:  A (12.1), B (9.0), C (3.2)
//	dense: B (0.91), C (0.88), D (0.80)
//
//	A: 0.25/61                 = 0.004098
//	B: 0.25/62 + 0.75/61       = 0.004032 + 0.012295 = 0.016327
//	C: 0.25/63 + 0.75/62       = 0.003968 + 0.012097 = 0.016065
//	D:           0.75/63       = 0.011905
//
//	fused: B, C, D, A
//
// Weaviate's rankedFusion computes w/(k + r − 1) with a 0-based rank r; the
// two differ only by that one-place offset.
func RRF[K cmp.Ordered](lists [][]Ranked[K], weights []float64, k float64) []Fused[K] {
	return fuse(lists, weights, func(_, rank int) float64 {
		return 1 / (k + float64(rank+1))
	})
}

// RelativeScore fuses ranked lists by their min-max normalised scores: in
// each list a score s becomes (s − min)/(max − min) (1 when all scores of
// the list are equal), and a document's fused score is Σ_i w_i · norm_i over
// the lists where it appears. Unlike RRF it keeps how far apart the scores
// are: a clear winner in one list stays a clear winner. This is Weaviate's
// relativeScoreFusion. Results are ordered by fused score descending, then
// ID descending (Before).
//
// Worked example, weights bm25 0.25, dense 0.75 (alpha 0.75):
//
//	bm25:  A (12.0), B (9.0), C (3.0)   → A 1, B 0.6667, C 0
//	dense: B (0.90), C (0.88), D (0.80) → B 1, C 0.8, D 0
//
//	A: 0.25·1                  = 0.25
//	B: 0.25·0.6667 + 0.75·1    = 0.9167
//	C: 0.25·0     + 0.75·0.8   = 0.6
//	D:              0.75·0     = 0
//
//	fused: B, C, A, D
func RelativeScore[K cmp.Ordered](lists [][]Ranked[K], weights []float64) []Fused[K] {
	lo := make([]float64, len(lists))
	span := make([]float64, len(lists))
	for i, l := range lists {
		if len(l) == 0 {
			continue
		}
		mn, mx := math.Inf(1), math.Inf(-1)
		for _, r := range l {
			mn = math.Min(mn, r.Score)
			mx = math.Max(mx, r.Score)
		}
		lo[i], span[i] = mn, mx-mn
	}
	return fuse(lists, weights, func(i, rank int) float64 {
		if span[i] == 0 {
			return 1
		}
		return (lists[i][rank].Score - lo[i]) / span[i]
	})
}

// fuse sums weights[i]·contrib(list i, rank) per document.
func fuse[K cmp.Ordered](lists [][]Ranked[K], weights []float64, contrib func(list, rank int) float64) []Fused[K] {
	at := make(map[K]int)
	var out []Fused[K]
	for i, l := range lists {
		w := 1.0
		if i < len(weights) {
			w = weights[i]
		}
		for r, x := range l {
			j, ok := at[x.ID]
			if !ok {
				j = len(out)
				at[x.ID] = j
				out = append(out, Fused[K]{ID: x.ID, Ranks: make([]int, len(lists)), Scores: make([]float64, len(lists))})
			}
			if out[j].Ranks[i] != 0 {
				continue // a repeated ID counts at its best rank only
			}
			out[j].Ranks[i] = r + 1
			out[j].Scores[i] = x.Score
			out[j].Score += w * contrib(i, r)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return Before(out[a].Score, out[a].ID, out[b].Score, out[b].ID) })
	return out
}

// Before reports whether a hit with score sa and id ida ranks before one
// with sb and idb. This is the one order of kormed's rankings: score
// descending, then id descending among equal scores — the order trec_eval
// ranks a run in (its comp_sim_docno), which package metrics and so
// kormed eval use, and pytrec_eval and BEIR's evaluation inherit. The
// search service (BM25, dense, either fusion), package bm25, the eval
// retrievers and metrics.Sort all rank ties this way, so a query gets the
// same ranking from kormed eval as from the service. Why this order and
// not id ascending: eval results are compared with trec_eval, pytrec_eval
// and BEIR runs, which rank ties so; metrics.Sort re-sorts any run so
// anyway, so only an order that agrees with it makes the service's
// ranking the one eval scores.
//
// Example: {a 0.5} {b 0.9} {c 0.5} rank b, c, a.
//
// With integer keys (document numbers) ties go to the larger number; a
// caller whose numbers do not follow its ids' order keys by id instead.
func Before[K cmp.Ordered](sa float64, ida K, sb float64, idb K) bool {
	if sa != sb {
		return sa > sb
	}
	return ida > idb
}
