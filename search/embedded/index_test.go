package embedded

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// charEncoder is a deterministic stand-in for a model: character unigrams
// and bigrams hashed into dim buckets, L2-normalised, so texts sharing
// characters are close.
type charEncoder struct{ dim int }

func (e charEncoder) vec(s string) []float32 {
	v := make([]float32, e.dim)
	r := []rune(strings.ToLower(s))
	for i := range r {
		for n := 1; n <= 2 && i+n <= len(r); n++ {
			h := fnv.New32a()
			h.Write([]byte(string(r[i : i+n])))
			v[h.Sum32()%uint32(e.dim)] += float32(n)
		}
	}
	return search.Normalized(v)
}

func (e charEncoder) EncodeQueries(_ context.Context, t []string) ([][]float32, error) {
	out := make([][]float32, len(t))
	for i, s := range t {
		out[i] = e.vec(s)
	}
	return out, nil
}

func (e charEncoder) EncodePassages(ctx context.Context, t []string) ([][]float32, error) {
	return e.EncodeQueries(ctx, t)
}

var testModel = search.ModelInfo{Name: "test/char", Dim: 64, Pooling: "mean"}

// drugDocs is a small corpus of real product names (from the MFDS table)
// with invented descriptions.
func drugDocs() []search.Doc {
	mk := func(id, title, text, typ, class string, flags ...string) search.Doc {
		d := search.Doc{ID: id, Title: title, Text: text, Fields: map[string][]string{"type": {typ}, "class": {class}}}
		for _, f := range flags {
			d.DUR = append(d.DUR, dur.Flag{Type: f, MatchedBy: "item_seq"})
		}
		return d
	}
	return []search.Doc{
		mk("1", "타이레놀정500밀리그램", "해열 진통제. 두통, 치통, 발열에 쓰는 아세트아미노펜 제제.", "해열.진통.소염제", "일반"),
		mk("2", "판콜에이내복액", "감기의 여러 증상(콧물, 기침, 발열)을 완화하는 종합감기약.", "해열.진통.소염제", "일반"),
		mk("3", "게보린정", "두통, 치통, 생리통에 쓰는 진통제.", "해열.진통.소염제", "일반", "임부금기"),
		mk("4", "아스피린프로텍트정100밀리그램", "혈전 생성을 억제하는 항혈소판제.", "혈액응고저지제", "일반", "임부금기", "특정연령대금기"),
		mk("5", "와파린정2밀리그램", "혈액 응고를 막는 항응고제.", "혈액응고저지제", "전문", "임부금기"),
		mk("6", "베아제정", "소화불량, 더부룩함에 쓰는 소화제.", "소화성궤양용제", "일반"),
		mk("7", "졸피뎀정10밀리그램", "불면증에 쓰는 수면제.", "최면진정제", "전문", "노인주의"),
		mk("8", "이부프로펜정200밀리그램", "해열 진통 소염제. 발열과 통증에.", "해열.진통.소염제", "일반", "임부금기"),
	}
}

func newTestIndex(t *testing.T, withModel bool) *Index {
	t.Helper()
	opts := Options{Analyzer: "bigram"}
	if withModel {
		opts.Model = testModel
	}
	ix, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	docs := drugDocs()
	if err := ix.Upsert(context.Background(), docs, vecsFor(docs, withModel)); err != nil {
		t.Fatal(err)
	}
	return ix
}

func vecsFor(docs []search.Doc, withModel bool) [][]float32 {
	if !withModel {
		return nil
	}
	enc := charEncoder{testModel.Dim}
	out := make([][]float32, len(docs))
	for i, d := range docs {
		out[i] = enc.vec(fusion.DocText(d.Title, d.Text))
	}
	return out
}

func ids(hs []search.Hit) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = h.ID
	}
	return out
}

func query(text, mode string, k int, alpha float64) search.Query {
	q := search.Query{Request: search.Request{Query: text, K: k, Mode: mode, Fusion: search.FusionRRF}, Alpha: alpha}
	if mode != search.ModeBM25 {
		q.Vector = charEncoder{testModel.Dim}.vec(text)
	}
	return q
}

func TestIndexModes(t *testing.T) {
	ctx := context.Background()
	ix := newTestIndex(t, true)
	bm, err := ix.Search(ctx, query("두통 진통제", search.ModeBM25, 3, 0))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(bm); !reflect.DeepEqual(got, []string{"3", "1", "8"}) {
		t.Errorf("bm25: %v", got)
	}
	if bm[0].BM25 == nil || bm[0].BM25.Rank != 1 || bm[0].Dense != nil || bm[0].Score != bm[0].BM25.Score {
		t.Errorf("bm25 parts: %+v", bm[0])
	}
	de, err := ix.Search(ctx, query("와파린 항응고제", search.ModeDense, 2, 1))
	if err != nil {
		t.Fatal(err)
	}
	if de[0].ID != "5" || de[0].Dense == nil || de[0].BM25 != nil {
		t.Errorf("dense: %+v", de)
	}
	// Hybrid at alpha 0 and 1 equals the single retrievers' order.
	for _, c := range []struct {
		alpha float64
		mode  string
	}{{0, search.ModeBM25}, {1, search.ModeDense}} {
		h, err := ix.Search(ctx, query("해열 진통", search.ModeHybrid, 5, c.alpha))
		if err != nil {
			t.Fatal(err)
		}
		one, _ := ix.Search(ctx, query("해열 진통", c.mode, 5, c.alpha))
		if !reflect.DeepEqual(ids(h), ids(one)) {
			t.Errorf("alpha %v: hybrid %v, %s %v", c.alpha, ids(h), c.mode, ids(one))
		}
	}
	// Hybrid at 0.5 is the RRF of the two lists, checked by hand.
	q := query("해열 진통", search.ModeHybrid, 8, 0.5)
	h, err := ix.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	b8, _ := ix.Search(ctx, query("해열 진통", search.ModeBM25, 100, 0))
	d8, _ := ix.Search(ctx, query("해열 진통", search.ModeDense, 100, 1))
	want := map[string]float64{}
	for r, x := range b8 {
		want[x.ID] += 0.5 / float64(fusion.RRFK+r+1)
	}
	for r, x := range d8 {
		want[x.ID] += 0.5 / float64(fusion.RRFK+r+1)
	}
	for _, x := range h {
		if math.Abs(x.Score-want[x.ID]) > 1e-12 {
			t.Errorf("hybrid %s: %v, want %v", x.ID, x.Score, want[x.ID])
		}
		if x.Dense == nil {
			t.Errorf("hybrid %s has no dense part", x.ID)
		}
	}
	for i := 1; i < len(h); i++ {
		if h[i].Score > h[i-1].Score {
			t.Errorf("hybrid not sorted: %v", h)
		}
	}
	// BM25 only: dense modes are refused.
	bmOnly := newTestIndex(t, false)
	if _, err := bmOnly.Search(ctx, query("두통", search.ModeDense, 3, 1)); err == nil {
		t.Error("dense search on a BM25-only index accepted")
	}
}

func TestIndexFilters(t *testing.T) {
	ctx := context.Background()
	ix := newTestIndex(t, true)
	// Filters apply inside the search: top-k stays full.
	q := query("해열 진통 두통", search.ModeHybrid, 3, 0.5)
	q.Filters = map[string][]string{"class": {"일반"}, "type": {"해열.진통.소염제", "혈액응고저지제"}}
	hs, err := ix.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 {
		t.Fatalf("filtered hybrid returned %d hits, want 3: %v", len(hs), ids(hs))
	}
	for _, h := range hs {
		if h.Fields["class"][0] != "일반" {
			t.Errorf("filter broken: %+v", h)
		}
	}
	// A filter on a single type of two products keeps both even where
	// BM25 alone would rank others first.
	q = query("두통", search.ModeBM25, 5, 0)
	q.Filters = map[string][]string{"class": {"전문"}}
	hs, _ = ix.Search(ctx, q)
	for _, h := range hs {
		if h.ID != "5" && h.ID != "7" {
			t.Errorf("전문 filter returned %s", h.ID)
		}
	}
	q.Filters = map[string][]string{"nope": {"x"}}
	if _, err := ix.Search(ctx, q); err == nil || !strings.Contains(err.Error(), "unknown field") {
		t.Errorf("unknown field: %v", err)
	}
	// DUR: exclude and flag.
	q = query("진통제", search.ModeBM25, 10, 0)
	q.ExcludeDUR = []string{"임부금기"}
	q.FlagDUR = []string{"노인주의"}
	hs, _ = ix.Search(ctx, q)
	for _, h := range hs {
		for _, f := range h.DUR {
			if f.Type == "임부금기" {
				t.Errorf("excluded DUR type returned: %s", h.ID)
			}
		}
	}
	if got := ids(hs); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("exclude 임부금기: %v", got)
	}
	q = query("수면제", search.ModeBM25, 10, 0)
	q.FlagDUR = []string{"노인주의", "임부금기"}
	hs, _ = ix.Search(ctx, q)
	if len(hs) != 1 || !reflect.DeepEqual(hs[0].Warnings, []string{"노인주의"}) {
		t.Errorf("flag: %+v", hs)
	}
}

func TestIndexUpdateDelete(t *testing.T) {
	ctx := context.Background()
	ix := newTestIndex(t, true)
	upd := []search.Doc{{ID: "6", Title: "베아제정", Text: "두통약이 아닌 소화제, 새 설명.", Fields: map[string][]string{"class": {"일반"}}}}
	if err := ix.Upsert(ctx, upd, vecsFor(upd, true)); err != nil {
		t.Fatal(err)
	}
	if n := ix.Len(); n != 8 {
		t.Errorf("Len after update %d, want 8", n)
	}
	d, ok, _ := ix.Get(ctx, "6")
	if !ok || !strings.Contains(d.Text, "새 설명") {
		t.Errorf("Get after update: %+v %v", d, ok)
	}
	hs, _ := ix.Search(ctx, query("소화제 더부룩함", search.ModeHybrid, 10, 0.5))
	seen := 0
	for _, h := range hs {
		if h.ID == "6" {
			seen++
		}
	}
	if seen != 1 {
		t.Errorf("updated document appears %d times: %v", seen, ids(hs))
	}
	// The old text's only word (더부룩함) no longer finds it by BM25.
	hs, _ = ix.Search(ctx, query("더부룩함", search.ModeBM25, 10, 0))
	if len(hs) != 0 {
		t.Errorf("old version still searchable: %v", ids(hs))
	}
	n, err := ix.Delete(ctx, []string{"1", "missing"})
	if err != nil || n != 1 {
		t.Fatalf("Delete: %d %v", n, err)
	}
	for _, mode := range []string{search.ModeBM25, search.ModeDense, search.ModeHybrid} {
		hs, _ := ix.Search(ctx, query("타이레놀정500밀리그램", mode, 10, 0.5))
		for _, h := range hs {
			if h.ID == "1" {
				t.Errorf("%s: deleted document returned", mode)
			}
		}
	}
	if _, ok, _ := ix.Get(ctx, "1"); ok {
		t.Error("Get finds a deleted document")
	}
	if err := ix.Upsert(ctx, []search.Doc{{ID: "x"}}, [][]float32{make([]float32, 3)}); err == nil {
		t.Error("wrong vector dimension accepted")
	}
}

// Excluding documents by id gives the hits deleting them gives, in every
// mode (scores and per-retriever parts included), and leaves the index as
// it was.
func TestIndexExcludeIsDelete(t *testing.T) {
	ctx := context.Background()
	ix, del := newTestIndex(t, true), newTestIndex(t, true)
	if n, err := del.Delete(ctx, []string{"1", "3"}); err != nil || n != 2 {
		t.Fatalf("Delete: %d %v", n, err)
	}
	for _, mode := range []string{search.ModeBM25, search.ModeDense, search.ModeHybrid} {
		for _, text := range []string{"타이레놀 두통", "해열 진통제", "수면제"} {
			q := query(text, mode, 5, 0.5)
			want, err := del.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			q.Exclude = []string{"3", "1", "missing"}
			got, err := ix.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q: exclude %v, delete %v", mode, text, ids(got), ids(want))
			}
		}
	}
	if hs, _ := ix.Search(ctx, query("타이레놀정500밀리그램", search.ModeBM25, 1, 0)); len(hs) != 1 || hs[0].ID != "1" {
		t.Errorf("exclusion outlived its query: %v", ids(hs))
	}
}

func TestIndexPersistence(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ix")
	ix := newTestIndex(t, true)
	if err := ix.Save(dir); err != nil {
		t.Fatal(err)
	}
	want, _ := ix.Search(ctx, query("해열 진통", search.ModeHybrid, 5, 0.5))
	ix.Close()

	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := a.Search(ctx, query("해열 진통", search.ModeHybrid, 5, 0.5))
	if !reflect.DeepEqual(got, want) {
		t.Errorf("reopened index answers %v, want %v", ids(got), ids(want))
	}
	// Writes go to the log and survive a reopen.
	add := []search.Doc{{ID: "9", Title: "콜대원코프시럽", Text: "기침 가래 감기 시럽", Fields: map[string][]string{"class": {"일반"}}}}
	if err := a.Upsert(ctx, add, vecsFor(add, true)); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Delete(ctx, []string{"2"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	// A torn record at the end of the log (a crash mid-write) is dropped.
	m, _ := ReadManifest(dir)
	f, _ := os.OpenFile(filepath.Join(dir, m.Generation, walFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"op":"delete","ids":["3"`)
	f.Close()
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, "9"); !ok {
		t.Error("logged upsert lost")
	}
	if _, ok, _ := b.Get(ctx, "2"); ok {
		t.Error("logged delete lost")
	}
	if _, ok, _ := b.Get(ctx, "3"); !ok {
		t.Error("torn delete applied")
	}
	// A re-index (another generation) is swapped in by Reload while b
	// serves; b's own writes then go to the new generation.
	c := newTestIndex(t, true)
	extra := []search.Doc{{ID: "10", Title: "노스카나겔", Text: "흉터 연고"}}
	c.Upsert(ctx, extra, vecsFor(extra, true))
	if _, err := c.save(dir, true, ""); err != nil {
		t.Fatal(err)
	}
	if gens := Generations(dir); len(gens) != 1 || gens[0] != c.Generation() {
		t.Errorf("generations after re-index: %v (current %s)", gens, c.Generation())
	}
	if _, ok, _ := c.Get(ctx, "9"); !ok {
		t.Error("API write of the previous generation not carried over")
	}
	swapped, err := b.Reload()
	if err != nil || !swapped {
		t.Fatalf("Reload: %v %v", swapped, err)
	}
	if _, ok, _ := b.Get(ctx, "10"); !ok {
		t.Error("reloaded index lacks the new document")
	}
	if swapped, _ := b.Reload(); swapped {
		t.Error("second Reload swapped again")
	}
	// A re-index with another model is not swapped in.
	d, err := New(Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	d.Upsert(ctx, []search.Doc{{ID: "z", Text: "BM25만"}}, nil)
	if _, err := d.save(dir, false, ""); err != nil {
		t.Fatal(err)
	}
	if swapped, err := b.Reload(); swapped || err == nil || !strings.Contains(err.Error(), "restart") {
		t.Errorf("reload across models: %v %v", swapped, err)
	}
	if err := b.Upsert(ctx, add, vecsFor(add, true)); err == nil {
		t.Error("write after a re-index with another model accepted")
	}
	if _, ok, _ := b.Get(ctx, "10"); !ok {
		t.Error("the served index changed")
	}
	b.Close()
	c.Close()
	d.Close()
}

func TestBuilderResume(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	opts := Options{Analyzer: "bigram", Model: testModel}
	docs := drugDocs()
	b, err := NewBuilder(dir, opts, "corpus-v1")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(docs[:3], vecsFor(docs[:3], true)); err != nil {
		t.Fatal(err)
	}
	if err := b.Add(docs[3:5], vecsFor(docs[3:5], true)); err != nil {
		t.Fatal(err)
	}
	// A second build into the same folder is refused while one runs.
	if _, err := NewBuilder(dir, opts, "corpus-v1"); err == nil || !strings.Contains(err.Error(), "another") {
		t.Errorf("concurrent build: %v", err)
	}
	// Crash: a torn document line and a half vector at the end; the
	// process's lock goes with it.
	b.Close()
	f, _ := os.OpenFile(filepath.Join(dir, stagingDir, docsFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"id":"6","title":"베아`)
	f.Close()
	f, _ = os.OpenFile(filepath.Join(dir, stagingDir, "vectors.f32"), os.O_APPEND|os.O_WRONLY, 0)
	f.Write(make([]byte, 4*testModel.Dim+10))
	f.Close()

	r, err := NewBuilder(dir, opts, "corpus-v1")
	if err != nil {
		t.Fatal(err)
	}
	if r.Resumed() != 5 || !r.Has("5") || r.Has("6") {
		t.Fatalf("resumed %d, has 5 %v, has 6 %v", r.Resumed(), r.Has("5"), r.Has("6"))
	}
	var rest []search.Doc
	for _, d := range docs {
		if !r.Has(d.ID) {
			rest = append(rest, d)
		}
	}
	if err := r.Add(rest, vecsFor(rest, true)); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(docs[:1], vecsFor(docs[:1], true)); err == nil {
		t.Error("a staged id accepted twice")
	}
	ix, _, err := r.Finish(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	whole := newTestIndex(t, true)
	for _, text := range []string{"해열 진통", "혈전", "수면제"} {
		for _, mode := range []string{search.ModeBM25, search.ModeHybrid} {
			got, _ := ix.Search(context.Background(), query(text, mode, 8, 0.5))
			want, _ := whole.Search(context.Background(), query(text, mode, 8, 0.5))
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%s %q: resumed build %v, whole %v", mode, text, ids(got), ids(want))
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, stagingDir)); !os.IsNotExist(err) {
		t.Errorf("staging left behind: %v", err)
	}
	if !UpToDate(dir, opts, "corpus-v1") || UpToDate(dir, opts, "corpus-v2") {
		t.Error("UpToDate wrong")
	}
	// Other input discards a stale staging area.
	s, err := NewBuilder(dir, opts, "corpus-v2")
	if err != nil {
		t.Fatal(err)
	}
	if s.Resumed() != 0 {
		t.Errorf("a build of other input resumed %d documents", s.Resumed())
	}
}

func TestHNSWAbove(t *testing.T) {
	// Above the threshold the dense side is HNSW; filtered search still
	// returns k allowed hits.
	ctx := context.Background()
	ix, err := New(Options{Analyzer: "bigram", Model: testModel, ANNThreshold: 50})
	if err != nil {
		t.Fatal(err)
	}
	var docs []search.Doc
	for i := 0; i < 300; i++ {
		cls := []string{"일반", "전문"}[i%2]
		docs = append(docs, search.Doc{ID: fmt.Sprint(i), Title: fmt.Sprintf("제품%d", i), Text: fmt.Sprintf("설명 %d 번 약 %s", i, strings.Repeat("가나다라마바사"[i%7*3:i%7*3+3], 1+i%3)), Fields: map[string][]string{"class": {cls}}})
	}
	if err := ix.Upsert(ctx, docs, vecsFor(docs, true)); err != nil {
		t.Fatal(err)
	}
	if ix.st.hnsw == nil {
		t.Fatal("no HNSW above the threshold")
	}
	if r, ok := ix.ANNRecall(100, 10); !ok || r < 0.95 {
		t.Errorf("ANN recall@10 %v %v", r, ok)
	}
	if _, ok := newTestIndex(t, true).ANNRecall(10, 10); ok {
		t.Error("recall reported for an exact index")
	}
	q := query("제품 17 설명", search.ModeDense, 10, 1)
	q.Filters = map[string][]string{"class": {"전문"}}
	hs, err := ix.Search(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 10 {
		t.Fatalf("%d hits", len(hs))
	}
	for _, h := range hs {
		if h.Fields["class"][0] != "전문" {
			t.Errorf("filter broken in HNSW: %s", h.ID)
		}
	}
}

// Two processes serving one index directory: each one's writes land in
// the log after the other's (never over them) and each sees the other's
// after a Reload.
func TestSharedLog(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ix")
	base := newTestIndex(t, true)
	if err := base.Save(dir); err != nil {
		t.Fatal(err)
	}
	base.Close()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	doc := func(id string) []search.Doc {
		return []search.Doc{{ID: id, Title: "제품 " + id, Text: "설명 " + id}}
	}
	for _, w := range []struct {
		ix *Index
		id string
	}{{b, "b1"}, {a, "a1"}, {b, "b2"}, {a, "a2"}} {
		d := doc(w.id)
		if err := w.ix.Upsert(ctx, d, vecsFor(d, true)); err != nil {
			t.Fatal(err)
		}
	}
	// a caught up with b's writes before each of its own; b sees a2
	// after a Reload (or its next write).
	if _, ok, _ := a.Get(ctx, "b2"); !ok {
		t.Error("a does not see b's write")
	}
	if _, ok, _ := b.Get(ctx, "a2"); ok {
		t.Error("b saw a2 before reloading")
	}
	if _, err := b.Reload(); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := b.Get(ctx, "a2"); !ok {
		t.Error("b does not see a2 after Reload")
	}
	if _, err := b.Delete(ctx, []string{"a1"}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	b.Close()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for id, want := range map[string]bool{"b1": true, "b2": true, "a2": true, "a1": false} {
		if _, ok, _ := c.Get(ctx, id); ok != want {
			t.Errorf("after reopening, %s present = %v, want %v", id, ok, want)
		}
	}
	// Writes after Close are refused, not silently unlogged.
	if err := a.Upsert(ctx, doc("late"), vecsFor(doc("late"), true)); err == nil {
		t.Error("upsert after Close accepted")
	}
}

func TestCompact(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ix")
	base := newTestIndex(t, true)
	if err := base.Save(dir); err != nil {
		t.Fatal(err)
	}
	base.Close()
	a, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	other, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	a.Delete(ctx, []string{"1", "2"})
	upd := []search.Doc{{ID: "3", Title: "게보린정", Text: "새 설명"}}
	a.Upsert(ctx, upd, vecsFor(upd, true))
	// Another process logs a write after a's last read of the log.
	late := []search.Doc{{ID: "late", Title: "늦은 문서", Text: "다른 프로세스"}}
	if err := other.Upsert(ctx, late, vecsFor(late, true)); err != nil {
		t.Fatal(err)
	}
	if err := a.Compact(); err != nil {
		t.Fatal(err)
	}
	m, _ := ReadManifest(dir)
	if m.Docs != 6 { // 8 − 2 deleted; "late" was logged after a read the log
		t.Errorf("compacted generation holds %d documents, want 6", m.Docs)
	}
	data, _ := os.ReadFile(filepath.Join(dir, m.Generation, walFile))
	if n := strings.Count(string(data), "\n"); n != 1 {
		t.Errorf("compacted log holds %d records, want 1 (the other process's)", n)
	}
	if _, ok, _ := a.Get(ctx, "late"); !ok {
		t.Error("the other process's write was lost")
	}
	if d, _, _ := a.Get(ctx, "3"); d.Text != "새 설명" {
		t.Errorf("3: %+v", d)
	}
	if a.st.ndead != 0 {
		t.Errorf("%d tombstones after compaction", a.st.ndead)
	}
}

// TestCoverage checks the worked example of Coverage's doc comment, by
// the pure function and through the index's hits (every hit carries it,
// in every mode).
func TestCoverage(t *testing.T) {
	idfs := map[string]float64{"두통": math.Log(1.6), "기침": math.Log(8.0 / 3), "날씨": math.Log(8), "해열": math.Log(1.6), "감기": math.Log(1.6)}
	idf := func(t string) float64 { return idfs[t] }
	in := func(terms ...string) func(string) bool {
		return func(t string) bool { return strings.Contains(strings.Join(terms, " "), t) }
	}
	cases := []struct {
		terms []string
		doc   func(string) bool
		want  float64
	}{
		{[]string{"두통", "기침", "날씨"}, in("두통", "해열"), 0.13313515404322107},
		{[]string{"두통", "기침", "날씨"}, in("감기", "기침", "해열"), 0.2778337135382841},
		{[]string{"두통", "기침", "기침"}, in("감기", "기침", "해열"), 0.6760456459227605}, // a repeat counts once
		{[]string{"두통", "기침"}, in("두통", "기침"), 1},
		{[]string{"날씨"}, in("두통"), 0},
		{nil, in("두통"), 0},
	}
	for i, c := range cases {
		if got := Coverage(c.terms, idf, c.doc); math.Abs(got-c.want) > 1e-15 {
			t.Errorf("%d: %v = %.17g, want %.17g", i, c.terms, got, c.want)
		}
	}

	ix, err := New(Options{Analyzer: "bigram", Model: testModel})
	if err != nil {
		t.Fatal(err)
	}
	docs := []search.Doc{{ID: "d1", Text: "두통 해열"}, {ID: "d2", Text: "두통 감기"}, {ID: "d3", Title: "감기", Text: "기침 해열"}}
	if err := ix.Upsert(context.Background(), docs, vecsFor(docs, true)); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{"d1": 0.13313515404322107, "d2": 0.13313515404322107, "d3": 0.2778337135382841}
	for _, mode := range []string{search.ModeBM25, search.ModeDense, search.ModeHybrid} {
		hs, err := ix.Search(context.Background(), query("두통 기침 날씨", mode, 3, 0.5))
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 3 {
			t.Fatalf("%s: %v", mode, ids(hs))
		}
		for _, h := range hs {
			if h.Coverage == nil {
				t.Errorf("%s %s: no coverage", mode, h.ID)
			} else if math.Abs(*h.Coverage-want[h.ID]) > 1e-15 {
				t.Errorf("%s %s: coverage %.17g, want %.17g", mode, h.ID, *h.Coverage, want[h.ID])
			}
		}
	}
}

func TestFacets(t *testing.T) {
	ix := newTestIndex(t, false)
	ctx := context.Background()
	got, _ := ix.Facets(ctx, "class", 0)
	if !reflect.DeepEqual(got, []search.Facet{{Value: "일반", Count: 6}, {Value: "전문", Count: 2}}) {
		t.Errorf("facets %v", got)
	}
	ix.Delete(context.Background(), []string{"5"})
	if got, _ := ix.Facets(ctx, "class", 1); !reflect.DeepEqual(got, []search.Facet{{Value: "일반", Count: 6}}) {
		t.Errorf("after delete %v", got)
	}
	if fs, err := ix.Facets(ctx, "nope", 3); fs != nil || err != nil {
		t.Error("unknown field has facets")
	}
}
