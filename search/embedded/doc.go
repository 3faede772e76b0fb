// Package embedded is search's in-process backend: an Index holds
// documents, a BM25 index (package bm25) and a dense index (package
// vector: exact, int8, bf16 or HNSW) side by side in memory and answers
// search.Query with the hybrid fusion of package fusion.
//
// An Index opened from a directory (Open) is durable: each generation's
// files (docs.jsonl, bm25.idx, vectors.bin, hnsw.bin) never change once
// the manifest (index.json) names them, every write is appended to the
// generation's write-ahead log before it is applied, and Compact (or the
// background compaction SetCompaction enables) writes a new generation
// and swaps it in atomically; store.go and compact.go describe the
// layout. A Builder makes a generation in bulk and can resume after a
// crash (build.go). Index.Calibrate chooses the index's hybrid fusion
// from pseudo-queries made out of its own documents (fusion.Calibrate)
// and keeps it in the manifest, where search.Service takes its defaults
// from.
//
// The Index implements search.Backend and search.Faceter; the
// conformance suite in package searchtest runs against it as it does
// against Weaviate.
package embedded
