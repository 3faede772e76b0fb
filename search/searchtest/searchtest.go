package searchtest

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
)

// Model is the model the suite's vectors come from.
var Model = search.ModelInfo{Name: "searchtest/char-hash", Dim: 64, Pooling: "mean"}

// Encoder is a deterministic stand-in for a neural model: character
// unigrams and bigrams hashed into 64 buckets, L2-normalised, so texts
// sharing characters are close.
type Encoder struct{}

// Vec embeds one text.
func (Encoder) Vec(s string) []float32 {
	v := make([]float32, Model.Dim)
	r := []rune(strings.ToLower(s))
	for i := range r {
		for n := 1; n <= 2 && i+n <= len(r); n++ {
			h := fnv.New32a()
			h.Write([]byte(string(r[i : i+n])))
			v[h.Sum32()%uint32(Model.Dim)] += float32(n)
		}
	}
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	inv := float32(1 / math.Sqrt(ss))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// EncodeQueries embeds texts.
func (e Encoder) EncodeQueries(_ context.Context, t []string) ([][]float32, error) {
	out := make([][]float32, len(t))
	for i, s := range t {
		out[i] = e.Vec(s)
	}
	return out, nil
}

// EncodePassages embeds texts.
func (e Encoder) EncodePassages(ctx context.Context, t []string) ([][]float32, error) {
	return e.EncodeQueries(ctx, t)
}

// Docs is the suite's corpus: real product names from the MFDS table with
// short descriptions, keyword fields and DUR flags.
func Docs() []search.Doc {
	mk := func(id, title, text, typ, class string, flags ...string) search.Doc {
		d := search.Doc{ID: id, Title: title, Text: text, Fields: map[string][]string{"type": {typ}, "class": {class}}}
		for _, f := range flags {
			d.DUR = append(d.DUR, dur.Flag{Type: f, MatchedBy: dur.ByItemSeq})
		}
		return d
	}
	return []search.Doc{
		mk("p01", "타이레놀정500밀리그램", "해열 진통제. 두통, 치통, 발열에 쓰는 아세트아미노펜 제제.", "해열.진통.소염제", "일반"),
		mk("p02", "판콜에이내복액", "감기의 여러 증상(콧물, 기침, 발열)을 완화하는 종합감기약.", "해열.진통.소염제", "일반"),
		mk("p03", "게보린정", "두통, 치통, 생리통에 쓰는 진통제.", "해열.진통.소염제", "일반", "임부금기"),
		mk("p04", "아스피린프로텍트정100밀리그램", "혈전 생성을 억제하는 항혈소판제.", "혈액응고저지제", "일반", "임부금기", "특정연령대금기"),
		mk("p05", "와파린정2밀리그램", "혈액 응고를 막는 항응고제.", "혈액응고저지제", "전문", "임부금기"),
		mk("p06", "베아제정", "소화불량, 더부룩함에 쓰는 소화제.", "소화성궤양용제", "일반"),
		mk("p07", "졸피뎀정10밀리그램", "불면증에 쓰는 수면제.", "최면진정제", "전문", "노인주의"),
		mk("p08", "이부프로펜정200밀리그램", "해열 진통 소염제. 발열과 통증에.", "해열.진통.소염제", "일반", "임부금기"),
		mk("p09", "콜대원코프시럽", "기침, 가래를 멎게 하는 감기 시럽.", "진해거담제", "일반"),
		mk("p10", "노스카나겔", "흉터 치료 연고.", "기타의 외피용약", "일반"),
	}
}

// Vecs embeds docs with Encoder.
func Vecs(docs []search.Doc) [][]float32 {
	out := make([][]float32, len(docs))
	for i, d := range docs {
		text := d.Text
		if d.Title != "" {
			text = d.Title + " " + d.Text
		}
		out[i] = Encoder{}.Vec(text)
	}
	return out
}

// Open returns an empty backend with Model as its model.
type Open func(t *testing.T) search.Backend

// Run runs the suite against backends made by open.
func Run(t *testing.T, open Open) {
	ctx := context.Background()
	b := open(t)
	docs := Docs()
	if err := b.Upsert(ctx, docs, Vecs(docs)); err != nil {
		t.Fatal(err)
	}
	svc, err := search.NewService(ctx, b, Encoder{}, Model)
	if err != nil {
		t.Fatal(err)
	}
	do := func(r search.Request) *search.Response {
		t.Helper()
		if r.Safety == "" {
			r.Safety = search.SafetyOff
		}
		resp, err := svc.Search(ctx, r)
		if err != nil {
			t.Fatalf("%+v: %v", r, err)
		}
		return resp
	}
	ids := func(hs []search.Hit) []string {
		out := make([]string, len(hs))
		for i, h := range hs {
			out[i] = h.ID
		}
		return out
	}
	alpha := func(a float64) *float64 { return &a }

	t.Run("Info", func(t *testing.T) {
		info, err := b.Info(ctx)
		if err != nil || info.Docs != len(docs) || info.Model.Dim != Model.Dim {
			t.Errorf("info %+v %v", info, err)
		}
	})
	t.Run("BM25", func(t *testing.T) {
		r := do(search.Request{Query: "타이레놀정500밀리그램", Mode: search.ModeBM25, K: 3})
		if len(r.Hits) == 0 || r.Hits[0].ID != "p01" || r.Hits[0].BM25 == nil || r.Hits[0].Dense != nil {
			t.Errorf("hits %+v", r.Hits)
		}
		if !strings.Contains(r.Hits[0].SnippetHTML, "<mark>") || r.Hits[0].Title != "타이레놀정500밀리그램" || r.Hits[0].Fields["class"][0] != "일반" {
			t.Errorf("hit content %+v", r.Hits[0])
		}
	})
	// Dense: the exact cosine order over the corpus.
	q := "혈액 응고 항응고제"
	qv := Encoder{}.Vec(q)
	type scored struct {
		id string
		s  float64
	}
	var want []scored
	for i, v := range Vecs(docs) {
		var dot float64
		for j := range v {
			dot += float64(v[j]) * float64(qv[j])
		}
		want = append(want, scored{docs[i].ID, dot})
	}
	sort.Slice(want, func(i, j int) bool { return want[i].s > want[j].s })
	wantIDs := []string{want[0].id, want[1].id, want[2].id, want[3].id}
	t.Run("Dense", func(t *testing.T) {
		r := do(search.Request{Query: q, Mode: search.ModeDense, K: 4})
		if got := ids(r.Hits); !reflect.DeepEqual(got, wantIDs) {
			t.Errorf("dense %v, want %v", got, wantIDs)
		}
		if math.Abs(r.Hits[0].Score-want[0].s) > 1e-4 {
			t.Errorf("dense score %v, want cosine %v", r.Hits[0].Score, want[0].s)
		}
	})
	t.Run("HybridEnds", func(t *testing.T) {
		for _, fu := range []string{search.FusionRRF, search.FusionRelative} {
			h0 := do(search.Request{Query: "해열 진통제", Mode: search.ModeHybrid, Alpha: alpha(0), Fusion: fu, K: 5})
			bm := do(search.Request{Query: "해열 진통제", Mode: search.ModeBM25, K: 5})
			if !reflect.DeepEqual(ids(h0.Hits), ids(bm.Hits)) {
				t.Errorf("%s alpha 0: %v, bm25 %v", fu, ids(h0.Hits), ids(bm.Hits))
			}
			h1 := do(search.Request{Query: q, Mode: search.ModeHybrid, Alpha: alpha(1), Fusion: fu, K: 4})
			if !reflect.DeepEqual(ids(h1.Hits), wantIDs) {
				t.Errorf("%s alpha 1: %v, dense %v", fu, ids(h1.Hits), wantIDs)
			}
			h := do(search.Request{Query: "해열 진통제", Mode: search.ModeHybrid, Alpha: alpha(0.5), Fusion: fu, K: 5})
			if len(h.Hits) != 5 || h.Fusion != fu || h.Alpha != 0.5 {
				t.Errorf("%s hybrid: %+v", fu, h)
			}
		}
	})
	t.Run("Filters", func(t *testing.T) {
		// Dense ranks every document, so a filtered dense search returns
		// min(k, matching) hits: the filter is inside the search.
		r := do(search.Request{Query: "두통 진통제", Mode: search.ModeDense, K: 3, Filters: map[string][]string{"class": {"전문"}}})
		if got := ids(r.Hits); len(got) != 2 || !sameSet(got, []string{"p05", "p07"}) {
			t.Errorf("전문: %v", got)
		}
		r = do(search.Request{Query: "두통 진통제", Mode: search.ModeHybrid, K: 4,
			Filters: map[string][]string{"class": {"일반"}, "type": {"혈액응고저지제", "소화성궤양용제"}}})
		if got := ids(r.Hits); !sameSet(got, []string{"p04", "p06"}) {
			t.Errorf("일반 ∧ (혈액응고저지제 ∨ 소화성궤양용제): %v", got)
		}
		r = do(search.Request{Query: "진통제", Mode: search.ModeDense, K: 5, Filters: map[string][]string{"type": {"해열.진통.소염제"}}})
		if len(r.Hits) != 4 {
			t.Errorf("type filter returned %d of 4", len(r.Hits))
		}
		if _, err := svc.Search(ctx, search.Request{Query: "진통제", Filters: map[string][]string{"nofield": {"x"}}}); !search.IsRequestError(err) {
			t.Errorf("unknown filter field: %v, want a request error", err)
		}
	})
	t.Run("DUR", func(t *testing.T) {
		r := do(search.Request{Query: "진통제", Mode: search.ModeDense, K: 10, ExcludeDUR: []string{"임부금기"}, FlagDUR: []string{"노인주의"}})
		if len(r.Hits) != 6 {
			t.Errorf("exclude 임부금기: %d hits, want 6: %v", len(r.Hits), ids(r.Hits))
		}
		for _, h := range r.Hits {
			for _, f := range h.DUR {
				if f.Type == "임부금기" {
					t.Errorf("excluded %s returned", h.ID)
				}
			}
			if (h.ID == "p07") != reflect.DeepEqual(h.Warnings, []string{"노인주의"}) {
				t.Errorf("%s warnings %v", h.ID, h.Warnings)
			}
		}
		// A population named in the query flags (default) or excludes
		// (strict) the matching type.
		fl, err := svc.Search(ctx, search.Request{Query: "임산부 두통 진통제", Mode: search.ModeDense, K: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(fl.Rules) != 1 || fl.Rules[0].Action != "flag" {
			t.Errorf("rules %+v", fl.Rules)
		}
		warned := 0
		for _, h := range fl.Hits {
			if len(h.Warnings) > 0 {
				warned++
			}
		}
		if warned != 4 {
			t.Errorf("%d hits warned, want the 4 임부금기 products", warned)
		}
		st, err := svc.Search(ctx, search.Request{Query: "임산부 두통 진통제", Mode: search.ModeDense, K: 10, Safety: search.SafetyStrict})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Hits) != 6 || st.Rules[0].Action != "exclude" {
			t.Errorf("strict: %d hits, rules %+v", len(st.Hits), st.Rules)
		}
	})
	t.Run("UpsertDelete", func(t *testing.T) {
		upd := []search.Doc{{ID: "p06", Title: "베아제정", Text: "새 설명: 위장 운동 촉진제.", Fields: map[string][]string{"class": {"일반"}, "type": {"소화성궤양용제"}}}}
		if err := svc.Upsert(ctx, upd); err != nil {
			t.Fatal(err)
		}
		d, ok, err := b.Get(ctx, "p06")
		if err != nil || !ok || !strings.Contains(d.Text, "새 설명") {
			t.Errorf("get after upsert: %+v %v %v", d, ok, err)
		}
		r := do(search.Request{Query: "더부룩함", Mode: search.ModeBM25, K: 5})
		for _, h := range r.Hits {
			if h.ID == "p06" {
				t.Error("the old version of p06 is still found")
			}
		}
		r = do(search.Request{Query: "위장 운동 촉진제", Mode: search.ModeBM25, K: 5})
		if len(r.Hits) == 0 || r.Hits[0].ID != "p06" {
			t.Errorf("new version not found: %v", ids(r.Hits))
		}
		n, err := b.Delete(ctx, []string{"p01", "nope"})
		if err != nil || n != 1 {
			t.Errorf("delete: %d %v", n, err)
		}
		for _, mode := range []string{search.ModeBM25, search.ModeDense, search.ModeHybrid} {
			r := do(search.Request{Query: "타이레놀정500밀리그램 해열", Mode: mode, K: 10})
			for _, h := range r.Hits {
				if h.ID == "p01" {
					t.Errorf("%s: deleted p01 returned", mode)
				}
			}
		}
		if _, ok, _ := b.Get(ctx, "p01"); ok {
			t.Error("deleted p01 still gettable")
		}
		if info, _ := b.Info(ctx); info.Docs != len(docs)-1 {
			t.Errorf("info after delete: %d docs", info.Docs)
		}
	})
}

func sameSet(a, b []string) bool {
	x := append([]string(nil), a...)
	y := append([]string(nil), b...)
	sort.Strings(x)
	sort.Strings(y)
	return fmt.Sprint(x) == fmt.Sprint(y)
}
