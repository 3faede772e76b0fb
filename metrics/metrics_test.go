package metrics

import (
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
)

func near(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-12 {
		t.Errorf("%s = %.15g, want %.15g", name, got, want)
	}
}

// pct rounds a fraction to a percentage with 2 decimals, as papers report.
func pct(x float64) float64 { return math.Round(x*10000) / 100 }

// TestPublishedKoE5 reproduces the published check: 77 queries, one
// relevant document each, 55 hit at rank 1, 9 at rank 2, 2 at rank 3.
func TestPublishedKoE5(t *testing.T) {
	qrels := Qrels{}
	run := map[string][]Hit{}
	for i := 0; i < 77; i++ {
		q := fmt.Sprintf("q%02d", i)
		qrels[q] = map[string]int{"gold" + q: 1}
		hits := []Hit{{"n1", 0.9}, {"n2", 0.8}, {"n3", 0.7}, {"n4", 0.6}}
		rank := 0 // 0: not in the top 3
		switch {
		case i < 55:
			rank = 1
		case i < 64:
			rank = 2
		case i < 66:
			rank = 3
		}
		if rank > 0 {
			hits[rank-1].ID = "gold" + q
		} else {
			hits[3].ID = "gold" + q // rank 4
		}
		run[q] = hits
	}
	s, err := Evaluate(qrels, run, Options{Ks: []int{1, 3, 5}})
	if err != nil {
		t.Fatal(err)
	}
	if s.Evaluated != 77 || s.Skipped != 0 || s.Missing != 0 {
		t.Fatalf("counts %+v", s)
	}
	for key, want := range map[string]float64{"NDCG@1": 71.43, "NDCG@3": 80.10, "F1@3": 42.86, "Recall@3": 85.71, "P@3": 28.57, "Acc@1": 71.43, "MRR@3": 78.14} {
		if got := pct(s.Mean[key]); got != want {
			t.Errorf("%s = %.2f, want %.2f", key, got, want)
		}
	}
	near(t, "NDCG@3", s.Mean["NDCG@3"], (55+9/math.Log2(3)+2.0/2)/77)
	near(t, "MRR@3", s.Mean["MRR@3"], (55+9.0/2+2.0/3)/77)
	near(t, "MRR@5", s.Mean["MRR@5"], (55+9.0/2+2.0/3+11.0/4)/77)
	near(t, "MAP@1", s.Mean["MAP@1"], 55.0/77)
	// Per-query F1 averaged differs from the KoE5 F1: at k = 3 a hit gives
	// P = 1/3, R = 1, F1 = 0.5, so F1avg@3 = 66·0.5/77.
	near(t, "F1avg@3", s.Mean["F1avg@3"], 66*0.5/77)
	near(t, "F1@3", s.Mean["F1@3"], 2*(66.0/231)*(66.0/77)/(66.0/231+66.0/77))
}

// TestWorkedExamples checks every doc-comment example.
func TestWorkedExamples(t *testing.T) {
	rel := map[string]int{"a": 1, "b": 1, "c": 1}
	r := []string{"a", "x", "b"}
	near(t, "P@1", Precision(r, rel, 1), 1)
	near(t, "P@3", Precision(r, rel, 3), 2.0/3)
	near(t, "P@10", Precision(r, rel, 10), 0.2)
	near(t, "R@1", Recall(r, rel, 1), 1.0/3)
	near(t, "R@3", Recall(r, rel, 3), 2.0/3)
	near(t, "F1@3", F1(r, rel, 3), 2.0/3)
	near(t, "AP@3", AveragePrecision(r, rel, 3), (1+2.0/3)/3)
	near(t, "AP@1", AveragePrecision(r, rel, 1), 1.0/3)

	one := map[string]int{"a": 1}
	near(t, "RR@1", ReciprocalRank([]string{"x", "y", "a"}, one, 1), 0)
	near(t, "RR@2", ReciprocalRank([]string{"x", "y", "a"}, one, 2), 0)
	near(t, "RR@3", ReciprocalRank([]string{"x", "y", "a"}, one, 3), 1.0/3)
	near(t, "Acc@1", Success([]string{"x", "a"}, one, 1), 0)
	near(t, "Acc@2", Success([]string{"x", "a"}, one, 2), 1)
	near(t, "NDCG rank 2", NDCG([]string{"x", "a"}, one, 10), 1/math.Log2(3))
	near(t, "NDCG rank 3", NDCG([]string{"x", "y", "a"}, one, 10), 0.5)
}

func TestNDCGGraded(t *testing.T) {
	rel := map[string]int{"a": 1, "b": 2}
	got := NDCG([]string{"x", "a", "b"}, rel, 3)
	want := (1/math.Log2(3) + 2/math.Log2(4)) / (2 + 1/math.Log2(3))
	near(t, "NDCG@3 graded", got, want)
	if pct(got) != 61.99 {
		t.Errorf("NDCG@3 graded = %.4f, want 0.6199", got)
	}
	// Ideal order gives 1, also when k cuts the ideal list.
	near(t, "ideal", NDCG([]string{"b", "a"}, rel, 2), 1)
	near(t, "ideal cut", NDCG([]string{"b"}, rel, 1), 1)
	// Reversed at k = 1: DCG 1, IDCG 2.
	near(t, "reversed@1", NDCG([]string{"a", "b"}, rel, 1), 0.5)
	// Judged non-relevant (0) and negative judgements add no gain and do
	// not enter the ideal.
	rel2 := map[string]int{"a": 3, "z": 0, "n": -1}
	near(t, "zero/neg", NDCG([]string{"z", "n", "a"}, rel2, 3), 0.5)
	if NumRelevant(rel2) != 1 {
		t.Errorf("NumRelevant = %d", NumRelevant(rel2))
	}
}

func TestEdgeCases(t *testing.T) {
	rel := map[string]int{"a": 1, "b": 1}
	// k larger than the list: P divides by k, others see the whole list.
	r := []string{"a"}
	near(t, "P@10 short", Precision(r, rel, 10), 0.1)
	near(t, "R@10 short", Recall(r, rel, 10), 0.5)
	near(t, "NDCG@10 short", NDCG(r, rel, 10), 1/(1+1/math.Log2(3)))
	near(t, "AP@10 short", AveragePrecision(r, rel, 10), 0.5)
	// Empty results score 0 everywhere.
	for name, f := range map[string]func([]string, map[string]int, int) float64{
		"NDCG": NDCG, "P": Precision, "R": Recall, "F1": F1, "RR": ReciprocalRank, "AP": AveragePrecision, "Acc": Success,
	} {
		if v := f(nil, rel, 5); v != 0 {
			t.Errorf("%s(empty) = %v", name, v)
		}
		if v := f([]string{"a"}, nil, 5); v != 0 {
			t.Errorf("%s(no qrels) = %v", name, v)
		}
		if v := f([]string{"a"}, rel, 0); v != 0 {
			t.Errorf("%s(k=0) = %v", name, v)
		}
	}
}

func TestSortTies(t *testing.T) {
	h := []Hit{{"a", 0.5}, {"b", 0.9}, {"c", 0.5}, {"d10", 0.1}, {"d9", 0.1}}
	Sort(h)
	var ids []string
	for _, x := range h {
		ids = append(ids, x.ID)
	}
	// Ties by id descending in byte order: "d9" > "d10".
	if want := "b c a d9 d10"; strings.Join(ids, " ") != want {
		t.Errorf("order %v, want %s", ids, want)
	}
	// Evaluate applies the same order whatever the run's order: the gold
	// "a" ties with "c" and so ranks second.
	s, err := Evaluate(Qrels{"q": {"a": 1}}, map[string][]Hit{"q": {{"a", 1}, {"c", 1}}}, Options{Ks: []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "tie MRR@1", s.Mean["MRR@1"], 0)
	near(t, "tie MRR@2", s.Mean["MRR@2"], 0.5)
	near(t, "tie NDCG@2", s.Mean["NDCG@2"], 1/math.Log2(3))
}

func TestEvaluateCounting(t *testing.T) {
	qrels := Qrels{
		"q1": {"d1": 1},
		"q2": {"d2": 0},           // no relevant document: skipped
		"q3": {"d3": 1, "q3": 1},  // the query itself is judged relevant
		"q4": {"d4": 2, "d5": 1},  // missing from the run: scored 0
		"q5": {"d1": 1, "d9": 0},  // non-relevant judged doc ranked first
		"q6": map[string]int(nil), // empty: skipped
	}
	run := map[string][]Hit{
		"q1": {{"d1", 3}, {"d2", 1}},
		"q2": {{"d2", 1}},
		"q3": {{"q3", 9}, {"d3", 5}},
		"q5": {{"d9", 2}, {"d1", 1}},
		"q7": {{"d1", 1}}, // not judged: ignored
	}
	s, err := Evaluate(qrels, run, Options{Ks: []int{1, 2}, PerQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Evaluated != 4 || s.Skipped != 2 || s.Missing != 1 || s.Unjudged != 1 {
		t.Fatalf("counts: evaluated %d skipped %d missing %d unjudged %d", s.Evaluated, s.Skipped, s.Missing, s.Unjudged)
	}
	// Acc@1: q1 yes, q3 yes (q3 itself is relevant), q4 no, q5 no.
	near(t, "Acc@1", s.Mean["Acc@1"], 0.5)
	near(t, "q5 MRR@2", s.PerQuery["q5"]["MRR@2"], 0.5)
	near(t, "q4 NDCG@2", s.PerQuery["q4"]["NDCG@2"], 0)
	near(t, "q3 R@1", s.PerQuery["q3"]["Recall@1"], 0.5)

	// BEIR's ignore_identical_ids: q3's own id is dropped, d3 moves up.
	s2, err := Evaluate(qrels, run, Options{Ks: []int{1}, IgnoreIdenticalIDs: true, PerQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "q3 R@1 ignoring", s2.PerQuery["q3"]["Recall@1"], 0.5)
	near(t, "q3 P@1 ignoring", s2.PerQuery["q3"]["P@1"], 1)
	if !reflect.DeepEqual(s2.Ks, []int{1}) {
		t.Errorf("Ks %v", s2.Ks)
	}
	// Keys present for every family and k.
	for _, f := range Families {
		if _, ok := s2.Mean[Key(f, 1)]; !ok {
			t.Errorf("missing %s", Key(f, 1))
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	if _, err := Evaluate(Qrels{"q": {"a": 1}}, map[string][]Hit{"q": {{"a", 1}, {"a", 0.5}}}, Options{}); err == nil || !strings.Contains(err.Error(), `"a" retrieved twice`) {
		t.Errorf("duplicate: err = %v", err)
	}
	if _, err := Evaluate(Qrels{}, nil, Options{Ks: []int{0}}); err == nil {
		t.Error("k = 0 accepted")
	}
	s, err := Evaluate(Qrels{}, nil, Options{})
	if err != nil || s.Evaluated != 0 || s.Mean["NDCG@10"] != 0 {
		t.Errorf("empty: %+v %v", s, err)
	}
}

// BenchmarkEvaluate measures metric time for 10,000 queries × 100 hits.
func BenchmarkEvaluate(b *testing.B) {
	qrels := Qrels{}
	run := map[string][]Hit{}
	for i := 0; i < 10000; i++ {
		q := fmt.Sprint("q", i)
		qrels[q] = map[string]int{fmt.Sprint("d", i): 1}
		hs := make([]Hit, 100)
		for j := range hs {
			hs[j] = Hit{fmt.Sprint("d", (i+j*7)%10000), float64(100 - j)}
		}
		run[q] = hs
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := Evaluate(qrels, run, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestEvaluateMatchesReference checks Evaluate's single-pass computation
// against the per-query reference functions on pseudo-random runs with
// graded judgements.
func TestEvaluateMatchesReference(t *testing.T) {
	qrels := Qrels{}
	run := map[string][]Hit{}
	seed := uint32(12345)
	next := func(n int) int { seed = seed*1664525 + 1013904223; return int(seed>>8) % n }
	for q := 0; q < 200; q++ {
		qid := fmt.Sprint("q", q)
		rel := map[string]int{}
		for j, n := 0, 1+next(6); j < n; j++ {
			rel[fmt.Sprint("d", next(30))] = next(4) - 1 // -1 … 2
		}
		qrels[qid] = rel
		var hs []Hit
		for j, n := 0, next(15); j < n; j++ {
			id := fmt.Sprint("d", next(30))
			dup := false
			for _, h := range hs {
				dup = dup || h.ID == id
			}
			if !dup {
				hs = append(hs, Hit{id, float64(next(5))}) // many ties
			}
		}
		run[qid] = hs
	}
	ks := []int{1, 2, 5, 10, 20}
	s, err := Evaluate(qrels, run, Options{Ks: ks, PerQuery: true})
	if err != nil {
		t.Fatal(err)
	}
	if s.Evaluated < 100 {
		t.Fatalf("only %d evaluated", s.Evaluated)
	}
	ref := map[string]func([]string, map[string]int, int) float64{
		NameNDCG: NDCG, NameMAP: AveragePrecision, NameRecall: Recall, NamePrecision: Precision,
		NameMRR: ReciprocalRank, NameAccuracy: Success, NameF1PerQ: F1,
	}
	for qid, pq := range s.PerQuery {
		hs := append([]Hit(nil), run[qid]...)
		Sort(hs)
		var ranked []string
		for _, h := range hs {
			ranked = append(ranked, h.ID)
		}
		for _, k := range ks {
			for name, f := range ref {
				if got, want := pq[Key(name, k)], f(ranked, qrels[qid], k); math.Abs(got-want) > 1e-12 {
					t.Fatalf("%s %s: Evaluate %v, reference %v", qid, Key(name, k), got, want)
				}
			}
		}
	}
}
