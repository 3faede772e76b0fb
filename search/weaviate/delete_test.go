package weaviate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate/entities/models"
)

// TestBatchDeleteSendsDeletionTime checks the request batchDelete sends:
// DELETE /v1/batch/objects at the backend's consistency level, with the
// class, the filter and the deletion time in milliseconds, through the
// failover transport (a dead first node is skipped), and the answer it
// reads back.
func TestBatchDeleteSendsDeletionTime(t *testing.T) {
	var (
		method, path, query, auth string
		body                      models.BatchDelete
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		method, path, query, auth = r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Authorization")
		b, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(b, &body); err != nil {
			t.Errorf("body %q: %v", b, err)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"results":{"matches":3,"successful":2,"failed":1}}`)
	}))
	defer srv.Close()
	b := &Backend{tr: transport(t, closedURL(t), srv.URL+"/"), class: "KormedDel",
		headers: map[string]string{"Authorization": "Bearer k"},
		opts:    Options{Consistency: ConsistencyQuorum, Timeout: 10 * time.Second}}
	now := time.UnixMilli(1_765_000_000_123)
	where := filters.Where().WithPath([]string{propDocID}).WithOperator(filters.ContainsAny).WithValueText("a", "b")
	res, err := b.batchDelete(context.Background(), where, now)
	if err != nil {
		t.Fatal(err)
	}
	if method != http.MethodDelete || path != "/v1/batch/objects" || query != "consistency_level=QUORUM" || auth != "Bearer k" {
		t.Errorf("request %s %s?%s (Authorization %q), want DELETE /v1/batch/objects?consistency_level=QUORUM", method, path, query, auth)
	}
	if body.DeletionTimeUnixMilli == nil || *body.DeletionTimeUnixMilli != 1_765_000_000_123 {
		t.Errorf("deletionTimeUnixMilli %v, want 1765000000123", body.DeletionTimeUnixMilli)
	}
	if body.Match == nil || body.Match.Class != "KormedDel" || body.Match.Where == nil ||
		strings.Join(body.Match.Where.Path, ".") != propDocID || len(body.Match.Where.ValueTextArray) != 2 {
		t.Errorf("match %+v", body.Match)
	}
	if body.Output == nil || *body.Output != "minimal" {
		t.Errorf("output %v, want minimal", body.Output)
	}
	if res.Results == nil || res.Results.Matches != 3 || res.Results.Successful != 2 || res.Results.Failed != 1 {
		t.Errorf("results %+v", res.Results)
	}
	if b.Node() != srv.URL {
		t.Errorf("current node %s, want %s", b.Node(), srv.URL)
	}
}

// TestBatchDeleteError checks that an error answer comes back as the
// client's error type, with its status and message.
func TestBatchDeleteError(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnprocessableEntity)
		io.WriteString(w, `{"error":[{"message":"no such class"}]}`)
	}))
	defer srv.Close()
	b := &Backend{tr: transport(t, srv.URL), class: "KormedDel", opts: Options{Timeout: 10 * time.Second}}
	where := filters.Where().WithPath([]string{propDocID}).WithOperator(filters.ContainsAny).WithValueText("a")
	_, err := b.batchDelete(context.Background(), where, time.Now())
	if statusCode(err) != http.StatusUnprocessableEntity || !strings.Contains(err.Error(), "no such class") {
		t.Errorf("error %v (status %d), want a 422 naming the message", err, statusCode(err))
	}
}
