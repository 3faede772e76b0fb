package main

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/ingest"
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
	err := cmdEval.Exec(ctx, args)
	if err == nil || !strings.Contains(err.Error(), "no document column") || !strings.Contains(err.Error(), "_id, body") {
		t.Fatalf("without --columns: %v", err)
	}
	if err := cmdEval.Exec(ctx, append(args, "--columns", "document=body")); err != nil {
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
	writeCachedRepo(repo, commit, files)
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
}

// writeCachedRepo writes files as the snapshot commit of a cached repo
// folder (<cache>/datasets--OWNER--NAME), main pointing at it.
func writeCachedRepo(repo, commit string, files map[string]string) {
	for name, s := range files {
		p := filepath.Join(repo, "snapshots", commit, filepath.FromSlash(name))
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(s), 0o644)
	}
	os.MkdirAll(filepath.Join(repo, "refs"), 0o755)
	os.WriteFile(filepath.Join(repo, "refs", "main"), []byte(commit), 0o644)
}

// TestEvalManyDatasets is the KoE5 leaderboard's shape in one command:
// an MTEB-layout set whose qrels split is dev (#dev), a local BEIR folder
// read with --split's test, and a question–answer set (PublicHealthQA's
// layout), evaluated into one output with --metrics choosing the columns.
func TestEvalManyDatasets(t *testing.T) {
	const commit = "3333333333333333333333333333333333333333"
	cache := t.TempDir()
	writeCachedRepo(filepath.Join(cache, "datasets--kormed-test--ko-strat"), commit, map[string]string{
		"README.md": "---\nconfigs:\n- config_name: default\n  data_files:\n  - split: dev\n    path: qrels/dev.jsonl\n" +
			"- config_name: corpus\n  data_files:\n  - split: corpus\n    path: corpus.jsonl\n" +
			"- config_name: queries\n  data_files:\n  - split: queries\n    path: queries.jsonl\n---\n",
		"corpus.jsonl": `{"_id":"d1","text":"강심제는 심장의 수축력을 높이는 약물입니다."}` + "\n" +
			`{"_id":"d2","text":"이뇨제는 소변 배출을 늘리는 약물입니다."}` + "\n",
		"queries.jsonl":   `{"_id":"q1","text":"이뇨제란?"}` + "\n",
		"qrels/dev.jsonl": `{"query-id":"q1","corpus-id":"d2","score":1}` + "\n",
	})
	writeCachedRepo(filepath.Join(cache, "datasets--kormed-test--phqa"), commit, map[string]string{
		"README.md":       "---\nconfigs:\n- config_name: korean\n  data_files:\n  - split: test\n    path: data/korean.csv\n---\n",
		"data/korean.csv": "question,answer\n독감 백신은?,독감 백신은 매년 맞습니다.\n독감 증상은?,독감 증상은 열과 기침입니다.\n",
	})
	t.Setenv("HF_HUB_CACHE", cache)
	t.Setenv("HF_HUB_OFFLINE", "1")
	local := filepath.Join(t.TempDir(), "local-beir")
	os.MkdirAll(filepath.Join(local, "qrels"), 0o755)
	os.WriteFile(filepath.Join(local, "corpus.jsonl"), []byte(`{"_id":"d1","text":"진해제는 기침을 멎게 합니다."}`+"\n"+`{"_id":"d2","text":"해열제는 열을 내립니다."}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(local, "queries.jsonl"), []byte(`{"_id":"q1","text":"해열제란?"}`+"\n"), 0o644)
	os.WriteFile(filepath.Join(local, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td2\t1\n"), 0o644)

	out := filepath.Join(t.TempDir(), "out")
	ctx := context.Background()
	data := "hf://kormed-test/ko-strat#dev," + local + ",hf://kormed-test/phqa:korean"
	r, w, _ := os.Pipe()
	stdout := os.Stdout
	os.Stdout = w
	err := cmdEval.Exec(ctx, []string{"--retriever", "bm25", "--analyzer", "bigram", "--data", data, "--output", out, "--metrics", "ndcg@1,ndcg@3,f1@1,f1@3"})
	os.Stdout = stdout
	w.Close()
	printed, _ := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]eval.DatasetInfo{
		"ko-strat__bm25-bigram.json":    {Path: "hf://kormed-test/ko-strat", Split: "dev", Docs: 2, Evaluated: 1},
		"local-beir__bm25-bigram.json":  {Path: local, Split: "test", Docs: 2, Evaluated: 1},
		"phqa-korean__bm25-bigram.json": {Path: "hf://kormed-test/phqa:korean", Split: "test", Docs: 2, Evaluated: 2},
	} {
		raw, err := os.ReadFile(filepath.Join(out, "results", file))
		if err != nil {
			t.Fatal(err)
		}
		var res eval.Result
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
		got := res.Dataset
		if got.Path != want.Path || got.Split != want.Split || got.Docs != want.Docs || got.Evaluated != want.Evaluated ||
			strings.Join(res.Columns, ",") != "NDCG@1,NDCG@3,F1@1,F1@3" || len(res.Ks) != 2 || res.Metrics["NDCG@1"] != 1 {
			t.Errorf("%s: %+v", file, res)
		}
	}
	md, _ := os.ReadFile(filepath.Join(out, eval.LeaderboardMD))
	for _, want := range []string{"## ko-strat (dev)", "## local-beir (test)", "## phqa-korean (test)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("leaderboard lacks %q:\n%s", want, md)
		}
	}
	if strings.Count(string(md), "| Model / analyzer | NDCG@1 | NDCG@3 | F1@1 | F1@3 | Search | Date |") != 3 || strings.Contains(string(md), "Recall@") {
		t.Errorf("leaderboard columns:\n%s", md)
	}
	if strings.Count(string(printed), "\nF1 ") != 3 || strings.Contains(string(printed), "Recall") || strings.Count(string(printed), "results: ") != 3 {
		t.Errorf("printed:\n%s", printed)
	}

	for _, c := range []struct{ data, out, want string }{
		{"hf://kormed-test/ko-strat#", out, "malformed split"},
		{"hf://kormed-test/ko-strat#dev,hf://kormed-test/ko-strat@main#dev", filepath.Join(t.TempDir(), "o2"), "are both named \"ko-strat\""},
		{"hf://kormed-test/phqa:korean", out, "exists (run \"bm25-bigram\" on phqa-korean"},
	} {
		err := cmdEval.Exec(ctx, []string{"--retriever", "bm25", "--analyzer", "bigram", "--data", c.data, "--output", c.out})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.data, err, c.want)
		}
	}
	if err := cmdEval.Exec(ctx, []string{"--data", data, "--output", out, "--metrics", "bleu@1"}); err == nil || !strings.Contains(err.Error(), `unknown metric "bleu"`) {
		t.Errorf("--metrics bleu@1: %v", err)
	}
}

// TestIndexHubCorpus indexes the corpus config of a Hub dataset.
func TestIndexHubCorpus(t *testing.T) {
	hubDrugsCache(t)
	out := filepath.Join(t.TempDir(), "ix")
	ctx := context.Background()
	src, err := ingest.Open("hf://kormed-test/ko-drugs", dataset.Columns{dataset.RoleDocument: "body"}, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	if err := src.Each(func(where string, d search.Doc) error { ids = append(ids, d.ID+"="+d.Text[:3]); return nil }); err != nil {
		t.Fatal(err)
	}
	if strings.Join(ids, " ") != "d1=강 d2=이 d3=진" || !strings.Contains(src.Fingerprint, "2222222222222222222222222222222222222222") {
		t.Fatalf("docs %v, fingerprint %s", ids, src.Fingerprint)
	}
	if err := cmdIndex.Exec(ctx, []string{"--corpus", "hf://kormed-test/ko-drugs", "--out", out, "--analyzer", "bigram", "--quiet", "--columns", "document=body"}); err != nil {
		t.Fatal(err)
	}
	err = cmdIndex.Exec(ctx, []string{"--corpus", "hf://kormed-test/ko-drugs", "--out", filepath.Join(t.TempDir(), "ix2"), "--analyzer", "bigram", "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "hf://kormed-test/ko-drugs") || !strings.Contains(err.Error(), "_id, body") {
		t.Fatalf("without --columns: %v", err)
	}
}

// TestEmbedHubInput embeds the corpus config of a Hub dataset, ids kept.
func TestEmbedHubInput(t *testing.T) {
	hubDrugsCache(t)
	out := filepath.Join(t.TempDir(), "out.jsonl")
	ctx := context.Background()
	if err := cmdEmbed.Exec(ctx, []string{"--model", tinyModelDir("tiny-xlmr"), "--input", "hf://kormed-test/ko-drugs:corpus", "--field", "body", "--output", out, "--quiet"}); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], `{"id":"d1","embedding":[`) || !strings.HasPrefix(lines[2], `{"id":"d3",`) {
		t.Fatalf("output:\n%.300s", b)
	}
	err := cmdEmbed.Exec(ctx, []string{"--model", tinyModelDir("tiny-xlmr"), "--input", "hf://kormed-test/ko-drugs:corpus", "--output", out, "--quiet"})
	if err == nil || !strings.Contains(err.Error(), "_id, body") {
		t.Fatalf("no text column: %v", err)
	}
}

// TestEvalManyDatasetsDev calibrates each dataset's hybrid run on that
// dataset's own dev queries (--dev), the model loaded once.
func TestEvalManyDatasetsDev(t *testing.T) {
	m := "../../testdata/models/tiny-xlmr"
	if _, err := os.Stat(m); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	var data []string
	for name, devQueries := range map[string]int{"a": 1, "b": 2} {
		d := filepath.Join(dir, name)
		os.MkdirAll(filepath.Join(d, "qrels"), 0o755)
		os.WriteFile(filepath.Join(d, "corpus.jsonl"), []byte(`{"_id":"d1","text":"강심제는 심장의 수축력을 높이는 약물입니다."}`+"\n"+
			`{"_id":"d2","text":"이뇨제는 소변 배출을 늘리는 약물입니다."}`+"\n"+`{"_id":"d3","text":"진해제는 기침을 멎게 하는 약물입니다."}`+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "queries.jsonl"), []byte(`{"_id":"q1","text":"강심제란?"}`+"\n"+`{"_id":"q2","text":"이뇨제란?"}`+"\n"+`{"_id":"q3","text":"진해제란?"}`+"\n"), 0o644)
		os.WriteFile(filepath.Join(d, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\td1\t1\n"), 0o644)
		dev := "query-id\tcorpus-id\tscore\nq2\td2\t1\n"
		if devQueries == 2 {
			dev += "q3\td3\t1\n"
		}
		os.WriteFile(filepath.Join(d, "qrels", "dev.tsv"), []byte(dev), 0o644)
		data = append(data, d)
	}
	out := filepath.Join(dir, "out")
	if err := cmdEval.Exec(context.Background(), []string{"--retriever", "hybrid", "--model", m, "--analyzer", "bigram", "--dev", "dev", "--data", strings.Join(data, ","), "--output", out, "--k", "1"}); err != nil {
		t.Fatal(err)
	}
	for name, n := range map[string]int{"a": 1, "b": 2} {
		raw, err := os.ReadFile(filepath.Join(out, "results", name+"__hybrid-dev-dev-bigram-tiny-xlmr.json"))
		if err != nil {
			t.Fatal(err)
		}
		var r eval.Result
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		if c := r.Calibration; c == nil || c.Source != "labelled queries" || c.N != n || r.Dataset.Split != "test" {
			t.Errorf("%s: calibration %+v, dataset %+v", name, c, r.Dataset)
		}
	}
}
