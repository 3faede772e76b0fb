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
					// Facets, on what the suite left: p01 deleted, 9 documents.
					fs, err := b.Facets(context.Background(), "class", 0)
					if err != nil || len(fs) != 2 || fs[0] != (search.Facet{Value: "일반", Count: 7}) || fs[1] != (search.Facet{Value: "전문", Count: 2}) {
						t.Errorf("facets %v %v", fs, err)
					}
					if ids, err := b.IDs(context.Background()); err != nil || len(ids) != 9 {
						t.Errorf("IDs: %d %v", len(ids), err)
					}
					if fs, err := b.Facets(context.Background(), "nope", 3); fs != nil || err != nil {
						t.Errorf("facets of an unknown field: %v %v", fs, err)
					}
					if err := b.Drop(context.Background()); err != nil {
						t.Errorf("drop %s: %v", class, err)
					}
				})
				return b
			})
		})
	}
}
