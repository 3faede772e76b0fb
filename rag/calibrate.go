package rag

import (
	"context"
	"fmt"
	"math"
	"sort"

	"github.com/kormed/kormed/search"
)

// Kinds of calibration questions.
const (
	KindAnswerable = "answerable" // a benchmark query, its relevant documents in the index
	KindDeleted    = "deleted"    // the same query with its relevant documents left out
	KindOffTopic   = "off-topic"  // a question the index cannot answer
)

// OffTopic are Korean questions no drug index answers, the fixed
// off-topic set of a calibration (kormed ask --calibrate).
var OffTopic = []string{
	"내일 서울 날씨 어때요?",
	"주말에 가볼 만한 부산 여행지 추천해 줘",
	"김치찌개 맛있게 끓이는 법",
	"손흥민 이번 시즌 골 몇 개야?",
	"비트코인 시세 전망은?",
	"파이썬에서 리스트 정렬하는 방법",
	"전세 계약할 때 주의할 점",
	"자동차 엔진오일 교체 주기는?",
	"영어 회화 공부 방법 추천해 주세요",
	"강아지 산책은 몇 번 시켜야 하나요?",
	"아이폰 배터리 교체 비용",
	"서울에서 제주도 가는 비행기표 싸게 사는 법",
	"좋은 노트북 고르는 법",
	"겨울철 난방비 절약 방법",
	"세종대왕은 언제 태어났나요?",
	"부동산 취득세 계산 방법",
	"야구 규칙을 쉽게 설명해 줘",
	"떡볶이 레시피 알려줘",
	"캠핑 장비 추천 좀",
	"주식 배당금에도 세금이 붙나요?",
}

// CalQuestion is one question of a calibration.
type CalQuestion struct {
	ID   string `json:"id"`
	Text string `json:"text"`
	Kind string `json:"kind"`
	// Exclude are document ids left out of the search (Kind deleted).
	Exclude []string `json:"exclude,omitempty"`
}

// BenchQuestions makes the calibration questions of a retrieval
// benchmark: each query whose relevant documents (qrels score > 0) are all
// in the index (has) is asked as it is (answerable) and with those
// documents left out (deleted); then offTopic. Queries with a relevant
// document missing from the index are skipped and counted.
func BenchQuestions(ids, texts []string, qrels map[string]map[string]int, has func(id string) bool, offTopic []string) (qs []CalQuestion, skipped int) {
	var deleted []CalQuestion
	for i, id := range ids {
		var rel []string
		for d, s := range qrels[id] {
			if s > 0 {
				rel = append(rel, d)
			}
		}
		sort.Strings(rel)
		ok := len(rel) > 0
		for _, d := range rel {
			ok = ok && has(d)
		}
		if !ok {
			skipped++
			continue
		}
		qs = append(qs, CalQuestion{ID: id, Text: texts[i], Kind: KindAnswerable})
		deleted = append(deleted, CalQuestion{ID: id, Text: texts[i], Kind: KindDeleted, Exclude: rel})
	}
	qs = append(qs, deleted...)
	for i, t := range offTopic {
		qs = append(qs, CalQuestion{ID: fmt.Sprintf("off-topic-%02d", i+1), Text: t, Kind: KindOffTopic})
	}
	return qs, skipped
}

// CalScore is what the relevance test sees for one question's hits (those
// at least MinScore): whether the keyword side found one (Keyword), the
// best coverage among those (Coverage; 1 for a hit without a coverage,
// which no MinCoverage refuses), and the best dense cosine among all of
// them (Dense) — the question is answered at MinCoverage c and MinDense t
// when Coverage ≥ c or Dense ≥ t (Answered). MaxDense is the largest dense
// cosine of all hits, MinScore ignored: what a threshold on the dense
// cosine alone would see.
type CalScore struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Keyword  bool     `json:"keyword"`
	Coverage *float64 `json:"coverage,omitempty"`
	Dense    *float64 `json:"dense,omitempty"`
	MaxDense *float64 `json:"max_dense,omitempty"`
}

// Answered reports whether Ask would answer (not refuse) at MinCoverage
// c and MinDense t (c ≤ 0: any keyword hit; t < 0: the dense cosine
// never).
func (s CalScore) Answered(c, t float64) bool {
	return s.Keyword && (c <= 0 || *s.Coverage >= c) || t >= 0 && s.Dense != nil && *s.Dense >= t
}

// answeredDense reports whether some hit's dense cosine is at least t.
func (s CalScore) answeredDense(t float64) bool {
	return s.MaxDense != nil && *s.MaxDense >= t
}

// Point is the outcome of "answerable" (answered vs refused) at one
// threshold: answerable questions answered are true positives.
type Point struct {
	Threshold float64 `json:"threshold"`
	TP        int     `json:"tp"`
	FP        int     `json:"fp"`
	FN        int     `json:"fn"`
	TN        int     `json:"tn"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Calibration is the measurement of the relevance thresholds.
type Calibration struct {
	Answerable int `json:"answerable"`
	Deleted    int `json:"deleted"`
	OffTopic   int `json:"off_topic"`
	// KeywordAnswerable and KeywordUnanswerable are the questions of each
	// class where the keyword side found a hit: what the rule before
	// coverage (MinCoverage ≤ 0) answers whatever MinDense is.
	KeywordAnswerable   int `json:"keyword_answerable"`
	KeywordUnanswerable int `json:"keyword_unanswerable"`
	// MinCoverage and MinDense are the thresholds held fixed while the
	// other is swept.
	MinCoverage float64 `json:"min_coverage"`
	MinDense    float64 `json:"min_dense"`
	// Coverage is the outcome of the relevance test as Ask applies it
	// over MinCoverage (MinDense fixed; its At holds 0, the rule before
	// coverage, DefaultMinCoverage and MinCoverage); Relevant the same
	// over MinDense (MinCoverage fixed; At: DefaultMinDense and
	// MinDense); DenseOnly that of a threshold on the hits' dense cosine
	// alone, the keyword side ignored (At as Relevant's).
	Coverage  Sweep      `json:"coverage"`
	Relevant  Sweep      `json:"relevant"`
	DenseOnly Sweep      `json:"dense_only"`
	Scores    []CalScore `json:"scores"`
}

// Sweep is the outcome over thresholds: Best is the threshold of highest
// F1 (the middle of the widest run of grid thresholds that reach it; the
// higher run on a tie), At the thresholds asked about, Curve every grid
// threshold 0.01…1.00.
type Sweep struct {
	Best  Point   `json:"best"`
	At    []Point `json:"at"`
	Curve []Point `json:"curve"`
}

// Calibrate asks every question through svc as Ask would (opts' K,
// search template and MinScore; no generator) and measures which
// thresholds tell the answerable questions from the others (Measure at
// opts' MinCoverage and MinDense, 0 meaning the defaults).
func Calibrate(ctx context.Context, svc *search.Service, qs []CalQuestion, opts Options) (*Calibration, error) {
	if opts.K == 0 {
		opts.K = DefaultK
	}
	if opts.MinCoverage == 0 {
		opts.MinCoverage = DefaultMinCoverage
	}
	if opts.MinDense == 0 {
		opts.MinDense = DefaultMinDense
	}
	scores := make([]CalScore, 0, len(qs))
	for _, q := range qs {
		req := opts.Search
		req.Query, req.K, req.Exclude = q.Text, opts.K, q.Exclude
		resp, err := svc.Search(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("question %s %q: %w", q.ID, q.Text, err)
		}
		scores = append(scores, Score(q, resp.Hits, opts))
	}
	return Measure(scores, opts.MinCoverage, opts.MinDense), nil
}

// Score is what Relevant sees for a question's hits (opts' MinScore).
func Score(q CalQuestion, hits []search.Hit, opts Options) CalScore {
	s := CalScore{ID: q.ID, Kind: q.Kind}
	keep := func(p **float64, x float64) {
		if *p == nil || x > **p {
			*p = &x
		}
	}
	for _, h := range hits {
		if h.Dense != nil {
			keep(&s.MaxDense, h.Dense.Score)
		}
		if opts.MinScore > 0 && h.Score < opts.MinScore {
			continue
		}
		if Keyword(h) {
			s.Keyword = true
			c := 1.0 // no coverage: no MinCoverage refuses it
			if h.Coverage != nil {
				c = *h.Coverage
			}
			keep(&s.Coverage, c)
		}
		if h.Dense != nil {
			keep(&s.Dense, h.Dense.Score)
		}
	}
	return s
}

// Measure computes the outcome at every grid threshold 0.01…1.00 and at
// the thresholds of interest, and picks the best: of MinCoverage with
// MinDense at minDense, of MinDense with MinCoverage at minCoverage, and
// of the dense cosine alone.
func Measure(scores []CalScore, minCoverage, minDense float64) *Calibration {
	c := &Calibration{Scores: scores, MinCoverage: minCoverage, MinDense: minDense}
	for _, s := range scores {
		switch s.Kind {
		case KindAnswerable:
			c.Answerable++
		case KindDeleted:
			c.Deleted++
		default:
			c.OffTopic++
		}
		if s.Keyword {
			if s.Kind == KindAnswerable {
				c.KeywordAnswerable++
			} else {
				c.KeywordUnanswerable++
			}
		}
	}
	atDense := []float64{DefaultMinDense}
	if minDense != DefaultMinDense && minDense > 0 {
		atDense = append(atDense, minDense)
	}
	atCov := []float64{0, DefaultMinCoverage}
	if minCoverage != DefaultMinCoverage && minCoverage > 0 {
		atCov = append(atCov, minCoverage)
	}
	c.Coverage = sweep(scores, func(s CalScore, x float64) bool { return s.Answered(x, minDense) }, atCov)
	c.Relevant = sweep(scores, func(s CalScore, x float64) bool { return s.Answered(minCoverage, x) }, atDense)
	c.DenseOnly = sweep(scores, CalScore.answeredDense, atDense)
	return c
}

func sweep(scores []CalScore, answered func(CalScore, float64) bool, at []float64) Sweep {
	var c Sweep
	best := 0.0
	for i := 1; i <= 100; i++ {
		p := point(scores, answered, float64(i)/100)
		c.Curve = append(c.Curve, p)
		best = math.Max(best, p.F1)
	}
	// The widest run of grid thresholds at the best F1 (the higher on a
	// tie), and its middle.
	runStart, bestStart, bestLen := -1, 0, 0
	for i, p := range c.Curve {
		if p.F1 == best {
			if runStart < 0 {
				runStart = i
			}
			if n := i - runStart + 1; n >= bestLen {
				bestStart, bestLen = runStart, n
			}
		} else {
			runStart = -1
		}
	}
	c.Best = c.Curve[bestStart+(bestLen-1)/2]
	for _, t := range at {
		c.At = append(c.At, point(scores, answered, t))
	}
	return c
}

func point(scores []CalScore, answered func(CalScore, float64) bool, t float64) Point {
	p := Point{Threshold: t}
	for _, s := range scores {
		ans, pos := answered(s, t), s.Kind == KindAnswerable
		switch {
		case ans && pos:
			p.TP++
		case ans:
			p.FP++
		case pos:
			p.FN++
		default:
			p.TN++
		}
	}
	if p.TP+p.FP > 0 {
		p.Precision = float64(p.TP) / float64(p.TP+p.FP)
	}
	if p.TP+p.FN > 0 {
		p.Recall = float64(p.TP) / float64(p.TP+p.FN)
	}
	if p.Precision+p.Recall > 0 {
		p.F1 = 2 * p.Precision * p.Recall / (p.Precision + p.Recall)
	}
	return p
}
