package embedded

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// calDocs is a fixture corpus: n documents, each on a topic of three
// words drawn from a small vocabulary, written as four sentences that each
// use two of them, so that a sentence shares words with the rest of its
// document and with other documents on overlapping topics.
func calDocs(n int) []search.Doc {
	words := strings.Fields("두통 발열 기침 콧물 소화 불면 혈압 혈전 통증 염증 알레르기 피부 눈 귀 위장 간 신장 심장 폐 근육 관절 뼈 감기 독감 천식 당뇨 빈혈 구토 설사 변비")
	pick := func(i, j int) string {
		h := fnv.New32a()
		fmt.Fprint(h, i, "/", j)
		return words[h.Sum32()%uint32(len(words))]
	}
	var docs []search.Doc
	for i := 0; i < n; i++ {
		topic := []string{pick(i, 0), pick(i, 1), pick(i, 2)}
		var ss []string
		for s := 0; s < 4; s++ {
			ss = append(ss, fmt.Sprintf("%s과 %s에 쓰는 %s 약.", topic[s%3], topic[(s+1)%3], []string{"먹는", "바르는", "붙이는", "뿌리는"}[s]))
		}
		docs = append(docs, search.Doc{ID: fmt.Sprintf("d%03d", i), Title: fmt.Sprintf("제품%d정", i), Text: strings.Join(ss, " ")})
	}
	return docs
}

// fusionDocs is docs as fusion.PseudoQueries reads them.
func fusionDocs(docs []search.Doc) []fusion.Doc {
	out := make([]fusion.Doc, len(docs))
	for i, d := range docs {
		out[i] = fusion.Doc{ID: d.ID, Title: d.Title, Text: d.Text}
	}
	return out
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
		out[i] = search.Normalized(v)
	}
	return out, nil
}

func (e randEncoder) EncodePassages(ctx context.Context, t []string) ([][]float32, error) {
	return e.EncodeQueries(ctx, t)
}

func calIndex(t *testing.T, docs []search.Doc, enc search.Encoder) *Index {
	t.Helper()
	ix, err := New(Options{Analyzer: "bigram", Model: testModel})
	if err != nil {
		t.Fatal(err)
	}
	texts := make([]string, len(docs))
	for i, d := range docs {
		texts[i] = fusion.DocText(d.Title, d.Text)
	}
	vecs, _ := enc.EncodePassages(context.Background(), texts)
	if err := ix.Upsert(context.Background(), docs, vecs); err != nil {
		t.Fatal(err)
	}
	return ix
}

func sameChoice(a, b fusion.Calibration) bool {
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
	rev := append([]search.Doc(nil), docs...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	c, _ := calIndex(t, rev, enc).Calibrate(ctx, enc, CalibrateConfig{Docs: 100})
	if !sameChoice(a, b) || !sameChoice(a, c) {
		t.Errorf("calibration differs between runs or corpus orders:\n%+v\n%+v\n%+v", a.Chosen, b.Chosen, c.Chosen)
	}
	if a.N != 100 || a.Source != "pseudo-queries" || a.Queries != fusion.PseudoICT || a.Seed != 1 || len(a.Candidates) != 29 {
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
	svc, err := search.NewService(ctx, ix, nil, search.ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if a, f, _, c := svc.Defaults(); a != search.DefaultAlpha || f != search.DefaultFusion || c != nil || svc.FollowCalibration {
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
	build := func(fp string) *fusion.Calibration {
		b, err := NewBuilder(dir, opts, fp)
		if err != nil {
			t.Fatal(err)
		}
		var set *fusion.Calibration
		b.BeforeWrite = func(ix *Index) error {
			c, err := ix.Calibrate(ctx, enc, CalibrateConfig{Docs: 80})
			if err != nil {
				return err
			}
			c.Alpha, c.Fusion, c.K = 0.3, search.FusionRRF, 10 // as --alpha/--fusion would
			set = &c
			ix.SetCalibration(&c)
			return nil
		}
		texts := make([]string, len(docs))
		for i, d := range docs {
			texts[i] = fusion.DocText(d.Title, d.Text)
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
	svc, err := search.NewService(ctx, ix, enc, testModel)
	if err != nil {
		t.Fatal(err)
	}
	a, f, k, c := svc.Defaults()
	if a != 0.3 || f != search.FusionRRF || k != 10 || c == nil {
		t.Errorf("service defaults %v %s %v", a, f, k)
	}
	q, _, _, err := svc.Resolve(search.Request{Query: "두통 발열"})
	if err != nil || q.Alpha != 0.3 || q.Fusion != search.FusionRRF || q.RRFK != 10 {
		t.Errorf("resolved %+v %v", q, err)
	}
	q, _, _, _ = svc.Resolve(search.Request{Query: "두통 발열", Fusion: search.FusionRelative})
	if q.Fusion != search.FusionRelative || q.RRFK == 10 {
		t.Errorf("a request's fusion: %+v", q)
	}
	// BM25-only or dense-only requests are not affected.
	if q, _, _, _ = svc.Resolve(search.Request{Query: "두통", Mode: search.ModeBM25}); q.Alpha != 0 {
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

// ScoreWithout with nothing removed is the score Search gives; with a
// sentence removed it is the score of the document indexed without it.
func TestScoreWithout(t *testing.T) {
	docs := calDocs(40)
	ix := calIndex(t, docs, charEncoder{testModel.Dim})
	bm := ix.st.bm
	for _, p := range fusion.PseudoQueries(fusionDocs(docs), 10, 3, fusion.PseudoICT) {
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
		texts[i] = fusion.DocText(d.Title, d.Text)
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
	svc, err := search.NewService(ctx, served, enc, testModel)
	if err != nil {
		t.Fatal(err)
	}
	if a, f, _, c := svc.Defaults(); c != nil || a != search.DefaultAlpha || f != search.DefaultFusion {
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
	c.Alpha, c.Fusion = 0.7, search.FusionRelative
	other.SetCalibration(&c)
	if err := other.Compact(); err != nil {
		t.Fatal(err)
	}
	other.Close()
	if swapped, err := served.Reload(); err != nil || !swapped {
		t.Fatalf("reload: %v %v", swapped, err)
	}
	if a, f, _, got := svc.Defaults(); got == nil || a != 0.7 || f != search.FusionRelative {
		t.Errorf("after reload: %v %s %v", a, f, got)
	}
}
