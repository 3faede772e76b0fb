package fusion

import (
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"strings"
	"testing"
)

// The worked example of Calibrate's doc comment: the gain of relative 0.3
// over BM25 is one standard error with three probes (within noise), and
// clear with ten.
func TestWithinNoiseExample(t *testing.T) {
	best := []float64{1, 1 / math.Log2(3), 0} // relative 0.3: 1, 0.631, 0
	bm := []float64{1, 0.5, 0}
	d := []float64{0, best[1] - 0.5, 0}
	m := mean(d)
	if se := stdErr(d, m); math.Abs(m-0.044) > 0.001 || math.Abs(se-0.044) > 0.001 {
		t.Errorf("mean %.4f, standard error %.4f; the comment says 0.044 and 0.044", m, se)
	}
	if !withinNoise(best, bm, 1, 0.005) {
		t.Error("three probes: the gain should be within noise")
	}
	var best10, bm10 []float64
	for i := 0; i < 10; i++ {
		best10 = append(best10, best[1])
		bm10 = append(bm10, 0.5)
	}
	best10[0], bm10[0] = 1, 1
	if withinNoise(best10, bm10, 1, 0.005) {
		t.Error("ten probes: the gain should be clear")
	}
}

func rankedOf(ids ...string) []Ranked[string] {
	out := make([]Ranked[string], len(ids))
	for i, id := range ids {
		out[i] = Ranked[string]{ID: id, Score: float64(len(ids) - i)}
	}
	return out
}

// Complementary retrievers — each finds what the other ranks second —
// make a fused setting clearly best; a dense side that never helps falls
// back to BM25 alone.
func TestCalibrateChoosesFusionOnlyWhenItHelps(t *testing.T) {
	var probes []Probe[string]
	for i := 0; i < 40; i++ {
		src, other := fmt.Sprint("s", i), fmt.Sprint("o", i)
		p := Probe[string]{Relevant: []string{src}}
		if i%2 == 0 { // BM25 right, dense second
			p.BM25 = rankedOf(src, other, "x")
			p.Dense = rankedOf(other, src, "y")
		} else { // BM25 a close second, dense right
			p.BM25 = []Ranked[string]{{other, 10}, {src, 9.9}, {"x", 1}}
			p.Dense = rankedOf(src, other, "y")
		}
		probes = append(probes, p)
	}
	c := Calibrate(probes, CalibrateOptions{})
	if c.Alpha <= 0 || c.Alpha >= 1 || c.Chosen.Score <= c.BM25 || c.Chosen.Score <= c.Dense {
		t.Errorf("complementary: chose %s (%.3f; BM25 %.3f, dense %.3f): %s", c.Chosen.Name(), c.Chosen.Score, c.BM25, c.Dense, c.Reason)
	}
	if c2 := Calibrate(probes, CalibrateOptions{}); !reflect.DeepEqual(c, c2) {
		t.Error("not deterministic")
	}
	// A useless dense side (it ranks the source last, or not at all).
	var weak []Probe[string]
	for i := 0; i < 40; i++ {
		src := fmt.Sprint("s", i)
		p := Probe[string]{Relevant: []string{src}, BM25: rankedOf(fmt.Sprint("o", i), src, "x"), Dense: rankedOf("y", "z", fmt.Sprint("w", i))}
		if i%3 == 0 {
			p.BM25 = rankedOf(src, "x")
		}
		weak = append(weak, p)
	}
	c = Calibrate(weak, CalibrateOptions{})
	if c.Alpha > 0.2 || c.Dense >= c.BM25 {
		t.Errorf("weak dense: chose %s: %s", c.Chosen.Name(), c.Reason)
	}
	if len(c.Candidates) != len(CalibrationGrid()) || c.Candidates[0].Alpha != 0 || c.Candidates[10].Alpha != 1 {
		t.Errorf("candidates: %+v", c.Candidates)
	}
}

func TestSentencesAndPseudoQueries(t *testing.T) {
	got := Sentences("타이레놀정. 업체: 한국얀센. 용량 2.5 mg. 두통에?\n끝")
	want := []string{"타이레놀정.", "업체: 한국얀센.", "용량 2.5 mg.", "두통에?", "끝"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Sentences: %q", got)
	}
	docs := calDocs(60)
	a := PseudoQueries(docs, 20, 7, PseudoICT)
	rev := append([]Doc(nil), docs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if b := PseudoQueries(rev, 20, 7, PseudoICT); !reflect.DeepEqual(a, b) {
		t.Error("the sample depends on the corpus order")
	}
	if b := PseudoQueries(docs, 20, 8, PseudoICT); reflect.DeepEqual(a, b) {
		t.Error("another seed gave the same sample")
	}
	if len(a) != 20 {
		t.Fatalf("%d pseudo-queries", len(a))
	}
	for _, p := range a {
		if strings.Contains(p.Rest, p.Query) || !strings.Contains(p.Rest, docByID(docs, p.DocID).Title) {
			t.Errorf("ict %s: query %q, rest %q", p.DocID, p.Query, p.Rest)
		}
	}
	for _, p := range PseudoQueries(docs, 5, 7, PseudoTitle) {
		if p.Query != docByID(docs, p.DocID).Title || strings.Contains(p.Rest, p.Query) {
			t.Errorf("title %s: query %q, rest %q", p.DocID, p.Query, p.Rest)
		}
	}
}

func TestSubstitute(t *testing.T) {
	l := []Ranked[string]{{"a", 3}, {"b", 2}, {"c", 1}}
	if got := Substitute(l, "a", 1.5, true, 3); !reflect.DeepEqual(got, []Ranked[string]{{"b", 2}, {"a", 1.5}, {"c", 1}}) {
		t.Errorf("moved: %v", got)
	}
	if got := Substitute(l, "d", 0.5, true, 3); !reflect.DeepEqual(got, l) {
		t.Errorf("past depth: %v", got)
	}
	if got := Substitute(l, "b", 0, false, 3); !reflect.DeepEqual(got, []Ranked[string]{{"a", 3}, {"c", 1}}) {
		t.Errorf("dropped: %v", got)
	}
}

// calDocs is a fixture corpus: n documents, each on a topic of three
// words drawn from a small vocabulary, written as four sentences that each
// use two of them, so that a sentence shares words with the rest of its
// document and with other documents on overlapping topics.
func calDocs(n int) []Doc {
	words := strings.Fields("두통 발열 기침 콧물 소화 불면 혈압 혈전 통증 염증 알레르기 피부 눈 귀 위장 간 신장 심장 폐 근육 관절 뼈 감기 독감 천식 당뇨 빈혈 구토 설사 변비")
	pick := func(i, j int) string {
		h := fnv.New32a()
		fmt.Fprint(h, i, "/", j)
		return words[h.Sum32()%uint32(len(words))]
	}
	var docs []Doc
	for i := 0; i < n; i++ {
		topic := []string{pick(i, 0), pick(i, 1), pick(i, 2)}
		var ss []string
		for s := 0; s < 4; s++ {
			ss = append(ss, fmt.Sprintf("%s과 %s에 쓰는 %s 약.", topic[s%3], topic[(s+1)%3], []string{"먹는", "바르는", "붙이는", "뿌리는"}[s]))
		}
		docs = append(docs, Doc{ID: fmt.Sprintf("d%03d", i), Title: fmt.Sprintf("제품%d정", i), Text: strings.Join(ss, " ")})
	}
	return docs
}

func docByID(docs []Doc, id string) Doc {
	for _, d := range docs {
		if d.ID == id {
			return d
		}
	}
	return Doc{}
}

// The sort-free scoring of Calibrate agrees with fusing and sorting.
func TestProbeFusionMatchesFuse(t *testing.T) {
	var x uint64 = 88172645463325252
	rnd := func(n int) int {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return int(x % uint64(n))
	}
	for trial := 0; trial < 300; trial++ {
		var p Probe[string]
		for li := 0; li < 2; li++ {
			var l []Ranked[string]
			s := 10.0
			for i, n := 0, rnd(30); i < n; i++ {
				s -= float64(rnd(3)) / 2 // ties too
				l = append(l, Ranked[string]{ID: fmt.Sprint("d", rnd(25)), Score: s})
			}
			if li == 0 {
				p.BM25 = l
			} else {
				p.Dense = l
			}
		}
		for i, n := 0, 1+rnd(3); i < n; i++ {
			p.Relevant = append(p.Relevant, fmt.Sprint("d", rnd(25)))
		}
		pf := newProbeFusion(p)
		rel := map[string]bool{}
		for _, id := range p.Relevant {
			rel[id] = true
		}
		for _, c := range CalibrationGrid() {
			f := FuseWith(c, p.BM25, p.Dense)
			want, wantHit := ndcg10(f, rel), hit10(f, rel)
			got, gotHit := pf.score(c)
			if math.Abs(got-want) > 1e-12 || gotHit != wantHit {
				t.Fatalf("trial %d %s: %v %v, fuse gives %v %v", trial, c.Name(), got, gotHit, want, wantHit)
			}
		}
	}
}
