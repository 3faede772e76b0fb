package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/ingest"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// stderrOf runs fn with os.Stderr sent to a file and returns what it
// wrote.
func stderrOf(t *testing.T, fn func() error) (string, error) {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	old := os.Stderr
	os.Stderr = f
	err = fn()
	os.Stderr = old
	b, rerr := os.ReadFile(f.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(b), err
}

// TestIndexReportsIndexDUR resumes a build whose documents were all
// staged (with their DUR flags) by an earlier, interrupted run, and runs
// it again once built: both report the DUR flags the index holds, not
// those this run attached (none).
func TestIndexReportsIndexDUR(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.jsonl")
	os.WriteFile(corpus, []byte(`{"_id":"198500306","title":"제일와파린정","text":"와파린나트륨 혈액응고저지제"}
{"_id":"199700909","title":"아키놀연질캡슐","text":"이소트레티노인 여드름 치료제"}
{"_id":"100000001","title":"타이레놀정","text":"아세트아미노펜 해열 진통제"}
`), 0o644)
	durFile := "../../testdata/dur/dur_sample.json"
	out := filepath.Join(dir, "ix")
	args := []string{"--corpus", corpus, "--out", out, "--analyzer", "bigram", "--dur", durFile, "--quiet"}

	// The interrupted run: every document staged, DUR attached, no
	// generation built.
	src, err := ingest.Open(corpus, nil, os.Stderr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := embedded.NewBuilder(out, embedded.Options{Analyzer: "bigram", Dense: embedded.DenseAuto, ANNThreshold: embedded.DefaultANNThreshold}, ingest.Fingerprint(src, durFile, ""))
	if err != nil {
		t.Fatal(err)
	}
	var docs []search.Doc
	if err := src.Each(func(_ string, d search.Doc) error { docs = append(docs, d); return nil }); err != nil {
		t.Fatal(err)
	}
	recs, err := dur.ReadFile(durFile)
	if err != nil {
		t.Fatal(err)
	}
	ingest.AttachDUR(recs, docs)
	// 제일와파린정 and 아키놀연질캡슐 carry the sample's 임부금기 records.
	const want = "DUR: 2 products flagged (임부금기 2)\n"
	if err := b.Add(docs, nil); err != nil {
		t.Fatal(err)
	}
	b.Close()

	msg, err := stderrOf(t, func() error { return cmdIndex.Exec(context.Background(), args) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "resuming: 3 documents") || !strings.Contains(msg, want) {
		t.Errorf("resumed build: want %q in:\n%s", want, msg)
	}
	msg, err = stderrOf(t, func() error { return cmdIndex.Exec(context.Background(), args) })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg, "is up to date") || !strings.Contains(msg, want) {
		t.Errorf("up-to-date index: want %q in:\n%s", want, msg)
	}
}

// TestIndexRateOverWholeBuild checks that the documents per second
// 'kormed index' prints are the documents over the whole build's time
// (staging and building the generation), not over staging alone.
func TestIndexRateOverWholeBuild(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.jsonl")
	var buf strings.Builder
	for i := 0; i < 2000; i++ {
		fmt.Fprintf(&buf, `{"_id":"d%04d","title":"제품 %d","text":"해열 진통 소화 항생 %d번 설명 성분 %d"}`+"\n", i, i, i, i%31)
	}
	os.WriteFile(corpus, []byte(buf.String()), 0o644)
	start := time.Now()
	msg, err := stderrOf(t, func() error {
		return cmdIndex.Exec(context.Background(), []string{"--corpus", corpus, "--out", filepath.Join(dir, "ix"), "--analyzer", "bigram", "--quiet"})
	})
	wall := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`indexed 2000 documents \(2000 new\) .* in ([0-9.]+)(m?s) \(([0-9]+) docs/s\)`).FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("no summary line in:\n%s", msg)
	}
	took, _ := strconv.ParseFloat(m[1], 64)
	if m[2] == "ms" {
		took /= 1000
	}
	rate, _ := strconv.ParseFloat(m[3], 64)
	if took <= 0 || took > wall.Seconds() {
		t.Fatalf("took %v s, the call took %v", took, wall)
	}
	// The printed time is rounded to the millisecond and the rate to
	// the unit.
	lo, hi := 2000/(took+0.001)-1, 2000/max(took-0.001, 1e-6)+1
	if rate < lo || rate > hi {
		t.Errorf("%.0f docs/s, want 2000 documents over %.3f s = %.0f:\n%s", rate, took, 2000/took, msg)
	}
}
