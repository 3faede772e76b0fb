package hubdata

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/hub"
	"github.com/parquet-go/parquet-go"
)

type doc struct {
	ID    string `parquet:"_id"`
	Title string `parquet:"title"`
	Text  string `parquet:"text"`
}

type query struct {
	ID   string `parquet:"_id"`
	Text string `parquet:"text"`
}

type qrel struct {
	QID   string `parquet:"query-id"`
	DID   string `parquet:"corpus-id"`
	Score int64  `parquet:"score"`
}

func pq[T any](t *testing.T, rows []T) []byte {
	var b bytes.Buffer
	if err := parquet.Write(&b, rows); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const commit = "1111111111111111111111111111111111111111"

// copiedCache lays out a dataset in a Hugging Face cache as a connected
// machine would have left it, for an air-gapped run.
func copiedCache(t *testing.T, id string, files map[string][]byte) string {
	cache := t.TempDir()
	repo := filepath.Join(cache, "datasets--"+strings.ReplaceAll(id, "/", "--"))
	for name, b := range files {
		p := filepath.Join(repo, "snapshots", commit, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
	return cache
}

const readme = "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: test\n    path: qrels/test.parquet\n" +
	"- config_name: corpus\n  data_files:\n  - split: corpus\n    path: corpus.parquet\n" +
	"- config_name: queries\n  data_files:\n  - split: queries\n    path: queries.parquet\n---\n"

func TestLoadRetrievalMTEBLayoutOffline(t *testing.T) {
	cache := copiedCache(t, "kormed-test/ko-mini", map[string][]byte{
		"README.md":          []byte(readme),
		"corpus.parquet":     pq(t, []doc{{"d1", "", "고혈압 약"}, {"d2", "감기", "감기 약"}}),
		"queries.parquet":    pq(t, []query{{"q1", "혈압"}, {"q2", "unjudged"}}),
		"qrels/test.parquet": pq(t, []qrel{{"q1", "d1", 1}}),
	})
	t.Setenv("HF_HUB_OFFLINE", "1")
	o := hub.Options{CacheDir: cache}
	d, _, err := LoadRetrieval(context.Background(), "hf://kormed-test/ko-mini", "", nil, o)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "ko-mini" || len(d.Corpus) != 2 || d.Corpus[1].Title != "감기" || len(d.Queries) != 1 || d.Qrels["q1"]["d1"] != 1 {
		t.Fatalf("dataset %+v", d)
	}
	_, _, err = LoadRetrieval(context.Background(), "hf://kormed-test/ko-mini", "dev", nil, o)
	if !errors.Is(err, hub.ErrNoData) || !strings.Contains(err.Error(), `no split "dev"`) {
		t.Fatalf("dev split: %v", err)
	}
	_, _, err = LoadRetrieval(context.Background(), "hf://kormed-test/ko-mini", "test", dataset.Columns{dataset.RoleDocument: "contents"}, o)
	if err == nil || !strings.Contains(err.Error(), `no column "contents"`) || !strings.Contains(err.Error(), "corpus.parquet") || !strings.Contains(err.Error(), "_id, title, text") {
		t.Fatalf("mapped column: %v", err)
	}
	_, _, err = LoadRetrieval(context.Background(), "hf://kormed-test/other", "test", nil, o)
	if !errors.Is(err, hub.ErrNotCached) || !strings.Contains(err.Error(), "huggingface-cli download --repo-type dataset kormed-test/other") {
		t.Fatalf("not cached: %v", err)
	}
}

func TestLoadRetrievalBEIRFiles(t *testing.T) {
	cache := copiedCache(t, "kormed-test/beir", map[string][]byte{
		"corpus.jsonl":   []byte(`{"_id":"d1","title":"","text":"고혈압"}` + "\n" + `{"_id":"d2","text":"감기"}` + "\n"),
		"queries.jsonl":  []byte(`{"_id":"q1","text":"혈압"}` + "\n"),
		"qrels/test.tsv": []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\n"),
		"qrels/dev.tsv":  []byte("query-id\tcorpus-id\tscore\nq1\td2\t1\n"),
	})
	t.Setenv("HF_HUB_OFFLINE", "1")
	for split, want := range map[string]string{"test": "d1", "dev": "d2"} {
		d, _, err := LoadRetrieval(context.Background(), "hf://kormed-test/beir", split, nil, hub.Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Corpus) != 2 || d.Qrels["q1"][want] != 1 {
			t.Fatalf("split %s: %+v", split, d)
		}
		// The same split as a suffix, which --split does not override.
		d, _, err = LoadRetrieval(context.Background(), "hf://kormed-test/beir#"+split, "other", nil, hub.Options{CacheDir: cache})
		if err != nil || d.Qrels["q1"][want] != 1 || d.Name != "beir" {
			t.Fatalf("#%s: %+v, %v", split, d, err)
		}
	}
	f, err := Files(context.Background(), "hf://kormed-test/beir#dev", "test", hub.Options{CacheDir: cache})
	if err != nil || f.Split != "validation" || strings.Join(f.Names, ",") != "qrels/dev.tsv" { // dev is validation, as in datasets
		t.Fatalf("Files #dev: %+v, %v", f, err)
	}
}

// TestLoadRetrievalPairs reads a QA-pairs repository (PublicHealthQA's
// shape: a config per language, columns question and answer) as a
// retrieval set.
func TestLoadRetrievalPairs(t *testing.T) {
	cache := copiedCache(t, "kormed-test/phqa", map[string][]byte{
		"README.md": []byte("---\nconfigs:\n- config_name: english\n  data_files:\n  - split: test\n    path: data/english.csv\n" +
			"- config_name: korean\n  data_files:\n  - split: test\n    path: data/korean.csv\n---\n"),
		"data/english.csv": []byte("question,answer\nq,a\n"),
		"data/korean.csv":  []byte("question,answer\n독감 백신은?,매년 맞습니다.\n독감 증상은?,열과 기침.\n독감 백신은?,매년 맞습니다.\n빈 답,\n"),
	})
	t.Setenv("HF_HUB_OFFLINE", "1")
	o := hub.Options{CacheDir: cache}
	d, note, err := LoadRetrieval(context.Background(), "hf://kormed-test/phqa:korean", "test", dataset.Columns{dataset.RoleDocument: "answer"}, o)
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "phqa-korean" || len(d.Queries) != 2 || len(d.Corpus) != 2 || d.Qrels["q2"]["d2"] != 1 ||
		!strings.Contains(note, "question–answer pairs") || !strings.Contains(note, "1 rows without a query or document skipped") {
		t.Fatalf("dataset %+v\nnote %s", d, note)
	}
	// Without a mapping the answer column is the document.
	d2, _, err := LoadRetrieval(context.Background(), "hf://kormed-test/phqa:korean#test", "", nil, o)
	if err != nil || len(d2.Corpus) != 2 || d2.Corpus[0].Text != d.Corpus[0].Text {
		t.Fatalf("without the mapping: %+v, %v", d2, err)
	}
	_, _, err = LoadRetrieval(context.Background(), "hf://kormed-test/phqa:korean", "test", dataset.Columns{dataset.RoleDocument: "body"}, o)
	if err == nil || !strings.Contains(err.Error(), `no column "body"`) || !strings.Contains(err.Error(), "question, answer") {
		t.Fatalf("a missing mapped column: %v", err)
	}
}

func TestWithSplit(t *testing.T) {
	dir := t.TempDir()
	beir := filepath.Join(dir, "beir")
	hashed := filepath.Join(dir, "a#b")
	os.MkdirAll(beir, 0o755)
	os.MkdirAll(hashed, 0o755)
	for _, c := range []struct{ arg, fallback, src, split, err string }{
		{"hf://o/n", "test", "hf://o/n", "test", ""},
		{"hf://o/n#dev", "test", "hf://o/n", "dev", ""},
		{"hf://o/n:korean@v1.0#validation", "", "hf://o/n:korean@v1.0", "validation", ""},
		{"hf://o/n@d243889a#dev", "test", "hf://o/n@d243889a", "dev", ""},
		{"hf://o/n#", "test", "", "", "malformed split"},
		{"hf://o/n#dev@main", "test", "", "", "malformed split"},
		{"hf://o/n#a#b", "test", "", "", "malformed split"},
		{beir, "test", beir, "test", ""},
		{beir + "#dev", "test", beir, "dev", ""},
		{hashed, "test", hashed, "test", ""},     // exists as written: its '#' is its name
		{hashed + "#dev", "", hashed, "dev", ""}, // the last '#' ends the path
		{beir + "#a/b", "test", "", "", "malformed split"},
	} {
		src, split, err := WithSplit(c.arg, c.fallback)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("%s: err %v, want %q", c.arg, err, c.err)
			}
			continue
		}
		if err != nil || src != c.src || split != c.split {
			t.Errorf("%s: (%q, %q, %v), want (%q, %q)", c.arg, src, split, err, c.src, c.split)
		}
		// Applying it again to what it returned changes nothing.
		if src2, split2, err := WithSplit(src, split); err != nil || src2 != src || split2 != split {
			t.Errorf("%s twice: (%q, %q, %v)", c.arg, src2, split2, err)
		}
	}
}
