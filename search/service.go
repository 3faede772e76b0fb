package search

import (
	"context"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/fusion"
)

// Encoder embeds queries and passages; *model.Model is one.
type Encoder interface {
	EncodeQueries(ctx context.Context, texts []string) ([][]float32, error)
	EncodePassages(ctx context.Context, texts []string) ([][]float32, error)
}

// RequestError is a request the service refuses (HTTP 400).
type RequestError struct{ Msg string }

func (e *RequestError) Error() string { return e.Msg }

func badRequest(format string, a ...any) error {
	return &RequestError{Msg: fmt.Sprintf(format, a...)}
}

// IsRequestError reports whether err is the caller's fault.
func IsRequestError(err error) bool {
	var re *RequestError
	return errors.As(err, &re)
}

// Limits of a request.
const (
	MaxQueryBytes   = 4096
	MaxDocs         = 1000 // documents per Upsert
	MaxFilterFields = 16   // fields in Request.Filters
	MaxValues       = 256  // values per filter field, DUR types per list
	MaxValueBytes   = 512  // bytes per value
)

// checkValues validates a list of filter values or DUR types.
func checkValues(what string, vals []string) error {
	if len(vals) > MaxValues {
		return badRequest("%s: %d values, at most %d", what, len(vals), MaxValues)
	}
	for i, v := range vals {
		if len(v) > MaxValueBytes || !utf8.ValidString(v) {
			return badRequest("%s[%d]: over %d bytes or not valid UTF-8", what, i, MaxValueBytes)
		}
	}
	return nil
}

// Default hybrid settings, chosen by measurement: kormed eval --retriever
// hybrid over alpha 0.1…0.9 × {rrf, relative} on the drug benchmark's
// train split (4,657 queries) with the demo's trained encoder; relative
// fusion at 0.4 was best (NDCG@10 97.29 vs BM25 95.50, dense 85.13, best
// RRF 96.28 at 0.2), and on the test split it gives 91.08 vs BM25 90.56
// and dense 52.72. RRF ignores how far apart the scores are, which costs
// when one retriever is much weaker. See README, "Hybrid search". They
// are the fallback now: kormed index calibrates each index with a model
// (embedded.Options.Calibration), and the service uses that.
const (
	DefaultAlpha  = 0.4
	DefaultFusion = FusionRelative
)

// Service answers search requests over a Backend: it validates requests,
// fills in defaults, applies the DUR population rules, embeds the query
// with the index's model and adds snippets with the matched terms.
type Service struct {
	Backend Backend
	// Enc embeds queries and documents; nil for a BM25-only service.
	Enc Encoder
	// Alpha and Fusion are the hybrid defaults; Safety the default
	// population policy (SafetyFlag when empty).
	Alpha  float64
	Fusion string
	Safety string
	// RRFK is RRF's k (0: fusion.RRFK). FollowCalibration, which NewService
	// sets for a service with a dense model, makes the index's current
	// calibration (kormed index), when it has one, the hybrid default in
	// place of Alpha, Fusion and RRFK — followed across reloads; clear it
	// to pin them.
	RRFK              float64
	FollowCalibration bool
	// Model is what Enc is (checked against the index by NewService).
	Model ModelInfo
	mu    sync.Mutex
	info  Info
}

// NewService checks that enc is the model the backend's index was built
// with (same name, dimension, pooling and prefixes) and returns the
// service. enc nil makes a BM25-only service.
func NewService(ctx context.Context, b Backend, enc Encoder, model ModelInfo) (*Service, error) {
	info, err := b.Info(ctx)
	if err != nil {
		return nil, err
	}
	s := &Service{Backend: b, Alpha: DefaultAlpha, Fusion: DefaultFusion, Safety: SafetyFlag, info: info}
	if enc != nil {
		// An index calibrated later (kormed index --calibrate) is followed
		// on reload too.
		s.FollowCalibration = true
		if c := calibrationOf(b); c != nil {
			s.Alpha, s.Fusion, s.RRFK = c.FusionDefaults()
		}
	}
	if enc != nil {
		if info.Model.Name == "" {
			return nil, fmt.Errorf("the index was built without a model (BM25 only); serve it without --model or rebuild it with one")
		}
		if err := sameModel(info.Model, model); err != nil {
			return nil, err
		}
		s.Enc, s.Model = enc, model
	}
	return s, nil
}

// sameModel explains how the query model differs from the index's.
func sameModel(ix, q ModelInfo) error {
	var diffs []string
	if !sameName(ix.Name, q.Name) {
		diffs = append(diffs, fmt.Sprintf("name %q vs %q", ix.Name, q.Name))
	}
	if ix.Revision != "" && q.Revision != "" && ix.Revision != q.Revision {
		diffs = append(diffs, fmt.Sprintf("revision %s vs %s", ix.Revision, q.Revision))
	}
	if ix.Dim != q.Dim {
		diffs = append(diffs, fmt.Sprintf("dimension %d vs %d", ix.Dim, q.Dim))
	}
	if ix.Pooling != q.Pooling {
		diffs = append(diffs, fmt.Sprintf("pooling %s vs %s", ix.Pooling, q.Pooling))
	}
	if ix.Query != q.Query || ix.Passage != q.Passage {
		diffs = append(diffs, fmt.Sprintf("prefixes %q/%q vs %q/%q", ix.Query, ix.Passage, q.Query, q.Passage))
	}
	if len(diffs) > 0 {
		return fmt.Errorf("the query model differs from the one the index was built with (index vs query: %s); use the index's model or re-index", strings.Join(diffs, "; "))
	}
	return nil
}

// sameName compares model names: hub ids as written, local folders by
// their cleaned absolute paths ("./m" is "m").
func sameName(a, b string) bool {
	if a == b {
		return true
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// Defaults are the hybrid defaults a request without alpha or fusion
// gets: the index's calibration when FollowCalibration is set and the
// index has one (cal non-nil), else Alpha, Fusion and RRFK.
func (s *Service) Defaults() (alpha float64, method string, rrfk float64, cal *fusion.Calibration) {
	if s.FollowCalibration && s.Enc != nil {
		if c := calibrationOf(s.Backend); c != nil {
			alpha, method, rrfk = c.FusionDefaults()
			return alpha, method, rrfk, c
		}
	}
	rrfk = s.RRFK
	if rrfk <= 0 {
		rrfk = fusion.RRFK
	}
	return s.Alpha, s.Fusion, rrfk, nil
}

// calibrationOf is the backend's stored calibration (the embedded index
// keeps one in its manifest), nil if none.
func calibrationOf(b Backend) *fusion.Calibration {
	if c, ok := b.(interface{ Calibration() *fusion.Calibration }); ok {
		return c.Calibration()
	}
	return nil
}

// Info describes the backend.
func (s *Service) Info(ctx context.Context) (Info, error) { return s.Backend.Info(ctx) }

// Dense reports whether the service has a dense model.
func (s *Service) Dense() bool { return s.Enc != nil }

// Resolve validates req and fills in defaults.
func (s *Service) Resolve(req Request) (Query, []Rule, []string, error) {
	q := Query{Request: req}
	var notes []string
	q.Query = strings.TrimSpace(q.Query)
	switch {
	case q.Query == "":
		return q, nil, nil, badRequest("query: empty")
	case len(q.Query) > MaxQueryBytes:
		return q, nil, nil, badRequest("query: %d bytes, at most %d", len(q.Query), MaxQueryBytes)
	case !utf8.ValidString(q.Query):
		return q, nil, nil, badRequest("query: not valid UTF-8")
	case !hasLetterOrDigit(q.Query):
		return q, nil, nil, badRequest("query %q: no letter or digit to search for", q.Query)
	}
	if q.K == 0 {
		q.K = 10
	}
	if q.K < 1 || q.K > MaxK {
		return q, nil, nil, badRequest("k: %d, want 1 to %d", q.K, MaxK)
	}
	switch q.Mode {
	case "":
		q.Mode = ModeHybrid
		if s.Enc == nil {
			q.Mode = ModeBM25
			notes = append(notes, "no dense model: BM25 only")
		}
	case ModeBM25:
	case ModeDense, ModeHybrid:
		if s.Enc == nil {
			return q, nil, nil, badRequest("mode: %s needs a dense model; this service runs BM25 only (start it with --model)", q.Mode)
		}
	default:
		return q, nil, nil, badRequest("mode: %q, want bm25, dense or hybrid", q.Mode)
	}
	alpha, fusion, rrfk, _ := s.Defaults()
	q.Alpha = alpha
	if req.Alpha != nil {
		q.Alpha = *req.Alpha
		if math.IsNaN(q.Alpha) || q.Alpha < 0 || q.Alpha > 1 {
			return q, nil, nil, badRequest("alpha: %v, want 0 to 1", q.Alpha)
		}
	}
	if q.Mode != ModeHybrid {
		q.Alpha = 0
		if q.Mode == ModeDense {
			q.Alpha = 1
		}
	}
	if q.Fusion == "" {
		q.Fusion = fusion
	}
	if q.Fusion != FusionRRF && q.Fusion != FusionRelative {
		return q, nil, nil, badRequest("fusion: %q, want rrf or relative", q.Fusion)
	}
	if q.Fusion == fusion {
		q.RRFK = rrfk
	}
	if len(q.Filters) > MaxFilterFields {
		return q, nil, nil, badRequest("filters: %d fields, at most %d", len(q.Filters), MaxFilterFields)
	}
	for f, vals := range q.Filters {
		if f == "" || len(vals) == 0 {
			return q, nil, nil, badRequest("filters: field %q needs at least one value", f)
		}
		if err := checkValues("filters."+f, vals); err != nil {
			return q, nil, nil, err
		}
		q.Filters[f] = dedup(vals)
	}
	if err := checkValues("exclude_dur", q.ExcludeDUR); err != nil {
		return q, nil, nil, err
	}
	if err := checkValues("flag_dur", q.FlagDUR); err != nil {
		return q, nil, nil, err
	}
	q.ExcludeDUR, q.FlagDUR = appendNew(nil, q.ExcludeDUR...), appendNew(nil, q.FlagDUR...)
	safety := q.Safety
	if safety == "" {
		safety = s.Safety
	}
	var rules []Rule
	switch safety {
	case SafetyOff:
	case SafetyFlag, SafetyStrict:
		ms := dur.Populations(q.Query)
		if len(ms) > 0 && !s.holdsDUR() {
			// Population rules select DUR types: without DUR data they
			// would flag nothing and only take words out of the query.
			notes = append(notes, fmt.Sprintf("%q names a population, but the index holds no DUR data: no safety rule applies and the query is searched as written", ms[0].Word))
			break
		}
		// Strip until no population word is left ("65세 이상 노인": one
		// population, two words).
		rest := q.Query
		for i := 0; i < 8; i++ {
			next := withoutPopulation(rest, dur.Populations(rest))
			if next == rest || next == "" {
				break
			}
			rest = next
		}
		if rest != q.Query {
			notes = append(notes, fmt.Sprintf("searched for %q: the population word is a safety condition, not a search term", rest))
			q.Query = rest
		}
		for _, m := range ms {
			r := Rule{Word: m.Word, Population: m.Population, Types: m.Types, Action: "flag"}
			if safety == SafetyStrict {
				r.Action = "exclude"
				q.ExcludeDUR = appendNew(q.ExcludeDUR, m.Types...)
			} else {
				q.FlagDUR = appendNew(q.FlagDUR, m.Types...)
			}
			rules = append(rules, r)
		}
	default:
		return q, nil, nil, badRequest("safety: %q, want off, flag or strict", safety)
	}
	q.Safety = safety
	return q, rules, notes, nil
}

// withoutPopulation removes from query the words that named a population
// — the word itself or with a short ending ("임산부가", "노인분께", "65세 이상")
// — so that "임산부가 먹어도 되는 두통약" searches for headache medicine
// instead of matching "산부" in 에산부톨. A longer word that merely contains
// the population word (a product name such as 어린이부루펜시럽) stays, and
// so does one that does not name the population where it stands
// ("노인성 우울증, 노인 환자" loses 노인, not 노인성; dur.NamesAtStart).
func withoutPopulation(query string, ms []dur.Match) string {
	if len(ms) == 0 {
		return query
	}
	toks := strings.Fields(query)
	drop := make([]bool, len(toks))
	for _, m := range ms {
		parts := strings.Fields(m.Word)
		for _, part := range parts {
			for i, t := range toks {
				lt := strings.ToLower(t)
				if !drop[i] && strings.HasPrefix(lt, part) && utf8.RuneCountInString(lt[len(part):]) <= 3 &&
					(len(parts) > 1 || dur.NamesAtStart(strings.Join(toks[i:], " "), m.Population)) {
					drop[i] = true
					break
				}
			}
		}
	}
	var keep []string
	for i, t := range toks {
		if !drop[i] {
			keep = append(keep, t)
		}
	}
	return strings.Join(keep, " ")
}

func appendNew(xs []string, ys ...string) []string {
	for _, y := range ys {
		found := false
		for _, x := range xs {
			found = found || x == y
		}
		if !found {
			xs = append(xs, y)
		}
	}
	return xs
}

// Search answers one request.
func (s *Service) Search(ctx context.Context, req Request) (*Response, error) {
	start := time.Now()
	q, rules, notes, err := s.Resolve(req)
	if err != nil {
		return nil, err
	}
	if err := s.checkFields(ctx, q.Filters); err != nil {
		return nil, err
	}
	if q.Mode != ModeBM25 {
		v, err := s.Enc.EncodeQueries(ctx, []string{q.Query})
		if err != nil {
			return nil, err
		}
		q.Vector = Normalized(v[0])
	}
	hits, err := s.Backend.Search(ctx, q)
	if err != nil {
		return nil, err
	}
	SortHits(hits) // one tie order whatever the backend (Before)
	terms := queryTerms(q.Query)
	for i := range hits {
		h := &hits[i]
		if h.Snippet != "" {
			continue
		}
		title, text := h.Title, h.Text
		if text == "" { // a backend that does not return the text
			d, ok, err := s.Backend.Get(ctx, h.ID)
			if err != nil {
				return nil, err
			}
			if ok {
				title, text = d.Title, d.Text
			}
		}
		h.Snippet, h.SnippetHTML, h.Terms = snippet(title, text, terms, snippetRunes)
		h.Text = ""
	}
	resp := &Response{Hits: hits, Mode: q.Mode, Rules: rules, Notes: notes}
	if resp.Hits == nil {
		resp.Hits = []Hit{}
	}
	if q.Mode == ModeHybrid {
		resp.Alpha, resp.Fusion = q.Alpha, q.Fusion
	}
	resp.TookMS = float64(time.Since(start).Microseconds()) / 1000
	return resp, nil
}

// checkFields refuses a filter on a field the index does not have (the
// same answer from every backend). The field list is cached and fetched
// again when a filter names one it lacks (documents may add fields).
func (s *Service) checkFields(ctx context.Context, filters map[string][]string) error {
	for refreshed := false; ; refreshed = true {
		s.mu.Lock()
		known := s.info.Fields
		s.mu.Unlock()
		missing := ""
		for f := range filters {
			if !slices.Contains(known, f) {
				missing = f
				break
			}
		}
		if missing == "" {
			return nil
		}
		if refreshed {
			return badRequest("filters: unknown field %q (fields: %s)", missing, strings.Join(known, ", "))
		}
		info, err := s.Backend.Info(ctx)
		if err != nil {
			return err
		}
		s.mu.Lock()
		s.info = info
		s.mu.Unlock()
	}
}

// holdsDUR reports whether the backend holds DUR data, which the
// population rules need: asked of the backend when it can say cheaply
// (the embedded index, whose content reloads and writes change), else
// from its Info (fetched at start and when a filter names a new field)
// and the documents this service added.
func (s *Service) holdsDUR() bool {
	if h, ok := s.Backend.(interface{ HoldsDUR() bool }); ok {
		return h.HoldsDUR()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.info.DURTypes) > 0
}

// Normalized returns v scaled to unit length (a copy; a zero vector is
// returned as is): how documents and queries are stored and compared.
func Normalized(v []float32) []float32 {
	var ss float64
	for _, x := range v {
		ss += float64(x) * float64(x)
	}
	if ss == 0 {
		return v
	}
	inv := float32(1 / math.Sqrt(ss))
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = x * inv
	}
	return out
}

// CheckDocs validates documents for Upsert.
func CheckDocs(docs []Doc) error {
	if len(docs) == 0 {
		return badRequest("documents: none given")
	}
	if len(docs) > MaxDocs {
		return badRequest("documents: %d, at most %d per request", len(docs), MaxDocs)
	}
	seen := make(map[string]bool, len(docs))
	for i, d := range docs {
		if err := CheckID(d.ID); err != nil {
			return badRequest("documents[%d].%v", i, err)
		}
		switch {
		case seen[d.ID]:
			return badRequest("documents[%d].id: %q repeated", i, d.ID)
		case strings.TrimSpace(d.Title+d.Text) == "":
			return badRequest("documents[%d] (%s): empty title and text", i, d.ID)
		case !utf8.ValidString(d.Title) || !utf8.ValidString(d.Text):
			return badRequest("documents[%d] (%s): not valid UTF-8", i, d.ID)
		}
		seen[d.ID] = true
		for f := range d.Fields {
			if f == "" {
				return badRequest("documents[%d].fields: empty field name", i)
			}
		}
	}
	return nil
}

// Upsert embeds and stores documents.
func (s *Service) Upsert(ctx context.Context, docs []Doc) error {
	if err := CheckDocs(docs); err != nil {
		return err
	}
	if s.Enc == nil && s.info.Model.Name != "" {
		return &RequestError{Msg: fmt.Sprintf("this server runs without the index's model (%s): it searches BM25 only and cannot embed new documents; start it with --model", s.info.Model.Name)}
	}
	var vecs [][]float32
	if s.Enc != nil {
		texts := make([]string, len(docs))
		for i, d := range docs {
			texts[i] = fusion.DocText(d.Title, d.Text)
		}
		v, err := s.Enc.EncodePassages(ctx, texts)
		if err != nil {
			return err
		}
		for i := range v {
			v[i] = Normalized(v[i])
		}
		vecs = v
	}
	if err := s.Backend.Upsert(ctx, docs, vecs); err != nil {
		return err
	}
	s.mu.Lock()
	for _, d := range docs {
		for _, f := range d.DUR {
			s.info.DURTypes = appendNew(s.info.DURTypes, f.Type)
		}
	}
	s.mu.Unlock()
	return nil
}

// Embed embeds texts as queries or passages.
func (s *Service) Embed(ctx context.Context, texts []string, as string) ([][]float32, error) {
	if s.Enc == nil {
		return nil, badRequest("this service has no dense model")
	}
	if len(texts) == 0 || len(texts) > MaxDocs {
		return nil, badRequest("texts: %d, want 1 to %d", len(texts), MaxDocs)
	}
	for i, t := range texts {
		if !utf8.ValidString(t) || len(t) > 64<<10 {
			return nil, badRequest("texts[%d]: not valid UTF-8 or over 64 KiB", i)
		}
	}
	switch as {
	case "query":
		return s.Enc.EncodeQueries(ctx, texts)
	case "passage", "":
		return s.Enc.EncodePassages(ctx, texts)
	}
	return nil, badRequest("as: %q, want query or passage", as)
}

func dedup(xs []string) []string {
	if len(xs) < 2 {
		return xs
	}
	out := slices.Clone(xs)
	sort.Strings(out)
	return slices.Compact(out)
}
