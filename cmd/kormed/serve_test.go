package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var serveDocs = []search.Doc{
	{ID: "1", Title: "타이레놀정500밀리그램", Text: "열을 내리고 통증을 줄이는 해열진통제.", Fields: map[string][]string{"class": {"일반"}}},
	{ID: "2", Title: "판콜에이내복액", Text: "마시는 감기약. 콧물, 기침, 발열, 두통의 완화.", Fields: map[string][]string{"class": {"일반"}}},
	{ID: "3", Title: "아모디핀정5밀리그램", Text: "고혈압 치료제.", Fields: map[string][]string{"class": {"전문"}}},
}

// writeIndex saves docs as an index in dir, embedded with enc (nil: BM25
// only) under the model description mi.
func writeIndex(t *testing.T, dir string, docs []search.Doc, enc search.Encoder, mi search.ModelInfo) {
	t.Helper()
	opts := embedded.Options{Analyzer: "bigram"}
	if enc != nil {
		opts.Model = mi
	}
	ix, err := embedded.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := search.NewService(context.Background(), ix, enc, mi)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Upsert(context.Background(), docs); err != nil {
		t.Fatal(err)
	}
	if err := ix.Save(dir); err != nil {
		t.Fatal(err)
	}
}

// startServe runs kormed serve with args until the test ends.
func startServe(t *testing.T, args ...string) (url string, stderr *lockedBuffer, stop func() error) {
	t.Helper()
	stderr = &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	urls := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- cmdServe(stderr, func(u string) { urls <- u }).Exec(ctx, append(args, "--addr", "127.0.0.1:0"))
	}()
	select {
	case url = <-urls:
	case err := <-done:
		cancel()
		t.Fatalf("kormed serve %v: %v\n%s", args, err, stderr)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("kormed serve did not start")
	}
	var once sync.Once
	var err error
	stop = func() error {
		once.Do(func() {
			cancel()
			err = <-done
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return url, stderr, stop
}

func callServe(t *testing.T, method, url, body string, v any, hdr ...string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			t.Fatalf("%s %s: %s: %v", method, url, data, err)
		}
	}
	return res.StatusCode
}

type health struct {
	Docs       int    `json:"docs"`
	Model      string `json:"model"`
	Dense      bool   `json:"dense"`
	Generation string `json:"generation"`
	Writable   bool   `json:"writable"`
}

func TestServeHelp(t *testing.T) {
	var out bytes.Buffer
	if err := cmdServe(&out, nil).Exec(context.Background(), []string{"-h"}); !errors.Is(err, flag.ErrHelp) || !strings.Contains(out.String(), "usage: kormed serve") {
		t.Errorf("-h: %v\n%s", err, out.String())
	}
	for _, args := range [][]string{{}, {"--index", t.TempDir(), "--safety", "lax"}, {"--backend", "weaviate"}, {"--backend", "solr"}, {"--index", t.TempDir()}} {
		if err := cmdServe(io.Discard, nil).Exec(context.Background(), args); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

func TestServeIndex(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	m, err := model.Load(tinyModelDir("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	m.SetName(tinyModelDir("tiny-xlmr")) // as kormed index records --model
	mi := base.ModelInfo(m)
	writeIndex(t, dir, serveDocs, m, mi)

	// No --model: the index's model is loaded; writes with the key.
	url, stderr, stop := startServe(t, "--index", dir, "--api-key", "k", "--reload-interval", "20ms")
	var h health
	// /healthz names the model by its folder, not its path.
	if callServe(t, "GET", url+"healthz", "", &h); !h.Dense || h.Model != "tiny-xlmr" || h.Docs != 3 || !h.Writable {
		t.Fatalf("healthz %+v\n%s", h, stderr)
	}
	var resp search.Response
	if st := callServe(t, "POST", url+"v1/search", `{"query":"두통"}`, &resp); st != 200 || resp.Mode != "hybrid" || resp.Hits[0].ID != "2" {
		t.Errorf("search: %d %+v", st, resp)
	}
	if st := callServe(t, "POST", url+"v1/documents", `{"documents":[{"id":"9","title":"게보린정","text":"두통 치통"}]}`, nil, "Authorization", "Bearer k"); st != 200 {
		t.Errorf("upsert: %d", st)
	}
	// A re-index is swapped in.
	writeIndex(t, dir, append(serveDocs[:2:2], search.Doc{ID: "5", Title: "베아제정", Text: "소화불량"}), m, mi)
	gen0 := h.Generation
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		callServe(t, "GET", url+"healthz", "", &h)
		if h.Generation != gen0 && strings.Contains(stderr.String(), "index reloaded") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no reload from %s: %+v\n%s", gen0, h, stderr)
		}
	}
	if callServe(t, "POST", url+"v1/search", `{"query":"소화불량","mode":"bm25"}`, &resp); len(resp.Hits) == 0 || resp.Hits[0].ID != "5" {
		t.Errorf("after the reload: %+v", resp.Hits)
	}
	if err := stop(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"open http://127.0.0.1:", "model " + mi.Name, `"msg":"stopped"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestServeModelNotHere(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	m, err := model.Load(tinyModelDir("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	mi := base.ModelInfo(m)
	mi.Name = "nowhere/not-a-model"
	writeIndex(t, dir, serveDocs, m, mi)
	t.Setenv("HF_HUB_OFFLINE", "1")
	t.Setenv("HF_HUB_CACHE", t.TempDir())

	url, stderr, _ := startServe(t, "--index", dir)
	var h health
	if callServe(t, "GET", url+"healthz", "", &h); h.Dense || h.Writable {
		t.Errorf("healthz %+v", h)
	}
	if !strings.Contains(stderr.String(), "serving BM25 only") || !strings.Contains(stderr.String(), "writes are disabled") {
		t.Errorf("stderr:\n%s", stderr)
	}
	// An explicit model that is not the index's is refused.
	err = cmdServe(io.Discard, nil).Exec(context.Background(), []string{"--index", dir, "--model", tinyModelDir("tiny-xlmr"), "--addr", "127.0.0.1:0"})
	if err == nil || !strings.Contains(err.Error(), "differs") {
		t.Errorf("mismatched --model: %v", err)
	}
}
