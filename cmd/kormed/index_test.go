package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// TestIndexResumeAfterSIGKILL kills 'kormed index' twice with SIGKILL
// while it embeds, resumes it, and checks that the index holds every
// document exactly once with the vectors and documents of an uninterrupted
// build.
func TestIndexResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes three times")
	}
	dir := t.TempDir()
	corpus := filepath.Join(dir, "corpus.jsonl")
	var buf bytes.Buffer
	kinds := []string{"해열제", "진통제", "소화제", "항생제", "안약", "기침약", "감기약", "변비약"}
	const n = 3000
	for i := 0; i < n; i++ {
		k := kinds[i%len(kinds)]
		fmt.Fprintf(&buf, `{"_id":"doc-%04d","title":"제품 %d %s","text":"%s 설명 %d번, 성분 %d","metadata":{"kind":%q,"n":%d,"seq":%d}}`+"\n", i, i, k, k, i, i%37, k, i%5, 200806432+i)
	}
	os.WriteFile(corpus, buf.Bytes(), 0o644)
	model := "../../testdata/models/tiny-xlmr"
	ref := filepath.Join(dir, "ref")
	if err := cmdIndex.Exec(context.Background(), []string{"--corpus", corpus, "--out", ref, "--model", model, "--batch", "50", "--quiet", "--threads", "1", "--analyzer", "bigram"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "killed")
	args := fmt.Sprintf("index --corpus %s --out %s --model %s --batch 50 --quiet --threads 1 --analyzer bigram", corpus, out, model)
	staged := filepath.Join(out, ".staging", "docs.jsonl")
	for _, at := range []int{300, 1500} {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "KORMED_MAIN=1", "KORMED_ARGS="+args)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		killed := false
		deadline := time.Now().Add(time.Minute)
		for !killed && time.Now().Before(deadline) {
			select {
			case err := <-done:
				t.Fatalf("the run ended (%v) before %d documents were staged:\n%s", err, at, stderr.String())
			case <-time.After(time.Millisecond):
			}
			if b, err := os.ReadFile(staged); err == nil && bytes.Count(b, []byte{'\n'}) >= at {
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed = true
			}
		}
		if !killed {
			t.Fatalf("never reached %d staged documents:\n%s", at, stderr.String())
		}
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "KORMED_MAIN=1", "KORMED_ARGS="+args)
	msg, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("resume: %v\n%s", err, msg)
	}
	if !strings.Contains(string(msg), "resuming: ") {
		t.Errorf("the last run did not resume:\n%s", msg)
	}
	// Same documents, in the same order, each once; same vectors.
	a := readGeneration(t, ref)
	b := readGeneration(t, out)
	if len(b.ids) != n {
		t.Fatalf("%d documents after resuming, want %d", len(b.ids), n)
	}
	seen := map[string]bool{}
	for _, id := range b.ids {
		if seen[id] {
			t.Fatalf("document %s indexed twice", id)
		}
		seen[id] = true
	}
	if strings.Join(a.ids, ",") != strings.Join(b.ids, ",") {
		t.Error("document order differs from an uninterrupted build")
	}
	if !bytes.Equal(a.docs, b.docs) || !bytes.Equal(a.vectors, b.vectors) {
		t.Error("documents or vectors differ from an uninterrupted build")
	}
	ix, err := embedded.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	if info, _ := ix.Info(context.Background()); info.Docs != n || len(info.Fields) != 3 {
		t.Errorf("info %+v", info)
	}
	// Numbers in metadata keep their text.
	if d, ok, _ := ix.Get(context.Background(), "doc-0007"); !ok || strings.Join(d.Fields["seq"], ",") != "200806439" || strings.Join(d.Fields["n"], ",") != "2" {
		t.Errorf("doc-0007 fields %v", d.Fields)
	}
}

type generation struct {
	ids           []string
	docs, vectors []byte
}

func readGeneration(t *testing.T, dir string) generation {
	t.Helper()
	m, err := embedded.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	var g generation
	if g.docs, err = os.ReadFile(filepath.Join(dir, m.Generation, "docs.jsonl")); err != nil {
		t.Fatal(err)
	}
	if g.vectors, err = os.ReadFile(filepath.Join(dir, m.Generation, "vectors.bin")); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(bytes.NewReader(g.docs))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var d search.Doc
		if err := json.Unmarshal(sc.Bytes(), &d); err != nil {
			t.Fatal(err)
		}
		g.ids = append(g.ids, d.ID)
	}
	return g
}

// TestIndexDrugTable indexes the shared MFDS table with the hand-written
// DUR sample and checks the metadata and flags on real products.
func TestIndexDrugTable(t *testing.T) {
	data := "../../../shared/data/drugs"
	if _, err := os.Stat(data); err != nil {
		t.Skip("no shared drug data")
	}
	out := filepath.Join(t.TempDir(), "ix")
	if err := cmdIndex.Exec(context.Background(), []string{"--corpus", data, "--out", out, "--analyzer", "bigram",
		"--dur", "../../testdata/dur/dur_sample.json", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	ix, err := embedded.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ctx := context.Background()
	info, _ := ix.Info(ctx)
	if info.Docs != 2268 || info.Model.Name != "" {
		t.Errorf("info %+v", info)
	}
	want := []string{"class", "company", "ingredient", "ingredient_code", "type", "type_code"}
	if strings.Join(info.Fields, ",") != strings.Join(want, ",") {
		t.Errorf("fields %v, want %v", info.Fields, want)
	}
	// 판콜에이내복액 (196800036): 일반의약품 in drug_summary_100.csv.
	d, ok, _ := ix.Get(ctx, "196800036")
	if !ok || d.Title != "판콜에이내복액" || strings.Join(d.Fields["class"], "") != "일반" || len(d.Fields["ingredient"]) == 0 {
		t.Errorf("판콜에이내복액: %+v", d)
	}
	// 제일와파린정 (198500306) carries the sample's 임부금기 record by
	// item sequence.
	d, ok, _ = ix.Get(ctx, "198500306")
	found := false
	for _, f := range d.DUR {
		found = found || f.Type == "임부금기" && f.MatchedBy == "item_seq"
	}
	if !ok || !found {
		t.Errorf("와파린: DUR %+v", d.DUR)
	}
	svc, err := search.NewService(ctx, ix, nil, search.ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := svc.Search(ctx, search.Request{Query: "판콜에이내복액", K: 3})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Mode != search.ModeBM25 || len(resp.Hits) == 0 || resp.Hits[0].ID != "196800036" || len(resp.Notes) == 0 {
		t.Errorf("search: %+v", resp)
	}
	if !strings.Contains(resp.Hits[0].SnippetHTML, "<mark>판콜에이내복액</mark>") {
		t.Errorf("snippet %q", resp.Hits[0].SnippetHTML)
	}
	resp, err = svc.Search(ctx, search.Request{Query: "임산부 와파린", K: 5, Safety: search.SafetyStrict})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Rules) == 0 || resp.Rules[0].Action != "exclude" {
		t.Errorf("rules %+v", resp.Rules)
	}
	for _, h := range resp.Hits {
		for _, f := range h.DUR {
			if f.Type == "임부금기" {
				t.Errorf("strict safety returned %s (%s) with 임부금기", h.ID, h.Title)
			}
		}
	}
}

// TestIndexAddDelete updates an index in place from the command line.
func TestIndexAddDelete(t *testing.T) {
	dir := t.TempDir()
	corpus := filepath.Join(dir, "c.jsonl")
	os.WriteFile(corpus, []byte(`{"_id":"a","title":"타이레놀정","text":"해열 진통제"}
{"_id":"b","title":"베아제정","text":"소화제"}
`), 0o644)
	out := filepath.Join(dir, "ix")
	model := "../../testdata/models/tiny-xlmr"
	if err := cmdIndex.Exec(context.Background(), []string{"--corpus", corpus, "--out", out, "--model", model, "--analyzer", "bigram", "--quiet"}); err != nil {
		t.Fatal(err)
	}
	add := filepath.Join(dir, "add.jsonl")
	os.WriteFile(add, []byte(`{"_id":"c","title":"판콜에이내복액","text":"감기약","metadata":{"class":"일반"}}
{"_id":"a","title":"타이레놀정500밀리그램","text":"새 설명"}
`), 0o644)
	// The index's recorded model is used when --model is not given.
	if err := cmdIndex.Exec(context.Background(), []string{"--out", out, "--add", add, "--delete", "b,zz"}); err != nil {
		t.Fatal(err)
	}
	m0, _ := embedded.ReadManifest(out)
	if err := cmdIndex.Exec(context.Background(), []string{"--out", out, "--compact"}); err != nil {
		t.Fatal(err)
	}
	if m, _ := embedded.ReadManifest(out); m.Docs != 2 || m.Generation == m0.Generation {
		t.Errorf("after --compact: %+v (before %s)", m, m0.Generation)
	}
	ix, err := embedded.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ctx := context.Background()
	if info, _ := ix.Info(ctx); info.Docs != 2 {
		t.Errorf("%d documents, want 2", info.Docs)
	}
	if d, ok, _ := ix.Get(ctx, "a"); !ok || d.Text != "새 설명" {
		t.Errorf("a: %+v", d)
	}
	if _, ok, _ := ix.Get(ctx, "b"); ok {
		t.Error("b not deleted")
	}
	if d, ok, _ := ix.Get(ctx, "c"); !ok || d.Fields["class"][0] != "일반" {
		t.Errorf("c: %+v", d)
	}
}
