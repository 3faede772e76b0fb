package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/search"
)

// TestEvalHubDataset evaluates BM25 on hf:// data from a Hugging Face
// cache copied onto an offline machine (MTEB layout: corpus and queries
// configs, qrels in the default config), with a column mapping.
func TestEvalHubDataset(t *testing.T) {
	hubDrugsCache(t)
	out := filepath.Join(t.TempDir(), "out")
	ctx := context.Background()
	args := []string{"--retriever", "bm25", "--analyzer", "bigram", "--data", "hf://kormed-test/ko-drugs", "--output", out, "--k", "1"}
	err := runEval(ctx, args)
	if err == nil || !strings.Contains(err.Error(), "no document column") || !strings.Contains(err.Error(), "_id, body") {
		t.Fatalf("without --columns: %v", err)
	}
	if err := runEval(ctx, append(args, "--columns", "document=body")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "results", "ko-drugs__bm25-bigram.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r eval.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.Dataset.Path != "hf://kormed-test/ko-drugs" || r.Dataset.Split != "test" || r.Dataset.Docs != 3 || r.Dataset.Evaluated != 2 || r.Metrics["NDCG@1"] != 1 {
		t.Errorf("result %+v", r)
	}
}

// hubDrugsCache lays out hf://kormed-test/ko-drugs (MTEB layout, text in
// a column "body") in a Hugging Face cache as a connected machine leaves
// it, and makes the environment offline on that cache.
func hubDrugsCache(t *testing.T) {
	const commit = "2222222222222222222222222222222222222222"
	cache := t.TempDir()
	repo := filepath.Join(cache, "datasets--kormed-test--ko-drugs")
	files := map[string]string{
		"README.md": "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: test\n    path: qrels/test.jsonl\n" +
			"- config_name: corpus\n  data_files:\n  - split: corpus\n    path: corpus.jsonl\n" +
			"- config_name: queries\n  data_files:\n  - split: queries\n    path: queries.jsonl\n---\n",
		"corpus.jsonl": `{"_id":"d1","body":"강심제는 심장의 수축력을 높이는 약물입니다."}` + "\n" +
			`{"_id":"d2","body":"이뇨제는 소변 배출을 늘리는 약물입니다."}` + "\n" +
			`{"_id":"d3","body":"진해제는 기침을 멎게 하는 약물입니다."}` + "\n",
		"queries.jsonl":    `{"_id":"q1","text":"강심제란?"}` + "\n" + `{"_id":"q2","text":"진해제란?"}` + "\n",
		"qrels/test.jsonl": `{"query-id":"q1","corpus-id":"d1","score":1}` + "\n" + `{"query-id":"q2","corpus-id":"d3","score":1}` + "\n",
	}
	for name, s := range files {
		p := filepath.Join(repo, "snapshots", commit, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(s), 0o644)
	}
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
}

// TestIndexHubCorpus indexes the corpus config of a Hub dataset.
func TestIndexHubCorpus(t *testing.T) {
	hubDrugsCache(t)
	out := filepath.Join(t.TempDir(), "ix")
	ctx := context.Background()
	src, err := openCorpusWith("hf://kormed-test/ko-drugs", dataset.Columns{dataset.RoleDocument: "body"})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := src.each(func(where string, d search.Doc) error { ids = append(ids, d.ID+"="+d.Text[:3]); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, " ") != "d1=강 d2=이 d3=진" || !strings.Contains(src.fingerprint, "2222222222222222222222222222222222222222") {
		t.Fatalf("docs %v, fingerprint %s", ids, src.fingerprint)
	}
	if err := runIndex(ctx, []string{"--corpus", "hf://kormed-test/ko-drugs", "--out", out, "--analyzer", "bigram", "--quiet", "--columns", "document=body"}); err != nil {
		t.Fatal(err)
	}
	err = runIndex(ctx, []string{"--corpus", "hf://kormed-test/ko-drugs", "--out", filepath.Join(t.TempDir(), "ix2"), "--analyzer", "bigram", "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "hf://kormed-test/ko-drugs") || !strings.Contains(err.Error(), "_id, body") {
		t.Fatalf("without --columns: %v", err)
	}
}

// TestEmbedHubInput embeds the corpus config of a Hub dataset, ids kept.
func TestEmbedHubInput(t *testing.T) {
	hubDrugsCache(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	ctx := context.Background()
	if err := runEmbed(ctx, []string{"--model", tinyModelDir("tiny-xlmr"), "--input", "hf://kormed-test/ko-drugs:corpus", "--field", "body", "--output", out, "--quiet"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"id":"d1","embedding":[`) || !strings.HasPrefix(lines[2], `{"id":"d3",`) {
		t.Fatalf("output:\n%.300s", b)
	}
	err := runEmbed(ctx, []string{"--model", tinyModelDir("tiny-xlmr"), "--input", "hf://kormed-test/ko-drugs:corpus", "--output", out, "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "_id, body") {
		t.Fatalf("no text column: %v", err)
	}
}
