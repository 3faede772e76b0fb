package search

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
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

func rankedOf(ids ...string) []Ranked {
	out := make([]Ranked, len(ids))
	for i, id := range ids {
		out[i] = Ranked{ID: id, Score: float64(len(ids) - i)}
	}
	return out
}

// Complementary retrievers — each finds what the other ranks second —
// make a fused setting clearly best; a dense side that never helps falls
// back to BM25 alone.
func TestCalibrateChoosesFusionOnlyWhenItHelps(t *testing.T) {
	var probes []Probe
	for i := 0; i < 40; i++ {
		src, other := fmt.Sprint("s", i), fmt.Sprint("o", i)
		p := Probe{Relevant: []string{src}}
		if i%2 == 0 { // BM25 right, dense second
			p.BM25 = rankedOf(src, other, "x")
			p.Dense = rankedOf(other, src, "y")
		} else { // BM25 a close second, dense right
			p.BM25 = []Ranked{{other, 10}, {src, 9.9}, {"x", 1}}
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
	var weak []Probe
	for i := 0; i < 40; i++ {
		src := fmt.Sprint("s", i)
		p := Probe{Relevant: []string{src}, BM25: rankedOf(fmt.Sprint("o", i), src, "x"), Dense: rankedOf("y", "z", fmt.Sprint("w", i))}
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
	l := []Ranked{{"a", 3}, {"b", 2}, {"c", 1}}
	if got := Substitute(l, "a", 1.5, true, 3); !reflect.DeepEqual(got, []Ranked{{"b", 2}, {"a", 1.5}, {"c", 1}}) {
		t.Errorf("moved: %v", got)
	}
	if got := Substitute(l, "d", 0.5, true, 3); !reflect.DeepEqual(got, l) {
		t.Errorf("past depth: %v", got)
	}
	if got := Substitute(l, "b", 0, false, 3); !reflect.DeepEqual(got, []Ranked{{"a", 3}, {"c", 1}}) {
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

// randEncoder is a model that knows nothing: a text's vector is noise
// seeded by the text.
type randEncoder struct{ dim int }

func (e randEncoder) EncodeQueries(_ context.Context, t []string) ([][]float32, error) {
	out := make([][]float32, len(t))
	for i, s := range t {
		h := fnv.New64a()
		h.Write([]byte(s))
		x := h.Sum64()
		v := make([]float32, e.dim)
		for j := range v {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			v[j] = float32(int64(x%2001)-1000) / 1000
		}
		out[i] = Normalized(v)
	}
	return out, nil
}

func (e randEncoder) EncodePassages(ctx context.Context, t []string) ([][]float32, error) {
	return e.EncodeQueries(ctx, t)
}

func calIndex(t *testing.T, docs []Doc, enc Encoder) *Index {
	t.Helper()
	ix, err := New(Options{Analyzer: "bigram", Model: testModel})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = docText(d)
	}
	vecs, _ := enc.EncodePassages(context.Background(), texts)
	if err := ix.Upsert(context.Background(), docs, vecs); err != nil {
		t.Fatal(err)
	}
	return ix
}

func sameChoice(a, b Calibration) bool {
	a.TookMS, a.EncodeMS, b.TookMS, b.EncodeMS = 0, 0, 0, 0
	return reflect.DeepEqual(a, b)
}

func TestIndexCalibrateDeterministic(t *testing.T) {
	ctx := context.Background()
	docs := calDocs(150)
	enc := charEncoder{testModel.Dim}
	ix := calIndex(t, docs, enc)
	a, err := ix.Calibrate(ctx, enc, CalibrateConfig{Docs: 100})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := ix.Calibrate(ctx, enc, CalibrateConfig{Docs: 100})
	rev := append([]Doc(nil), docs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	c, _ := calIndex(t, rev, enc).Calibrate(ctx, enc, CalibrateConfig{Docs: 100})
	if !sameChoice(a, b) || !sameChoice(a, c) {
		t.Errorf("calibration differs between runs or corpus orders:\n%+v\n%+v\n%+v", a.Chosen, b.Chosen, c.Chosen)
	}
	if a.N != 100 || a.Source != "pseudo-queries" || a.Queries != PseudoICT || a.Seed != 1 || len(a.Candidates) != 29 {
		t.Errorf("calibration: %+v", a)
	}
	t.Logf("char encoder: %s (BM25 %.3f, dense %.3f, best %s %.3f) %s", a.Chosen.Name(), a.BM25, a.Dense, a.Best.Name(), a.Best.Score, a.Reason)
}

func TestIndexCalibrateWeakModel(t *testing.T) {
	docs := calDocs(150)
	enc := randEncoder{testModel.Dim}
	c, err := calIndex(t, docs, enc).Calibrate(context.Background(), enc, CalibrateConfig{Docs: 100})
	if err != nil {
		t.Fatal(err)
	}
	if c.Alpha > 0.2 || c.Dense >= c.BM25 {
		t.Errorf("a random model: chose %s (BM25 %.3f, dense %.3f): %s", c.Chosen.Name(), c.BM25, c.Dense, c.Reason)
	}
}

func TestCalibrateBM25OnlyIndex(t *testing.T) {
	ctx := context.Background()
	ix := newTestIndex(t, false)
	if _, err := ix.Calibrate(ctx, charEncoder{testModel.Dim}, CalibrateConfig{}); err != ErrNoDenseModel {
		t.Errorf("BM25-only Calibrate: %v", err)
	}
	svc, err := NewService(ctx, ix, nil, ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if a, f, _, c := svc.Defaults(); a != DefaultAlpha || f != DefaultFusion || c != nil || svc.FollowCalibration {
		t.Errorf("BM25-only defaults %v %s %v", a, f, c)
	}
	dir := filepath.Join(t.TempDir(), "ix")
	if err := ix.Save(dir); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if strings.Contains(string(data), "calibration") {
		t.Errorf("a BM25-only manifest mentions calibration:\n%s", data)
	}
}

// A calibration set by a build's BeforeWrite is in the manifest, comes
// back on Open, is the service's default, survives a compaction, leaves
// UpToDate true, and a re-index of the same documents stores the same one.
func TestCalibrationStored(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ix")
	opts := Options{Analyzer: "bigram", Model: testModel}
	docs := calDocs(120)
	enc := charEncoder{testModel.Dim}
	build := func(fp string) *Calibration {
		b, err := NewBuilder(dir, opts, fp)
		if err != nil {
			t.Fatal(err)
		}
		var set *Calibration
		b.BeforeWrite = func(ix *Index) error {
			c, err := ix.Calibrate(ctx, enc, CalibrateConfig{Docs: 80})
			if err != nil {
				return err
			}
			c.Alpha, c.Fusion, c.K = 0.3, FusionRRF, 10 // as --alpha/--fusion would
			set = &c
			ix.SetCalibration(&c)
			return nil
		}
		texts := make([]string, len(docs))
		for i, d := range docs {
			texts[i] = docText(d)
		}
		vecs, _ := enc.EncodePassages(ctx, texts)
		if err := b.Add(docs, vecs); err != nil {
			t.Fatal(err)
		}
		ix, _, err := b.Finish(nil)
		if err != nil {
			t.Fatal(err)
		}
		ix.Close()
		return set
	}
	want := build("v1")
	m, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Options.Calibration == nil || !sameChoice(*m.Options.Calibration, *want) {
		t.Fatalf("manifest calibration %+v", m.Options.Calibration)
	}
	if !UpToDate(dir, opts, "v1") {
		t.Error("a stored calibration makes the index out of date")
	}
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := ix.Calibration(); c == nil || !sameChoice(*c, *want) {
		t.Errorf("after Open: %+v", c)
	}
	svc, err := NewService(ctx, ix, enc, testModel)
	if err != nil {
		t.Fatal(err)
	}
	a, f, k, c := svc.Defaults()
	if a != 0.3 || f != FusionRRF || k != 10 || c == nil {
		t.Errorf("service defaults %v %s %v", a, f, k)
	}
	q, _, _, err := svc.Resolve(Request{Query: "두통 발열"})
	if err != nil || q.Alpha != 0.3 || q.Fusion != FusionRRF || q.RRFK != 10 {
		t.Errorf("resolved %+v %v", q, err)
	}
	q, _, _, _ = svc.Resolve(Request{Query: "두통 발열", Fusion: FusionRelative})
	if q.Fusion != FusionRelative || q.RRFK == 10 {
		t.Errorf("a request's fusion: %+v", q)
	}
	// BM25-only or dense-only requests are not affected.
	if q, _, _, _ = svc.Resolve(Request{Query: "두통", Mode: ModeBM25}); q.Alpha != 0 {
		t.Errorf("bm25 request alpha %v", q.Alpha)
	}
	if err := ix.Compact(); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	ix, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c := ix.Calibration(); c == nil || !sameChoice(*c, *want) {
		t.Errorf("after Compact: %+v", c)
	}
	ix.Close()
	again := build("v2") // re-index
	if !sameChoice(*again, *want) {
		t.Errorf("re-index: %+v, first %+v", again.Chosen, want.Chosen)
	}
	m, _ = ReadManifest(dir)
	if m.Options.Calibration == nil || !sameChoice(*m.Options.Calibration, *want) {
		t.Error("re-index lost the calibration")
	}
	var raw map[string]any
	data, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	json.Unmarshal(data, &raw)
	cal := raw["options"].(map[string]any)["calibration"].(map[string]any)
	for _, key := range []string{"fusion", "alpha", "rrf_k", "bm25", "dense", "candidates", "chosen", "best", "reason"} {
		if _, ok := cal[key]; !ok {
			t.Errorf("manifest calibration lacks %q", key)
		}
	}
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
		var p Probe
		for li := 0; li < 2; li++ {
			var l []Ranked
			s := 10.0
			for i, n := 0, rnd(30); i < n; i++ {
				s -= float64(rnd(3)) / 2 // ties too
				l = append(l, Ranked{ID: fmt.Sprint("d", rnd(25)), Score: s})
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

// ScoreWithout with nothing removed is the score Search gives; with a
// sentence removed it is the score of the document indexed without it.
func TestScoreWithout(t *testing.T) {
	docs := calDocs(40)
	ix := calIndex(t, docs, charEncoder{testModel.Dim})
	bm := ix.st.bm
	for _, p := range PseudoQueries(docs, 10, 3, PseudoICT) {
		terms := bm.Analyze(p.Query)
		n := ix.st.byID[p.DocID]
		for _, h := range bm.SearchTerms(terms, 0, nil) {
			if h.ID == p.DocID {
				if got := bm.ScoreWithout(terms, n, nil); got != h.Score {
					t.Errorf("%s: ScoreWithout %v, Search %v", p.DocID, got, h.Score)
				}
			}
		}
		// The same document re-indexed without the sentence: the terms
		// differ only across the cut; the analyzer is bigram, so compare
		// loosely.
		got := bm.ScoreWithout(terms, n, bm.Analyze(p.Removed))
		if full := bm.ScoreWithout(terms, n, nil); got >= full {
			t.Errorf("%s: %v without the sentence, %v with it", p.DocID, got, full)
		}
	}
}

// BenchmarkIndexCalibrate10k: calibration of a 10,000-document index,
// less the encoder (a hashing stand-in).
func BenchmarkIndexCalibrate10k(b *testing.B) {
	docs := calDocs(10000)
	enc := charEncoder{testModel.Dim}
	ix, _ := New(Options{Analyzer: "bigram", Model: testModel})
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = docText(d)
	}
	vecs, _ := enc.EncodePassages(context.Background(), texts)
	if err := ix.Upsert(context.Background(), docs, vecs); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if _, err := ix.Calibrate(context.Background(), enc, CalibrateConfig{}); err != nil {
			b.Fatal(err)
		}
	}
}

// A serving index picks up a calibration written by a re-index or
// kormed index --calibrate (a new generation) when it reloads, and the
// service follows it.
func TestCalibrationReload(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ix")
	enc := charEncoder{testModel.Dim}
	docs := calDocs(60)
	ix := calIndex(t, docs, enc)
	if err := ix.Save(dir); err != nil {
		t.Fatal(err)
	}
	served, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer served.Close()
	svc, err := NewService(ctx, served, enc, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if a, f, _, c := svc.Defaults(); c != nil || a != DefaultAlpha || f != DefaultFusion {
		t.Errorf("before: %v %s %v", a, f, c)
	}
	other, err := Open(dir) // as kormed index --calibrate does
	if err != nil {
		t.Fatal(err)
	}
	c, err := other.Calibrate(ctx, enc, CalibrateConfig{Docs: 40})
	if err != nil {
		t.Fatal(err)
	}
	c.Alpha, c.Fusion = 0.7, FusionRelative
	other.SetCalibration(&c)
	if err := other.Compact(); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if swapped, err := served.Reload(); err != nil || !swapped {
		t.Fatalf("reload: %v %v", swapped, err)
	}
	if a, f, _, got := svc.Defaults(); got == nil || a != 0.7 || f != FusionRelative {
		t.Errorf("after reload: %v %s %v", a, f, got)
	}
}
