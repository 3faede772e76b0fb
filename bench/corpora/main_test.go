package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/kormed/kormed/dataset"
)

// A two-article KorQuAD-format file: repeated paragraphs merge, every
// question is judged against its own paragraph, and the dev/test splits
// partition the queries.
func TestKorQuADToBEIR(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "dev.json")
	json := `{"version":"KorQuAD_v1.0_dev","data":[
 {"title":"타이레놀","paragraphs":[
   {"context":"아세트아미노펜은 해열진통제이다.","qas":[{"id":"1-0-0","question":"아세트아미노펜의 효능은?","answers":[]},{"id":"1-0-1","question":"해열진통제는?","answers":[]}]},
   {"context":"간 손상에 주의한다.","qas":[{"id":"1-1-0","question":"무엇에 주의하나?","answers":[]}]}]},
 {"title":"타이레놀","paragraphs":[
   {"context":"아세트아미노펜은 해열진통제이다.","qas":[{"id":"2-0-0","question":"해열제의 성분은?","answers":[]}]}]}]}`
	if err := os.WriteFile(src, []byte(json), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &source{path: src, rev: "HEAD"}
	d, _, err := korquad(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Corpus) != 2 || len(d.Queries) != 4 {
		t.Fatalf("got %d docs, %d queries; want 2, 4", len(d.Corpus), len(d.Queries))
	}
	if got := d.Qrels["2-0-0"]; got["kq000-00"] != 1 || len(got) != 1 {
		t.Errorf("repeated paragraph: qrels %v, want kq000-00 only", got)
	}
	out := filepath.Join(dir, "beir")
	if err := write(out, d, 50, s, "note"); err != nil {
		t.Fatal(err)
	}
	all, err := dataset.ReadBEIR(out, "all")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, split := range []string{"dev", "test"} {
		sub, err := dataset.ReadBEIR(out, split)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range sub.Queries {
			seen[q.ID]++
			if inDev(q.ID, 50) != (split == "dev") {
				t.Errorf("query %s in %s", q.ID, split)
			}
		}
	}
	if len(seen) != len(all.Queries) {
		t.Errorf("dev+test hold %d queries, all %d", len(seen), len(all.Queries))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("query %s in %d splits", id, n)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "SOURCE.md")); err != nil {
		t.Error(err)
	}
}
