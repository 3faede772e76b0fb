package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
)

// HybridCandidates is the depth of each half of a Weaviate hybrid search:
// the server's QUERY_HYBRID_MAXIMUM_RESULTS (default 100) or k if larger.
// Options.ExactParts searches the halves to the same depth.
const HybridCandidates = 100

// Search runs one resolved query.
//
// Scores: bm25 hits score Weaviate's BM25 score times k1+1, which is
// package bm25's score (a legacy class: Weaviate's BM25F score as it is;
// BM25 part: the same, and the rank); dense hits score the cosine similarity 1 - distance (Dense
// part likewise); hybrid hits score Weaviate's fused score: for rrf the sum
// of weight/(60+rank0) over the two retrievers, weights 1-alpha (BM25) and
// alpha (dense); for relative the weighted sum of min-max normalised scores.
//
// Parts of hybrid hits come from Weaviate's explainScore unless
// Options.ExactParts is set: for rrf it gives each retriever's exact rank
// (recovered from its contribution) but not its raw score (Part.Score 0);
// for relative it gives the raw score (BM25 score, cosine similarity) but
// not the rank (Part.Rank 0). A part is absent when that retriever did not
// find the hit among its HybridCandidates best (or did not run: alpha 0 or
// 1). With ExactParts both are exact, from two more queries.
//
// Filters keep documents whose field holds one of the values (AND across
// fields, OR within one; an empty value list is no constraint, a field the
// index has never seen matches nothing); ExcludeDUR drops documents
// carrying any of those DUR types; both run inside Weaviate's search. Hit
// snippets are left to the caller.
func (b *Backend) Search(ctx context.Context, q search.Query) ([]search.Hit, error) {
	if len(q.Exclude) > 0 {
		return nil, errors.New("weaviate: excluding documents by id (Request.Exclude) is not supported; use the embedded index")
	}
	k := q.K
	if k <= 0 {
		k = 10
	}
	if k > search.MaxK {
		k = search.MaxK
	}
	mode := q.Mode
	if mode == "" {
		mode = search.ModeBM25
		if q.Vector != nil {
			mode = search.ModeHybrid
		}
	}
	alpha := q.Alpha
	fusion := q.Fusion
	text := b.bm25Query(q.Query)
	switch mode {
	case search.ModeBM25:
		if strings.TrimSpace(text) == "" {
			return []search.Hit{}, nil
		}
	case search.ModeDense, search.ModeHybrid:
		if b.meta.Model.Dim == 0 {
			return nil, fmt.Errorf("weaviate: class %s is a BM25-only index; %s search needs a model", b.class, mode)
		}
		if len(q.Vector) != b.meta.Model.Dim {
			return nil, fmt.Errorf("weaviate: query vector of dim %d, the index's model has %d", len(q.Vector), b.meta.Model.Dim)
		}
		for _, v := range q.Vector {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return nil, errors.New("weaviate: query vector is not finite")
			}
		}
		if mode == search.ModeHybrid {
			if math.IsNaN(alpha) || alpha < 0 || alpha > 1 {
				return nil, fmt.Errorf("weaviate: alpha %v outside [0, 1]", alpha)
			}
			switch fusion {
			case "":
				fusion = search.FusionRRF
			case search.FusionRRF, search.FusionRelative:
			default:
				return nil, fmt.Errorf("weaviate: unknown fusion %q (want %s or %s)", fusion, search.FusionRRF, search.FusionRelative)
			}
			if strings.TrimSpace(text) == "" {
				alpha = 1 // nothing for BM25 to match: the dense half alone
			}
		}
	default:
		return nil, fmt.Errorf("weaviate: unknown mode %q", mode)
	}

	props := b.fieldProps()
	where, ok := whereClause(q.Filters, q.ExcludeDUR, props)
	if !ok {
		return []search.Hit{}, nil
	}

	s := searcher{b: b, props: props, where: where, q: q, text: text}
	if mode != search.ModeHybrid {
		rows, err := s.run(ctx, mode, k, 0, "")
		if err != nil {
			return nil, err
		}
		return s.hits(rows, mode), nil
	}
	if !b.opts.ExactParts {
		rows, err := s.run(ctx, mode, k, alpha, fusion)
		if err != nil {
			return nil, err
		}
		hits := s.hits(rows, mode)
		for i, r := range rows {
			hits[i].BM25, hits[i].Dense = parseExplain(r.add.ExplainScore, alpha)
			if p := hits[i].BM25; p != nil {
				p.Score *= b.bm25Scale()
			}
		}
		return hits, nil
	}

	// Exact parts: the hybrid search and its two halves, concurrently.
	depth := max(k, HybridCandidates)
	var (
		wg                     sync.WaitGroup
		hyb, sparse, dense     []row
		errHyb, errSp, errDens error
	)
	wg.Add(1)
	go func() { defer wg.Done(); hyb, errHyb = s.run(ctx, mode, k, alpha, fusion) }()
	if alpha < 1 {
		wg.Add(1)
		go func() { defer wg.Done(); sparse, errSp = s.run(ctx, search.ModeBM25, depth, 0, "") }()
	}
	if alpha > 0 {
		wg.Add(1)
		go func() { defer wg.Done(); dense, errDens = s.run(ctx, search.ModeDense, depth, 0, "") }()
	}
	wg.Wait()
	if err := errors.Join(errHyb, errSp, errDens); err != nil {
		return nil, err
	}
	sparseParts := partsByID(s.hits(sparse, search.ModeBM25), true)
	denseParts := partsByID(s.hits(dense, search.ModeDense), false)
	hits := s.hits(hyb, mode)
	for i := range hits {
		hits[i].BM25 = sparseParts[hits[i].ID]
		hits[i].Dense = denseParts[hits[i].ID]
	}
	return hits, nil
}

func partsByID(hits []search.Hit, bm25 bool) map[string]*search.Part {
	m := make(map[string]*search.Part, len(hits))
	for _, h := range hits {
		if bm25 {
			m[h.ID] = h.BM25
		} else {
			m[h.ID] = h.Dense
		}
	}
	return m
}

// bm25Query is the query text Weaviate's BM25 gets for query: the
// analyzer's terms joined by spaces, for the whitespace-tokenized terms
// property; the query itself in a legacy class (kagome_kr on title and
// text).
func (b *Backend) bm25Query(query string) string {
	if b.an == nil {
		return query
	}
	return queryTerms(b.an, query)
}

// bm25Props are the properties BM25 searches, as a GraphQL list.
func (b *Backend) bm25Props() string {
	if b.an == nil {
		return fmt.Sprintf("[%q,%q]", propTitle, propText)
	}
	return fmt.Sprintf("[%q]", propTerms)
}

// bm25Scale turns Weaviate's BM25 scores into package bm25's: Weaviate
// leaves out the constant factor k1+1 of the term weight (Lucene's
// choice), which changes no ranking. A legacy class's scores are left as
// Weaviate gives them.
func (b *Backend) bm25Scale() float64 {
	if b.an == nil {
		return 1
	}
	return 1 + b.meta.K1
}

// searcher runs the GraphQL queries of one Search.
type searcher struct {
	b     *Backend
	props map[string]string // field -> property
	where string
	q     search.Query
	text  string // the query for BM25 (Backend.bm25Query)
}

// row is one object of a GraphQL Get answer.
type row struct {
	docID, title, text string
	fields             map[string][]string
	dur                []dur.Flag
	add                additional
}

type additional struct {
	ID           string   `json:"id"`
	Score        *string  `json:"score"` // a string in Weaviate's GraphQL
	ExplainScore string   `json:"explainScore"`
	Distance     *float64 `json:"distance"`
}

// run sends one Get query: mode bm25, dense or hybrid.
func (s *searcher) run(ctx context.Context, mode string, limit int, alpha float64, fusion string) ([]row, error) {
	var args []string
	args = append(args, fmt.Sprintf("limit:%d", limit))
	add := "id score"
	switch mode {
	case search.ModeBM25:
		args = append(args, fmt.Sprintf("bm25:{query:%s, properties:%s}", gqlString(s.text), s.b.bm25Props()))
	case search.ModeDense:
		args = append(args, fmt.Sprintf("nearVector:{vector:%s}", gqlVector(s.q.Vector)))
		add = "id distance"
	case search.ModeHybrid:
		ft := "rankedFusion"
		if fusion == search.FusionRelative {
			ft = "relativeScoreFusion"
		}
		args = append(args, fmt.Sprintf("hybrid:{query:%s, vector:%s, alpha:%s, fusionType:%s, properties:%s}",
			gqlString(s.text), gqlVector(s.q.Vector), strconv.FormatFloat(alpha, 'g', -1, 64), ft, s.b.bm25Props()))
		add = "id score explainScore"
	}
	if s.where != "" {
		args = append(args, "where:"+s.where)
	}
	if cl := s.b.readArg(); cl != "" {
		args = append(args, cl[2:])
	}
	sel := []string{propDocID, propTitle, propDURJSON}
	for _, p := range s.props {
		sel = append(sel, p)
	}
	sort.Strings(sel[3:])
	gql := fmt.Sprintf("{Get{%s(%s){%s _additional{%s}}}}", s.b.class, strings.Join(args, ", "), strings.Join(sel, " "), add)

	var out struct {
		Get map[string][]map[string]json.RawMessage `json:"Get"`
	}
	if err := s.b.graphQL(ctx, gql, &out); err != nil {
		return nil, fmt.Errorf("weaviate: %s search in %s: %w", mode, s.b.class, err)
	}
	objs := out.Get[s.b.class]
	rows := make([]row, 0, len(objs))
	for _, o := range objs {
		r, err := parseRow(o)
		if err != nil {
			return nil, fmt.Errorf("weaviate: %s search in %s: %w", mode, s.b.class, err)
		}
		if a, ok := o["_additional"]; ok {
			if err := json.Unmarshal(a, &r.add); err != nil {
				return nil, fmt.Errorf("weaviate: %s search in %s: _additional: %w", mode, s.b.class, err)
			}
		}
		rows = append(rows, r)
	}
	return rows, nil
}

// hits turns rows into hits scored for mode.
func (s *searcher) hits(rows []row, mode string) []search.Hit {
	hits := make([]search.Hit, len(rows))
	for i, r := range rows {
		h := search.Hit{ID: r.docID, Title: r.title, Text: r.text, Fields: r.fields, DUR: r.dur, Warnings: warnings(r.dur, s.q.FlagDUR)}
		switch mode {
		case search.ModeDense:
			if r.add.Distance != nil {
				h.Score = 1 - *r.add.Distance
			}
			h.Dense = &search.Part{Rank: i + 1, Score: h.Score}
		default:
			if r.add.Score != nil {
				h.Score, _ = strconv.ParseFloat(*r.add.Score, 64)
			}
			if mode == search.ModeBM25 {
				h.Score *= s.b.bm25Scale()
				h.BM25 = &search.Part{Rank: i + 1, Score: h.Score}
			}
		}
		hits[i] = h
	}
	return hits
}

// warnings are the types of flag among the document's DUR types, in the
// order of flag, each once.
func warnings(flags []dur.Flag, flag []string) []string {
	if len(flags) == 0 || len(flag) == 0 {
		return nil
	}
	has := map[string]bool{}
	for _, f := range flags {
		has[f.Type] = true
	}
	var w []string
	for _, t := range flag {
		if has[t] {
			w = append(w, t)
			delete(has, t)
		}
	}
	return w
}

// parseRow reads a GraphQL or REST object's properties.
func parseRow(o map[string]json.RawMessage) (row, error) {
	var r row
	str := func(name string) (string, error) {
		v, ok := o[name]
		if !ok || string(v) == "null" {
			return "", nil
		}
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return "", fmt.Errorf("property %s: %w", name, err)
		}
		return s, nil
	}
	var err error
	if r.docID, err = str(propDocID); err != nil {
		return r, err
	}
	if r.title, err = str(propTitle); err != nil {
		return r, err
	}
	if r.text, err = str(propText); err != nil {
		return r, err
	}
	js, err := str(propDURJSON)
	if err != nil {
		return r, err
	}
	if js != "" {
		if err := json.Unmarshal([]byte(js), &r.dur); err != nil {
			return r, fmt.Errorf("property %s: %w", propDURJSON, err)
		}
	}
	for name, v := range o {
		f, ok := propField(name)
		if !ok || string(v) == "null" {
			continue
		}
		var vals []string
		if err := json.Unmarshal(v, &vals); err != nil {
			return r, fmt.Errorf("property %s: %w", name, err)
		}
		if len(vals) == 0 {
			continue
		}
		if r.fields == nil {
			r.fields = map[string][]string{}
		}
		r.fields[f] = vals
	}
	return r, nil
}

var (
	explainRanked   = regexp.MustCompile(`Hybrid \(Result Set (keyword|vector)[^)]*\) Document \S+ contributed (\S+) to the score`)
	explainRelative = regexp.MustCompile(`Hybrid \(Result Set (keyword|vector)[^)]*\) Document \S+: original score (\S+), normalized score: (\S+)`)
)

// parseExplain reads the per-retriever parts of a hybrid hit from
// Weaviate's explainScore. Ranked fusion lines ("Hybrid (Result Set
// keyword,bm25) Document <uuid> contributed <c> to the score", c =
// weight/(60+rank0)) give the rank; relative fusion lines ("... Document
// <uuid>: original score <s>, normalized score: <n>") the raw score.
func parseExplain(explain string, alpha float64) (bm25, dense *search.Part) {
	for _, m := range explainRanked.FindAllStringSubmatch(explain, -1) {
		c, err := strconv.ParseFloat(m[2], 64)
		if err != nil || c <= 0 {
			continue
		}
		w := alpha
		if m[1] == "keyword" {
			w = 1 - alpha
		}
		p := &search.Part{Rank: int(math.Round(w/c)) - 59}
		if p.Rank < 1 {
			continue
		}
		if m[1] == "keyword" {
			bm25 = p
		} else {
			dense = p
		}
	}
	for _, m := range explainRelative.FindAllStringSubmatch(explain, -1) {
		sc, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			continue
		}
		p := &search.Part{Score: sc}
		if m[1] == "keyword" {
			bm25 = p
		} else {
			dense = p
		}
	}
	return bm25, dense
}

// whereClause is the GraphQL where filter of filters and exclude; ok is
// false when a filter names a field the index does not have (nothing can
// match).
func whereClause(filters map[string][]string, exclude []string, props map[string]string) (where string, ok bool) {
	var conds []string
	names := make([]string, 0, len(filters))
	for f := range filters {
		names = append(names, f)
	}
	sort.Strings(names)
	for _, f := range names {
		vals := uniq(filters[f])
		if len(vals) == 0 {
			continue
		}
		p, known := props[f]
		if !known {
			return "", false
		}
		conds = append(conds, fmt.Sprintf("{path:[%q], operator:ContainsAny, valueText:%s}", p, gqlStrings(vals)))
	}
	if ex := uniq(exclude); len(ex) > 0 {
		conds = append(conds, fmt.Sprintf("{path:[%q], operator:ContainsNone, valueText:%s}", propDURTypes, gqlStrings(ex)))
	}
	switch len(conds) {
	case 0:
		return "", true
	case 1:
		return conds[0], true
	}
	return "{operator:And, operands:[" + strings.Join(conds, ", ") + "]}", true
}

func uniq(vals []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range vals {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// gqlString is s as a GraphQL string literal: JSON's escapes are a subset
// of GraphQL's.
func gqlString(s string) string {
	b, _ := json.Marshal(s) // strings always marshal (invalid UTF-8 becomes U+FFFD)
	return string(b)
}

func gqlStrings(ss []string) string {
	b, _ := json.Marshal(ss)
	return string(b)
}

func gqlVector(v []float32) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, x := range v {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatFloat(float64(x), 'g', -1, 32))
	}
	b.WriteByte(']')
	return b.String()
}

// readArg is the consistency level argument of kormed's GraphQL Gets
// (searches, the id listing): ", consistencyLevel:ONE" on a replicated
// class, "" on one without replicas (Weaviate accepts the argument only
// on replicated classes). Not Options.Consistency, and not left out
// (Weaviate's default is QUORUM): at QUORUM or ALL Weaviate checks a
// Get's hits against the other replicas and repairs a stale one with the
// hit as the query fetched it, only the selected properties and no
// vector, under the current update time, so asynchronous replication
// never mends it; a node back from a crash ended up with objects
// without vector, text or terms (Weaviate 1.35.2, finder.go
// checkShardConsistency → repairer.go; TestClusterKillUnderLoad).
func (b *Backend) readArg() string {
	if b.replicas.Load() <= 1 {
		return ""
	}
	return ", consistencyLevel:" + ConsistencyOne
}

// graphQL runs a query and decodes its data into out.
func (b *Backend) graphQL(ctx context.Context, query string, out any) error {
	resp, err := b.c.GraphQL().Raw().WithQuery(query).Do(ctx)
	if err != nil {
		return err
	}
	if len(resp.Errors) > 0 {
		msgs := make([]string, 0, len(resp.Errors))
		for _, e := range resp.Errors {
			if e != nil {
				msgs = append(msgs, e.Message)
			}
		}
		return fmt.Errorf("graphql: %s", strings.Join(msgs, "; "))
	}
	js, err := json.Marshal(resp.Data)
	if err != nil {
		return err
	}
	return json.Unmarshal(js, out)
}
