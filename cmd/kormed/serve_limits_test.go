package main

import (
	"context"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/serve"
)

// TestServeLimits: the bounded-work flags reach the server, and
// /v1/embed counts tokens with the model's own tokenizer.
func TestServeLimits(t *testing.T) {
	for _, args := range [][]string{
		{"--max-inflight", "0"}, {"--max-embed-texts", "1001"}, {"--max-embed-tokens", "0"},
		{"--max-jobs", "0"}, {"--request-timeout", "0s"}, {"--max-sync-write-chars", "-1"},
	} {
		err := cmdServe(io.Discard, nil).Exec(context.Background(), append([]string{"--index", t.TempDir()}, args...))
		if err == nil || !strings.Contains(err.Error(), args[0]) {
			t.Errorf("%v: %v", args, err)
		}
	}
	dir := filepath.Join(t.TempDir(), "ix")
	m, err := model.Load(tinyModelDir("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	m.SetName(tinyModelDir("tiny-xlmr"))
	writeIndex(t, dir, serveDocs, m, base.ModelInfo(m))
	encs, err := m.Tokenize([]string{"해열진통제 두통 치통 근육통"}, "")
	if err != nil {
		t.Fatal(err)
	}
	n := len(encs[0].IDs) // fewer tokens than characters: counted as tokens, it passes
	if chars := len([]rune("해열진통제 두통 치통 근육통")); n >= chars {
		t.Fatalf("%d tokens for %d characters", n, chars)
	}
	url, stderr, stop := startServe(t, "--index", dir, "--api-key", "k", "--max-embed-texts", "2",
		"--max-embed-tokens", strconv.Itoa(n), "--max-sync-write-chars", "10")
	defer stop()
	var e struct{ Error string }
	if st := callServe(t, "POST", url+"v1/embed", `{"texts":["해열진통제 두통 치통 근육통"]}`, nil); st != 200 {
		t.Errorf("embed of %d tokens: %d\n%s", n, st, stderr)
	}
	if st := callServe(t, "POST", url+"v1/embed", `{"texts":["해열진통제 두통 치통 근육통","두통"]}`, &e); st != 413 || !strings.Contains(e.Error, "--max-embed-tokens") {
		t.Errorf("embed over the tokens: %d %q", st, e.Error)
	}
	if st := callServe(t, "POST", url+"v1/embed", `{"texts":["a","b","c"]}`, &e); st != 413 || !strings.Contains(e.Error, "at most 2") {
		t.Errorf("embed over the texts: %d %q", st, e.Error)
	}
	var j serve.Job
	if st := callServe(t, "POST", url+"v1/documents", `{"documents":[{"id":"9","title":"게보린정","text":"두통 치통 생리통"}]}`, &j, "X-API-Key", "k"); st != 202 || j.Documents != 1 {
		t.Errorf("a write over --max-sync-write-chars: %d %+v", st, j)
	}
}
