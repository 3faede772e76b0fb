package main

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/bm25"
)

func TestReadCorpusJSONL(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(p, []byte("{\"_id\": \"a\", \"title\": \"판콜에이\", \"text\": \"감기약\"}\n\n{\"_id\": 7, \"text\": \"두통\"}"), 0o644)
	var got []bm25.Doc
	if err := readCorpusJSONL(p, func(d bm25.Doc) error { got = append(got, d); return nil }); err != nil {
		t.Fatal(err)
	}
	want := []bm25.Doc{{ID: "a", Text: "판콜에이\n감기약"}, {ID: "7", Text: "두통"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
	for body, msg := range map[string]string{
		"{\"_id\": \"a\"}\n{\"text\": \"x\"}\n": "corpus.jsonl:2: _id: missing",
		"{\"_id\": [1]}":                        "corpus.jsonl:1: _id: want a string or number",
		"{\"_id\": \"a\"}\n{oops\n":             "corpus.jsonl:2: invalid character",
	} {
		os.WriteFile(p, []byte(body), 0o644)
		err := readCorpusJSONL(p, func(bm25.Doc) error { return nil })
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%q: err = %v, want %q", body, err, msg)
		}
	}
}

func TestBM25IndexAndSearchCommands(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id":"d1","text":"두통 해열"}
{"_id":"d2","text":"감기 기침"}
{"_id":"d1","text":"중복"}
`), 0o644)
	out := filepath.Join(dir, "idx.bm25")
	err := runBM25Index(context.Background(), []string{"--corpus", dir, "--out", out})
	if err == nil || !strings.Contains(err.Error(), `corpus.jsonl:3: bm25: duplicate document ID "d1"`) {
		t.Fatalf("duplicate: %v", err)
	}
	os.WriteFile(filepath.Join(dir, "corpus.jsonl"), []byte(`{"_id":"d1","text":"두통 해열"}
{"_id":"d2","text":"감기 기침"}
`), 0o644)
	if err := runBM25Index(context.Background(), []string{"--corpus", dir, "--out", out, "--analyzer", "bigram"}); err != nil {
		t.Fatal(err)
	}
	ix, err := bm25.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if hits := ix.Search("기침이 나요", 5); len(hits) != 1 || hits[0].ID != "d2" {
		t.Fatalf("hits %v", hits)
	}
}
