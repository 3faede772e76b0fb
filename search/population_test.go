package search

import (
	"context"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/dur"
)

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
	if err := ix.Upsert(ctx, []Doc{
		{ID: "a", Title: "노인성 우울증", Text: "노인 우울증의 증상과 치료"},
		{ID: "b", Title: "소아 발열", Text: "아이가 열이 날 때"},
	}, nil); err != nil {
		t.Fatal(err)
	}
	svc, err := NewService(ctx, ix, nil, ModelInfo{})
	if err != nil {
		t.Fatal(err)
	}
	for _, query := range []string{"노인 우울증 치료", "아이가 열이 나요", "임신 중 두통"} {
		q, rules, notes, err := svc.Resolve(Request{Query: query, Mode: ModeBM25})
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

	if err := svc.Upsert(ctx, []Doc{{ID: "c", Title: "졸피뎀정", Text: "불면증 치료제", DUR: []dur.Flag{{Type: dur.TypeElderly, MatchedBy: dur.ByItemSeq}}}}); err != nil {
		t.Fatal(err)
	}
	if info, _ := ix.Info(ctx); !reflect.DeepEqual(info.DURTypes, []string{dur.TypeElderly}) {
		t.Errorf("DUR types %v", info.DURTypes)
	}
	q, rules, _, err := svc.Resolve(Request{Query: "노인 우울증 치료"})
	if err != nil {
		t.Fatal(err)
	}
	if q.Query != "우울증 치료" || len(rules) != 1 || rules[0].Word != "노인" || rules[0].Action != "flag" || !reflect.DeepEqual(q.FlagDUR, []string{dur.TypeElderly}) {
		t.Errorf("with DUR data: searched %q, rules %+v, flag %v", q.Query, rules, q.FlagDUR)
	}
	// A derived word is no population word even with DUR data.
	q, rules, _, _ = svc.Resolve(Request{Query: "노인성 우울증"})
	if q.Query != "노인성 우울증" || len(rules) != 0 {
		t.Errorf("노인성 우울증: searched %q, rules %+v", q.Query, rules)
	}

	if _, err := ix.Delete(ctx, []string{"c"}); err != nil {
		t.Fatal(err)
	}
	if q, rules, _, _ := svc.Resolve(Request{Query: "노인 우울증 치료"}); q.Query != "노인 우울증 치료" || len(rules) != 0 {
		t.Errorf("after deleting the only DUR product: searched %q, rules %+v", q.Query, rules)
	}
}

// TestWithoutPopulationWhere: the word taken out is the one that named
// the population, not an earlier word that merely starts like it.
func TestWithoutPopulationWhere(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"노인성 우울증, 노인 환자 수면제", "노인성 우울증, 환자 수면제"},
		{"아이를 가지려는데 아이가 열이 나요", "아이를 가지려는데 열이 나요"},
		{"임신성 당뇨 임산부", "임신성 당뇨"},
	} {
		if got := withoutPopulation(c.in, dur.Populations(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}
