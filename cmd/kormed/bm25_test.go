package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/bm25"
)

func TestBM25IndexAndSearchCommands(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id":"d1","text":"두통 해열"}
{"_id":"d2","text":"감기 기침"}
{"_id":"d1","text":"중복"}
`), 0o644)
	out := filepath.Join(dir, "idx.bm25")
	err := cmdBM25Index.Exec(context.Background(), []string{"--corpus", dir, "--out", out})
	if err == nil || !strings.Contains(err.Error(), `corpus.jsonl:3: bm25: duplicate document ID "d1"`) {
		t.Fatalf("duplicate: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id":"d1","text":"두통 해열"}
{"_id":"d2","text":"감기 기침"}
`), 0o644)
	if err := cmdBM25Index.Exec(context.Background(), []string{"--corpus", dir, "--out", out, "--analyzer", "bigram"}); err != nil {
		t.Fatal(err)
	}
	ix, err := bm25.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if hits := ix.Search("기침이 나요", 5); len(hits) != 1 || hits[0].ID != "d2" {
		t.Fatalf("hits %v", hits)
	}

	// search shows the hit's title and text when given the corpus.
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	err = cmdBM25Search.Exec(context.Background(), []string{"--index", out, "--corpus", dir, "기침이", "나요"})
	os.Stdout = stdout
	w.Close()
	got, _ := io.ReadAll(r)
	if err != nil || !strings.HasPrefix(string(got), "1\td2\t") || !strings.HasSuffix(string(got), "\t\t감기 기침\n") {
		t.Fatalf("search output %q, err %v", got, err)
	}

	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte("{\"_id\":\"d1\",\"text\":\"두통\"}\n{\"text\":\"x\"}\n"), 0o644)
	if err := cmdBM25Index.Exec(context.Background(), []string{"--corpus", dir, "--out", out}); err == nil || !strings.Contains(err.Error(), "corpus.jsonl:2: empty _id") {
		t.Fatalf("empty id: %v", err)
	}
}
