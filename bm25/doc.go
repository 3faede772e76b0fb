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
