// Package fusion combines ranked lists from several retrievers into one
// ranking and chooses how to combine them.
//
// RRF (reciprocal-rank fusion) and RelativeScore (min-max normalised
// score fusion, Weaviate's relativeScoreFusion) fuse lists of Ranked
// documents, each weighted; Before is the one order of kormed's rankings
// (score descending, then key descending), which every fused list and
// every retriever's list follows. The documents are keyed by any ordered
// type: the search service and kormed eval key them by their string ids,
// an engine may key them by integer document numbers (int32, int) with no
// round-trip through strings; ties then order by the key.
//
// Calibrate chooses the fusion method and the dense weight alpha from
// probes — queries with the documents they should find and each
// retriever's list for them — by NDCG@10 with a one-standard-error guard.
// The probes come from labelled queries or, without labels, from
// PseudoQueries made out of the corpus itself. Everything here is pure and
// deterministic: the same lists give the same fused scores and order to
// the bit, and the same probes the same choice.
//
// Worked example of a hybrid search's fusion, weights bm25 0.25, dense
// 0.75 (alpha 0.75), RRF with k = 60:
//
//	bm25:  A (12.1), B (9.0), C (3.2)
//	dense: B (0.91), C (0.88), D (0.80)
//
//	A: 0.25/61                 = 0.004098
//	B: 0.25/62 + 0.75/61       = 0.016327
//	C: 0.25/63 + 0.75/62       = 0.016065
//	D:           0.75/63       = 0.011905
//
//	fused: B, C, D, A
package fusion
