package rag

import (
	"context"
	"math"
	"reflect"
	"testing"
)

func f(x float64) *float64 { return &x }

// TestMeasure is a worked example: the relevance test answers a question
// when the keyword side found a hit or the best other dense cosine reaches
// the threshold; positives are the answerable questions.
func TestMeasure(t *testing.T) {
	scores := []CalScore{
		{ID: "a1", Kind: KindAnswerable, Keyword: true, MaxDense: f(0.90)},
		{ID: "a2", Kind: KindAnswerable, Dense: f(0.70), MaxDense: f(0.70)},
		{ID: "a3", Kind: KindAnswerable, Dense: f(0.40), MaxDense: f(0.40)},
		{ID: "d1", Kind: KindDeleted, Keyword: true, MaxDense: f(0.60)},
		{ID: "d2", Kind: KindDeleted, Dense: f(0.50), MaxDense: f(0.50)},
		{ID: "o1", Kind: KindOffTopic, Dense: f(0.30), MaxDense: f(0.30)},
		{ID: "o2", Kind: KindOffTopic},
	}
	c := Measure(scores, 0.80, 0.30)
	if c.Answerable != 3 || c.Deleted != 2 || c.OffTopic != 2 || c.KeywordAnswerable != 1 || c.KeywordUnanswerable != 1 {
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
	// Relevance test: o1 refused above 0.30 (F1 0.75 on 0.31…0.40, the
	// best: its middle is 0.35), a3 above 0.40, d2 above 0.50, a2 above
	// 0.70.
	near(c.Relevant.Best, Point{Threshold: 0.35, TP: 3, FP: 2, FN: 0, TN: 2, Precision: 0.6, Recall: 1, F1: 0.75})
	near(c.Relevant.At[0], Point{Threshold: 0.80, TP: 1, FP: 1, FN: 2, TN: 3, Precision: 0.5, Recall: 1.0 / 3, F1: 0.4})
	near(c.Relevant.At[1], Point{Threshold: 0.30, TP: 3, FP: 3, FN: 0, TN: 1, Precision: 0.5, Recall: 1, F1: 2.0 / 3})
	near(c.Relevant.Curve[69], Point{Threshold: 0.70, TP: 2, FP: 1, FN: 1, TN: 3, Precision: 2.0 / 3, Recall: 2.0 / 3, F1: 2.0 / 3})
	if len(c.Relevant.Curve) != 100 || c.Relevant.Curve[0].Threshold != 0.01 || c.Relevant.Curve[99].Threshold != 1 {
		t.Errorf("curve %d points, %v…%v", len(c.Relevant.Curve), c.Relevant.Curve[0].Threshold, c.Relevant.Curve[99].Threshold)
	}
	// The dense cosine alone: d1 (0.60) refused above 0.60, and 0.61…0.70
	// is best (F1 0.8).
	near(c.DenseOnly.Best, Point{Threshold: 0.65, TP: 2, FP: 0, FN: 1, TN: 4, Precision: 1, Recall: 2.0 / 3, F1: 0.8})
	near(c.DenseOnly.At[0], Point{Threshold: 0.80, TP: 1, FP: 0, FN: 2, TN: 4, Precision: 1, Recall: 1.0 / 3, F1: 0.5})
	// Nothing answered: precision 0, not NaN.
	near(point(scores[6:], CalScore.Answered, 0.5), Point{Threshold: 0.5, TN: 1})
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
	c, err := Calibrate(context.Background(), svc, qs, Options{K: 3}, DefaultMinDense)
	if err != nil {
		t.Fatal(err)
	}
	// Keyword, Dense, MaxDense (-1: none) per question.
	want := []struct {
		id, kind string
		kw       bool
		d, m     float64
	}{
		{"q1", KindAnswerable, true, -1, 0.5689},
		{"q2", KindAnswerable, true, 0.4067, 0.5711},
		{"q3", KindAnswerable, true, 0.4877, 0.7660},
		{"q1", KindDeleted, true, 0.3578, 0.4899}, // 게보린정 still has 두통
		{"q2", KindDeleted, false, 0.4067, 0.4067},
		{"q3", KindDeleted, false, 0.4877, 0.4877},
		{"off-topic-01", KindOffTopic, false, 0.4960, 0.4960},
		{"off-topic-02", KindOffTopic, false, 0.4637, 0.4637},
	}
	if len(c.Scores) != len(want) {
		t.Fatalf("%d scores", len(c.Scores))
	}
	for i, s := range c.Scores {
		d, m := -1.0, -1.0
		if s.Dense != nil {
			d = *s.Dense
		}
		if s.MaxDense != nil {
			m = *s.MaxDense
		}
		w := want[i]
		if s.ID != w.id || s.Kind != w.kind || s.Keyword != w.kw || math.Abs(d-w.d) > 5e-5 || math.Abs(m-w.m) > 5e-5 {
			t.Errorf("%d: %s %s keyword %v dense %.4f max %.4f, want %+v", i, s.ID, s.Kind, s.Keyword, d, m, w)
		}
	}
	// Above the largest unanswerable dense cosine (0.4960) only q1's
	// deleted twin is answered: 0.50…1.00 tie, middle 0.75; at 0.80 the
	// same. The dense cosine alone separates them perfectly above 0.4960
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
