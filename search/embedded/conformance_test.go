package embedded_test

import (
	"path/filepath"
	"testing"

	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/searchtest"
)

// TestConformance runs the backend suite (also run against Weaviate) on
// the embedded index: in memory, with each dense index kind, and opened
// from disk so writes go through the log.
func TestConformance(t *testing.T) {
	for _, dense := range []string{embedded.DenseExact, embedded.DenseInt8, embedded.DenseBF16, embedded.DenseHNSW} {
		t.Run(dense, func(t *testing.T) {
			searchtest.Run(t, func(t *testing.T) search.Backend {
				ix, err := embedded.New(embedded.Options{Analyzer: "bigram", Model: searchtest.Model, Dense: dense})
				if err != nil {
					t.Fatal(err)
				}
				return ix
			})
		})
	}
	t.Run("on-disk", func(t *testing.T) {
		searchtest.Run(t, func(t *testing.T) search.Backend {
			ix, err := embedded.New(embedded.Options{Model: searchtest.Model})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(t.TempDir(), "ix")
			if err := ix.Save(dir); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { ix.Close() })
			return ix
		})
	})
}
