// Package search is kormed's retrieval service core: documents with
// keyword metadata and DUR safety flags, searched by BM25, by dense
// vectors or by both fused (reciprocal-rank or relative-score fusion), with
// filters applied inside the search so that top-k stays full.
//
// A Backend holds the documents and runs one search: package
// search/embedded's Index is the default backend, search/weaviate
// the scale-out one, and package searchtest the conformance suite both
// pass. A Service sits above a Backend: it embeds queries and documents
// with the index's model, applies the DUR population rules and validates
// requests, so every backend answers the same API. The fusion methods and
// their calibration are package fusion's.
package search
