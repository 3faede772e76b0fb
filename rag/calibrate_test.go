package rag

import (
	"context"
	"math"
	"reflect"
	"testing"

	"github.com/kormed/kormed/search"
)

func f(x float64) *float64 { return &x }

// TestMeasure is a worked example: the relevance test answers a question
// when a keyword hit's coverage reaches MinCoverage or a hit's dense
// cosine reaches MinDense; positives are the answerable questions.
func TestMeasure(t *testing.T) {
	scores := []CalScore{
		{ID: "a1", Kind: KindAnswerable, Keyword: true, Coverage: f(0.90), Dense: f(0.50), MaxDense: f(0.50)},
		{ID: "a2", Kind: KindAnswerable, Keyword: true, Coverage: f(0.60), Dense: f(0.70), MaxDense: f(0.70)},
		{ID: "a3", Kind: KindAnswerable, Dense: f(0.40), MaxDense: f(0.40)},
		{ID: "d1", Kind: KindDeleted, Keyword: true, Coverage: f(0.40), Dense: f(0.60), MaxDense: f(0.60)},
		{ID: "d2", Kind: KindDeleted, Dense: f(0.50), MaxDense: f(0.50)},
		{ID: "o1", Kind: KindOffTopic, Keyword: true, Coverage: f(0.20), Dense: f(0.30), MaxDense: f(0.30)},
		{ID: "o2", Kind: KindOffTopic},
	}
	c := Measure(scores, 0.45, 0.80)
	if c.Answerable != 3 || c.Deleted != 2 || c.OffTopic != 2 || c.KeywordAnswerable != 2 || c.KeywordUnanswerable != 2 || c.MinCoverage != 0.45 || c.MinDense != 0.80 {
		t.Errorf("counts %+v", c)
	}
	near := func(got Point, want Point) {
		t.Helper()
		g, w := got, want
		g.Precision, g.Recall, g.F1, w.Precision, w.Recall, w.F1 = 0, 0, 0, 0, 0, 0
		if g != w || math.Abs(got.Precision-want.Precision) > 1e-12 || math.Abs(got.Recall-want.Recall) > 1e-12 || math.Abs(got.F1-want.F1) > 1e-12 {
			t.Errorf("got %+v, want %+v", got, want)
		}
	}
	for _, s := range []Sweep{c.Coverage, c.Relevant, c.DenseOnly} {
		if len(s.Curve) != 100 || s.Curve[0].Threshold != 0.01 || s.Curve[99].Threshold != 1 {
			t.Errorf("curve %d points, %v…%v", len(s.Curve), s.Curve[0].Threshold, s.Curve[99].Threshold)
		}
	}
	// MinCoverage, MinDense 0.80 (no dense cosine reaches it): at 0 (the
	// rule before coverage) every keyword question is answered; o1 is
	// refused above 0.20, d1 above 0.40 (F1 0.8 on 0.41…0.60, the best:
	// its middle is 0.50), a2 above 0.60.
	near(c.Coverage.Best, Point{Threshold: 0.50, TP: 2, FP: 0, FN: 1, TN: 4, Precision: 1, Recall: 2.0 / 3, F1: 0.8})
	if len(c.Coverage.At) != 3 || c.Coverage.At[1].Threshold != DefaultMinCoverage {
		t.Errorf("coverage at %+v", c.Coverage.At)
	}
	near(c.Coverage.At[0], Point{Threshold: 0, TP: 2, FP: 2, FN: 1, TN: 2, Precision: 0.5, Recall: 2.0 / 3, F1: 4.0 / 7})
	near(c.Coverage.At[2], Point{Threshold: 0.45, TP: 2, FP: 0, FN: 1, TN: 4, Precision: 1, Recall: 2.0 / 3, F1: 0.8})
	near(c.Coverage.Curve[29], Point{Threshold: 0.30, TP: 2, FP: 1, FN: 1, TN: 3, Precision: 2.0 / 3, Recall: 2.0 / 3, F1: 2.0 / 3})
	near(c.Coverage.Curve[69], Point{Threshold: 0.70, TP: 1, FP: 0, FN: 2, TN: 4, Precision: 1, Recall: 1.0 / 3, F1: 0.5})
	// MinDense, MinCoverage 0.45 (a1, a2 answered by coverage): o1
	// refused above 0.30 (F1 0.75), a3 above 0.40, d2 above 0.50, d1
	// above 0.60 (F1 0.8 on 0.61…1.00, middle 0.80).
	near(c.Relevant.Best, Point{Threshold: 0.80, TP: 2, FP: 0, FN: 1, TN: 4, Precision: 1, Recall: 2.0 / 3, F1: 0.8})
	near(c.Relevant.Curve[34], Point{Threshold: 0.35, TP: 3, FP: 2, FN: 0, TN: 2, Precision: 0.6, Recall: 1, F1: 0.75})
	near(c.Relevant.Curve[44], Point{Threshold: 0.45, TP: 2, FP: 2, FN: 1, TN: 2, Precision: 0.5, Recall: 2.0 / 3, F1: 4.0 / 7})
	if len(c.Relevant.At) != 1 || c.Relevant.At[0].Threshold != DefaultMinDense {
		t.Errorf("relevant at %+v", c.Relevant.At)
	}
	// The dense cosine alone: o1 (0.30) refused above 0.30, a3 above
	// 0.40: 0.31…0.40 is best (F1 0.75).
	near(c.DenseOnly.Best, Point{Threshold: 0.35, TP: 3, FP: 2, FN: 0, TN: 2, Precision: 0.6, Recall: 1, F1: 0.75})
	near(c.DenseOnly.At[0], Point{Threshold: 0.80, TP: 0, FP: 0, FN: 3, TN: 4})
	// Nothing answered: precision 0, not NaN; MinDense < 0: never dense.
	near(point(scores[6:], func(s CalScore, x float64) bool { return s.Answered(x, 0) }, 0.5), Point{Threshold: 0.5, TN: 1})
	if scores[4].Answered(0, -1) || !scores[4].Answered(1, 0.5) || !scores[0].Answered(0.9, -1) || scores[0].Answered(0.91, -1) {
		t.Error("Answered")
	}
}

// TestScore: hits below MinScore are left out (but for MaxDense), a
// keyword hit without a coverage (Weaviate) counts as coverage 1, and the
// dense cosine of every hit, keyword-found or not, counts.
func TestScore(t *testing.T) {
	q := CalQuestion{ID: "q", Kind: KindAnswerable}
	hits := []search.Hit{
		{ID: "a", Score: 0.5, BM25: &search.Part{Rank: 1, Score: 3}, Coverage: f(0.3), Dense: &search.Part{Rank: 2, Score: 0.6}},
		{ID: "b", Score: 0.4, Dense: &search.Part{Rank: 1, Score: 0.7}, Coverage: f(0)},
		{ID: "c", Score: 0.1, Terms: []string{"두통"}, Dense: &search.Part{Rank: 3, Score: 0.9}},
	}
	s := Score(q, hits, Options{MinScore: 0.2})
	if !s.Keyword || *s.Coverage != 0.3 || *s.Dense != 0.7 || *s.MaxDense != 0.9 {
		t.Errorf("%+v", s)
	}
	s = Score(q, hits, Options{})
	if !s.Keyword || *s.Coverage != 1 || *s.Dense != 0.9 || *s.MaxDense != 0.9 {
		t.Errorf("%+v", s)
	}
	if s = Score(q, hits[1:2], Options{}); s.Keyword || s.Coverage != nil || *s.Dense != 0.7 {
		t.Errorf("%+v", s)
	}
}

func TestBenchQuestions(t *testing.T) {
	qrels := map[string]map[string]int{"q1": {"p01": 1}, "q2": {"p05": 1, "p04": 2, "p09": 0}, "q3": {"p01": 1, "gone": 1}}
	has := func(id string) bool { return id != "gone" }
	qs, skipped := BenchQuestions([]string{"q1", "q2", "q3", "q4"}, []string{"타이레놀", "혈전", "x", "y"}, qrels, has, []string{"날씨"})
	want := []CalQuestion{
		{ID: "q1", Text: "타이레놀", Kind: KindAnswerable},
		{ID: "q2", Text: "혈전", Kind: KindAnswerable},
		{ID: "q1", Text: "타이레놀", Kind: KindDeleted, Exclude: []string{"p01"}},
		{ID: "q2", Text: "혈전", Kind: KindDeleted, Exclude: []string{"p04", "p05"}},
		{ID: "off-topic-01", Text: "날씨", Kind: KindOffTopic},
	}
	if skipped != 2 || !reflect.DeepEqual(qs, want) {
		t.Errorf("skipped %d\n%+v", skipped, qs)
	}
}

// TestCalibrate asks through the in-memory hybrid service: the keyword
// side finds every benchmark question, with or without its sources, and
// the off-topic ones are left to the dense cosine.
func TestCalibrate(t *testing.T) {
	svc := service(t)
	qrels := map[string]map[string]int{"q1": {"p01": 1}, "q2": {"p07": 1}, "q3": {"p04": 1, "p05": 1}}
	qs, _ := BenchQuestions([]string{"q1", "q2", "q3"}, []string{"타이레놀 두통", "불면증 수면제", "혈액 응고를 막는 약"}, qrels,
		func(string) bool { return true }, []string{"내일 날씨 어때요", "축구 경기 결과"})
	c, err := Calibrate(context.Background(), svc, qs, Options{K: 3})
	if err != nil {
		t.Fatal(err)
	}
	// Keyword, Coverage, Dense, MaxDense (-1: none) per question.
	want := []struct {
		id, kind string
		kw       bool
		c, d, m  float64
	}{
		{"q1", KindAnswerable, true, 1, 0.5689, 0.5689},
		{"q2", KindAnswerable, true, 1, 0.5711, 0.5711},
		{"q3", KindAnswerable, true, 0.7235, 0.7660, 0.7660},
		{"q1", KindDeleted, true, 0.7500, 0.4899, 0.4899}, // 게보린정 still has 두통
		{"q2", KindDeleted, false, -1, 0.4067, 0.4067},
		{"q3", KindDeleted, false, -1, 0.4877, 0.4877},
		{"off-topic-01", KindOffTopic, false, -1, 0.4960, 0.4960},
		{"off-topic-02", KindOffTopic, false, -1, 0.4637, 0.4637},
	}
	if len(c.Scores) != len(want) {
		t.Fatalf("%d scores", len(c.Scores))
	}
	val := func(p *float64) float64 {
		if p == nil {
			return -1
		}
		return *p
	}
	for i, s := range c.Scores {
		cv, d, m := val(s.Coverage), val(s.Dense), val(s.MaxDense)
		w := want[i]
		if s.ID != w.id || s.Kind != w.kind || s.Keyword != w.kw || math.Abs(cv-w.c) > 5e-5 || math.Abs(d-w.d) > 5e-5 || math.Abs(m-w.m) > 5e-5 {
			t.Errorf("%d: %s %s keyword %v coverage %.4f dense %.4f max %.4f, want %+v", i, s.ID, s.Kind, s.Keyword, cv, d, m, w)
		}
	}
	// Coverage does not separate q1's deleted twin (0.75: "두통" and the
	// bigrams of 타이레놀 other products share) from q3 (0.7235): every
	// MinCoverage 0.01…0.72 answers the same as the rule before coverage
	// (middle 0.36), above it q3 is lost.
	if b := c.Coverage.Best; b.Threshold != 0.36 || b.TP != 3 || b.FP != 1 || b.FN != 0 || b.TN != 4 {
		t.Errorf("coverage best %+v", b)
	}
	if a := c.Coverage.At; len(a) != 2 || a[0].Threshold != 0 || a[0].TP != 3 || a[0].FP != 1 || a[1].Threshold != DefaultMinCoverage {
		t.Errorf("coverage at %+v", a)
	}
	if p := c.Coverage.Curve[72]; p.Threshold != 0.73 || p.TP != 2 || p.FP != 1 || p.FN != 1 || p.TN != 4 {
		t.Errorf("coverage 0.73 %+v", p)
	}
	// Over MinDense at the default coverage (0.30: q1, q2, q3 and q1's
	// deleted twin pass it), above the largest unanswerable dense cosine
	// (0.4960) only q1's deleted twin is answered wrongly: 0.50…1.00 tie,
	// middle 0.75; at 0.80 the same. The dense cosine alone separates them perfectly above 0.4960
	// and up to 0.5689 (0.50…0.56, middle 0.53).
	wantBest := Point{Threshold: 0.75, TP: 3, FP: 1, TN: 4, Precision: 0.75, Recall: 1, F1: 6.0 / 7}
	if b := c.Relevant.Best; b.Threshold != wantBest.Threshold || b.TP != 3 || b.FP != 1 || b.FN != 0 || b.TN != 4 || math.Abs(b.F1-wantBest.F1) > 1e-12 {
		t.Errorf("best %+v", b)
	}
	if a := c.Relevant.At[0]; a.Threshold != DefaultMinDense || a.TP != 3 || a.FP != 1 || a.TN != 4 {
		t.Errorf("at the default %+v", a)
	}
	if b := c.DenseOnly.Best; b.Threshold != 0.53 || b.TP != 3 || b.FP != 0 || b.FN != 0 || b.TN != 5 || b.F1 != 1 {
		t.Errorf("dense only %+v", b)
	}
}
