package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/metrics"
)

// tableEncoder maps each text to a fixed vector.
type tableEncoder map[string][]float32

func (e tableEncoder) enc(texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i, t := range texts {
		v, ok := e[t]
		if !ok {
			return nil, fmt.Errorf("no vector for %q", t)
		}
		out[i] = v
	}
	return out, nil
}
func (e tableEncoder) EncodeQueries(_ context.Context, t []string) ([][]float32, error) {
	return e.enc(t)
}
func (e tableEncoder) EncodePassages(_ context.Context, t []string) ([][]float32, error) {
	return e.enc(t)
}

func TestTopKCosine(t *testing.T) {
	// 3 docs, 2 queries, dim 2; doc vectors normalised by the caller.
	ids := []string{"a", "b", "c"}
	s := float32(math.Sqrt(0.5))
	docs := []float32{1, 0, s, s, 0, 1}
	queries := []float32{1, 0, 0, 1}
	got, err := TopKCosine(context.Background(), queries, docs, 2, ids, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]metrics.Hit{{{ID: "a", Score: 1}, {ID: "b", Score: float64(s)}}, {{ID: "c", Score: 1}, {ID: "b", Score: float64(s)}}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	// Ties: equal scores come id-descending, as metrics.Sort ranks them.
	tie, _ := TopKCosine(context.Background(), []float32{0, 1}, []float32{1, 0, 1, 0, 1, 0}, 2, ids, 2)
	if tie[0][0].ID != "c" || tie[0][1].ID != "b" {
		t.Errorf("ties: %v", tie)
	}
	// k larger than the corpus returns everything.
	all, _ := TopKCosine(context.Background(), queries, docs, 2, ids, 10)
	if len(all[0]) != 3 || all[0][2].ID != "c" {
		t.Errorf("all: %v", all)
	}
}

// TestTopKCosineBlocks checks the blocked product against brute force on
// more queries than one block (vector.Flat.SearchBatch's 256) holds.
func TestTopKCosineBlocks(t *testing.T) {
	const nq, nd, dim, k = 256 + 37, 50, 8, 5
	q := make([]float32, nq*dim)
	d := make([]float32, nd*dim)
	for i := range q {
		q[i] = float32(math.Sin(float64(i)*1.3)) + 0.1
	}
	for i := range d {
		d[i] = float32(math.Cos(float64(i) * 0.7))
	}
	ids := make([]string, nd)
	for i := range ids {
		ids[i] = fmt.Sprintf("d%03d", i)
	}
	got, err := TopKCosine(context.Background(), q, d, dim, ids, k)
	if err != nil {
		t.Fatal(err)
	}
	for qi := 0; qi < nq; qi++ {
		hs := make([]metrics.Hit, nd)
		for di := 0; di < nd; di++ {
			var s float32
			for j := 0; j < dim; j++ {
				s += q[qi*dim+j] * d[di*dim+j]
			}
			hs[di] = metrics.Hit{ID: ids[di], Score: float64(s)}
		}
		metrics.Sort(hs)
		for j := 0; j < k; j++ {
			if got[qi][j].ID != hs[j].ID || math.Abs(got[qi][j].Score-hs[j].Score) > 1e-4 {
				t.Fatalf("query %d rank %d: got %v, want %v", qi, j, got[qi][j], hs[j])
			}
		}
	}
}

func smallDataset() (*dataset.Dataset, tableEncoder) {
	d := &dataset.Dataset{
		Name: "toy",
		Corpus: []dataset.Doc{
			{ID: "d1", Text: "강심제 설명"}, {ID: "d2", Text: "이뇨제 설명"}, {ID: "d3", Title: "진해제", Text: "기침"},
		},
		Queries: []dataset.Query{{ID: "q1", Text: "강심제?"}, {ID: "q2", Text: "이뇨제?"}, {ID: "q3", Text: "진해제?"}, {ID: "q4", Text: "판단 없음"}},
		Qrels:   dataset.Qrels{"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d3": 1, "d1": 0}, "q4": {"d1": 0}},
	}
	enc := tableEncoder{
		"강심제 설명": {1, 0, 0}, "이뇨제 설명": {0, 1, 0}, "진해제 기침": {0, 0, 2},
		"강심제?": {1, 0.1, 0},   // d1 first
		"이뇨제?": {0.9, 0.5, 0}, // d1 (0.874) before d2 (0.486)
		"진해제?": {0, 0, 1},     // d3
	}
	return d, enc
}

func TestRunDense(t *testing.T) {
	d, enc := smallDataset()
	r := &Dense{Enc: enc}
	res, err := Run(context.Background(), d, Spec{Name: "toy-dense", Retriever: "dense", Model: "table", R: r}, Config{Ks: []int{1, 2}, PerQuery: true, Split: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Dataset.Evaluated != 3 || res.Dataset.Skipped != 1 || res.Dataset.Queries != 4 || res.Dataset.Docs != 3 || res.Depth != 2 {
		t.Errorf("dataset info %+v depth %d", res.Dataset, res.Depth)
	}
	// q1, q3 at rank 1; q2 at rank 2.
	approx(t, "NDCG@1", res.Metrics["NDCG@1"], 2.0/3)
	approx(t, "NDCG@2", res.Metrics["NDCG@2"], (2+1/math.Log2(3))/3)
	approx(t, "MRR@2", res.Metrics["MRR@2"], 2.5/3)
	approx(t, "F1@1", res.Metrics["F1@1"], 2.0/3)
	if q2 := res.PerQuery["q2"]; len(q2.Ranking) != 2 || q2.Ranking[0].ID != "d1" || q2.Ranking[1].ID != "d2" || q2.Metrics["MRR@2"] != 0.5 {
		t.Errorf("q2 %+v", q2)
	}
	if res.Timings.Metrics <= 0 || res.Timings.Total < res.Timings.Search {
		t.Errorf("timings %+v", res.Timings)
	}
	qv, dv := r.Embeddings()
	if len(qv) != 3 || len(dv) != 3 || math.Abs(float64(dv["d3"][2])-1) > 1e-7 {
		t.Errorf("embeddings %v %v", qv, dv)
	}
	c, err := Diagnose(qv, dv, metrics.Qrels(d.Qrels), CollapseOptions{RandomPairs: 50})
	if err != nil {
		t.Fatal(err)
	}
	if c.Relevant.N != 3 || c.AnisotropyPairs != 3 {
		t.Errorf("collapse %+v", c)
	}
	approx(t, "anisotropy", c.Anisotropy, 0)
	var buf bytes.Buffer
	PrintTable(&buf, res)
	if !strings.Contains(buf.String(), "NDCG       66.67   87.70") {
		t.Errorf("table:\n%s", buf.String())
	}
	if _, err := Run(context.Background(), d, Spec{Name: "x", R: r}, Config{Ks: []int{1, 10}, Depth: 5}); err == nil {
		t.Error("depth below k accepted")
	}
}

func TestLeaderboard(t *testing.T) {
	dir := t.TempDir()
	d, enc := smallDataset()
	for _, name := range []string{"dense-a", "dense-b", "약-모델"} {
		res, err := Run(context.Background(), d, Spec{Name: name, Retriever: "dense", Model: "table", R: &Dense{Enc: enc}}, Config{Ks: []int{1, 3, 10}})
		if err != nil {
			t.Fatal(err)
		}
		if name == "dense-b" { // pretend a better run
			res.Metrics["NDCG@10"] = 0.99
		}
		if _, err := WriteResult(dir, res); err != nil {
			t.Fatal(err)
		}
	}
	rs, err := UpdateLeaderboard(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 3 {
		t.Fatalf("%d results", len(rs))
	}
	md, _ := os.ReadFile(filepath.Join(dir, LeaderboardMD))
	lines := strings.Split(string(md), "\n")
	var rows []string
	for _, l := range lines {
		if strings.HasPrefix(l, "| 1 ") || strings.HasPrefix(l, "| 2 ") || strings.HasPrefix(l, "| 3 ") {
			rows = append(rows, l)
		}
	}
	if len(rows) != 3 || !strings.HasPrefix(rows[0], "| 1 | dense-b | dense | table | 66.67 | 87.70 | **99.00** | 66.67 |") || !strings.Contains(rows[0], "**99.00**") || !strings.HasPrefix(rows[1], "| 2 | dense-a |") {
		t.Errorf("markdown rows:\n%s\n---\n%s", strings.Join(rows, "\n"), md)
	}
	if !strings.Contains(string(md), "| # | Run | Retriever | Model / analyzer | NDCG@1 | NDCG@3 | NDCG@10 | Recall@1 | Recall@3 | Recall@10 | F1@1 | F1@3 | F1@10 | MRR@10 | Search | Date |") {
		t.Errorf("markdown header:\n%s", md)
	}
	htm, _ := os.ReadFile(filepath.Join(dir, LeaderboardHTML))
	h := string(htm)
	if !strings.Contains(h, "<td>약-모델</td>") || !strings.Contains(h, "data:image/png;base64,") || strings.Contains(h, "http://") || strings.Contains(h, "https://") || strings.Contains(h, "<script") || strings.Contains(h, "<link") {
		t.Errorf("html not standalone or missing rows")
	}
	f, _ := os.Open(filepath.Join(dir, LeaderboardPNG))
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 500 || b.Dy() < 200 {
		t.Errorf("png %v", b)
	}
	// Re-running a name replaces its row; results JSON round-trips.
	res := rs[0]
	p, err := WriteResult(dir, res)
	if err != nil {
		t.Fatal(err)
	}
	rs2, _ := ReadResults(dir)
	if len(rs2) != 3 {
		t.Errorf("%d results after re-run", len(rs2))
	}
	var back Result
	data, _ := os.ReadFile(p)
	if err := json.Unmarshal(data, &back); err != nil || back.Metrics["NDCG@1"] != res.Metrics["NDCG@1"] || back.Dataset != res.Dataset {
		t.Errorf("round trip: %v %+v", err, back)
	}
	// No stray temp files.
	left, _ := filepath.Glob(filepath.Join(dir, ".*tmp*"))
	left2, _ := filepath.Glob(filepath.Join(dir, ResultsDir, ".*tmp*"))
	if len(left)+len(left2) > 0 {
		t.Errorf("temp files left: %v %v", left, left2)
	}
	if ResultFile(&Result{Run: "약-모델", Dataset: DatasetInfo{Name: "toy"}}) == ResultFile(&Result{Run: "약-자료", Dataset: DatasetInfo{Name: "toy"}}) {
		t.Error("distinct Hangul names share a result file")
	}
	if got := ResultFile(&Result{Run: "bm25-bigram", Dataset: DatasetInfo{Name: "drug type"}}); !strings.HasPrefix(got, "drug_type__bm25-bigram-") {
		t.Errorf("ResultFile %q", got)
	}
}

func TestLoadDataset(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "pairs.csv")
	os.WriteFile(p, []byte("query,context,label\na,b,1\n"), 0o644)
	d, note, err := LoadDataset(p, "test")
	if err != nil || len(d.Queries) != 1 || !strings.Contains(note, "1 queries") {
		t.Errorf("csv: %v %q %v", d, note, err)
	}
	p = filepath.Join(dir, "t.jsonl")
	os.WriteFile(p, []byte(`{"query":"a","document":"b","hard_negative":"c"}`+"\n"), 0o644)
	d, _, err = LoadDataset(p, "test")
	if err != nil || len(d.Corpus) != 2 {
		t.Errorf("jsonl: %v %v", d, err)
	}
	if _, _, err := LoadDataset(filepath.Join(dir, "x.txt"), ""); err == nil {
		t.Error("missing file accepted")
	}
	os.WriteFile(filepath.Join(dir, "x.txt"), nil, 0o644)
	if _, _, err := LoadDataset(filepath.Join(dir, "x.txt"), ""); err == nil || !strings.Contains(err.Error(), "unknown dataset format") {
		t.Errorf("txt: %v", err)
	}
}

// TestLeaderboardConcurrent writes results and rebuilds the leaderboard
// from several goroutines; every run must reach it.
func TestLeaderboardConcurrent(t *testing.T) {
	dir := t.TempDir()
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		go func(i int) {
			r := &Result{Run: fmt.Sprint("run", i), Retriever: "x", Dataset: DatasetInfo{Name: "toy"}, Ks: []int{10}, Metrics: map[string]float64{"NDCG@10": float64(i) / 10}}
			if _, err := WriteResult(dir, r); err != nil {
				errs <- err
				return
			}
			_, err := UpdateLeaderboard(dir)
			errs <- err
		}(i)
	}
	for i := 0; i < 8; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, LeaderboardMD))
	for i := 0; i < 8; i++ {
		if !strings.Contains(string(md), fmt.Sprintf("| run%d |", i)) {
			t.Errorf("run%d missing", i)
		}
	}
	if !strings.Contains(string(md), "| 1 | run7 |") {
		t.Errorf("order:\n%s", md)
	}
	if _, err := os.Stat(filepath.Join(dir, ".leaderboard.lock")); err == nil {
		t.Error("lock left behind")
	}
}

// BenchmarkTopKCosine: 1,000 queries against 10,000 documents of
// dimension 384, top 10.
func BenchmarkTopKCosine(b *testing.B) {
	const nq, nd, dim = 1000, 10000, 384
	q := make([]float32, nq*dim)
	d := make([]float32, nd*dim)
	for i := range q {
		q[i] = float32(math.Sin(float64(i) * 0.61))
	}
	for i := range d {
		d[i] = float32(math.Cos(float64(i) * 0.37))
	}
	ids := make([]string, nd)
	for i := range ids {
		ids[i] = fmt.Sprint("d", i)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := TopKCosine(context.Background(), q, d, dim, ids, 10); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(nq*b.N)/b.Elapsed().Seconds(), "queries/s")
}

// TestTopKCosineScoresExact checks that the scores are bit for bit those
// of one matrix product over the documents in their given order (the
// search reorders the rows by id), on shapes no kernel tile divides.
func TestTopKCosineScoresExact(t *testing.T) {
	const nq, nd, dim = 300, 1001, 37
	q := make([]float32, nq*dim)
	d := make([]float32, nd*dim)
	for i := range q {
		q[i] = float32(math.Sin(float64(i)*1.7)) + 0.05
	}
	for i := range d {
		d[i] = float32(math.Cos(float64(i) * 0.23))
	}
	ids := make([]string, nd)
	for i := range ids {
		ids[i] = fmt.Sprint("d", (i*7919)%nd) // neither id order nor its reverse
	}
	got, err := TopKCosine(context.Background(), q, d, dim, ids, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, nq*nd)
	blas.Sgemm(false, true, nq, nd, dim, 1, q, dim, d, dim, 0, want, nd)
	row := make(map[string]int, nd)
	for i, id := range ids {
		row[id] = i
	}
	for qi, hs := range got {
		if len(hs) != nd {
			t.Fatalf("query %d: %d hits", qi, len(hs))
		}
		for j, h := range hs {
			if w := float64(want[qi*nd+row[h.ID]]); h.Score != w {
				t.Fatalf("query %d rank %d (%s): score %v, one product gives %v", qi, j, h.ID, h.Score, w)
			}
			if j > 0 && (hs[j-1].Score < h.Score || hs[j-1].Score == h.Score && hs[j-1].ID < h.ID) {
				t.Fatalf("query %d rank %d: %v after %v", qi, j, h, hs[j-1])
			}
		}
	}
}
