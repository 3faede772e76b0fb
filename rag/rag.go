package rag

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/search"
)

// Defaults of Options.
const (
	DefaultK        = 5
	DefaultBudget   = 4000 // tokens (runes without a tokenizer) of source text in the prompt
	DefaultMinDense = 0.80
	// DefaultMinCoverage is the least Hit.Coverage of a source the
	// keyword side found: on the drug benchmark (kormed ask --calibrate,
	// BENCHMARKS.md) the best F1 was at 0.34 (0.756), 0.30 the best
	// multiple of 0.05 (0.748, recall 0.90, no off-topic question
	// answered; any keyword match: 0.662).
	DefaultMinCoverage = 0.30
	// DefaultAnswerTokens is the room kept for the answer in a known
	// context window when MaxTokens is 0 (at most a quarter of it).
	DefaultAnswerTokens = 512
)

// MaxQuestionBytes bounds a question.
const MaxQuestionBytes = 2000

// NoSourceText is the answer when no source is relevant.
const NoSourceText = "검색된 자료 중에서 질문과 관련된 근거를 찾지 못했습니다. 제품명이나 성분명을 넣어 질문을 더 구체적으로 해 주세요. 정확한 정보는 의사나 약사와 상담하세요."

// SystemPrompt is the system message.
const SystemPrompt = `당신은 한국 의약품 정보를 안내하는 도우미입니다.
- 사용자 메시지의 [자료]에 있는 내용만 근거로 삼아 한국어로 답하세요.
- 근거로 쓴 문장 끝에 해당 자료 번호를 [1], [2]처럼 붙이세요. 자료에 없는 번호는 쓰지 마세요.
- 자료에서 확인할 수 없는 내용은 추측하지 말고 "제공된 자료에서 확인할 수 없습니다"라고 답하세요.
- 용량, 임신·수유, 소아·노인 사용에 관한 질문에는 자료의 DUR 주의사항을 함께 알리세요.
- 답변은 간결하게 하고, 마지막에 정확한 복용은 의사나 약사와 상담하라고 덧붙이세요.`

// Options configure one question. Zero values take the defaults.
type Options struct {
	// K is how many sources to retrieve (DefaultK).
	K int
	// Search is the request template: mode, alpha, fusion, filters,
	// safety (its Query and K are set by Ask).
	Search search.Request
	// MinScore is the least Hit.Score a source needs (0: no bound).
	MinScore float64
	// MinCoverage is the least Hit.Coverage (the idf-weighted share of
	// the question's terms the hit holds) at which a hit the keyword side
	// found counts as relevant (DefaultMinCoverage; negative: no bound,
	// every hit the keyword side found counts). A hit without a coverage
	// (the Weaviate backend computes none) is not bounded by it.
	MinCoverage float64
	// MinDense is the least dense cosine at which a hit counts as
	// relevant whatever its coverage (DefaultMinDense; negative: the
	// dense cosine never makes a hit relevant).
	MinDense float64
	// Budget bounds the source text of the prompt (DefaultBudget) in
	// tokens counted by Tokens, or in runes when Tokens is nil (an
	// estimate: Korean runs about 1–1.5 runes per token in BPE
	// vocabularies). Sources are truncated to share it, the lowest ranked
	// dropped when even their titles do not fit; the question is never
	// cut.
	Budget int
	// Tokens counts a text's tokens in the generator's vocabulary (nil:
	// runes). PromptTokens counts a whole request as the model sees it,
	// chat template included (nil: the Tokens of the messages' contents
	// plus 4 a message).
	Tokens       func(string) int
	PromptTokens func([]llm.Message) int
	// Context is the generator's context window in tokens (its
	// max_position_embeddings; 0: unknown). When known, the source budget
	// is lowered so that the whole prompt and the answer's MaxTokens
	// (DefaultAnswerTokens, at most a quarter of Context, when 0) fit,
	// and a question that does not fit with one source is refused.
	Context int
	// Model, MaxTokens, Temperature go to the generator.
	Model       string
	MaxTokens   int
	Temperature *float64
}

// Source is one numbered source of an answer.
type Source struct {
	N       int     `json:"n"`
	ID      string  `json:"id"`
	Title   string  `json:"title,omitempty"`
	Snippet string  `json:"snippet"`
	Score   float64 `json:"score"`
	// DUR are the product's DUR rules; Warnings the types the search
	// flagged (population rules).
	DUR      []dur.Flag `json:"dur,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
	Cited    bool       `json:"cited"`

	text string // the document's text, for the prompt
}

// Warning is a DUR rule of a cited product attached to an answer about
// dosing, pregnancy or age.
type Warning struct {
	N       int    `json:"n"` // the source
	ID      string `json:"id"`
	Title   string `json:"title,omitempty"`
	Type    string `json:"type"`
	Content string `json:"content,omitempty"`
}

// Answer is the result of Ask.
type Answer struct {
	Question string `json:"question"`
	Text     string `json:"text"`
	// Sources are the numbered sources given to the model; Cited the
	// numbers the answer cites.
	Sources []Source `json:"sources"`
	Cited   []int    `json:"cited"`
	// Warnings are the DUR rules of the cited products for a question
	// about dosing, pregnancy or age.
	Warnings []Warning `json:"warnings,omitempty"`
	// Rules are the population rules the search fired; Notes what else
	// was decided.
	Rules []search.Rule `json:"rules,omitempty"`
	Notes []string      `json:"notes,omitempty"`
	// NoSource is true when no source was relevant and the answer is
	// NoSourceText, not generated.
	NoSource     bool   `json:"no_source"`
	Model        string `json:"model,omitempty"`
	FinishReason string `json:"finish_reason,omitempty"`
}

// RequestError is a question Ask refuses (HTTP 400).
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }

// Ask answers question: it searches svc, builds the prompt and streams
// gen's answer through emit (which may be nil). On a generator failure the
// Answer holds what was produced with the error.
func Ask(ctx context.Context, svc *search.Service, gen llm.Generator, question string, opts Options, emit func(piece string) error) (*Answer, error) {
	question = strings.TrimSpace(question)
	switch {
	case question == "":
		return nil, &RequestError{"question is empty"}
	case len(question) > MaxQuestionBytes:
		return nil, &RequestError{fmt.Sprintf("question is %d bytes, at most %d", len(question), MaxQuestionBytes)}
	case !utf8.ValidString(question):
		return nil, &RequestError{"question is not valid UTF-8"}
	}
	if opts.K == 0 {
		opts.K = DefaultK
	}
	if opts.K < 1 || opts.K > 50 {
		return nil, &RequestError{fmt.Sprintf("k: %d, want 1 to 50", opts.K)}
	}
	if opts.MinDense == 0 {
		opts.MinDense = DefaultMinDense
	}
	if opts.MinCoverage == 0 {
		opts.MinCoverage = DefaultMinCoverage
	}
	if opts.Budget <= 0 {
		opts.Budget = DefaultBudget
	}
	if emit == nil {
		emit = func(string) error { return nil }
	}
	req := opts.Search
	req.Query, req.K = question, opts.K
	resp, err := svc.Search(ctx, req)
	if err != nil {
		if search.IsRequestError(err) {
			return nil, &RequestError{err.Error()}
		}
		return nil, err
	}
	a := &Answer{Question: question, Rules: resp.Rules, Notes: resp.Notes, Sources: []Source{}, Cited: []int{}}
	for _, h := range resp.Hits {
		if !Relevant(h, opts) {
			continue
		}
		src := Source{N: len(a.Sources) + 1, ID: h.ID, Title: h.Title, Snippet: h.Snippet,
			Score: h.Score, DUR: h.DUR, Warnings: h.Warnings}
		// The prompt gets the whole text (the snippet is a short window).
		if d, ok, err := svc.Backend.Get(ctx, h.ID); err == nil && ok {
			src.text = d.Text
		} else if err != nil && ctx.Err() != nil {
			return nil, ctx.Err()
		}
		a.Sources = append(a.Sources, src)
	}
	if len(a.Sources) == 0 {
		a.NoSource, a.Text = true, NoSourceText
		a.Notes = append(a.Notes, fmt.Sprintf("no source passed the relevance threshold (%d hits retrieved)", len(resp.Hits)))
		return a, emit(a.Text)
	}
	msgs, kept, budget, err := prompt(question, a.Sources, opts)
	if err != nil {
		return nil, err
	}
	unit := "tokens"
	if opts.Tokens == nil {
		unit = "characters"
	}
	if budget < opts.Budget {
		a.Notes = append(a.Notes, fmt.Sprintf("the source budget was lowered from %d to %d tokens so that the prompt and the answer's %d tokens fit the model's context of %d", opts.Budget, budget, reserve(opts), opts.Context))
	}
	if kept < len(a.Sources) {
		a.Notes = append(a.Notes, fmt.Sprintf("%d of %d sources fit the context budget of %d %s", kept, len(a.Sources), budget, unit))
		a.Sources = a.Sources[:kept]
	}
	res, err := gen.Generate(ctx, llm.Request{Messages: msgs, Model: opts.Model, MaxTokens: opts.MaxTokens, Temperature: opts.Temperature}, emit)
	a.Text, a.Model, a.FinishReason = res.Text, res.Model, res.FinishReason
	a.Cited = Citations(a.Text, len(a.Sources))
	for _, n := range a.Cited {
		a.Sources[n-1].Cited = true
	}
	a.Warnings = warnings(question, a)
	return a, err
}

// Relevant reports whether a hit counts as a source: its score is at
// least MinScore, and the keyword side found it (BM25 or the snippet
// matched a query term) with a coverage of at least MinCoverage, or its
// dense cosine is at least MinDense. opts are taken as they are (Ask fills
// in the defaults first): MinCoverage ≤ 0 or a hit without a coverage
// (Weaviate) leaves the keyword test as it was before coverage, any
// keyword match.
func Relevant(h search.Hit, opts Options) bool {
	if opts.MinScore > 0 && h.Score < opts.MinScore {
		return false
	}
	if Keyword(h) && (opts.MinCoverage <= 0 || h.Coverage == nil || *h.Coverage >= opts.MinCoverage) {
		return true
	}
	return opts.MinDense >= 0 && h.Dense != nil && h.Dense.Score >= opts.MinDense
}

// Keyword reports whether the keyword side found a hit: BM25 ranked it or
// its snippet matched a query term.
func Keyword(h search.Hit) bool { return h.BM25 != nil || len(h.Terms) > 0 }

// reserve is the room kept for the answer in a known context.
func reserve(opts Options) int {
	if opts.MaxTokens > 0 {
		return opts.MaxTokens
	}
	return min(DefaultAnswerTokens, opts.Context/4)
}

// prompt builds the messages within opts' budget and, when the context
// is known, within what the context leaves for the sources: it returns
// the messages, how many sources fit and the budget used.
func prompt(question string, sources []Source, opts Options) ([]llm.Message, int, int, error) {
	count := opts.Tokens
	if count == nil {
		count = utf8.RuneCountInString
	}
	total := opts.PromptTokens
	if total == nil {
		total = func(msgs []llm.Message) int {
			n := 0
			for _, m := range msgs {
				n += count(m.Content) + 4
			}
			return n
		}
	}
	budget := opts.Budget
	if opts.Context <= 0 {
		msgs, kept := Prompt(question, sources, budget, count)
		return msgs, kept, budget, nil
	}
	answer := reserve(opts)
	bare, _ := Prompt(question, nil, 0, count)
	fixed := total(bare)
	if fixed+answer > opts.Context {
		return nil, 0, 0, &RequestError{fmt.Sprintf("the question and instructions take %d tokens and the answer %d (max_tokens): more than the model's context of %d tokens; shorten the question or lower max_tokens", fixed, answer, opts.Context)}
	}
	budget = min(budget, opts.Context-answer-fixed)
	// Blocks are counted one by one; the whole prompt may count a few
	// tokens more: lower the budget by the excess until it fits.
	for try := 0; try < 4; try++ {
		msgs, kept := Prompt(question, sources, budget, count)
		if kept == 0 && len(sources) > 0 {
			return nil, 0, 0, &RequestError{fmt.Sprintf("no source fits the %d tokens the model's context of %d leaves after the question and instructions (%d tokens) and the answer (%d); shorten the question or lower max_tokens", max(budget, 0), opts.Context, fixed, answer)}
		}
		over := total(msgs) + answer - opts.Context
		if over <= 0 {
			return msgs, kept, budget, nil
		}
		budget -= over
	}
	return nil, 0, 0, fmt.Errorf("rag: the prompt does not fit the model's context of %d tokens after 4 tries (token counts not additive)", opts.Context)
}

// Prompt builds the messages for question over sources, fitting the
// sources' text into budget units of count (nil: runes); it returns how
// many sources fit.
func Prompt(question string, sources []Source, budget int, count func(string) int) ([]llm.Message, int) {
	if count == nil {
		count = utf8.RuneCountInString
	}
	blocks, kept := fit(sources, budget, count)
	var sb strings.Builder
	sb.WriteString("[자료]\n")
	for _, b := range blocks {
		sb.WriteString(b)
		sb.WriteString("\n")
	}
	sb.WriteString("\n[질문]\n")
	sb.WriteString(question)
	sb.WriteString("\n\n위 자료만 근거로 한국어로 답하고, 근거 문장마다 [번호]로 출처를 표시하세요.")
	return []llm.Message{{Role: "system", Content: SystemPrompt}, {Role: "user", Content: sb.String()}}, kept
}

// minBody is the least body text (tokens or runes) worth a source in the
// prompt.
const minBody = 20

// fit renders "[n] 제목 — 내용" blocks whose total length, as count
// measures them, is at most budget: the budget is shared out (short
// sources keep all their text, the rest is split evenly among the longer
// ones), and the lowest ranked sources are dropped while a source would
// get less than minBody of text.
func fit(sources []Source, budget int, count func(string) int) ([]string, int) {
	for n := len(sources); n > 0; n-- {
		heads := make([]string, n)
		bodies := make([][]rune, n)
		sizes := make([]int, n)
		need := 0
		for i, s := range sources[:n] {
			title := s.Title
			if title == "" {
				title = s.ID
			}
			heads[i] = fmt.Sprintf("[%d] %s — ", s.N, title)
			bodies[i] = []rune(body(s))
			sizes[i] = count(string(bodies[i]))
			need += count(heads[i])
		}
		left := budget - need
		if left < minBody*n {
			continue
		}
		// Water-filling: shortest bodies first.
		order := make([]int, n)
		for i := range order {
			order[i] = i
		}
		sort.SliceStable(order, func(a, b int) bool { return sizes[order[a]] < sizes[order[b]] })
		alloc := make([]int, n)
		for j, i := range order {
			share := left / (n - j)
			alloc[i] = min(sizes[i], share)
			left -= alloc[i]
		}
		out := make([]string, n)
		for i := range out {
			b := string(bodies[i])
			if alloc[i] < sizes[i] {
				b = cut(bodies[i], alloc[i], count)
			}
			out[i] = heads[i] + b
		}
		return out, n
	}
	return nil, 0
}

// cut returns the longest prefix of b that, followed by "…", counts at
// most limit (by bisection: counts grow with the prefix, near enough).
func cut(b []rune, limit int, count func(string) int) string {
	lo, hi := 0, len(b) // b[:lo]+"…" fits; b[:hi]+"…" does not (or hi = len)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if count(string(b[:mid])+"…") <= limit {
			lo = mid
		} else {
			hi = mid
		}
	}
	return string(b[:lo]) + "…"
}

// body is a source's text for the prompt: the document text (the snippet
// when the backend does not return it) and its DUR rules.
func body(s Source) string {
	t := s.text
	if t == "" {
		t = strings.TrimPrefix(s.Snippet, s.Title+" — ")
	}
	t = strings.Join(strings.Fields(t), " ")
	var rules []string
	for _, f := range s.DUR {
		r := f.Type
		if f.Ingredient != "" {
			r += "(" + f.Ingredient + ")"
		}
		if f.Content != "" {
			r += ": " + strings.Join(strings.Fields(f.Content), " ")
		}
		rules = append(rules, r)
	}
	if len(rules) > 0 {
		t += " / DUR: " + strings.Join(rules, "; ")
	}
	return t
}

var citeRE = regexp.MustCompile(`\[\s*(\d+(?:\s*[,，、~\-–]\s*\d+)*)\s*\]`)

// Citations returns the source numbers (1…n) text cites as [1], [1, 2],
// [1][3] or [1-3], sorted and without duplicates.
func Citations(text string, n int) []int {
	seen := map[int]bool{}
	for _, m := range citeRE.FindAllStringSubmatch(text, -1) {
		inner := m[1]
		for _, part := range strings.FieldsFunc(inner, func(r rune) bool { return r == ',' || r == '，' || r == '、' }) {
			part = strings.TrimSpace(part)
			lo, hi := part, part
			if a, b, ok := cutAny(part, "-~–"); ok {
				lo, hi = a, b
			}
			x, err1 := strconv.Atoi(strings.TrimSpace(lo))
			y, err2 := strconv.Atoi(strings.TrimSpace(hi))
			if err1 != nil || err2 != nil || y < x || y-x > n {
				continue
			}
			for k := x; k <= y; k++ {
				if k >= 1 && k <= n {
					seen[k] = true
				}
			}
		}
	}
	out := make([]int, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

func cutAny(s, seps string) (string, string, bool) {
	if i := strings.IndexAny(s, seps); i >= 0 {
		_, w := utf8.DecodeRuneInString(s[i:])
		return s[:i], s[i+w:], true
	}
	return s, "", false
}

// Topic words: a question with one of these asks about dosing,
// pregnancy or age, and selects these DUR types (besides the population
// rules the search fired).
var topics = []struct {
	words []string
	types []string
}{
	{[]string{"용량", "복용량", "투여량", "몇 알", "몇알", "하루에", "최대", "과다", "얼마나"}, []string{dur.TypeDose, dur.TypeDuration}},
	{[]string{"임신", "임부", "임산부", "태아", "수유", "모유"}, []string{dur.TypePregnancy, dur.TypeLactation}},
	{[]string{"소아", "어린이", "아이", "유아", "영아", "신생아", "청소년", "나이", "연령", "세 미만", "세 이하"}, []string{dur.TypeAge}},
	{[]string{"노인", "고령", "어르신", "노약자"}, []string{dur.TypeElderly}},
}

// Topic returns the DUR types a question about dosing, pregnancy or age
// selects: those of the population rules fired and of the topic words it
// contains (nil for other questions).
func Topic(question string, rules []search.Rule) []string {
	set := map[string]bool{}
	for _, r := range rules {
		for _, t := range r.Types {
			set[t] = true
		}
	}
	for _, tp := range topics {
		for _, w := range tp.words {
			if strings.Contains(question, w) {
				for _, t := range tp.types {
					set[t] = true
				}
				break
			}
		}
	}
	if len(set) == 0 {
		return nil
	}
	out := make([]string, 0, len(set))
	for t := range set {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// warnings are the DUR rules of the cited sources (all sources when the
// answer cites none) whose types the question's topic selects.
func warnings(question string, a *Answer) []Warning {
	types := Topic(question, a.Rules)
	if types == nil {
		return nil
	}
	var out []Warning
	for _, s := range a.Sources {
		if len(a.Cited) > 0 && !s.Cited {
			continue
		}
		for _, f := range s.DUR {
			if containsStr(types, f.Type) || containsStr(s.Warnings, f.Type) {
				out = append(out, Warning{N: s.N, ID: s.ID, Title: s.Title, Type: f.Type, Content: f.Content})
			}
		}
	}
	return out
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// IsRequestError reports whether err is the caller's fault.
func IsRequestError(err error) bool {
	var re *RequestError
	return errors.As(err, &re) || search.IsRequestError(err)
}
