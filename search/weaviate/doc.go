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
//   - title, text: tokenized with kagome_kr (Korean morphemes) for BM25;
//   - f_<field>: one text[] property per keyword field with "field"
//     tokenization, for exact-match filters (see encodeField for the names);
//   - dur_types: the DUR types (text[], field tokenization) for ExcludeDUR,
//     and dur_json: the full []dur.Flag as JSON, not indexed;
//
// and its description records, as JSON, the index's embedding model
// (search.Info's Model), so that Open refuses a class built with another
// model, and the hybrid fusion's calibration kormed index measured on the
// index (SetCalibration), which Calibration gives search.Service as its
// hybrid default and Reload re-reads.
//
// Searches map onto Weaviate's: bm25 is a BM25 query on title and text,
// dense a nearVector query, hybrid Weaviate's hybrid query with our vector,
// alpha and fusionType (rankedFusion for rrf, relativeScoreFusion for
// relative). Filters and ExcludeDUR become a where filter, which Weaviate
// applies inside every search (as an allow list before ranking, also in
// both halves of a hybrid search), so a filtered search still returns k
// hits when k documents match.
package weaviate
