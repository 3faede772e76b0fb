package blevecmp

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	banalysis "github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/registry"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/bm25/benchdata"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/metrics"
)

// kormedAnalyzer feeds a kormed analyzer's terms to Bleve.
type kormedAnalyzer struct{ a analysis.Analyzer }

func (k kormedAnalyzer) Analyze(input []byte) banalysis.TokenStream {
	terms := k.a.Analyze(nil, string(input))
	ts := make(banalysis.TokenStream, len(terms))
	for i, t := range terms {
		ts[i] = &banalysis.Token{Term: []byte(t), Position: i + 1, Type: banalysis.AlphaNumeric}
	}
	return ts
}

func init() {
	for _, name := range analysis.Names() {
		a, _ := analysis.New(name)
		registry.RegisterAnalyzer("kormed-"+name, func(map[string]any, *registry.Cache) (banalysis.Analyzer, error) {
			return kormedAnalyzer{a}, nil
		})
	}
}

func newMapping(an string) mapping.IndexMapping {
	m := bleve.NewIndexMapping()
	m.ScoringModel = "bm25"
	f := bleve.NewTextFieldMapping()
	f.Analyzer = "kormed-" + an
	f.Store = false
	f.IncludeTermVectors = false
	f.IncludeInAll = false
	f.DocValues = false
	dm := bleve.NewDocumentStaticMapping()
	dm.AddFieldMappingsAt("text", f)
	m.DefaultMapping = dm
	m.DefaultAnalyzer = "kormed-" + an
	return m
}

func buildBleve(b *testing.B, dir string, docs []bm25.Doc, an string) bleve.Index {
	idx, err := bleve.New(dir, newMapping(an))
	if err != nil {
		b.Fatal(err)
	}
	batch := idx.NewBatch()
	for _, d := range docs {
		if err := batch.Index(d.ID, map[string]string{"text": d.Text}); err != nil {
			b.Fatal(err)
		}
		if batch.Size() >= 1000 {
			if err := idx.Batch(batch); err != nil {
				b.Fatal(err)
			}
			batch = idx.NewBatch()
		}
	}
	if err := idx.Batch(batch); err != nil {
		b.Fatal(err)
	}
	return idx
}

func searchBleve(b *testing.B, idx bleve.Index, q string, k int) []string {
	mq := bleve.NewMatchQuery(q)
	mq.SetField("text")
	req := bleve.NewSearchRequestOptions(mq, k, 0, false)
	res, err := idx.Search(req)
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]string, len(res.Hits))
	for i, h := range res.Hits {
		ids[i] = h.ID
	}
	return ids
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

func percentiles(lat []time.Duration) (p50, p99 float64) {
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	at := func(p float64) float64 {
		return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e3
	}
	return at(0.5), at(0.99)
}

// BenchmarkCompare builds both indexes on the drug corpus (and, with
// BLEVECMP_SYNTH=1, a 100k synthetic corpus with the bigram analyzer) and
// reports, for each engine: build docs/s, index MB, query p50/p99 (µs, top
// 10) and NDCG@10 on benchdata.JudgedQueries, or on the test split of the
// BEIR folder named by BLEVECMP_BEIR (e.g. 'kormed data drug-bench').
func BenchmarkCompare(b *testing.B) {
	path := benchdata.DrugCSV()
	if path == "" {
		b.Skip("drug CSV not found")
	}
	ps, err := benchdata.ReadProducts(path)
	if err != nil {
		b.Fatal(err)
	}
	drug := benchdata.Docs(ps)
	j := benchdata.JudgedQueries(ps)
	// Same BM25 parameters in both engines (Bleve's are package globals).
	search.BM25_k1, search.BM25_b = bm25.DefaultK1, bm25.DefaultB
	if dir := os.Getenv("BLEVECMP_BEIR"); dir != "" {
		// A BEIR folder, e.g. from 'kormed data drug-bench', test split.
		d, err := dataset.ReadBEIR(dir, "test")
		if err != nil {
			b.Fatal(err)
		}
		drug = make([]bm25.Doc, len(d.Corpus))
		for i, c := range d.Corpus {
			drug[i] = bm25.Doc{ID: c.ID, Text: c.Title + " " + c.Text}
		}
		j = &benchdata.Judged{Qrels: d.Qrels}
		for _, q := range d.Queries {
			if len(d.Qrels[q.ID]) > 0 {
				j.IDs = append(j.IDs, q.ID)
				j.Texts = append(j.Texts, q.Text)
			}
		}
	}
	type corpus struct {
		name string
		docs []bm25.Doc
		ans  []string
	}
	cs := []corpus{{"drug", drug, analysis.Names()}}
	if os.Getenv("BLEVECMP_SYNTH") != "" {
		cs = append(cs, corpus{"synth100k", benchdata.Synthetic(benchdata.Vocabulary(ps), 100_000), []string{"bigram"}})
	}
	for _, c := range cs {
		for _, an := range c.ans {
			if an != "bigram" {
				analysis.LoadMorph()
			}
			for _, engine := range []string{"kormed", "bleve"} {
				b.Run(fmt.Sprintf("%s/%s/%s", c.name, an, engine), func(b *testing.B) {
					dir := b.TempDir()
					var search func(q string, k int) []string
					var size int64
					var buildRate float64
					t0 := time.Now()
					if engine == "kormed" {
						ix, err := bm25.Build(c.docs, bm25.Options{Analyzer: an})
						if err != nil {
							b.Fatal(err)
						}
						buildRate = float64(len(c.docs)) / time.Since(t0).Seconds()
						p := filepath.Join(dir, "idx.bm25")
						ix.Save(p)
						size = dirSize(dir)
						search = func(q string, k int) []string {
							hits := ix.Search(q, k)
							ids := make([]string, len(hits))
							for i, h := range hits {
								ids[i] = h.ID
							}
							return ids
						}
					} else {
						idx := buildBleve(b, filepath.Join(dir, "bleve"), c.docs, an)
						defer idx.Close()
						buildRate = float64(len(c.docs)) / time.Since(t0).Seconds()
						size = dirSize(dir)
						search = func(q string, k int) []string { return searchBleve(b, idx, q, k) }
					}
					var lat []time.Duration
					var ndcg float64
					for b.Loop() {
						ndcg = 0
						lat = lat[:0]
						for i, q := range j.Texts {
							t := time.Now()
							ranked := search(q, 10)
							lat = append(lat, time.Since(t))
							if c.name == "drug" {
								ndcg += metrics.NDCG(ranked, j.Qrels[j.IDs[i]], 10)
							}
						}
					}
					b.ReportMetric(buildRate, "build-docs/s")
					b.ReportMetric(float64(size)/1e6, "MB")
					p50, p99 := percentiles(lat)
					b.ReportMetric(p50, "p50-µs")
					b.ReportMetric(p99, "p99-µs")
					if c.name == "drug" {
						b.ReportMetric(ndcg/float64(len(j.Texts)), "ndcg@10")
					}
				})
			}
		}
	}
}

// TestSameTerms checks the Bleve adapter hands Bleve exactly kormed's terms.
func TestSameTerms(t *testing.T) {
	a, _ := analysis.New("bigram")
	ts := kormedAnalyzer{a}.Analyze([]byte("판콜에이 효능"))
	var got []string
	for _, tok := range ts {
		got = append(got, string(tok.Term))
	}
	if strings.Join(got, " ") != "판콜 콜에 에이 효능" {
		t.Fatalf("got %q", got)
	}
}
