package weaviate

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"testing"
	"time"

	client "github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/kormed/kormed/search"
)

// batchRecorder is a fake Weaviate that accepts batch writes and records
// each request's documents (doc_id) and vectors.
type batchRecorder struct {
	mu      sync.Mutex
	batches [][]string
	vectors [][][]float32
}

func (r *batchRecorder) backend(t *testing.T, dim, batchSize int) *Backend {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method == http.MethodGet && req.URL.Path == "/v1/meta" { // the client asks at creation
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprint(w, `{"version":"1.35.2"}`)
			return
		}
		if req.Method != http.MethodPost || req.URL.Path != "/v1/batch/objects" {
			t.Errorf("unexpected request %s %s", req.Method, req.URL.Path)
			w.WriteHeader(http.StatusNotFound)
			return
		}
		var body struct {
			Objects []*models.Object `json:"objects"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			t.Errorf("batch body: %v", err)
		}
		var batch []string
		var vecs [][]float32
		out := make([]map[string]any, 0, len(body.Objects))
		for _, o := range body.Objects {
			props, _ := o.Properties.(map[string]any)
			batch = append(batch, fmt.Sprint(props[propDocID]))
			vecs = append(vecs, o.Vector)
			out = append(out, map[string]any{"id": o.ID, "class": o.Class, "result": map[string]any{}})
		}
		r.mu.Lock()
		r.batches = append(r.batches, batch)
		r.vectors = append(r.vectors, vecs)
		r.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(out)
	}))
	t.Cleanup(srv.Close)
	tr := transport(t, srv.URL)
	c, err := client.NewClient(client.Config{Scheme: "http", Host: tr.nodes[0].Host,
		ConnectionClient: &http.Client{Transport: tr, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := newMeta(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if dim > 0 {
		m.Model = search.ModelInfo{Name: "test", Dim: dim}
	}
	an, err := m.analyzer("KormedUp")
	if err != nil {
		t.Fatal(err)
	}
	return &Backend{c: c, tr: tr, class: "KormedUp", meta: m, an: an, fields: map[string]string{},
		opts: Options{Consistency: ConsistencyQuorum, BatchSize: batchSize, Timeout: 10 * time.Second}}
}

// TestUpsertSendsLastBatchAgain checks that Upsert sends its last batch of
// objects with vectors twice, the same objects and vectors (flushVectors),
// and a BM25-only index's batches once.
func TestUpsertSendsLastBatchAgain(t *testing.T) {
	docs := []search.Doc{{ID: "a", Title: "가"}, {ID: "b", Title: "나"}, {ID: "c", Title: "다"},
		{ID: "d", Title: "라"}, {ID: "e", Title: "마"}}
	vecs := [][]float32{{1, 0}, {0, 1}, {1, 1}, {2, 1}, {1, 2}}
	for _, tc := range []struct {
		n    int
		want [][]string
	}{
		{5, [][]string{{"a", "b"}, {"c", "d"}, {"e"}, {"e"}}},
		{4, [][]string{{"a", "b"}, {"c", "d"}, {"c", "d"}}}, // the last batch full
	} {
		var r batchRecorder
		b := r.backend(t, 2, 2)
		if err := b.Upsert(context.Background(), docs[:tc.n], vecs[:tc.n]); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r.batches, tc.want) {
			t.Errorf("%d documents: batches %v, want %v", tc.n, r.batches, tc.want)
		}
		if k := len(r.vectors); k < 2 || !reflect.DeepEqual(r.vectors[k-1], r.vectors[k-2]) {
			t.Errorf("%d documents: the last batch was not sent again with the same vectors: %v", tc.n, r.vectors)
		}
	}

	var r batchRecorder
	b := r.backend(t, 0, 2)
	if err := b.Upsert(context.Background(), docs, nil); err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"a", "b"}, {"c", "d"}, {"e"}}; !reflect.DeepEqual(r.batches, want) {
		t.Errorf("BM25-only: batches %v, want %v", r.batches, want)
	}
}
