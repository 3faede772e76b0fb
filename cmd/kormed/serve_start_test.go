package main

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/search"
)

// kormed serve listens before the index is loaded: /healthz says
// "starting" (503) and the API answers 503 until it is ready.
func TestServeListensWhileLoading(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	writeIndex(t, dir, serveDocs, nil, search.ModelInfo{})
	type answer struct {
		status int
		body   string
		retry  string
	}
	var early []answer
	get := func(url string) answer {
		res, err := http.Get(url)
		if err != nil {
			t.Error(err)
			return answer{}
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return answer{res.StatusCode, strings.TrimSpace(string(data)), res.Header.Get("Retry-After")}
	}
	starting = func(url string) {
		early = append(early, get(url+"healthz"), get(url+"v1/search?q=%EB%91%90%ED%86%B5"))
	}
	defer func() { starting = nil }()
	url, stderr, _ := startServe(t, "--index", dir)
	if len(early) != 2 || early[0].status != 503 || early[0].body != `{"status":"starting"}` || early[0].retry == "" ||
		early[1].status != 503 || !strings.Contains(early[1].body, "starting") {
		t.Errorf("while loading: %+v", early)
	}
	var h health
	if st := callServe(t, "GET", url+"healthz", "", &h); st != 200 || h.Docs != 3 {
		t.Errorf("ready: %d %+v\n%s", st, h, stderr)
	}
	for _, want := range []string{"listening on http://127.0.0.1:", `"msg":"index loaded"`, `"msg":"ready"`} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}
