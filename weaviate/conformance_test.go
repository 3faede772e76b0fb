package weaviate

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/searchtest"
)

// TestConformance runs the backend suite every search.Backend passes
// (package searchtest, also run on the embedded index) against a real
// Weaviate server, with exact and approximate vector indexes.
func TestConformance(t *testing.T) {
	url := serverURL(t)
	for _, vi := range []string{"flat", "hnsw"} {
		t.Run(vi, func(t *testing.T) {
			searchtest.Run(t, func(t *testing.T) search.Backend {
				class := fmt.Sprintf("KormedConf%s%d_%d", vi, time.Now().UnixNano(), os.Getpid())
				m := searchtest.Model
				b, err := Open(context.Background(), url, class, Options{Model: &m, Create: true, VectorIndex: vi, ExactParts: true})
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() {
					if err := b.Drop(context.Background()); err != nil {
						t.Errorf("drop %s: %v", class, err)
					}
				})
				return b
			})
		})
	}
}
