package lmtrain

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/parquet-go/parquet-go"
)

// TestReadDataFromHub reads PubMedQA-Ko's columns (QUESTION, CONTEXTS as
// a list, LONG_ANSWER) from a parquet file of a Hub dataset in a copied,
// offline cache.
func TestReadDataFromHub(t *testing.T) {
	type row struct {
		Q string   `parquet:"QUESTION"`
		C []string `parquet:"CONTEXTS,list"`
		A string   `parquet:"LONG_ANSWER"`
	}
	var b bytes.Buffer
	if err := parquet.Write(&b, []row{{"아스피린 효과?", []string{"심근경색이 줄었다.", "출혈은 늘었다."}, "위험을 줄인다."}}); err != nil {
		t.Fatal(err)
	}
	const commit = "4444444444444444444444444444444444444444"
	cache := t.TempDir()
	repo := filepath.Join(cache, "datasets--kormed-test--pubmedqa-ko")
	p := filepath.Join(repo, "snapshots", commit, "data", "test-00000-of-00001.parquet")
	os.MkdirAll(filepath.Dir(p), 0o755)
	os.WriteFile(p, b.Bytes(), 0o644)
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	var log bytes.Buffer
	recs, err := ReadData(context.Background(), "hf://kormed-test/pubmedqa-ko", &log)
	if err != nil {
		t.Fatal(err)
	}
	want := []Record{{Question: "아스피린 효과?", Contexts: []string{"심근경색이 줄었다.", "출혈은 늘었다."}, LongAnswer: "위험을 줄인다."}}
	if !reflect.DeepEqual(recs, want) || !strings.Contains(log.String(), "data/test-00000-of-00001.parquet") {
		t.Fatalf("records %+v\nlog %s", recs, log.String())
	}
}

// TestRecipeKeepsHubData: a recipe's data may be hf://…, not joined onto
// the recipe's folder.
func TestRecipeKeepsHubData(t *testing.T) {
	t.Setenv("PUBMEDQA_KO", "hf://ChuGyouk/PubMedQA-test-Ko")
	r, err := ReadRecipe(filepath.Join("..", "recipes", "lm", "pubmedqa-ko.toml"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Config.Data != "hf://ChuGyouk/PubMedQA-test-Ko" {
		t.Fatalf("data %q", r.Config.Data)
	}
}
