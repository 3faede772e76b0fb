package rag

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/searchtest"
)

// service is an in-memory hybrid index over searchtest's drug documents
// plus one with a 용량주의 rule, the DUR rules given their published texts.
func service(t *testing.T) *search.Service {
	t.Helper()
	ctx := context.Background()
	ix, err := embedded.New(embedded.Options{Analyzer: "bigram", Model: searchtest.Model})
	if err != nil {
		t.Fatal(err)
	}
	docs := searchtest.Docs()
	for i := range docs {
		for j := range docs[i].DUR {
			switch docs[i].DUR[j].Type {
			case dur.TypePregnancy:
				docs[i].DUR[j].Content = "임신 말기 투여 금지"
			case dur.TypeAge:
				docs[i].DUR[j].Content = "15세 미만 소아 투여 금지"
			case dur.TypeElderly:
				docs[i].DUR[j].Content = "고령자 낙상 위험"
			}
		}
	}
	docs = append(docs, search.Doc{ID: "p11", Title: "타이레놀8시간이알서방정",
		Text:   "아세트아미노펜 서방정. 해열 진통. 1회 2정, 1일 3회까지 복용.",
		Fields: map[string][]string{"type": {"해열.진통.소염제"}, "class": {"일반"}},
		DUR: []dur.Flag{{Type: dur.TypeDose, Ingredient: "아세트아미노펜", Content: "1일 최대 투여량 4,000mg", MatchedBy: dur.ByItemSeq},
			{Type: dur.TypeSplit, Content: "서방정은 쪼개지 말 것", MatchedBy: dur.ByItemSeq}}})
	if err := ix.Upsert(ctx, docs, searchtest.Vecs(docs)); err != nil {
		t.Fatal(err)
	}
	svc, err := search.NewService(ctx, ix, searchtest.Encoder{}, searchtest.Model)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// echo is a fake generator: it records the request and answers reply in
// pieces of one word.
type echo struct {
	reply string
	got   llm.Request
	calls int
}

func (e *echo) Generate(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	e.got, e.calls = req, e.calls+1
	var sb strings.Builder
	for i, w := range strings.SplitAfter(e.reply, " ") {
		_ = i
		if err := emit(w); err != nil {
			return llm.Result{Text: sb.String()}, err
		}
		sb.WriteString(w)
	}
	return llm.Result{Text: sb.String(), FinishReason: "stop", Model: "echo"}, nil
}

func TestAskPromptAndCitations(t *testing.T) {
	svc := service(t)
	gen := &echo{reply: "타이레놀은 해열 진통제입니다 [1]. 두통에도 씁니다 [1, 3]. 없는 번호 [9]."}
	var pieces []string
	a, err := Ask(context.Background(), svc, gen, "타이레놀 두통", Options{K: 3, Search: search.Request{Mode: search.ModeBM25}},
		func(p string) error { pieces = append(pieces, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(pieces, "") != gen.reply || a.Text != gen.reply || a.Model != "echo" || a.FinishReason != "stop" {
		t.Errorf("text %q pieces %q", a.Text, pieces)
	}
	if len(a.Sources) == 0 || a.Sources[0].Title != "타이레놀정500밀리그램" || a.Sources[0].N != 1 {
		t.Fatalf("sources %+v", a.Sources)
	}
	want := []int{1}
	if len(a.Sources) >= 3 {
		want = []int{1, 3}
	}
	if !reflect.DeepEqual(a.Cited, want) || !a.Sources[0].Cited {
		t.Errorf("cited %v (sources %d)", a.Cited, len(a.Sources))
	}
	msgs := gen.got.Messages
	if len(msgs) != 2 || msgs[0].Role != "system" || msgs[0].Content != SystemPrompt || msgs[1].Role != "user" {
		t.Fatalf("messages %+v", msgs)
	}
	user := msgs[1].Content
	for _, w := range []string{"[자료]\n[1] 타이레놀정500밀리그램 — 해열 진통제. 두통, 치통, 발열에 쓰는 아세트아미노펜 제제.\n", "[질문]\n타이레놀 두통\n", "[번호]"} {
		if !strings.Contains(user, w) {
			t.Errorf("prompt lacks %q:\n%s", w, user)
		}
	}
	for _, w := range []string{"한국어로", "[1], [2]"} {
		if !strings.Contains(SystemPrompt, w) {
			t.Errorf("system prompt lacks %q", w)
		}
	}
	if a.Warnings != nil {
		t.Errorf("warnings for a question about nothing in particular: %+v", a.Warnings)
	}
}

func TestCitations(t *testing.T) {
	for text, want := range map[string][]int{
		"가 [1]. 나 [2][3]":        {1, 2, 3},
		"[1, 2] 그리고 [ 4 ]":       {1, 2, 4},
		"[2-4]":                  {2, 3, 4},
		"[1，5] [0] [7] [a] [12]": {1, 5},
		"인용 없음":                  {},
		"[3][3][3]":              {3},
	} {
		if got := Citations(text, 5); !reflect.DeepEqual(got, want) {
			t.Errorf("%q: %v, want %v", text, got, want)
		}
	}
}

func TestBudget(t *testing.T) {
	long := strings.Repeat("가나다라마바사 ", 200)
	src := []Source{
		{N: 1, ID: "a", Title: "짧은약", text: "짧다."},
		{N: 2, ID: "b", Title: "긴약", text: long},
		{N: 3, ID: "c", Title: "더긴약", text: long + long},
	}
	question := strings.Repeat("아주 긴 질문 ", 100)
	msgs, kept := Prompt(question, src, 300, nil)
	if kept != 3 {
		t.Fatalf("kept %d", kept)
	}
	user := msgs[1].Content
	if !strings.Contains(user, "[1] 짧은약 — 짧다.\n") {
		t.Errorf("short source cut:\n%s", user)
	}
	if !strings.Contains(user, "[질문]\n"+question+"\n") {
		t.Error("question cut")
	}
	blocks, _ := fit(src, 300, utf8.RuneCountInString)
	total := 0
	for _, b := range blocks {
		total += utf8.RuneCountInString(b)
	}
	if total > 300 || total < 280 || !strings.HasSuffix(blocks[1], "…") || !strings.HasSuffix(blocks[2], "…") {
		t.Errorf("total %d runes: %q", total, blocks)
	}
	// Equal shares for the two long ones.
	if d := utf8.RuneCountInString(blocks[2]) - utf8.RuneCountInString(blocks[1]); d < 0 || d > 3 {
		t.Errorf("unequal shares %q", blocks)
	}
	// Too small a budget drops the lowest ranked sources.
	if _, kept := Prompt("질문", src, 45, nil); kept != 1 {
		t.Errorf("budget 45 kept %d", kept)
	}
	if _, kept := Prompt("질문", src, 5, nil); kept != 0 {
		t.Errorf("budget 5 kept %d", kept)
	}
	// Ask reports the drop.
	svc := service(t)
	gen := &echo{reply: "답 [1]"}
	a, err := Ask(context.Background(), svc, gen, "해열 진통", Options{K: 5, Budget: 45, Search: search.Request{Mode: search.ModeBM25}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Sources) != 1 || len(a.Notes) == 0 || !strings.Contains(a.Notes[len(a.Notes)-1], "fit the context budget") {
		t.Errorf("sources %d notes %q", len(a.Sources), a.Notes)
	}
}

func TestThreshold(t *testing.T) {
	svc := service(t)
	gen := &echo{reply: "지어낸 답"}
	var pieces []string
	// Nothing shares a term with the question; the dense side returns
	// hits anyway, but below the cosine bound.
	a, err := Ask(context.Background(), svc, gen, "오늘 서울 날씨 어때", Options{MinDense: 0.99},
		func(p string) error { pieces = append(pieces, p); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !a.NoSource || a.Text != NoSourceText || gen.calls != 0 || len(a.Sources) != 0 || strings.Join(pieces, "") != NoSourceText {
		t.Errorf("%+v calls %d", a, gen.calls)
	}
	if !strings.Contains(NoSourceText, "찾지 못했습니다") {
		t.Error("refusal not in Korean")
	}
	// MinScore applies to every hit.
	a, err = Ask(context.Background(), svc, gen, "타이레놀", Options{MinScore: 1e9, Search: search.Request{Mode: search.ModeBM25}}, nil)
	if err != nil || !a.NoSource {
		t.Errorf("%v %+v", err, a)
	}
	// A dense-only hit above the bound counts.
	h := search.Hit{Score: 0.5, Dense: &search.Part{Rank: 1, Score: 0.9}}
	if !Relevant(h, Options{MinDense: 0.8}) || Relevant(h, Options{MinDense: 0.95}) || Relevant(h, Options{MinDense: -1}) {
		t.Error("Relevant dense")
	}
	if !Relevant(search.Hit{BM25: &search.Part{Rank: 1, Score: 3}}, Options{MinDense: -1}) {
		t.Error("Relevant bm25")
	}
	// A keyword hit counts at a coverage of at least MinCoverage (≤ 0: no
	// bound; no coverage, as from Weaviate: no bound), else by its cosine.
	cov := func(c float64) *float64 { return &c }
	kw := search.Hit{BM25: &search.Part{Rank: 1, Score: 3}, Coverage: cov(0.4), Dense: &search.Part{Rank: 3, Score: 0.85}}
	for _, c := range []struct {
		h    search.Hit
		opts Options
		want bool
	}{
		{kw, Options{MinCoverage: 0.4, MinDense: -1}, true},
		{kw, Options{MinCoverage: 0.41, MinDense: -1}, false},
		{kw, Options{MinCoverage: 0.41, MinDense: 0.8}, true}, // the cosine still counts
		{kw, Options{MinCoverage: 0.41, MinDense: 0.9}, false},
		{kw, Options{MinCoverage: 0, MinDense: -1}, true},
		{kw, Options{MinCoverage: -1, MinDense: -1}, true},
		{search.Hit{Terms: []string{"두통"}, Coverage: cov(0)}, Options{MinCoverage: 0.1, MinDense: -1}, false},
		{search.Hit{Terms: []string{"두통"}}, Options{MinCoverage: 0.99, MinDense: -1}, true},                                       // Weaviate
		{search.Hit{Coverage: cov(1), Dense: &search.Part{Rank: 1, Score: 0.1}}, Options{MinCoverage: 0.5, MinDense: 0.8}, false}, // not a keyword hit
	} {
		if got := Relevant(c.h, c.opts); got != c.want {
			t.Errorf("Relevant(%+v, %+v) = %v", c.h, c.opts, got)
		}
	}
}

// TestCoverageRefuses: a question only partly about the corpus is refused
// at the default MinCoverage though BM25 finds hits for its one drug word,
// and answered when the bound is lifted.
func TestCoverageRefuses(t *testing.T) {
	svc := service(t)
	gen := &echo{reply: "답 [1]"}
	q := "내일 서울 날씨와 미세먼지 농도 알려줘 두통"
	resp, err := svc.Search(context.Background(), search.Request{Query: q, K: 5, Mode: search.ModeBM25})
	if err != nil || len(resp.Hits) == 0 {
		t.Fatalf("%v %+v", err, resp)
	}
	for _, h := range resp.Hits {
		if h.BM25 == nil || h.Coverage == nil || *h.Coverage >= DefaultMinCoverage {
			t.Fatalf("hit %s: bm25 %v coverage %v", h.ID, h.BM25, h.Coverage)
		}
	}
	a, err := Ask(context.Background(), svc, gen, q, Options{Search: search.Request{Mode: search.ModeBM25}}, nil)
	if err != nil || !a.NoSource || gen.calls != 0 {
		t.Errorf("default: %v %+v", err, a)
	}
	a, err = Ask(context.Background(), svc, gen, q, Options{MinCoverage: -1, Search: search.Request{Mode: search.ModeBM25}}, nil)
	if err != nil || a.NoSource || gen.calls != 1 || len(a.Sources) != len(resp.Hits) {
		t.Errorf("no bound: %v %+v", err, a)
	}
}

func TestDURWarnings(t *testing.T) {
	svc := service(t)
	ctx := context.Background()
	// A pregnancy question: the population rule fires; the answer cites
	// 게보린 (임부금기) and its rule is attached.
	gen := &echo{}
	a, err := Ask(ctx, svc, gen, "임산부 두통 진통제", Options{K: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Rules) == 0 || a.Rules[0].Population != dur.PopulationPregnancy {
		t.Fatalf("rules %+v", a.Rules)
	}
	n := 0
	for _, s := range a.Sources {
		if s.ID == "p03" {
			n = s.N
		}
	}
	if n == 0 {
		t.Fatalf("게보린 not among the sources %+v", a.Sources)
	}
	gen.reply = "게보린은 임부에게 금기입니다 [" + itoa(n) + "]."
	a, err = Ask(ctx, svc, gen, "임산부 두통 진통제", Options{K: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Warnings) != 1 || a.Warnings[0].ID != "p03" || a.Warnings[0].Type != dur.TypePregnancy || a.Warnings[0].Content != "임신 말기 투여 금지" || a.Warnings[0].N != n {
		t.Errorf("warnings %+v", a.Warnings)
	}
	// The prompt carries the DUR rules of the sources.
	if !strings.Contains(gen.got.Messages[1].Content, "DUR: 임부금기: 임신 말기 투여 금지") {
		t.Errorf("prompt:\n%s", gen.got.Messages[1].Content)
	}
	// A dosing question (no population rule): 용량주의 of the cited
	// product, not its 분할주의.
	gen.reply = "1회 2정입니다 [1]."
	a, err = Ask(ctx, svc, gen, "타이레놀8시간이알서방정 복용량", Options{K: 3, Search: search.Request{Mode: search.ModeBM25}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sources[0].ID != "p11" || len(a.Warnings) != 1 || a.Warnings[0].Type != dur.TypeDose || a.Warnings[0].Content != "1일 최대 투여량 4,000mg" {
		t.Errorf("sources %+v warnings %+v", a.Sources, a.Warnings)
	}
	// Elderly: 졸피뎀's 노인주의.
	gen.reply = "졸피뎀은 주의가 필요합니다 [1]."
	a, err = Ask(ctx, svc, gen, "노인 불면증 수면제", Options{K: 3}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a.Sources[0].ID != "p07" || len(a.Warnings) != 1 || a.Warnings[0].Type != dur.TypeElderly {
		t.Errorf("sources %+v warnings %+v", a.Sources, a.Warnings)
	}
	if got := Topic("소아 해열제", nil); !reflect.DeepEqual(got, []string{dur.TypeAge}) {
		t.Errorf("topic %v", got)
	}
}

func TestAskErrors(t *testing.T) {
	svc := service(t)
	for _, q := range []string{"", "   ", strings.Repeat("가", 1000)} {
		if _, err := Ask(context.Background(), svc, &echo{}, q, Options{}, nil); !IsRequestError(err) {
			t.Errorf("%.10q: %v", q, err)
		}
	}
	if _, err := Ask(context.Background(), svc, &echo{}, "타이레놀", Options{K: 51}, nil); !IsRequestError(err) {
		t.Errorf("k 51: %v", err)
	}
	// A generator failure returns the partial answer with the error.
	boom := errors.New("boom")
	gen := llm.Func(func(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
		emit("타이레놀 [1]")
		return llm.Result{Text: "타이레놀 [1]"}, boom
	})
	a, err := Ask(context.Background(), svc, gen, "타이레놀", Options{Search: search.Request{Mode: search.ModeBM25}}, nil)
	if !errors.Is(err, boom) || a == nil || a.Text != "타이레놀 [1]" || !reflect.DeepEqual(a.Cited, []int{1}) {
		t.Errorf("%v %+v", err, a)
	}
}

func itoa(n int) string { return string(rune('0' + n)) }

// TestTokenBudget counts the budget in tokens: here UTF-8 bytes, what a
// byte-level BPE without merges (kormed testmodel's decoders) counts, so
// a Hangul syllable is 3 tokens.
func TestTokenBudget(t *testing.T) {
	bytes := func(s string) int { return len(s) }
	long := strings.Repeat("가나다라마바사 ", 200)
	src := []Source{
		{N: 1, ID: "a", Title: "짧은약", text: "짧다."},
		{N: 2, ID: "b", Title: "긴약", text: long},
		{N: 3, ID: "c", Title: "더긴약", text: long + long},
	}
	blocks, kept := fit(src, 300, bytes)
	total := 0
	for _, b := range blocks {
		total += len(b)
	}
	// The heads ("[2] 긴약 — " is 15 bytes, "[3] 더긴약 — " 18) and the
	// short source leave 121 bytes to each long body: 5 × "가나다라마바사 "
	// (22) + "가나" (6) + "…" (3) = 119, one more syllable would be 122.
	if kept != 3 || total > 300 || total < 295 || blocks[0] != "[1] 짧은약 — 짧다." {
		t.Errorf("kept %d, %d bytes: %q", kept, total, blocks)
	}
	if len(blocks[1]) != 15+119 || len(blocks[2]) != 18+119 || !strings.HasSuffix(blocks[2], "…") {
		t.Errorf("cut to %d and %d bytes: %q", len(blocks[1]), len(blocks[2]), blocks[1:])
	}

	// Ask with the counter: the note says tokens.
	svc := service(t)
	gen := &echo{reply: "답 [1]"}
	a, err := Ask(context.Background(), svc, gen, "해열 진통", Options{K: 5, Budget: 100, Tokens: bytes, Search: search.Request{Mode: search.ModeBM25}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := a.Notes[len(a.Notes)-1]; !strings.HasSuffix(n, "sources fit the context budget of 100 tokens") {
		t.Errorf("notes %q", a.Notes)
	}

	// A context window of 1200 tokens, 200 for the answer: the prompt
	// (system 4+… and user messages, counted whole) takes what is left.
	whole := func(msgs []llm.Message) int {
		n := 0
		for _, m := range msgs {
			n += len(m.Content) + 10
		}
		return n
	}
	opts := Options{K: 5, Tokens: bytes, PromptTokens: whole, Context: 1200, MaxTokens: 200, Search: search.Request{Mode: search.ModeBM25}}
	a, err = Ask(context.Background(), svc, gen, "해열 진통", opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := whole(gen.got.Messages); got > 1000 || got < 950 {
		t.Errorf("prompt %d tokens, want at most 1000 (and near it)", got)
	}
	// What the answer and the prompt without sources leave is the
	// budget.
	bare, _ := Prompt("해열 진통", nil, 0, bytes)
	fixed := whole(bare)
	if fixed != 834 { // system 674 bytes, user frame and question 140, 2 × 10
		t.Errorf("prompt without sources: %d tokens, want 834", fixed)
	}
	if want := fmt.Sprintf("the source budget was lowered from 4000 to %d tokens so that the prompt and the answer's 200 tokens fit the model's context of 1200", 1200-200-fixed); !containsStr(a.Notes, want) {
		t.Errorf("notes %q, want %q", a.Notes, want)
	}
	// A question that leaves no room: refused as the caller's fault.
	opts.Context = 800
	_, err = Ask(context.Background(), svc, gen, "해열 진통", opts, nil)
	if !IsRequestError(err) || !strings.Contains(err.Error(), "more than the model's context of 800 tokens") {
		t.Errorf("context 800: %v", err)
	}
	opts.Context = fixed + 200 + 10 // room for less than one source
	_, err = Ask(context.Background(), svc, gen, "해열 진통", opts, nil)
	if !IsRequestError(err) || !strings.Contains(err.Error(), "no source fits the 10 tokens") {
		t.Errorf("context %d: %v", opts.Context, err)
	}
	// MaxTokens 0 keeps DefaultAnswerTokens, at most a quarter of the
	// context.
	if r := reserve(Options{Context: 1200}); r != 300 {
		t.Errorf("reserve %d", r)
	}
	if r := reserve(Options{Context: 32768}); r != DefaultAnswerTokens {
		t.Errorf("reserve %d", r)
	}
}
