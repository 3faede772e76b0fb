package embedded

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
)

// The service over the embedded index: search.Service's validation,
// defaults and population rules, which need a backend to run.

func newTestService(t *testing.T) *search.Service {
	t.Helper()
	ix := newTestIndex(t, true)
	svc, err := search.NewService(context.Background(), ix, charEncoder{testModel.Dim}, testModel)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func TestServiceValidation(t *testing.T) {
	svc := newTestService(t)
	ctx := context.Background()
	bad := []search.Request{
		{Query: "  "},
		{Query: strings.Repeat("가", search.MaxQueryBytes)},
		{Query: "두통\xff"},
		{Query: "두통", K: search.MaxK + 1},
		{Query: "두통", K: -1},
		{Query: "두통", Mode: "fuzzy"},
		{Query: "두통", Alpha: ptr(1.5)},
		{Query: "두통", Fusion: "max"},
		{Query: "두통", Safety: "loose"},
		{Query: "두통", Filters: map[string][]string{"class": {}}},
		{Query: "두통", Filters: map[string][]string{"nofield": {"x"}}},
	}
	for _, r := range bad {
		if _, err := svc.Search(ctx, r); err == nil || !search.IsRequestError(err) {
			t.Errorf("%+v: err %v, want a request error", r, err)
		}
	}
	resp, err := svc.Search(ctx, search.Request{Query: "두통 진통제"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Mode != search.ModeHybrid || resp.Alpha != search.DefaultAlpha || resp.Fusion != search.DefaultFusion || len(resp.Hits) != 8 {
		t.Errorf("defaults: mode %s alpha %v fusion %s, %d hits", resp.Mode, resp.Alpha, resp.Fusion, len(resp.Hits))
	}
	// A BM25-only service refuses dense modes and says it runs BM25.
	bm, err := search.NewService(ctx, newTestIndex(t, false), nil, search.ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bm.Search(ctx, search.Request{Query: "두통", Mode: search.ModeHybrid}); !search.IsRequestError(err) {
		t.Errorf("hybrid on BM25 only: %v", err)
	}
	resp, err = bm.Search(ctx, search.Request{Query: "두통"})
	if err != nil || resp.Mode != search.ModeBM25 || len(resp.Notes) != 1 {
		t.Errorf("BM25-only default: %+v %v", resp, err)
	}
	// A mismatched model is refused with what differs.
	other := testModel
	other.Dim, other.Name = 32, "other/model"
	_, err = search.NewService(ctx, newTestIndex(t, true), charEncoder{32}, other)
	if err == nil || !strings.Contains(err.Error(), "dimension 64 vs 32") || !strings.Contains(err.Error(), `"test/char" vs "other/model"`) {
		t.Errorf("mismatch: %v", err)
	}
	if _, err := search.NewService(ctx, newTestIndex(t, false), charEncoder{64}, testModel); err == nil {
		t.Error("a model on a BM25-only index accepted")
	}
}

func ptr(f float64) *float64 { return &f }

func TestServicePopulationRules(t *testing.T) {
	svc := newTestService(t)
	ctx := context.Background()
	resp, err := svc.Search(ctx, search.Request{Query: "임산부 두통 진통제", Mode: search.ModeBM25})
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
	strict, err := svc.Search(ctx, search.Request{Query: "임산부 두통 진통제", Mode: search.ModeBM25, Safety: search.SafetyStrict})
	if err != nil {
		t.Fatal(err)
	}
	if strict.Rules[0].Action != "exclude" {
		t.Errorf("strict rule %+v", strict.Rules)
	}
	if got := ids(strict.Hits); !reflect.DeepEqual(got, []string{"1"}) {
		t.Errorf("strict hits %v, want [1]", got)
	}
	off, _ := svc.Search(ctx, search.Request{Query: "임산부 두통 진통제", Mode: search.ModeBM25, Safety: search.SafetyOff})
	if len(off.Rules) != 0 || len(off.Hits) != len(resp.Hits) {
		t.Errorf("safety off: %+v", off)
	}
	// No population named: no rule.
	plain, _ := svc.Search(ctx, search.Request{Query: "타이레놀 두통", Mode: search.ModeBM25})
	if len(plain.Rules) != 0 {
		t.Errorf("rules without a population: %+v", plain.Rules)
	}
}

// TestResolveWithoutPopulation: Resolve searches the query less its
// population word, and only a population word stays as it is.
func TestResolveWithoutPopulation(t *testing.T) {
	svc := newTestService(t)
	q, _, notes, err := svc.Resolve(search.Request{Query: "65세 이상 노인 수면제"})
	if err != nil || q.Query != "수면제" || len(notes) != 1 {
		t.Errorf("resolved %q, notes %v, %v", q.Query, notes, err)
	}
	// Only a population word: the query stays as it is.
	resp, err := svc.Search(context.Background(), search.Request{Query: "임산부", Mode: search.ModeBM25})
	if err != nil || len(resp.Rules) != 1 {
		t.Errorf("population only: %+v %v", resp, err)
	}
}

// TestPopulationRulesNeedDUR: in an index without DUR data a population
// word is searched as written and no rule fires (a note says why); once a
// document with DUR flags is added the rules apply, and when it is
// deleted they stop again.
func TestPopulationRulesNeedDUR(t *testing.T) {
	ctx := context.Background()
	ix, err := New(Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(ctx, []search.Doc{
		{ID: "a", Title: "노인성 우울증", Text: "노인 우울증의 증상과 치료"},
		{ID: "b", Title: "소아 발열", Text: "아이가 열이 날 때"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	svc, err := search.NewService(ctx, ix, nil, search.ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{"노인 우울증 치료", "아이가 열이 나요", "임신 중 두통"} {
		q, rules, notes, err := svc.Resolve(search.Request{Query: query, Mode: search.ModeBM25})
		if err != nil {
			t.Fatal(err)
		}
		if q.Query != query || len(rules) != 0 || len(q.FlagDUR) != 0 || len(notes) != 1 || !strings.Contains(notes[0], "no DUR data") {
			t.Errorf("%q without DUR data: searched %q, rules %+v, notes %q", query, q.Query, rules, notes)
		}
	}
	if info, _ := ix.Info(ctx); len(info.DURTypes) != 0 || ix.HoldsDUR() {
		t.Errorf("DUR types %v, HoldsDUR %v", info.DURTypes, ix.HoldsDUR())
	}

	if err := svc.Upsert(ctx, []search.Doc{{ID: "c", Title: "졸피뎀정", Text: "불면증 치료제", DUR: []dur.Flag{{Type: dur.TypeElderly, MatchedBy: dur.ByItemSeq}}}}); err != nil {
		t.Fatal(err)
	}
	if info, _ := ix.Info(ctx); !reflect.DeepEqual(info.DURTypes, []string{dur.TypeElderly}) {
		t.Errorf("DUR types %v", info.DURTypes)
	}
	q, rules, _, err := svc.Resolve(search.Request{Query: "노인 우울증 치료"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Query != "우울증 치료" || len(rules) != 1 || rules[0].Word != "노인" || rules[0].Action != "flag" || !reflect.DeepEqual(q.FlagDUR, []string{dur.TypeElderly}) {
		t.Errorf("with DUR data: searched %q, rules %+v, flag %v", q.Query, rules, q.FlagDUR)
	}
	// A derived word is no population word even with DUR data.
	q, rules, _, _ = svc.Resolve(search.Request{Query: "노인성 우울증"})
	if q.Query != "노인성 우울증" || len(rules) != 0 {
		t.Errorf("노인성 우울증: searched %q, rules %+v", q.Query, rules)
	}

	if _, err := ix.Delete(ctx, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if q, rules, _, _ := svc.Resolve(search.Request{Query: "노인 우울증 치료"}); q.Query != "노인 우울증 치료" || len(rules) != 0 {
		t.Errorf("after deleting the only DUR product: searched %q, rules %+v", q.Query, rules)
	}
}

// TestUpsertCheckID: Upsert refuses a bad id, names the document, and
// writes nothing.
func TestUpsertCheckID(t *testing.T) {
	// Through Upsert: the document's index is named too, and nothing is
	// written.
	svc := newTestService(t)
	ctx := context.Background()
	n := svc.Backend.(*Index).Len()
	err := svc.Upsert(ctx, []search.Doc{{ID: "ok", Text: "x"}, {ID: "196400099\u200b", Text: "두통"}})
	if err == nil || !search.IsRequestError(err) || !strings.Contains(err.Error(), `documents[1].id "196400099\u200b": format character U+200B ZERO WIDTH SPACE`) {
		t.Errorf("upsert: %v", err)
	}
	if got := svc.Backend.(*Index).Len(); got != n {
		t.Errorf("%d documents after a refused upsert, want %d", got, n)
	}
}

func TestQueryWithoutLetterOrDigit(t *testing.T) {
	svc := newTestService(t)
	ctx := context.Background()
	for _, q := range []string{"\u0000", "\ufffd", "?!", "...", " - ", "★☆", "\u200b"} {
		_, err := svc.Search(ctx, search.Request{Query: q})
		if err == nil || !search.IsRequestError(err) || !strings.Contains(err.Error(), "no letter or digit") && !strings.Contains(err.Error(), "empty") {
			t.Errorf("query %q: %v, want a request error", q, err)
		}
	}
	for _, q := range []string{"두통?", "500", "A", "①"} {
		if _, err := svc.Search(ctx, search.Request{Query: q}); err != nil {
			t.Errorf("query %q: %v", q, err)
		}
	}
}
