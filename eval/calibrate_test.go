package eval

import (
	"context"
	"fmt"
	"hash/fnv"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
)

// hashEncoder is a model that knows nothing: noise seeded by the text.
type hashEncoder struct{}

func (hashEncoder) EncodeQueries(_ context.Context, t []string) ([][]float32, error) {
	out := make([][]float32, len(t))
	for i, s := range t {
		h := fnv.New64a()
		h.Write([]byte(s))
		x := h.Sum64() | 1
		v := make([]float32, 16)
		for j := range v {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			v[j] = float32(int64(x%2001)-1000) / 1000
		}
		out[i] = v
	}
	return out, nil
}

func (e hashEncoder) EncodePassages(ctx context.Context, t []string) ([][]float32, error) {
	return e.EncodeQueries(ctx, t)
}

func calDataset() *dataset.Dataset {
	words := strings.Fields("두통 발열 기침 콧물 소화 불면 혈압 혈전 통증 염증 알레르기 피부 위장 신장 심장 근육 관절 감기 천식 당뇨")
	d := &dataset.Dataset{Name: "cal", Qrels: dataset.Qrels{}}
	for i := 0; i < 80; i++ {
		topic := []string{words[i%len(words)], words[(i*7+3)%len(words)], words[(i*11+5)%len(words)]}
		name := fmt.Sprintf("제품%s%s", words[i%len(words)], words[(i/len(words)+i)%len(words)])
		var ss []string
		for s := 0; s < 4; s++ {
			ss = append(ss, fmt.Sprintf("%s: %s과 %s에 쓰는 %d번 약.", name, topic[s%3], topic[(s+1)%3], s))
		}
		id := fmt.Sprintf("d%02d", i)
		d.Corpus = append(d.Corpus, dataset.Doc{ID: id, Title: name, Text: strings.Join(ss, " ")})
		q := fmt.Sprintf("q%02d", i)
		d.Queries = append(d.Queries, dataset.Query{ID: q, Text: topic[0] + " " + topic[1] + " " + topic[2]})
		d.Qrels[q] = map[string]int{id: 1}
	}
	return d
}

// A calibrated hybrid run with a model that knows nothing chooses BM25-like
// weights, reports its choice, and chooses the same again.
func TestHybridCalibrated(t *testing.T) {
	ctx := context.Background()
	d := calDataset()
	run := func(c Calibrate) *fusion.Calibration {
		h := &Hybrid{Base: &HybridBase{BM25: &BM25{Options: bm25.Options{Analyzer: "bigram"}}, Dense: &Dense{Enc: hashEncoder{}}}, Calibrate: &c}
		res, err := Run(ctx, d, Spec{Name: "hybrid-calibrated", Retriever: "hybrid", R: h}, Config{Ks: []int{10}})
		if err != nil {
			t.Fatal(err)
		}
		if h.Calibration == nil || res.Metrics["NDCG@10"] == 0 {
			t.Fatalf("no calibration or no score: %+v", res.Metrics)
		}
		return h.Calibration
	}
	a := run(Calibrate{N: 60, Seed: 1})
	if a.Alpha > 0.2 || a.Dense >= a.BM25 || a.N == 0 || a.Source != "pseudo-queries" {
		t.Errorf("random model: %s (BM25 %.3f, dense %.3f, %d queries): %s", a.Chosen.Name(), a.BM25, a.Dense, a.N, a.Reason)
	}
	b := run(Calibrate{N: 60, Seed: 1})
	a.TookMS, a.EncodeMS, b.TookMS, b.EncodeMS = 0, 0, 0, 0
	if !reflect.DeepEqual(a, b) {
		t.Error("not deterministic")
	}
	dev := run(Calibrate{Dev: d.Queries[:40], DevQrels: d.Qrels})
	if dev.Source != "labelled queries" || dev.N != 40 || dev.Alpha > 0.2 {
		t.Errorf("dev: %+v", dev)
	}
	r := &Result{Run: "x", Model: "m", Analyzer: "union", Calibration: dev}
	if s := setting(r); !strings.Contains(s, "calibrated: relative") {
		t.Errorf("leaderboard setting %q", s)
	}
}

func TestLabelledQueries(t *testing.T) {
	d := &dataset.Dataset{
		Queries: []dataset.Query{{ID: "q1", Text: "a"}, {ID: "q2", Text: "b"}, {ID: "q3", Text: "c"}},
		Qrels:   dataset.Qrels{"q1": {"d9": 1, "d2": 2, "d5": 0}, "q2": {"d1": 0}},
	}
	qs := LabelledQueries(d)
	if len(qs) != 1 || qs[0].Text != "a" || strings.Join(qs[0].Relevant, ",") != "d2,d9" {
		t.Errorf("%+v", qs)
	}
}
