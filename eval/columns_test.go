package eval

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	keys, ks, err := ParseMetrics("f1@3, ndcg@3,NDCG@1,f1@1,precision@10,MAP@5")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(keys, ",") != "NDCG@1,NDCG@3,MAP@5,P@10,F1@1,F1@3" || !slices.Equal(ks, []int{1, 3, 5, 10}) {
		t.Errorf("keys %v, ks %v", keys, ks)
	}
	for in, want := range map[string]string{
		"":               "no metric given",
		"ndcg":           "want FAMILY@K",
		"ndcg@0":         "want FAMILY@K",
		"ndcg@x":         "want FAMILY@K",
		"bleu@1":         `unknown metric "bleu"`,
		"ndcg@1,NDCG@1":  "NDCG@1 given twice",
		"recall@3,acc@1": "",
	} {
		_, _, err := ParseMetrics(in)
		if (want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), want)) {
			t.Errorf("%q: err %v, want %q", in, err, want)
		}
	}
}

// TestMetricColumns: a run's chosen columns restrict the printed table
// and its dataset's leaderboard table; a run without a choice brings the
// default columns back, the chosen ones after them.
func TestMetricColumns(t *testing.T) {
	d, enc := smallDataset()
	cols, ks, _ := ParseMetrics("ndcg@1,ndcg@3,f1@1,f1@3")
	res, err := Run(context.Background(), d, Spec{Name: "dense-a", Retriever: "dense", R: &Dense{Enc: enc}}, Config{Ks: ks, Columns: cols})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(res.Columns, cols) || res.Metrics["Recall@3"] == 0 || res.Metrics["MRR@3"] == 0 {
		t.Fatalf("columns %v, metrics %v", res.Columns, res.Metrics)
	}
	var buf bytes.Buffer
	PrintTable(&buf, res)
	lines := strings.Split(buf.String(), "\n")
	if len(lines) < 4 || strings.TrimSpace(lines[1]) != "@1      @3" || lines[2] != "NDCG       66.67   87.70" || !strings.HasPrefix(lines[3], "F1  ") || strings.Contains(buf.String(), "Recall") || strings.Contains(buf.String(), "MRR") {
		t.Errorf("table:\n%s", buf.String())
	}
	res.Columns = []string{"NDCG@3", "F1@1"}
	buf.Reset()
	PrintTable(&buf, res)
	if !strings.Contains(buf.String(), "NDCG           –   87.70") {
		t.Errorf("a pair not chosen:\n%s", buf.String())
	}

	dir := t.TempDir()
	res.Columns = cols
	if _, err := WriteResult(dir, res); err != nil {
		t.Fatal(err)
	}
	if _, err := UpdateLeaderboard(dir); err != nil {
		t.Fatal(err)
	}
	md, _ := os.ReadFile(filepath.Join(dir, LeaderboardMD))
	if !strings.Contains(string(md), "| # | Run | Retriever | Model / analyzer | NDCG@1 | NDCG@3 | F1@1 | F1@3 | Search | Date |") {
		t.Errorf("chosen columns:\n%s", md)
	}
	other, err := Run(context.Background(), d, Spec{Name: "dense-b", Retriever: "dense", R: &Dense{Enc: enc}}, Config{Ks: []int{1, 3}})
	if err != nil {
		t.Fatal(err)
	}
	other.Columns = nil
	res.Run, res.Columns = "dense-c", []string{"MAP@3"}
	for _, r := range []*Result{other, res} {
		if _, err := WriteResult(dir, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := UpdateLeaderboard(dir); err != nil {
		t.Fatal(err)
	}
	md, _ = os.ReadFile(filepath.Join(dir, LeaderboardMD))
	if !strings.Contains(string(md), "| Model / analyzer | NDCG@1 | NDCG@3 | Recall@1 | Recall@3 | F1@1 | F1@3 | MRR@3 | MAP@3 | Search |") {
		t.Errorf("default columns and a chosen one:\n%s", md)
	}
}

func TestParseKs(t *testing.T) {
	ks, err := ParseKs("10, 1,3")
	if err != nil || !reflect.DeepEqual(ks, []int{1, 3, 10}) {
		t.Errorf("ParseKs = %v, %v", ks, err)
	}
	for _, bad := range []string{"", "0", "1,x", "3,3", "-1"} {
		if _, err := ParseKs(bad); err == nil {
			t.Errorf("ParseKs(%q) accepted", bad)
		}
	}
	for in, want := range map[string]string{"intfloat/multilingual-e5-small": "multilingual-e5-small", "/models/e5/": "e5", "x": "x"} {
		if got := ShortModelName(in); got != want {
			t.Errorf("ShortModelName(%q) = %q", in, got)
		}
	}
}
