package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// kormed index calibrates an index with a model (a random one here: BM25-
// like weights), stores it, --calibrate re-runs it deterministically,
// --alpha/--fusion override it, and a BM25-only index has none.
func TestIndexCalibration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	words := strings.Fields("두통 발열 기침 콧물 소화 불면 혈압 혈전 통증 염증 알레르기 피부 위장 신장 심장 근육 관절 감기 천식 당뇨")
	var b strings.Builder
	for i := 0; i < 60; i++ {
		name := fmt.Sprintf("제품%s%s정", words[i%20], words[(i/20+i)%20])
		fmt.Fprintf(&b, `{"_id":"d%02d","title":"%s","text":"%s: %s과 %s에 쓰는 약. %s은 %s에도 쓴다. 하루 %d번 먹는다."}`+"\n",
			i, name, name, words[(3*i)%20], words[(7*i+1)%20], name, words[(11*i+2)%20], i%3+1)
	}
	corpus := filepath.Join(dir, "c.jsonl")
	os.WriteFile(corpus, []byte(b.String()), 0o644)
	out := filepath.Join(dir, "ix")
	model := "../../testdata/models/tiny-xlmr"
	if err := cmdIndex.Exec(ctx, []string{"--corpus", corpus, "--out", out, "--model", model, "--analyzer", "bigram", "--quiet", "--calibrate-docs", "40"}); err != nil {
		t.Fatal(err)
	}
	m, _ := embedded.ReadManifest(out)
	c := m.Options.Calibration
	if c == nil || c.N != 40 || len(c.Candidates) != 29 {
		t.Fatalf("calibration %+v", c)
	}
	if c.Alpha > 0.2 {
		t.Errorf("a random model: %s (BM25 %.3f, dense %.3f): %s", c.Chosen.Name(), c.BM25, c.Dense, c.Reason)
	}
	first := *c
	if err := cmdIndex.Exec(ctx, []string{"--out", out, "--calibrate", "--calibrate-docs", "40"}); err != nil {
		t.Fatal(err)
	}
	m2, _ := embedded.ReadManifest(out)
	if m2.Generation == m.Generation || m2.Options.Calibration.Chosen != first.Chosen || m2.Options.Calibration.BM25 != first.BM25 {
		t.Errorf("--calibrate: %s %+v, first %s %+v", m2.Generation, m2.Options.Calibration.Chosen, m.Generation, first.Chosen)
	}
	if err := cmdIndex.Exec(ctx, []string{"--out", out, "--alpha", "0.3", "--fusion", "rrf", "--calibrate-docs", "40"}); err != nil {
		t.Fatal(err)
	}
	m3, _ := embedded.ReadManifest(out)
	if c := m3.Options.Calibration; c.Alpha != 0.3 || c.Fusion != search.FusionRRF || c.K != fusion.RRFK || c.Chosen != first.Chosen || !strings.Contains(c.Reason, "--alpha") {
		t.Errorf("--alpha/--fusion: %+v", c)
	}
	// Up to date: nothing rebuilt, the stored setting kept.
	if err := cmdIndex.Exec(ctx, []string{"--corpus", corpus, "--out", out, "--model", model, "--analyzer", "bigram", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	if m4, _ := embedded.ReadManifest(out); m4.Generation != m3.Generation || m4.Options.Calibration.Alpha != 0.3 {
		t.Errorf("an up-to-date rerun changed the index: %s %+v", m4.Generation, m4.Options.Calibration)
	}
	// BM25 only: no calibration, and none can be asked for.
	bmOut := filepath.Join(dir, "bm")
	if err := cmdIndex.Exec(ctx, []string{"--corpus", corpus, "--out", bmOut, "--analyzer", "bigram", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := embedded.ReadManifest(bmOut); m.Options.Calibration != nil {
		t.Error("a BM25-only index has a calibration")
	}
	if err := cmdIndex.Exec(ctx, []string{"--corpus", corpus, "--out", bmOut, "--analyzer", "bigram", "--alpha", "0.5"}); err == nil {
		t.Error("--alpha on a BM25-only build accepted")
	}
	if err := cmdIndex.Exec(ctx, []string{"--out", bmOut, "--calibrate"}); err == nil {
		t.Error("--calibrate on a BM25-only index accepted")
	}
}

// kormed index --dev takes a qrels file: its queries' texts from the
// queries.jsonl beside it (BEIR's layout) or --dev-queries, its document
// ids checked against the index, bad rows named by file and line.
func TestIndexCalibrateDevQrelsFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	var corpus, queries, qrels strings.Builder
	qrels.WriteString("query-id\tcorpus-id\tscore\n")
	words := strings.Fields("두통 발열 기침 콧물 소화 불면 혈압 혈전 통증 염증 알레르기 피부")
	for i := 0; i < 24; i++ {
		fmt.Fprintf(&corpus, `{"_id":"d%02d","title":"제품%d","text":"%s과 %s에 쓰는 약. 하루 %d번 먹는다."}`+"\n", i, i, words[i%12], words[(5*i+1)%12], i%3+1)
		if i%2 == 0 {
			fmt.Fprintf(&queries, `{"_id":"q%d","text":"%s %s 약"}`+"\n", i, words[i%12], words[(5*i+1)%12])
			fmt.Fprintf(&qrels, "q%d\td%02d\t1\n", i, i)
		}
	}
	write := func(p, s string) string {
		p = filepath.Join(dir, p)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cpath := write("c.jsonl", corpus.String())
	out := filepath.Join(dir, "ix")
	if err := cmdIndex.Exec(ctx, []string{"--corpus", cpath, "--out", out, "--model", "../../testdata/models/tiny-xlmr", "--analyzer", "bigram", "--quiet", "--calibrate-docs", "20"}); err != nil {
		t.Fatal(err)
	}
	// BEIR's layout: the queries in the folder above qrels/.
	write("dev/queries.jsonl", queries.String())
	devFile := write("dev/qrels/dev.tsv", qrels.String())
	if err := cmdIndex.Exec(ctx, []string{"--out", out, "--dev", devFile}); err != nil {
		t.Fatal(err)
	}
	m, _ := embedded.ReadManifest(out)
	if c := m.Options.Calibration; c == nil || c.Source != "labelled queries" || c.N != 12 || c.Queries != devFile {
		t.Fatalf("calibration %+v", c)
	}
	// --dev-queries: a queries file elsewhere.
	qfile := write("elsewhere/q.jsonl", queries.String())
	lone := write("lone/d.tsv", "query-id\tcorpus-id\tscore\nq0\td00\t1\nq2\td02\t1\n")
	if err := cmdIndex.Exec(ctx, []string{"--out", out, "--dev", lone}); err == nil || !strings.Contains(err.Error(), "--dev-queries") {
		t.Errorf("a qrels file without queries: %v", err)
	}
	if err := cmdIndex.Exec(ctx, []string{"--out", out, "--dev", lone, "--dev-queries", qfile}); err != nil {
		t.Fatal(err)
	}
	if m, _ := embedded.ReadManifest(out); m.Options.Calibration.N != 2 || m.Options.Calibration.Queries != lone {
		t.Errorf("--dev-queries: %+v", m.Options.Calibration)
	}
	for i, c := range []struct {
		qrels string
		want  []string
	}{
		{"query-id\tcorpus-id\tscore\nq0\td00\t1\nq0\tnope\t1\nq99\td01\t1\n",
			[]string{"bad0.tsv:3", `"nope"`, "not in the index", "bad0.tsv:4", `"q99"`, "q.jsonl"}},
		{"query-id\tcorpus-id\tscore\nq0\td00\t1\nq2 d02 1\n", []string{"bad1.tsv:3", "3 tab-separated"}},
		{"q0\td00\t1\n", []string{"bad2.tsv:1", "header"}},
	} {
		p := write(fmt.Sprintf("bad/bad%d.tsv", i), c.qrels)
		err := cmdIndex.Exec(ctx, []string{"--out", out, "--dev", p, "--dev-queries", qfile})
		for _, w := range c.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %v lacks %q", p, err, w)
			}
		}
	}
	if err := cmdIndex.Exec(ctx, []string{"--out", out, "--dev-queries", qfile}); err == nil {
		t.Error("--dev-queries without --dev accepted")
	}
}
