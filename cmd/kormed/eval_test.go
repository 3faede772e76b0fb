package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/eval"
)

// TestEvalCommand runs BM25 end to end on a small CSV: results JSON,
// leaderboard files, and a second run joining the leaderboard.
func TestEvalCommand(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "toy.csv")
	os.WriteFile(data, []byte("query,context,label\n"+
		"강심제란?,강심제는 심장의 수축력을 높이는 약물입니다.,1\n"+
		"이뇨제란?,이뇨제는 소변 배출을 늘리는 약물입니다.,1\n"+
		"진해제란?,진해제는 기침을 멎게 하는 약물입니다.,1\n"+
		"진해제란?,이뇨제는 소변 배출을 늘리는 약물입니다.,0\n"), 0o644)
	out := filepath.Join(dir, "out")
	ctx := context.Background()
	if err := cmdEval.Exec(ctx, []string{"--retriever", "bm25", "--analyzer", "bigram", "--k1", "0.9", "--data", data, "--output", out, "--k", "1,3"}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(out, "results", "toy__bm25-bigram.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r eval.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.Retriever != "bm25" || r.Analyzer != "bigram" || r.Dataset.Evaluated != 3 || r.Dataset.Docs != 3 || r.Metrics["NDCG@1"] != 1 || r.Metrics["P@3"] != 1.0/3 {
		t.Errorf("result %+v", r)
	}
	if err := cmdEval.Exec(ctx, []string{"--data", data, "--output", out, "--name", "mine", "--k", "1,3"}); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(out, eval.LeaderboardMD))
	for _, want := range []string{"| bm25-bigram |", "| mine |"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("leaderboard lacks %q:\n%s", want, md)
		}
	}
	for _, f := range []string{eval.LeaderboardHTML, eval.LeaderboardPNG} {
		if st, err := os.Stat(filepath.Join(out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--data", data}, "--output is required"},
		{[]string{"--data", data, "--output", out, "--retriever", "dense"}, "--retriever dense needs --model"},
		{[]string{"--data", data, "--output", out, "--retriever", "tfidf"}, `unknown retriever "tfidf"`},
		{[]string{"--data", data, "--output", out, "--analyzer", "bigram,morph", "--name", "x"}, "--name names a single run"},
		{[]string{"--data", data, "--output", out, "--diagnose"}, "--diagnose needs a dense run"},
		{[]string{"--data", data, "--output", out, "--k", "1,0"}, "--k:"},
	} {
		if err := cmdEval.Exec(ctx, c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: err = %v, want %q", c.args, err, c.want)
		}
	}
}

// TestEvalDenseTestModel runs a dense eval and the diagnosis with the
// random-weight test encoder, whose embeddings are collapsed.
func TestEvalDenseTestModel(t *testing.T) {
	m := "../../testdata/models/tiny-xlmr"
	if _, err := os.Stat(m); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "toy.jsonl")
	os.WriteFile(data, []byte(`{"query": "강심제란?", "document": "강심제는 심장의 수축력을 높이는 약물입니다.", "hard_negative": "이뇨제는 소변 배출을 늘리는 약물입니다."}
{"query": "진해제란?", "document": "진해제는 기침을 멎게 하는 약물입니다."}
`), 0o644)
	out := filepath.Join(dir, "out")
	if err := cmdEval.Exec(context.Background(), []string{"--retriever", "dense", "--model", m, "--data", data, "--output", out, "--diagnose", "--per-query"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(filepath.Join(out, "results", "toy__dense-tiny-xlmr.json"))
	var r eval.Result
	if err := json.Unmarshal(raw, &r); err != nil {
		t.Fatal(err)
	}
	if r.Model != m || r.Collapse == nil || r.Collapse.Relevant.N != 2 || len(r.PerQuery) != 2 || len(r.PerQuery["q1"].Ranking) != 3 {
		t.Errorf("result %+v", r)
	}
	if _, err := os.Stat(filepath.Join(out, "collapse-toy__dense-tiny-xlmr.png")); err != nil {
		t.Error(err)
	}
	if err := cmdDiagnose.Exec(context.Background(), []string{"--model", m, "--data", data, "--output", out, "--strict"}); err == nil || !strings.Contains(err.Error(), "collapse warning") {
		t.Errorf("diagnose --strict on a random model: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "collapse-toy__dense-tiny-xlmr.json")); err != nil {
		t.Error(err)
	}
}

// TestEvalRefusesOverwrite re-runs a run name: without --overwrite it is
// an error naming the file and the flag, and the earlier per-query data
// stays; with --overwrite the file is replaced.
func TestEvalRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "toy.csv")
	os.WriteFile(data, []byte("query,context,label\n"+
		"강심제란?,강심제는 심장의 수축력을 높이는 약물입니다.,1\n"+
		"이뇨제란?,이뇨제는 소변 배출을 늘리는 약물입니다.,1\n"), 0o644)
	out := filepath.Join(dir, "out")
	ctx := context.Background()
	args := []string{"--retriever", "bm25", "--analyzer", "bigram", "--data", data, "--output", out, "--k", "1"}
	if err := cmdEval.Exec(ctx, append(args, "--per-query")); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "results", "toy__bm25-bigram.json")
	perQuery := func() int {
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var r eval.Result
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		return len(r.PerQuery)
	}
	if n := perQuery(); n != 2 {
		t.Fatalf("%d per-query results", n)
	}
	err := cmdEval.Exec(ctx, args)
	if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), "--overwrite") {
		t.Fatalf("re-run: err = %v, want one naming %s and --overwrite", err, path)
	}
	if n := perQuery(); n != 2 {
		t.Errorf("refused re-run changed the file: %d per-query results", n)
	}
	if err := cmdEval.Exec(ctx, append(args, "--overwrite")); err != nil {
		t.Fatal(err)
	}
	if n := perQuery(); n != 0 {
		t.Errorf("--overwrite: %d per-query results, want 0 (replaced)", n)
	}
	rs, err := eval.ReadResults(out)
	if err != nil || len(rs) != 1 {
		t.Errorf("results: %d, %v", len(rs), err)
	}
}

// TestEvalDevQrelsFile calibrates a hybrid run on a qrels file (--dev
// FILE.tsv): the queries' texts from the BEIR folder's queries.jsonl or
// --dev-queries, the documents the evaluated corpus's.
func TestEvalDevQrelsFile(t *testing.T) {
	m := "../../testdata/models/tiny-xlmr"
	if _, err := os.Stat(m); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	write := func(p, s string) string {
		p = filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("a/corpus.jsonl", `{"_id":"d1","text":"강심제는 심장의 수축력을 높이는 약물입니다."}`+"\n"+
		`{"_id":"d2","text":"이뇨제는 소변 배출을 늘리는 약물입니다."}`+"\n"+`{"_id":"d3","text":"진해제는 기침을 멎게 하는 약물입니다."}`+"\n")
	write("a/queries.jsonl", `{"_id":"q1","text":"강심제란?"}`+"\n"+`{"_id":"q2","text":"이뇨제란?"}`+"\n"+`{"_id":"q3","text":"진해제란?"}`+"\n")
	write("a/qrels/test.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\n")
	data := filepath.Join(dir, "a")
	dev := write("labels/mydev.tsv", "query-id\tcorpus-id\tscore\nq2\td2\t1\nq3\td3\t1\n")
	exec := func(args ...string) error {
		return cmdEval.Exec(context.Background(), append([]string{"--retriever", "hybrid", "--model", m, "--analyzer", "bigram", "--data", data, "--k", "1", "--overwrite"}, args...))
	}
	calibration := func(out, run string) *eval.Result {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(out, "results", "a__"+run+".json"))
		if err != nil {
			t.Fatal(err)
		}
		var r eval.Result
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		return &r
	}
	out := filepath.Join(dir, "out")
	if err := exec("--dev", dev, "--output", out); err != nil {
		t.Fatal(err)
	}
	if r := calibration(out, "hybrid-dev-mydev-bigram-tiny-xlmr"); r.Calibration == nil || r.Calibration.Source != "labelled queries" || r.Calibration.N != 2 {
		t.Errorf("calibration %+v", r.Calibration)
	}
	// --dev-queries: texts from another file.
	qs := write("labels/q.jsonl", `{"_id":"x1","text":"기침을 멎게 하는 약"}`+"\n")
	one := write("labels/one.tsv", "query-id\tcorpus-id\tscore\nx1\td3\t1\n")
	if err := exec("--dev", one, "--dev-queries", qs, "--output", out); err != nil {
		t.Fatal(err)
	}
	if r := calibration(out, "hybrid-dev-one-bigram-tiny-xlmr"); r.Calibration == nil || r.Calibration.N != 1 {
		t.Errorf("--dev-queries: calibration %+v", r.Calibration)
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"--dev", write("labels/bad.tsv", "query-id\tcorpus-id\tscore\nq2\td2\t1\nq2\tzz\t1\nq9\td1\t1\n")},
			[]string{"bad.tsv:3", `"zz"`, "not in the corpus of a", "bad.tsv:4", `"q9"`}},
		{[]string{"--dev", write("labels/row.tsv", "query-id\tcorpus-id\tscore\nq2\td2\n")}, []string{"row.tsv:2", "3 tab-separated"}},
		{[]string{"--dev", "dev", "--dev-queries", qs}, []string{"--dev-queries goes with a qrels file"}},
		{[]string{"--dev", filepath.Join(dir, "labels", "missing.tsv")}, []string{"missing.tsv"}},
	} {
		err := exec(append(c.args, "--output", filepath.Join(dir, "bad"))...)
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %v lacks %q", c.args, err, w)
			}
		}
	}
	// A source that is no BEIR folder has no queries.jsonl to read.
	csv := write("pairs.csv", "query,context,label\n강심제란?,강심제는 심장의 수축력을 높이는 약물입니다.,1\n")
	err := cmdEval.Exec(context.Background(), []string{"--retriever", "hybrid", "--model", m, "--data", csv, "--dev", dev, "--output", filepath.Join(dir, "csv")})
	if err == nil || !strings.Contains(err.Error(), "--dev-queries") {
		t.Errorf("a CSV source with a qrels file: %v", err)
	}
}
