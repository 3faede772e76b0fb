package dataset

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadLabelled(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"queries.jsonl": "{\"_id\":\"q2\",\"text\":\"둘째\"}\n{\"_id\":\"q1\",\"text\":\"첫째\"}\n{\"_id\":\"q3\",\"text\":\"unjudged\"}\n",
		"dev.tsv":       "query-id\tcorpus-id\tscore\nq1\td1\t1\nq2\td2\t2\nq2\td1\t0\n",
	})
	docs := map[string]bool{"d1": true, "d2": true}
	has := func(id string) bool { return docs[id] }
	d, err := ReadLabelled(filepath.Join(dir, "dev.tsv"), filepath.Join(dir, "queries.jsonl"), has, "the index")
	if err != nil {
		t.Fatal(err)
	}
	want := []Query{{ID: "q2", Text: "둘째"}, {ID: "q1", Text: "첫째"}} // the queries file's order, judged only
	if !reflect.DeepEqual(d.Queries, want) {
		t.Errorf("queries %v, want %v", d.Queries, want)
	}
	if wq := (Qrels{"q1": {"d1": 1}, "q2": {"d2": 2, "d1": 0}}); !reflect.DeepEqual(d.Qrels, wq) {
		t.Errorf("qrels %v, want %v", d.Qrels, wq)
	}
	if d.Name != "dev.tsv" || len(d.Corpus) != 0 {
		t.Errorf("name %q, corpus %d", d.Name, len(d.Corpus))
	}
}

func TestReadLabelledErrors(t *testing.T) {
	okQueries := "{\"_id\":\"q1\",\"text\":\"a\"}\n"
	header := "query-id\tcorpus-id\tscore\n"
	cases := []struct {
		name           string
		qrels, queries string
		want           []string // substrings of the error
	}{
		{"unknown ids", header + "q1\td1\t1\nq9\td1\t1\nq1\tzz\t1\n", okQueries,
			[]string{"invalid qrels file", "dev.tsv", "1× qrels query-id not in", `queries.jsonl`, `dev.tsv:3 "q9"`,
				"1× qrels corpus-id not in the index", `dev.tsv:4 "zz"`}},
		{"bad row", header + "q1\td1\n", okQueries, []string{"dev.tsv:2", "3 tab-separated"}},
		{"bad score", header + "q1\td1\tyes\n", okQueries, []string{"dev.tsv:2", "field score"}},
		{"no header", "q1\td1\t1\n", okQueries, []string{"dev.tsv:1", "want header"}},
		{"bad queries", header + "q1\td1\t1\n", "{\"_id\":\"q1\"}\n", []string{"queries.jsonl:1", "missing field text"}},
		{"duplicate query", header + "q1\td1\t1\n", okQueries + okQueries, []string{"duplicate query _id", "queries.jsonl:2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"dev.tsv": c.qrels, "queries.jsonl": c.queries})
			_, err := ReadLabelled(filepath.Join(dir, "dev.tsv"), filepath.Join(dir, "queries.jsonl"),
				func(id string) bool { return id == "d1" }, "the index")
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if _, err := ReadLabelled(filepath.Join(t.TempDir(), "none.tsv"), filepath.Join(t.TempDir(), "q.jsonl"), nil, ""); err == nil {
		t.Error("a missing file read")
	}
}
