// Package blevecmp compares kormed's BM25 index with Bleve's BM25 scoring
// (github.com/blevesearch/bleve/v2, scoring_model "bm25") on the same
// documents and the same kormed analyzer. It is a separate module so that
// neither kormed's go.mod nor its binary carries Bleve; run it with
//
//	cd bm25/blevecmp && go test -run '^$' -bench . -benchtime 1x
package blevecmp
