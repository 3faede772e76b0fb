// Package weaviate is kormed's scale-out search backend: a search.Backend
// over a Weaviate (v1.35) collection, through the official Go client
// (github.com/weaviate/weaviate-go-client/v5, REST and GraphQL; no gRPC).
//
// One index is one Weaviate class with vectorizer "none": kormed computes
// the vectors (documents and queries, L2-normalised, cosine distance) and
// Weaviate stores and searches them. The class holds
//
//   - doc_id: the kormed document id (the object id is ObjectID(doc_id), a
//     UUID v5, so an upsert of the same id replaces the object);
//   - title, text: stored for hits and Get, not indexed;
//   - terms: what kormed's BM25 indexes, the index's analyzer (package
//     analysis, e.g. union: bigrams and morphemes) over
//     fusion.DocText(title, text), joined by spaces, with whitespace
//     tokenization: Weaviate's BM25 searches this property alone;
//   - f_<field>: one text[] property per keyword field with "field"
//     tokenization, for exact-match filters (see encodeField for the names);
//   - dur_types: the DUR types (text[], field tokenization) for ExcludeDUR,
//     and dur_json: the full []dur.Flag as JSON, not indexed;
//
// and its description records, as JSON, the index's embedding model
// (search.Info's Model), so that Open refuses a class built with another
// model, the analyzer and its version (search.Info's Analyzer; Open
// refuses one this build lacks or has changed since), and the hybrid
// fusion's calibration kormed index measured on the index
// (SetCalibration), which Calibration gives search.Service as its hybrid
// default and Reload re-reads. The class's invertedIndexConfig sets BM25's
// k1 and b to kormed's (package bm25's defaults, or the embedded index's:
// Options.K1, B) and the stopword preset to none.
//
// Searches map onto Weaviate's: bm25 is a BM25 query on terms with the
// query analysed by the same analyzer (its terms joined by spaces), dense
// a nearVector query, hybrid Weaviate's hybrid query with that BM25 query,
// our vector, alpha and fusionType (rankedFusion for rrf,
// relativeScoreFusion for relative). Filters and ExcludeDUR become a where
// filter, which Weaviate applies inside every search (as an allow list
// before ranking, also in both halves of a hybrid search), so a filtered
// search still returns k hits when k documents match.
//
// With kormed doing the analysis on both sides, Weaviate's BM25 is package
// bm25's (the embedded index's): the same idf, ln(1 + (N - df + 0.5) /
// (df + 0.5)), the same length normalisation over all terms, a repeated
// query term counted as often as it occurs, no stopwords, no case folding
// of Weaviate's own (whitespace tokenization keeps a term as it is; the
// analyzer lower-cases) and no term length limit. Weaviate's term weight
// leaves out the constant factor k1 + 1, so bm25 scores are multiplied by
// it here. What remains different: the order of tied scores (package bm25
// puts the larger document id first, Weaviate its own object order),
// float32 scores (equal to about 1e-6), after updates and deletes
// Weaviate's document frequencies and counts can include replaced objects
// until its segments are compacted, and Weaviate 1.35.2's BlockMax WAND
// can skip a document whose best-scoring query term occurs in that
// document alone within its segment (the term's block gets no upper bound;
// weaviate/weaviate#11779), even with a larger limit. On the drug
// benchmark's 861 test queries the top 10 is the same in 647, differs only
// in the order of tied scores (or which tied documents make rank 10) in
// 205 and misses a document in 9; NDCG@10 differs by 0.02.
//
// A legacy class (metadata version 1, written by kormed before it did the
// analysis) has title and text tokenized by Weaviate's kagome_kr
// (LegacyAnalyzer) and Weaviate's default BM25 settings; it still opens
// and searches as then (BM25 on title and text), unless Options.Analyzer
// asks for kormed's analyzer, which it refuses: re-run kormed index
// --backend weaviate into a new class to get kormed's ranking.
//
// # Clusters
//
// Open takes one node URL or several, comma-separated. Every request of
// the client (REST and GraphQL) goes through one http.RoundTripper
// (failover) that sends it to the current node and moves round-robin to
// the next one when the node cannot be reached (refused, dial timeout of
// Options.DialTimeout, 2s by default with several URLs; a broken
// connection) or answers 502, 503 or 504; Backend.Node is the current
// node. Other answers, 4xx and 5xx, are not retried: they are the
// cluster's answer, a replication error included (another coordinator
// would see the same replicas). Retrying is safe because every write is
// idempotent: upserts write whole objects under ObjectID(doc id), deletes
// delete by id, and a lost answer to a schema change is read back.
//
// A created class gets Options.Shards shards (0: DefaultShards, one) and
// Options.Replicas replicas (0: min(3, nodes in the cluster), so 1 on a
// single node); a replicated class also gets asyncEnabled (a node that
// was away catches up in the background) and the TimeBasedResolution
// deletion strategy (the later of a delete and a write wins). Delete
// stamps its tombstones with the client's clock (deletionTimeUnixMilli,
// which the Go client does not send): a tombstone without a time loses
// to any write, so documents deleted while a replica was away came back
// on every node when it returned. An existing
// class is taken with its layout unless an explicit Shards or Replicas
// differs, which Open refuses.
//
// Options.Consistency (ONE, QUORUM by default, ALL) goes with batch
// writes, batch deletes and object GETs. Searches and the id listing
// (GraphQL Get) read at ONE on a replicated class: Weaviate searches one
// replica per shard whatever the level, and at QUORUM or ALL it then
// checks the hits against the other replicas and "repairs" a stale one
// with the hit as the search fetched it (selected properties, no
// vector), which truncated objects for good on a node back from a crash
// (readArg). An object missing from the searched replica is not found by
// that search until asynchronous replication brings it. Aggregate
// (Info's count and DUR types, Facets) takes no level.
//
// Weaviate 1.35 with AUTOSCHEMA_ENABLED=false (scripts/weaviate.sh) sends
// replicas no schema version with writes, so a replica behind on a just
// created class or property refuses the objects ("could not find index
// for class", "no bucket for prop": Upsert resends them) or, worse,
// leaves them out of its BM25 and filter indexes. Hence, after creating
// a class or adding keyword-field properties, the backend waits until
// every node of its URLs has them in its own schema and, on a replicated
// class, PropertySettle (2s) more before writing; list every node of a
// cluster. The cluster conformance test (KORMED_WEAVIATE_CLUSTER_URLS)
// probes each node's BM25 for every upserted document.
//
// Weaviate 1.35 writes a shard's write-ahead logs before the vectors of
// the batch are in its vector index's buffer, so a node killed after a
// batch comes back without those vectors in its index, for good; Upsert
// sends its last batch with vectors a second time, which Weaviate skips
// as unchanged but whose log write makes the vectors before it durable
// (flushVectors).
package weaviate
