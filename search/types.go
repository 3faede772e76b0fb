package search

import (
	"context"
	"sort"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/fusion"
)

// Doc is one indexed document.
type Doc struct {
	ID    string `json:"id"`
	Title string `json:"title,omitempty"`
	Text  string `json:"text"`
	// Fields are keyword metadata that filters match exactly: for the drug
	// corpus "type" (product type name), "type_code", "class" (전문/일반),
	// "company" and "ingredient".
	Fields map[string][]string `json:"fields,omitempty"`
	// DUR are the DUR safety rules attached to the product.
	DUR []dur.Flag `json:"dur,omitempty"`
}

// Modes of a search.
const (
	ModeBM25   = "bm25"
	ModeDense  = "dense"
	ModeHybrid = "hybrid"
)

// Fusion methods of a hybrid search.
const (
	FusionRRF      = fusion.MethodRRF      // reciprocal-rank fusion
	FusionRelative = fusion.MethodRelative // relative-score fusion (min-max normalised scores)
)

// Safety policies for queries that name a population.
const (
	SafetyOff    = "off"    // no population rules
	SafetyFlag   = "flag"   // flag matching products (the default)
	SafetyStrict = "strict" // exclude matching products
)

// Request is one search.
type Request struct {
	Query string `json:"query"`
	// K is the number of hits (default 10, at most MaxK).
	K int `json:"k,omitempty"`
	// Mode is bm25, dense or hybrid; "" means hybrid with a dense model and
	// bm25 without.
	Mode string `json:"mode,omitempty"`
	// Alpha is the weight of the dense side in a hybrid search, in [0, 1]
	// (0: BM25 only, 1: dense only); nil means the index's default.
	Alpha *float64 `json:"alpha,omitempty"`
	// Fusion is rrf or relative; "" means the index's default.
	Fusion string `json:"fusion,omitempty"`
	// Filters keep only documents whose field holds one of the listed
	// values, for every field named (AND across fields, OR within one).
	Filters map[string][]string `json:"filters,omitempty"`
	// ExcludeDUR drops products carrying any of these DUR types;
	// FlagDUR marks them in the hits.
	ExcludeDUR []string `json:"exclude_dur,omitempty"`
	FlagDUR    []string `json:"flag_dur,omitempty"`
	// Safety is off, flag or strict: what a query naming a population
	// ("임산부", "노인", "소아", …) does with the matching DUR types; ""
	// means the service's default. The rules apply only to an index that
	// holds DUR data (Info.DURTypes); there flag and strict also take the
	// population word out of the searched text (a note says so).
	Safety string `json:"safety,omitempty"`
	// Exclude leaves these document ids out as if they were deleted (the
	// embedded index only; not part of the HTTP API). kormed ask
	// --calibrate uses it to ask questions whose sources are absent
	// without changing the index.
	Exclude []string `json:"-"`
}

// MaxK bounds Request.K.
const MaxK = 1000

// Part is one retriever's view of a hit: its 1-based rank and raw score
// among that retriever's candidates (absent if it did not find the hit).
type Part struct {
	Rank  int     `json:"rank"`
	Score float64 `json:"score"`
}

// Hit is one result.
type Hit struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
	BM25  *Part   `json:"bm25,omitempty"`
	Dense *Part   `json:"dense,omitempty"`

	Title  string              `json:"title,omitempty"`
	Fields map[string][]string `json:"fields,omitempty"`
	// Text is the document's text, for the Service to make the snippet
	// from; it is not sent.
	Text string `json:"-"`
	// Snippet is a passage of the text; SnippetHTML is the same passage
	// HTML-escaped with the query's matched terms in <mark> elements.
	Snippet     string `json:"snippet"`
	SnippetHTML string `json:"snippet_html"`
	// Terms are the query terms found in the title or text.
	Terms []string `json:"terms,omitempty"`
	// Coverage is the idf-weighted share of the query's analysed terms
	// that the hit's title and text hold (see embedded.Coverage), in
	// [0, 1]: set by the embedded index for every hit, nil from a backend
	// that does not compute it (Weaviate).
	Coverage *float64 `json:"coverage,omitempty"`
	// DUR are the hit's DUR rules; Warnings the types among them that the
	// request flagged (FlagDUR or a population rule).
	DUR      []dur.Flag `json:"dur,omitempty"`
	Warnings []string   `json:"warnings,omitempty"`
}

// Rule is a population rule that fired on a query.
type Rule struct {
	// Word is what the query said ("임산부"), Population the group
	// ("pregnancy"), Types the DUR types it selects.
	Word       string   `json:"word"`
	Population string   `json:"population"`
	Types      []string `json:"types"`
	// Action is "flag" or "exclude".
	Action string `json:"action"`
}

// Response is the answer to a Request.
type Response struct {
	Hits   []Hit   `json:"hits"`
	Mode   string  `json:"mode"`
	Alpha  float64 `json:"alpha,omitempty"`
	Fusion string  `json:"fusion,omitempty"`
	// Rules are the population rules that fired; Notes say what else the
	// service decided (no dense model, a mode downgraded, …).
	Rules  []Rule   `json:"rules,omitempty"`
	Notes  []string `json:"notes,omitempty"`
	TookMS float64  `json:"took_ms"`
}

// Query is a Request resolved by the Service: defaults filled in, the
// population rules applied to ExcludeDUR and FlagDUR, and the query
// embedded when the mode needs it.
type Query struct {
	Request
	Alpha  float64
	RRFK   float64   // RRF's k; 0 is RRFK
	Vector []float32 // L2-normalised; nil for bm25
}

// Info describes a backend's contents.
type Info struct {
	Backend   string    `json:"backend"` // "embedded" or "weaviate"
	Docs      int       `json:"docs"`
	Model     ModelInfo `json:"model"`
	Analyzer  string    `json:"analyzer,omitempty"`
	Fields    []string  `json:"fields,omitempty"`
	Generated string    `json:"generation,omitempty"`
	// DURTypes are the DUR types the documents carry, sorted; none means
	// the index holds no DUR data and the population rules do not apply.
	DURTypes []string `json:"dur_types,omitempty"`
}

// ModelInfo is the embedding model an index was built with; Name is ""
// for a BM25-only index.
type ModelInfo struct {
	Name     string `json:"name,omitempty"`
	Revision string `json:"revision,omitempty"`
	Dim      int    `json:"dim,omitempty"`
	Pooling  string `json:"pooling,omitempty"`
	Query    string `json:"query_prefix,omitempty"`
	Passage  string `json:"passage_prefix,omitempty"`
}

// Backend stores documents and runs searches.
type Backend interface {
	// Info describes the backend.
	Info(ctx context.Context) (Info, error)
	// Search runs one resolved query.
	Search(ctx context.Context, q Query) ([]Hit, error)
	// Upsert adds or replaces documents; vecs holds one L2-normalised
	// vector per document (nil for a BM25-only index).
	Upsert(ctx context.Context, docs []Doc, vecs [][]float32) error
	// Delete removes documents by id, reporting how many existed.
	Delete(ctx context.Context, ids []string) (int, error)
	// Get returns one document.
	Get(ctx context.Context, id string) (Doc, bool, error)
	Close() error
}

// SortHits orders hits by fusion.Before (stable for equal ids).
func SortHits(hits []Hit) {
	sort.SliceStable(hits, func(i, j int) bool { return fusion.Before(hits[i].Score, hits[i].ID, hits[j].Score, hits[j].ID) })
}

// Facet is one value of a keyword field and how many live documents hold
// it.
type Facet struct {
	Value string `json:"value"`
	Count int    `json:"count"`
}

// Faceter is a Backend that counts the values of its keyword fields (both
// backends are).
type Faceter interface {
	Facets(ctx context.Context, field string, n int) ([]Facet, error)
}
