package serve

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// openDiskService saves drugDocs as a BM25-only index folder and serves it
// opened from there (with its write-ahead log).
func openDiskService(t *testing.T) (*embedded.Index, *search.Service, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ix")
	mem, err := embedded.New(embedded.Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := mem.Upsert(context.Background(), drugDocs(), nil); err != nil {
		t.Fatal(err)
	}
	if err := mem.Save(dir); err != nil {
		t.Fatal(err)
	}
	ix, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	svc, err := search.NewService(context.Background(), ix, nil, search.ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	return ix, svc, dir
}

func TestStartingState(t *testing.T) {
	s, ts := newTestServer(t, nil, Options{APIKey: "k"})
	r := call(t, ts, "GET", "/healthz", nil)
	if r.status != 503 || strings.TrimSpace(string(r.body)) != `{"status":"starting"}` || r.header.Get("Retry-After") == "" {
		t.Errorf("healthz while starting: %d %s Retry-After %q", r.status, r.body, r.header.Get("Retry-After"))
	}
	for _, c := range []struct{ method, path string }{
		{"GET", "/v1/search?q=" + url.QueryEscape("두통")}, {"POST", "/v1/search"}, {"GET", "/v1/documents/200000001"},
		{"DELETE", "/v1/documents/200000001"}, {"GET", "/metrics"}, {"GET", "/"},
	} {
		var body any
		if c.method == "POST" {
			body = search.Request{Query: "두통"}
		}
		r := call(t, ts, c.method, c.path, body, "X-API-Key", "k")
		if r.status != 503 || r.header.Get("Retry-After") == "" || !strings.Contains(r.errMsg(t), "starting") {
			t.Errorf("%s %s while starting: %d %s", c.method, c.path, r.status, r.body)
		}
	}
	if s.Ready() {
		t.Fatal("ready before SetService")
	}
	s.SetService(newService(t, false, nil))
	if r := call(t, ts, "GET", "/healthz", nil); r.status != 200 || !strings.Contains(string(r.body), `"status":"ok"`) {
		t.Errorf("healthz when ready: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "GET", "/v1/documents/200000001", nil); r.status != 200 {
		t.Errorf("document once ready: %d %s", r.status, r.body)
	}
}

// Every generation swap is logged and counted, whatever made it: here a
// background compaction after writes, and a write that found a generation
// another process made.
func TestSwapsCounted(t *testing.T) {
	var logs syncBuffer
	ix, svc, dir := openDiskService(t)
	s, ts := newTestServer(t, svc, Options{APIKey: "k", Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	ix.OnSwap(s.IndexSwapped)
	ix.SetCompaction(0, 3)
	gen0 := ix.Generation()
	for i := 0; i < 3; i++ {
		doc := search.Doc{ID: fmt.Sprintf("new-%d", i), Title: "새 제품", Text: "두통 감기"}
		if r := call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: []search.Doc{doc}}, "X-API-Key", "k"); r.status != 200 {
			t.Fatalf("upsert: %d %s", r.status, r.body)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); s.reloads.Load() < 1 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if ix.Generation() == gen0 || s.reloads.Load() != 1 {
		t.Fatalf("after 3 writes with a 3-record threshold: generation %s (was %s), %d reloads counted", ix.Generation(), gen0, s.reloads.Load())
	}
	// Another process compacts; the next write here swaps to its
	// generation.
	other, err := embedded.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Compact(); err != nil {
		t.Fatal(err)
	}
	if r := call(t, ts, "DELETE", "/v1/documents/new-0", nil, "X-API-Key", "k"); r.status != 200 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if s.reloads.Load() != 2 || ix.Generation() != other.Generation() {
		t.Errorf("after a write found a new generation: %d reloads, generation %s vs %s", s.reloads.Load(), ix.Generation(), other.Generation())
	}
	m := call(t, ts, "GET", "/metrics", nil)
	if !regexp.MustCompile(`(?m)^kormed_index_reloads_total 2$`).Match(m.body) {
		t.Errorf("metrics:\n%s", m.body)
	}
	out := logs.String()
	for _, trig := range []string{embedded.SwapCompaction, embedded.SwapWrite} {
		if !strings.Contains(out, `"msg":"index reloaded","trigger":"`+trig+`"`) {
			t.Errorf("no 'index reloaded' log with trigger %s:\n%s", trig, out)
		}
	}
}

// DELETE of an id that does not exist answers 404 and writes nothing to
// the log; an id that could never be valid answers 400 naming its
// character.
func TestDeleteMissingAndBadIDs(t *testing.T) {
	ix, svc, dir := openDiskService(t)
	_, ts := newTestServer(t, svc, Options{APIKey: "k"})
	wal := filepath.Join(dir, ix.Generation(), "wal.jsonl")
	size := func() int64 {
		st, err := os.Stat(wal)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	before := size()
	for i := 0; i < 400; i++ {
		if r := call(t, ts, "DELETE", fmt.Sprintf("/v1/documents/missing-%d", i), nil, "X-API-Key", "k"); r.status != 404 {
			t.Fatalf("delete missing-%d: %d %s", i, r.status, r.body)
		}
	}
	if after := size(); after != before {
		t.Errorf("400 deletes of missing ids grew the log from %d to %d bytes", before, after)
	}
	for _, c := range []struct{ method, id, want string }{
		{"GET", "200000001\u200b", `"200000001\u200b": format character U+200B ZERO WIDTH SPACE`},
		{"DELETE", " 200000001", "leading space U+0020 SPACE"},
		{"GET", "200000001\u3164", "U+3164 HANGUL FILLER"},
	} {
		r := call(t, ts, c.method, "/v1/documents/"+url.PathEscape(c.id), nil, "X-API-Key", "k")
		if r.status != 400 || !strings.Contains(r.errMsg(t), c.want) {
			t.Errorf("%s %q: %d %s, want 400 with %s", c.method, c.id, r.status, r.body, c.want)
		}
	}
	doc := search.Doc{ID: "200000001\u200b", Title: "타이레놀", Text: "두통"}
	r := call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: []search.Doc{doc}}, "X-API-Key", "k")
	if r.status != 400 || !strings.Contains(r.errMsg(t), `documents[0].id "200000001\u200b": format character U+200B ZERO WIDTH SPACE`) {
		t.Errorf("upsert of a bad id: %d %s", r.status, r.body)
	}
	if after := size(); after != before {
		t.Errorf("refused writes grew the log from %d to %d bytes", before, after)
	}
}

// A query without a letter or digit is refused by every front-end.
func TestQueryWithoutLetterOrDigit(t *testing.T) {
	_, ts := newTestServer(t, newService(t, true, nil), Options{})
	for _, q := range []string{"\u0000", "\ufffd", "?!", "..."} {
		if r := call(t, ts, "POST", "/v1/search", search.Request{Query: q}); r.status != 400 || !strings.Contains(r.errMsg(t), "no letter or digit") {
			t.Errorf("POST query %q: %d %s", q, r.status, r.body)
		}
		if r := call(t, ts, "GET", "/v1/search?q="+url.QueryEscape(q), nil); r.status != 400 {
			t.Errorf("GET query %q: %d %s", q, r.status, r.body)
		}
	}
	// A lone surrogate escape decodes to U+FFFD.
	if r := call(t, ts, "POST", "/v1/search", `{"query":"\ud800"}`); r.status != 400 {
		t.Errorf("lone surrogate: %d %s", r.status, r.body)
	}
}
