package weaviate

import (
	"slices"
	"strings"
	"testing"

	"github.com/weaviate/weaviate/entities/models"

	"github.com/kormed/kormed/analysis"
)

func TestDocAndQueryTerms(t *testing.T) {
	an, err := analysis.New("bigram")
	if err != nil {
		t.Fatal(err)
	}
	// The embedded index's text: title, a space, text (fusion.DocText).
	if got, want := docTerms(an, "타이레놀정", "두통에 Tylenol 500mg"), "타이 이레 레놀 놀정 두통 통에 tylenol 500mg"; got != want {
		t.Errorf("docTerms = %q, want %q", got, want)
	}
	if got, want := docTerms(an, "", "게보린"), "게보 보린"; got != want {
		t.Errorf("docTerms without title = %q, want %q", got, want)
	}
	// Repeated query terms stay repeated: Weaviate counts them (its
	// duplicate boost), as package bm25 does (qtf).
	if got, want := queryTerms(an, "두통 두통!"), "두통 두통"; got != want {
		t.Errorf("queryTerms = %q, want %q", got, want)
	}
	if got := queryTerms(an, " ?! … "); got != "" {
		t.Errorf("queryTerms of punctuation = %q, want none", got)
	}
	// No analyzer's term holds a space, so joining by spaces and Weaviate's
	// whitespace tokenization give back the analyzer's terms.
	for _, name := range analysis.Names() {
		an, err := analysis.New(name)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range corpus() {
			terms := an.Analyze(nil, d.Title+" "+d.Text)
			if got := strings.Fields(docTerms(an, d.Title, d.Text)); strings.Join(got, "\x00") != strings.Join(terms, "\x00") {
				t.Errorf("%s: %s: whitespace split of the terms property = %q, want %q", name, d.ID, got, terms)
			}
		}
	}
}

func property(c *models.Class, name string) *models.Property {
	for _, p := range c.Properties {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func TestNewClass(t *testing.T) {
	m, err := newMeta(Options{Analyzer: "bigram", Generated: "g"})
	if err != nil {
		t.Fatal(err)
	}
	if m.Kormed != 2 || m.Analyzer != "bigram" || m.AnalyzerVersion != (analysis.Bigram{}).Version() || m.K1 != 0.9 || m.B != 0.75 {
		t.Errorf("newMeta = %+v", m)
	}
	if m, err := newMeta(Options{}); err != nil || m.Analyzer != analysis.Default {
		t.Errorf(`newMeta(Analyzer "") = %+v, %v; want %s`, m, err, analysis.Default)
	}
	if m, err := newMeta(Options{Analyzer: "bigram", K1: 1.2, B: 0.5}); err != nil || m.K1 != 1.2 || m.B != 0.5 {
		t.Errorf("newMeta with k1 1.2, b 0.5 = %+v, %v", m, err)
	}
	for _, o := range []Options{{Analyzer: "kagome_kr"}, {Analyzer: "nope"}, {K1: -1}, {B: 1.5}} {
		if _, err := newMeta(o); err == nil {
			t.Errorf("newMeta(%+v) succeeded", o)
		}
	}

	c := newClass("C", m, "hnsw")
	bm := c.InvertedIndexConfig.Bm25
	if bm.K1 != 0.9 || bm.B != 0.75 || c.InvertedIndexConfig.Stopwords.Preset != "none" {
		t.Errorf("invertedIndexConfig: bm25 %+v, stopwords %+v", bm, c.InvertedIndexConfig.Stopwords)
	}
	searchable := map[string]bool{}
	for _, p := range c.Properties {
		if *p.IndexSearchable {
			searchable[p.Name] = true
		}
	}
	if len(searchable) != 1 || !searchable[propTerms] || property(c, propTerms).Tokenization != "whitespace" {
		t.Errorf("searchable properties %v, terms %+v; want terms alone, whitespace", searchable, property(c, propTerms))
	}
	got, err := parseMeta("C", c.Description)
	if err != nil || got != m {
		t.Errorf("parseMeta(newClass) = %+v, %v; want %+v", got, err, m)
	}

	// load: the new layout opens; another analyzer requested, an analyzer
	// this build lacks or whose version changed, a missing terms property
	// are refused.
	b := &Backend{class: "C"}
	if _, err := b.load(c); err != nil || b.an == nil || b.an.Name() != "bigram" || b.bm25Props() != `["terms"]` || b.bm25Scale() != 1.9 {
		t.Fatalf("load: %v (analyzer %v)", err, b.an)
	}
	if _, err := (&Backend{class: "C", opts: Options{Analyzer: "union"}}).load(c); err == nil || !strings.Contains(err.Error(), "built with the bigram analyzer") {
		t.Errorf("load asking for union: %v", err)
	}
	for _, tc := range []struct {
		edit func(*meta)
		want string
	}{
		{func(m *meta) { m.Analyzer = "nosuch" }, `analyzer "nosuch", which this kormed does not know`},
		{func(m *meta) { m.AnalyzerVersion = 99 }, "analyzer version 99"},
		{func(m *meta) { m.Kormed = 1 }, `version 1 with analyzer "bigram"`},
		{func(m *meta) { m.Kormed = 3 }, "reads up to 2"},
	} {
		m2 := m
		tc.edit(&m2)
		c2 := newClass("C", m, "hnsw")
		c2.Description = m2.description()
		if _, err := (&Backend{class: "C"}).load(c2); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("load of %+v: %v, want %q", m2, err, tc.want)
		}
	}
	c3 := newClass("C", m, "hnsw")
	c3.Properties = slices.DeleteFunc(c3.Properties, func(p *models.Property) bool { return p.Name == propTerms })
	if _, err := (&Backend{class: "C"}).load(c3); err == nil || !strings.Contains(err.Error(), "lacks the kormed properties terms") {
		t.Errorf("load without terms: %v", err)
	}

	// A legacy class (version 1, kagome_kr on title and text) reads as
	// before unless kormed's analyzer is asked for.
	lc := legacyClass("L")
	b = &Backend{class: "L"}
	if _, err := b.load(lc); err != nil || b.an != nil || b.bm25Props() != `["title","text"]` || b.bm25Scale() != 1 || b.bm25Query("두통에 먹는 약") != "두통에 먹는 약" {
		t.Errorf("load of a legacy class: %v", err)
	}
	if _, err := (&Backend{class: "L", opts: Options{Analyzer: "union"}}).load(lc); err == nil || !strings.Contains(err.Error(), "re-run kormed index --backend weaviate into a new class") {
		t.Errorf("load of a legacy class asking for union: %v", err)
	}
}

// legacyClass is the schema kormed created before it analysed text
// itself (metadata version 1): BM25 on title and text, tokenized by
// Weaviate's kagome_kr, and Weaviate's default BM25 settings.
func legacyClass(name string) *models.Class {
	m := meta{Kormed: 1, Model: testModel, Analyzer: LegacyAnalyzer, Generated: "2026-01-01T00:00:00Z"}
	return &models.Class{
		Class:             name,
		Description:       m.description(),
		Vectorizer:        "none",
		VectorIndexType:   "flat",
		VectorIndexConfig: map[string]interface{}{"distance": "cosine"},
		Properties: []*models.Property{
			textProp(propDocID, "text", "field", true, false, "kormed document id"),
			textProp(propTitle, "text", LegacyAnalyzer, false, true, "title (BM25, Korean morphemes)"),
			textProp(propText, "text", LegacyAnalyzer, false, true, "text (BM25, Korean morphemes)"),
			textProp(propDURTypes, "text[]", "field", true, false, "DUR types of the product"),
			textProp(propDURJSON, "text", "field", false, false, "DUR flags as JSON"),
		},
	}
}
