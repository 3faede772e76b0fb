package weaviate

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
)

// The tests against a server need KORMED_WEAVIATE_URL:
//
//	export KORMED_WEAVIATE_URL=$(scripts/weaviate.sh start)
//	go test ./weaviate/
//	scripts/weaviate.sh stop
func serverURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("KORMED_WEAVIATE_URL")
	if u == "" {
		t.Skip("KORMED_WEAVIATE_URL is not set: no Weaviate server to test against " +
			"(start one with `export KORMED_WEAVIATE_URL=$(scripts/weaviate.sh start)`)")
	}
	return u
}

const dim = 8

var testModel = search.ModelInfo{Name: "test/deterministic-8", Revision: "r1", Dim: dim, Pooling: "mean", Query: "query: ", Passage: "passage: "}

func flags(types ...string) []dur.Flag {
	var fs []dur.Flag
	for _, t := range types {
		fs = append(fs, dur.Flag{Type: t, Content: t + " 관련 주의사항", MatchedBy: "item_seq"})
	}
	return fs
}

// corpus is a small Korean drug corpus: 6 일반 and 4 전문 products.
func corpus() []search.Doc {
	f := func(typ, class, company string, ingr ...string) map[string][]string {
		return map[string][]string{"type": {typ}, "class": {class}, "company": {company}, "ingredient": ingr}
	}
	return []search.Doc{
		{ID: "d01", Title: "타이레놀정500밀리그램", Text: "타이레놀은 아세트아미노펜 성분의 해열진통제로 두통, 치통, 생리통, 발열에 사용한다.",
			Fields: f("해열.진통.소염제", "일반", "한국얀센", "아세트아미노펜"), DUR: flags("용량주의")},
		{ID: "d02", Title: "타이레놀8시간이알서방정", Text: "서방형 아세트아미노펜 제제로 관절통과 근육통을 8시간 동안 완화한다.",
			Fields: f("해열.진통.소염제", "일반", "한국얀센", "아세트아미노펜"), DUR: flags("용량주의")},
		{ID: "d03", Title: "부루펜정200밀리그램", Text: "이부프로펜 성분의 소염진통제이며 타이레놀과 달리 위장 장애가 생길 수 있다.",
			Fields: f("해열.진통.소염제", "일반", "삼일제약", "이부프로펜"), DUR: flags("임부금기", "노인주의")},
		{ID: "d04", Title: "아스피린프로텍트정100밀리그램", Text: "아스피린 저용량 장용정으로 혈전 생성을 억제한다.",
			Fields: f("혈액응고저지제", "일반", "바이엘코리아", "아스피린"), DUR: flags("병용금기")},
		{ID: "d05", Title: "리피토정10밀리그램", Text: "아토르바스타틴 성분의 고지혈증 치료제로 콜레스테롤을 낮춘다.",
			Fields: f("동맥경화용제", "전문", "비아트리스코리아", "아토르바스타틴칼슘"), DUR: flags("임부금기")},
		{ID: "d06", Title: "노바스크정5밀리그램", Text: "암로디핀 성분의 칼슘채널차단제로 고혈압과 협심증을 치료한다.",
			Fields: f("혈압강하제", "전문", "비아트리스코리아", "암로디핀베실산염")},
		{ID: "d07", Title: "글루코파지정500밀리그램", Text: "메트포르민 성분의 제2형 당뇨병 치료제이다.",
			Fields: f("당뇨병용제", "전문", "머크", "메트포르민염산염")},
		{ID: "d08", Title: "자낙스정0.25밀리그램", Text: "알프라졸람 성분의 항불안제로 불안 장애와 공황 장애에 쓴다.",
			Fields: f("최면진정제", "전문", "한국화이자", "알프라졸람"), DUR: flags("노인주의", "임부금기", "노인주의")},
		{ID: "d09", Title: "판콜에이내복액", Text: "콧물, 코막힘, 기침, 두통 등 감기 증상을 완화하는 종합감기약이다.",
			Fields: f("종합감기약", "일반", "동화약품", "아세트아미노펜", "클로르페니라민말레산염")},
		{ID: "d10", Title: "게보린정", Text: "아세트아미노펜과 이소프로필안티피린, 카페인을 함유한 두통약이다.",
			Fields: f("해열.진통.소염제", "일반", "삼진제약", "아세트아미노펜", "이소프로필안티피린", "카페인무수물"), DUR: flags("특정연령대금기")},
	}
}

// vec is a deterministic unit vector.
func vec(seed int) []float32 {
	v := make([]float32, dim)
	var n float64
	for j := range v {
		x := math.Sin(1.7*float64(seed+1)*float64(j+1) + 0.3*float64(j) + 0.11*float64(seed))
		v[j] = float32(x)
		n += x * x
	}
	for j := range v {
		v[j] /= float32(math.Sqrt(n))
	}
	return v
}

func dot(a, b []float32) float64 {
	var s float64
	for i := range a {
		s += float64(a[i]) * float64(b[i])
	}
	return s
}

func ids(hits []search.Hit) []string {
	out := make([]string, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

// denseOrder is the brute-force neighbour order of qv among docs, keeping
// only docs that keep returns true for.
func denseOrder(t *testing.T, docs []search.Doc, vecs [][]float32, qv []float32, keep func(search.Doc) bool) []string {
	t.Helper()
	type sc struct {
		id string
		s  float64
	}
	var all []sc
	for i, d := range docs {
		if keep == nil || keep(d) {
			all = append(all, sc{d.ID, dot(vecs[i], qv)})
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].s > all[j].s })
	out := make([]string, len(all))
	for i, a := range all {
		out[i] = a.id
		if i > 0 && all[i-1].s-a.s < 1e-4 {
			t.Fatalf("test vectors too close to call: %s %.6f vs %s %.6f", all[i-1].id, all[i-1].s, a.id, a.s)
		}
	}
	return out
}

func query(text string, k int, mode string) search.Query {
	return search.Query{Request: search.Request{Query: text, K: k, Mode: mode}}
}

func TestWeaviate(t *testing.T) {
	url := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	class := fmt.Sprintf("KormedTest%d_%d", time.Now().UnixNano(), os.Getpid())

	if _, err := Open(ctx, url, class, Options{Model: &testModel}); err == nil {
		t.Fatal("Open of a missing class without Create succeeded")
	}
	b, err := Open(ctx, url, class, Options{Model: &testModel, Create: true, Generated: "2026-01-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Drop(context.Background()); err != nil {
			t.Errorf("drop class %s: %v", class, err)
		}
	})

	docs := corpus()
	vecs := make([][]float32, len(docs))
	for i := range docs {
		vecs[i] = vec(i)
	}
	if err := b.Upsert(ctx, docs, vecs); err != nil {
		t.Fatal(err)
	}
	byID := map[string]search.Doc{}
	for _, d := range docs {
		byID[d.ID] = d
	}
	qv := vec(100)

	t.Run("Info", func(t *testing.T) {
		info, err := b.Info(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := search.Info{Backend: "weaviate", Docs: 10, Model: testModel, Analyzer: "union",
			Fields: []string{"class", "company", "ingredient", "type"}, Generated: "2026-01-01T00:00:00Z",
			DURTypes: []string{"노인주의", "병용금기", "용량주의", "임부금기", "특정연령대금기"}}
		if !reflect.DeepEqual(info, want) {
			t.Errorf("Info = %+v\nwant %+v", info, want)
		}
	})

	t.Run("Open", func(t *testing.T) {
		other := testModel
		other.Name = "test/another-model"
		if _, err := Open(ctx, url, class, Options{Model: &other}); err == nil || !strings.Contains(err.Error(), "was built with") {
			t.Errorf("Open with another model: err = %v, want a model mismatch", err)
		}
		other = testModel
		other.Query = "검색: "
		if _, err := Open(ctx, url, class, Options{Model: &other}); err == nil {
			t.Error("Open with another query prefix succeeded")
		}
		b2, err := Open(ctx, url, class, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if b2.Model() != testModel {
			t.Errorf("reopened Model = %+v, want %+v", b2.Model(), testModel)
		}
		if got := b2.fieldNames(); !reflect.DeepEqual(got, []string{"class", "company", "ingredient", "type"}) {
			t.Errorf("reopened fields = %v", got)
		}
	})

	t.Run("Get", func(t *testing.T) {
		for _, id := range []string{"d01", "d08", "d06"} {
			d, ok, err := b.Get(ctx, id)
			if err != nil || !ok {
				t.Fatalf("Get(%s) = %v, %v", id, ok, err)
			}
			if !reflect.DeepEqual(d, byID[id]) {
				t.Errorf("Get(%s) = %+v\nwant %+v", id, d, byID[id])
			}
		}
		if _, ok, err := b.Get(ctx, "nope"); ok || err != nil {
			t.Errorf("Get(nope) = %v, %v", ok, err)
		}
	})

	t.Run("BM25", func(t *testing.T) {
		hits, err := b.Search(ctx, query("타이레놀", 10, search.ModeBM25))
		if err != nil {
			t.Fatal(err)
		}
		// d03 says "타이레놀과": the union analyzer's bigrams and morphemes
		// find 타이레놀 there; Weaviate's word tokenization would not.
		got := ids(hits)
		if len(got) != 3 || (got[0] != "d01" && got[0] != "d02") || !contains(got, "d03") {
			t.Fatalf("bm25 타이레놀 = %v, want d01/d02 first and d03 among 3", got)
		}
		for i, h := range hits {
			if h.BM25 == nil || h.BM25.Rank != i+1 || h.BM25.Score != h.Score || h.Score <= 0 || h.Dense != nil {
				t.Errorf("hit %d %s: score %v parts %+v %+v", i, h.ID, h.Score, h.BM25, h.Dense)
			}
			if i > 0 && h.Score > hits[i-1].Score {
				t.Errorf("hits not in score order: %v", hits)
			}
			if h.Title != byID[h.ID].Title || !reflect.DeepEqual(h.Fields, byID[h.ID].Fields) || !reflect.DeepEqual(h.DUR, byID[h.ID].DUR) {
				t.Errorf("hit %s: title/fields/DUR = %q %v %v", h.ID, h.Title, h.Fields, h.DUR)
			}
		}
		// A sentence with particles: 두통에 → 두통.
		hits, err = b.Search(ctx, query("두통에 먹는 약", 10, search.ModeBM25))
		if err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{"d01", "d09"} {
			if !contains(ids(hits), id) {
				t.Errorf("bm25 두통에 먹는 약 = %v, want %s among them", ids(hits), id)
			}
		}
		if hits, err := b.Search(ctx, query("  ", 10, search.ModeBM25)); err != nil || len(hits) != 0 {
			t.Errorf("blank bm25 query: %v, %v", ids(hits), err)
		}
	})

	t.Run("Dense", func(t *testing.T) {
		want := denseOrder(t, docs, vecs, qv, nil)
		q := query("", 10, search.ModeDense)
		q.Vector = qv
		hits, err := b.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(hits); !reflect.DeepEqual(got, want) {
			t.Fatalf("dense order = %v, want %v", got, want)
		}
		for i, h := range hits {
			exact := dot(vecs[idx(docs, h.ID)], qv)
			if math.Abs(h.Score-exact) > 1e-5 || h.Dense == nil || h.Dense.Rank != i+1 || h.Dense.Score != h.Score || h.BM25 != nil {
				t.Errorf("dense hit %d %s: score %v (cosine %v), parts %+v %+v", i, h.ID, h.Score, exact, h.BM25, h.Dense)
			}
		}
		q.K = 3
		hits, err = b.Search(ctx, q)
		if err != nil || !reflect.DeepEqual(ids(hits), want[:3]) {
			t.Errorf("dense k=3 = %v, %v; want %v", ids(hits), err, want[:3])
		}
		q.Vector = qv[:4]
		if _, err := b.Search(ctx, q); err == nil {
			t.Error("a query vector of the wrong dim was accepted")
		}
	})

	t.Run("HybridAlphaEnds", func(t *testing.T) {
		text := "아세트아미노펜 두통"
		bm, err := b.Search(ctx, query(text, 10, search.ModeBM25))
		if err != nil {
			t.Fatal(err)
		}
		dq := query(text, 10, search.ModeDense)
		dq.Vector = qv
		dn, err := b.Search(ctx, dq)
		if err != nil {
			t.Fatal(err)
		}
		if len(bm) < 3 {
			t.Fatalf("bm25 %q found only %v", text, ids(bm))
		}
		// A blank query leaves the dense half alone.
		q := query(" ", 10, search.ModeHybrid)
		q.Alpha, q.Vector = 0.5, qv
		if hits, err := b.Search(ctx, q); err != nil || !reflect.DeepEqual(ids(hits), ids(dn)) {
			t.Errorf("hybrid with a blank query = %v, %v; want the dense ranking %v", ids(hits), err, ids(dn))
		}
		for _, fusion := range []string{search.FusionRRF, search.FusionRelative} {
			for _, alpha := range []float64{0, 1} {
				q := query(text, 10, search.ModeHybrid)
				q.Fusion, q.Alpha, q.Vector = fusion, alpha, qv
				hits, err := b.Search(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				want := dn
				if alpha == 0 {
					want = bm
				}
				if !sameRanking(hits, want) {
					t.Errorf("hybrid %s alpha %v = %v, want the %s ranking %v", fusion, alpha, ids(hits), map[bool]string{true: "bm25", false: "dense"}[alpha == 0], ids(want))
				}
				for _, h := range hits {
					if (alpha == 0) != (h.BM25 != nil) || (alpha == 1) != (h.Dense != nil) {
						t.Errorf("hybrid %s alpha %v hit %s: parts %+v %+v", fusion, alpha, h.ID, h.BM25, h.Dense)
					}
				}
			}
		}
	})

	t.Run("HybridParts", func(t *testing.T) {
		exact, err := Open(ctx, url, class, Options{Model: &testModel, ExactParts: true})
		if err != nil {
			t.Fatal(err)
		}
		text := "아세트아미노펜 두통 치료제"
		for _, fusion := range []string{search.FusionRRF, search.FusionRelative} {
			q := query(text, 10, search.ModeHybrid)
			q.Fusion, q.Alpha, q.Vector = fusion, 0.5, qv
			fast, err := b.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			full, err := exact.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(fast), ids(full)) || len(fast) != 10 {
				t.Fatalf("%s: hybrid hits %v vs %v", fusion, ids(fast), ids(full))
			}
			nb := 0
			for i := range fast {
				f, x := fast[i], full[i]
				if x.Dense == nil || (f.BM25 == nil) != (x.BM25 == nil) || (f.Dense == nil) != (x.Dense == nil) {
					t.Fatalf("%s hit %s: parts %+v %+v vs exact %+v %+v", fusion, f.ID, f.BM25, f.Dense, x.BM25, x.Dense)
				}
				if x.BM25 != nil {
					nb++
				}
				for _, p := range [][2]*search.Part{{f.BM25, x.BM25}, {f.Dense, x.Dense}} {
					if p[0] == nil {
						continue
					}
					if fusion == search.FusionRRF && (p[0].Rank != p[1].Rank || p[0].Score != 0) {
						t.Errorf("rrf hit %s: explain part %+v, exact %+v", f.ID, *p[0], *p[1])
					}
					if fusion == search.FusionRelative && (p[0].Rank != 0 || math.Abs(p[0].Score-p[1].Score) > 1e-4*math.Max(1, math.Abs(p[1].Score))) {
						t.Errorf("relative hit %s: explain part %+v, exact %+v", f.ID, *p[0], *p[1])
					}
				}
				// The fused score from the exact parts.
				var want float64
				if fusion == search.FusionRRF {
					if x.BM25 != nil {
						want += 0.5 / float64(59+x.BM25.Rank)
					}
					want += 0.5 / float64(59+x.Dense.Rank)
					if math.Abs(f.Score-want) > 1e-6 {
						t.Errorf("rrf hit %s: score %v, want %v from ranks", f.ID, f.Score, want)
					}
				}
			}
			if nb == 0 {
				t.Errorf("%s: no hybrid hit has a BM25 part", fusion)
			}
		}
	})

	t.Run("Filters", func(t *testing.T) {
		isGeneral := func(d search.Doc) bool { return d.Fields["class"][0] == "일반" }
		want := denseOrder(t, docs, vecs, qv, isGeneral)[:5]
		for _, mode := range []string{search.ModeDense, search.ModeHybrid} {
			q := query("정", 5, mode)
			q.Alpha, q.Vector = 1, qv
			q.Filters = map[string][]string{"class": {"일반"}}
			hits, err := b.Search(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ids(hits), want) {
				t.Errorf("%s with class=일반, k=5 = %v, want %v", mode, ids(hits), want)
			}
		}
		// AND across fields, OR within one.
		q := query("", 10, search.ModeDense)
		q.Vector = qv
		q.Filters = map[string][]string{"class": {"전문"}, "company": {"비아트리스코리아", "한국화이자", "없는회사"}}
		hits, err := b.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := sorted(ids(hits)); !reflect.DeepEqual(got, []string{"d05", "d06", "d08"}) {
			t.Errorf("전문 AND company in (...) = %v, want d05 d06 d08", got)
		}
		// Exact match on a value with punctuation; inside a BM25 search.
		q = query("타이레놀", 10, search.ModeBM25)
		q.Filters = map[string][]string{"type": {"해열.진통.소염제"}, "ingredient": {"아세트아미노펜"}}
		hits, err = b.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := sorted(ids(hits)); !reflect.DeepEqual(got, []string{"d01", "d02"}) {
			t.Errorf("bm25 타이레놀 with type/ingredient filters = %v, want d01 d02", got)
		}
		// Partial values do not match ("field" tokenization).
		q = query("", 10, search.ModeDense)
		q.Vector = qv
		q.Filters = map[string][]string{"type": {"해열"}}
		if hits, err := b.Search(ctx, q); err != nil || len(hits) != 0 {
			t.Errorf("type=해열 = %v, %v; want nothing", ids(hits), err)
		}
		q.Filters = map[string][]string{"no_such_field": {"x"}}
		if hits, err := b.Search(ctx, q); err != nil || len(hits) != 0 {
			t.Errorf("unknown field filter = %v, %v; want nothing", ids(hits), err)
		}
	})

	t.Run("DUR", func(t *testing.T) {
		q := query("", 10, search.ModeDense)
		q.Vector = qv
		q.ExcludeDUR = []string{"임부금기", "특정연령대금기"}
		q.FlagDUR = []string{"노인주의", "용량주의", "병용금기"}
		hits, err := b.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		excluded := map[string]bool{"d03": true, "d05": true, "d08": true, "d10": true}
		want := denseOrder(t, docs, vecs, qv, func(d search.Doc) bool { return !excluded[d.ID] })
		if !reflect.DeepEqual(ids(hits), want) {
			t.Fatalf("dense excluding 임부금기/특정연령대금기 = %v, want %v (docs without DUR kept)", ids(hits), want)
		}
		wantWarn := map[string][]string{"d01": {"용량주의"}, "d02": {"용량주의"}, "d04": {"병용금기"}}
		for _, h := range hits {
			if !reflect.DeepEqual(h.Warnings, wantWarn[h.ID]) {
				t.Errorf("hit %s: warnings %v, want %v", h.ID, h.Warnings, wantWarn[h.ID])
			}
		}
		// Flags without exclusion: d08 carries 노인주의 twice, warned once.
		q = query("알프라졸람 불안", 10, search.ModeBM25)
		q.FlagDUR = []string{"임부금기", "노인주의"}
		hits, err = b.Search(ctx, q)
		if err != nil || len(hits) == 0 || hits[0].ID != "d08" {
			t.Fatalf("bm25 알프라졸람 = %v, %v", ids(hits), err)
		}
		if !reflect.DeepEqual(hits[0].Warnings, []string{"임부금기", "노인주의"}) {
			t.Errorf("d08 warnings = %v", hits[0].Warnings)
		}
		// Exclusion inside hybrid search, with a filter: k stays full.
		q = query("아세트아미노펜", 4, search.ModeHybrid)
		q.Alpha, q.Vector, q.Fusion = 0.5, qv, search.FusionRelative
		q.Filters = map[string][]string{"class": {"일반"}}
		q.ExcludeDUR = []string{"용량주의"}
		hits, err = b.Search(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		if got := sorted(ids(hits)); !reflect.DeepEqual(got, []string{"d03", "d04", "d09", "d10"}) {
			t.Errorf("hybrid 일반 without 용량주의, k=4 = %v, want d03 d04 d09 d10", got)
		}
	})

	t.Run("UpsertReplaces", func(t *testing.T) {
		d := byID["d09"]
		d.Title = "판콜에이내복액(리뉴얼)"
		d.Fields = map[string][]string{"class": {"일반"}, "company": {"동화약품(주)"}, "form": {"액제"}}
		d.DUR = flags("노인주의")
		if err := b.Upsert(ctx, []search.Doc{d}, [][]float32{vec(7)}); err != nil {
			t.Fatal(err)
		}
		got, ok, err := b.Get(ctx, "d09")
		if err != nil || !ok || !reflect.DeepEqual(got, d) {
			t.Fatalf("Get after upsert = %+v, %v, %v; want %+v", got, ok, err, d)
		}
		info, err := b.Info(ctx)
		if err != nil || info.Docs != 10 || !contains(info.Fields, "form") {
			t.Errorf("Info after upsert = %+v, %v", info, err)
		}
		q := query("", 10, search.ModeDense)
		q.Vector = qv
		q.Filters = map[string][]string{"company": {"동화약품"}}
		if hits, err := b.Search(ctx, q); err != nil || len(hits) != 0 {
			t.Errorf("old company still matches: %v, %v", ids(hits), err)
		}
		q.Filters = map[string][]string{"form": {"액제"}}
		if hits, err := b.Search(ctx, q); err != nil || !reflect.DeepEqual(ids(hits), []string{"d09"}) {
			t.Errorf("new field: %v, %v", ids(hits), err)
		}
		// The vector was replaced too: d09 now has d08's vector vec(7).
		q = query("", 2, search.ModeDense)
		q.Vector = vec(7)
		if hits, err := b.Search(ctx, q); err != nil || !reflect.DeepEqual(sorted(ids(hits)), []string{"d08", "d09"}) {
			t.Errorf("nearest to d08's vector = %v, %v; want d08 d09", ids(hits), err)
		}
		// Two versions of one id in one call: the last wins.
		d2 := d
		d2.Title = "판콜에이내복액(최종)"
		if err := b.Upsert(ctx, []search.Doc{d, d2}, [][]float32{vec(7), vec(7)}); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := b.Get(ctx, "d09"); got.Title != d2.Title {
			t.Errorf("title after double upsert = %q", got.Title)
		}
		if err := b.Upsert(ctx, []search.Doc{d}, nil); err == nil {
			t.Error("Upsert without vectors into a dense index succeeded")
		}
	})

	t.Run("Delete", func(t *testing.T) {
		n, err := b.Delete(ctx, []string{"d10", "nope", "d10"})
		if err != nil || n != 1 {
			t.Fatalf("Delete = %d, %v; want 1", n, err)
		}
		if _, ok, err := b.Get(ctx, "d10"); ok || err != nil {
			t.Errorf("Get after Delete = %v, %v", ok, err)
		}
		info, err := b.Info(ctx)
		if err != nil || info.Docs != 9 {
			t.Errorf("Info after Delete = %+v, %v", info, err)
		}
		hits, err := b.Search(ctx, query("게보린", 10, search.ModeBM25))
		if err != nil || len(hits) != 0 {
			t.Errorf("deleted doc still found: %v, %v", ids(hits), err)
		}
		if n, err := b.Delete(ctx, nil); n != 0 || err != nil {
			t.Errorf("Delete(nil) = %d, %v", n, err)
		}
	})
}

// TestBM25Only checks an index without a model.
func TestBM25Only(t *testing.T) {
	url := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	class := fmt.Sprintf("KormedTestBM25%d_%d", time.Now().UnixNano(), os.Getpid())
	b, err := Open(ctx, url, class, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := b.Drop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	// No DUR data yet: the population rules do not apply (search.Info).
	if info, err := b.Info(ctx); err != nil || len(info.DURTypes) != 0 {
		t.Errorf("Info of an empty class = %+v, %v", info, err)
	}
	if err := b.Upsert(ctx, corpus(), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Upsert(ctx, corpus()[:1], [][]float32{vec(0)}); err == nil {
		t.Error("vectors accepted by a BM25-only index")
	}
	hits, err := b.Search(ctx, query("고혈압", 10, ""))
	if err != nil || !reflect.DeepEqual(ids(hits), []string{"d06"}) {
		t.Errorf("bm25 고혈압 = %v, %v", ids(hits), err)
	}
	q := query("고혈압", 10, search.ModeDense)
	q.Vector = vec(0)
	if _, err := b.Search(ctx, q); err == nil {
		t.Error("dense search in a BM25-only index succeeded")
	}
	if _, err := Open(ctx, url, class, Options{Model: &testModel}); err == nil {
		t.Error("a BM25-only index opened with a model")
	}
}

func TestFieldNames(t *testing.T) {
	for _, f := range []string{"type", "type_code", "class", "Company", "성분", "a b", "__", "_x", "x_", "a-1", "ingredient_code"} {
		p := fieldProp(f)
		for i := 0; i < len(p); i++ {
			c := p[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
				t.Errorf("fieldProp(%q) = %q: not a Weaviate property name", f, p)
			}
		}
		if got, ok := propField(p); !ok || got != f {
			t.Errorf("propField(fieldProp(%q) = %q) = %q, %v", f, p, got, ok)
		}
	}
	if fieldProp("type_code") == fieldProp("type.code") || fieldProp("a_2e") == fieldProp("a.") {
		t.Error("field names collide")
	}
	for _, p := range []string{"title", "f_x_", "f_x_z9", "doc_id"} {
		if f, ok := propField(p); ok {
			t.Errorf("propField(%q) = %q, want no field", p, f)
		}
	}
}

func TestObjectID(t *testing.T) {
	a, b := ObjectID("200808876"), ObjectID("200808876")
	if a != b || a == ObjectID("200808877") {
		t.Errorf("ObjectID not deterministic or not distinct: %s %s", a, ObjectID("200808877"))
	}
	u, err := uuid.Parse(a)
	if err != nil || u.Version() != 5 {
		t.Errorf("ObjectID = %s (%v): not a UUID v5", a, err)
	}
}

func TestParseExplain(t *testing.T) {
	// alpha 0.2: vector weight 0.2, keyword 0.8; contribution = weight/(60+rank0).
	ranked := "\nHybrid (Result Set vector,hybridVector) Document x contributed 0.0032258064 to the score" + // 0.2/62 -> rank 3
		"\nHybrid (Result Set keyword,bm25) Document x contributed 0.013333334 to the score" // 0.8/60 -> rank 1
	bm, dn := parseExplain(ranked, 0.2)
	if bm == nil || dn == nil || bm.Rank != 1 || dn.Rank != 3 {
		t.Errorf("ranked: %+v %+v", bm, dn)
	}
	relative := "\nHybrid (Result Set keyword,bm25) Document x: original score 2.3781, normalized score: 0.35 - \nHybrid (Result Set vector,hybridVector) Document x: original score 0.8123, normalized score: 0.5"
	bm, dn = parseExplain(relative, 0.5)
	if bm == nil || dn == nil || bm.Score != 2.3781 || dn.Score != 0.8123 || bm.Rank != 0 {
		t.Errorf("relative: %+v %+v", bm, dn)
	}
	if bm, dn = parseExplain("", 0.5); bm != nil || dn != nil {
		t.Errorf("empty: %+v %+v", bm, dn)
	}
}

func TestWhereClause(t *testing.T) {
	props := map[string]string{"class": "f_class", "company": "f_company"}
	w, ok := whereClause(map[string][]string{"company": {"a\"b", "a\"b", "c"}, "class": {"전문"}, "empty": nil}, []string{"임부금기"}, props)
	want := `{operator:And, operands:[{path:["f_class"], operator:ContainsAny, valueText:["전문"]}, {path:["f_company"], operator:ContainsAny, valueText:["a\"b","c"]}, {path:["dur_types"], operator:ContainsNone, valueText:["임부금기"]}]}`
	if !ok || w != want {
		t.Errorf("whereClause = %s, %v\nwant %s", w, ok, want)
	}
	if w, ok := whereClause(nil, nil, props); !ok || w != "" {
		t.Errorf("no filters: %q %v", w, ok)
	}
	if _, ok := whereClause(map[string][]string{"nope": {"x"}}, nil, props); ok {
		t.Error("unknown field: ok")
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func sorted(ss []string) []string {
	out := append([]string(nil), ss...)
	sort.Strings(out)
	return out
}

func idx(docs []search.Doc, id string) int {
	for i, d := range docs {
		if d.ID == id {
			return i
		}
	}
	return -1
}

// sameRanking reports whether hits rank the documents as want does, up to
// the order within runs of equal scores in want.
func sameRanking(hits, want []search.Hit) bool {
	if len(hits) != len(want) {
		return false
	}
	group := func(hs []search.Hit, scores []search.Hit) []string {
		var out []string
		for i := 0; i < len(hs); {
			j := i + 1
			for j < len(hs) && math.Abs(scores[j].Score-scores[i].Score) < 1e-6 {
				j++
			}
			run := ids(hs[i:j])
			sort.Strings(run)
			out = append(out, strings.Join(run, ","))
			i = j
		}
		return out
	}
	return reflect.DeepEqual(group(hits, want), group(want, want))
}
