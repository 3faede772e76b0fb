package search

import (
	"context"
	"unicode/utf8"

	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/dur"
)

func newTestService(t *testing.T) *Service {
	t.Helper()
	ix := newTestIndex(t, true)
	svc, err := NewService(context.Background(), ix, charEncoder{testModel.Dim}, testModel)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestServiceValidation(t *testing.T) {
	svc := newTestService(t)
	ctx := context.Background()
	bad := []Request{
		{Query: "  "},
		{Query: strings.Repeat("가", MaxQueryBytes)},
		{Query: "두통\xff"},
		{Query: "두통", K: MaxK + 1},
		{Query: "두통", K: -1},
		{Query: "두통", Mode: "fuzzy"},
		{Query: "두통", Alpha: ptr(1.5)},
		{Query: "두통", Fusion: "max"},
		{Query: "두통", Safety: "loose"},
		{Query: "두통", Filters: map[string][]string{"class": {}}},
		{Query: "두통", Filters: map[string][]string{"nofield": {"x"}}},
	}
	for _, r := range bad {
		if _, err := svc.Search(ctx, r); err == nil || !IsRequestError(err) {
			t.Errorf("%+v: err %v, want a request error", r, err)
		}
	}
	resp, err := svc.Search(ctx, Request{Query: "두통 진통제"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Mode != ModeHybrid || resp.Alpha != DefaultAlpha || resp.Fusion != DefaultFusion || len(resp.Hits) != 8 {
		t.Errorf("defaults: mode %s alpha %v fusion %s, %d hits", resp.Mode, resp.Alpha, resp.Fusion, len(resp.Hits))
	}
	// A BM25-only service refuses dense modes and says it runs BM25.
	bm, err := NewService(ctx, newTestIndex(t, false), nil, ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bm.Search(ctx, Request{Query: "두통", Mode: ModeHybrid}); !IsRequestError(err) {
		t.Errorf("hybrid on BM25 only: %v", err)
	}
	resp, err = bm.Search(ctx, Request{Query: "두통"})
	if err != nil || resp.Mode != ModeBM25 || len(resp.Notes) != 1 {
		t.Errorf("BM25-only default: %+v %v", resp, err)
	}
	// A mismatched model is refused with what differs.
	other := testModel
	other.Dim, other.Name = 32, "other/model"
	_, err = NewService(ctx, newTestIndex(t, true), charEncoder{32}, other)
	if err == nil || !strings.Contains(err.Error(), "dimension 64 vs 32") || !strings.Contains(err.Error(), `"test/char" vs "other/model"`) {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := NewService(ctx, newTestIndex(t, false), charEncoder{64}, testModel); err == nil {
		t.Error("a model on a BM25-only index accepted")
	}
}

func ptr(f float64) *float64 { return &f }

func TestServicePopulationRules(t *testing.T) {
	svc := newTestService(t)
	ctx := context.Background()
	resp, err := svc.Search(ctx, Request{Query: "임산부 두통 진통제", Mode: ModeBM25})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Rules) != 1 || resp.Rules[0].Word != "임산부" || resp.Rules[0].Action != "flag" || !reflect.DeepEqual(resp.Rules[0].Types, []string{"임부금기"}) {
		t.Fatalf("rules %+v", resp.Rules)
	}
	flagged := 0
	for _, h := range resp.Hits {
		if h.ID == "3" || h.ID == "8" {
			if !reflect.DeepEqual(h.Warnings, []string{"임부금기"}) {
				t.Errorf("%s: warnings %v", h.ID, h.Warnings)
			}
			flagged++
		} else if len(h.Warnings) != 0 {
			t.Errorf("%s: warnings %v", h.ID, h.Warnings)
		}
	}
	if flagged != 2 {
		t.Errorf("flagged %d of 게보린/이부프로펜", flagged)
	}
	strict, err := svc.Search(ctx, Request{Query: "임산부 두통 진통제", Mode: ModeBM25, Safety: SafetyStrict})
	if err != nil {
		t.Fatal(err)
	}
	if strict.Rules[0].Action != "exclude" {
		t.Errorf("strict rule %+v", strict.Rules)
	}
	if got := ids(strict.Hits); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("strict hits %v, want [1]", got)
	}
	off, _ := svc.Search(ctx, Request{Query: "임산부 두통 진통제", Mode: ModeBM25, Safety: SafetyOff})
	if len(off.Rules) != 0 || len(off.Hits) != len(resp.Hits) {
		t.Errorf("safety off: %+v", off)
	}
	// No population named: no rule.
	plain, _ := svc.Search(ctx, Request{Query: "타이레놀 두통", Mode: ModeBM25})
	if len(plain.Rules) != 0 {
		t.Errorf("rules without a population: %+v", plain.Rules)
	}
}

func TestWithoutPopulation(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"임산부가 먹어도 되는 두통약", "먹어도 되는 두통약"},
		{"65세 이상 노인 수면제", "노인 수면제"}, // one population per call; Resolve repeats
		{"어린이부루펜시럽 어린이가 먹어도 돼?", "어린이부루펜시럽 먹어도 돼?"},
		{"두통약", "두통약"},
	} {
		if got := withoutPopulation(c.in, dur.Populations(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
	svc := newTestService(t)
	q, _, notes, err := svc.Resolve(Request{Query: "65세 이상 노인 수면제"})
	if err != nil || q.Query != "수면제" || len(notes) != 1 {
		t.Errorf("resolved %q, notes %v, %v", q.Query, notes, err)
	}
	// Only a population word: the query stays as it is.
	resp, err := svc.Search(context.Background(), Request{Query: "임산부", Mode: ModeBM25})
	if err != nil || len(resp.Rules) != 1 {
		t.Errorf("population only: %+v %v", resp, err)
	}
}

func TestSnippet(t *testing.T) {
	terms := queryTerms("타이레놀 두통에 먹는 약")
	plain, marked, found := snippet("타이레놀정500밀리그램", "해열 진통제. 두통, 치통에 쓴다. <b>주의</b>", terms, 160)
	if !strings.HasPrefix(plain, "타이레놀정500밀리그램 — 해열") {
		t.Errorf("plain %q", plain)
	}
	if !strings.Contains(marked, "<mark>타이레놀</mark>정500") || !strings.Contains(marked, "<mark>두통</mark>, 치통") {
		t.Errorf("marked %q", marked)
	}
	if !strings.Contains(marked, "&lt;b&gt;주의&lt;/b&gt;") {
		t.Errorf("HTML not escaped: %q", marked)
	}
	if !reflect.DeepEqual(found, []string{"타이레놀", "두통"}) {
		t.Errorf("found %v (terms %v)", found, terms)
	}
	// A compound query word highlights its part in the text.
	_, marked, found = snippet("게보린정", "두통, 치통에 쓰는 진통제.", queryTerms("임산부 두통약"), 160)
	if !strings.Contains(marked, "<mark>두통</mark>") || len(found) == 0 {
		t.Errorf("compound: %q %v", marked, found)
	}
	// Lower-casing that changes byte lengths (Ⱥ → ⱥ is 2 → 3 bytes, K → k
	// 3 → 1) must not shift the marks or split a character.
	_, marked, _ = snippet("", "Ⱥ두통Ⱥ\u212a 두통약", []string{"두통"}, 160)
	if marked != "Ⱥ<mark>두통</mark>Ⱥ\u212a <mark>두통</mark>약" || !utf8.ValidString(marked) {
		t.Errorf("length-changing case: %q", marked)
	}
	// A very long query word does not blow up (its parts are not tried).
	long := strings.Repeat("a", 3000)
	if subs := subTerms(long); subs != nil {
		t.Errorf("%d parts of a 3000-rune word", len(subs))
	}
	// A long text: the window moves to the match.
	long = strings.Repeat("가나다라 ", 100) + "여기에 두통 이야기" + strings.Repeat(" 마바사", 100)
	plain, marked, _ = snippet("", long, []string{"두통"}, 40)
	if !strings.HasPrefix(plain, "…") || !strings.HasSuffix(plain, "…") || !strings.Contains(marked, "<mark>두통</mark>") {
		t.Errorf("window: %q", marked)
	}
	if n := len([]rune(strings.Trim(plain, "…"))); n != 40 {
		t.Errorf("window length %d", n)
	}
}

func TestFacets(t *testing.T) {
	ix := newTestIndex(t, false)
	ctx := context.Background()
	got, _ := ix.Facets(ctx, "class", 0)
	if !reflect.DeepEqual(got, []Facet{{"일반", 6}, {"전문", 2}}) {
		t.Errorf("facets %v", got)
	}
	ix.Delete(context.Background(), []string{"5"})
	if got, _ := ix.Facets(ctx, "class", 1); !reflect.DeepEqual(got, []Facet{{"일반", 6}}) {
		t.Errorf("after delete %v", got)
	}
	if fs, err := ix.Facets(ctx, "nope", 3); fs != nil || err != nil {
		t.Error("unknown field has facets")
	}
}
