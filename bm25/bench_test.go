package bm25_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/bm25/benchdata"
	"github.com/kormed/kormed/metrics"
)

// Benchmarks, per corpus and analyzer:
//
//	go test -run '^$' -bench . -benchtime 1x ./bm25/            (everything once)
//	go test -run '^$' -bench 'Search/drug' ./bm25/
//
// "drug" is the 2,381-row MFDS drug CSV (../shared/data/drugs, skipped if
// absent); "synth100k" is 100,000 synthetic Korean documents generated
// from its vocabulary (benchdata.Synthetic).

type corpus struct {
	name    string
	docs    []bm25.Doc
	queries []string
}

var (
	corporaOnce sync.Once
	corporaList []corpus
	corporaErr  error
)

func corpora(b *testing.B) []corpus {
	corporaOnce.Do(func() {
		path := benchdata.DrugCSV()
		if path == "" {
			corporaErr = fmt.Errorf("drug CSV not found (set KORMED_DRUG_CSV)")
			return
		}
		ps, err := benchdata.ReadProducts(path)
		if err != nil {
			corporaErr = err
			return
		}
		qs := benchdata.Queries(ps, 500)
		corporaList = []corpus{
			{"drug", benchdata.Docs(ps), qs},
			{"synth100k", benchdata.Synthetic(benchdata.Vocabulary(ps), 100_000), qs},
		}
	})
	if corporaErr != nil {
		b.Skip(corporaErr)
	}
	return corporaList
}

func eachCase(b *testing.B, fn func(b *testing.B, c corpus, an string)) {
	for _, c := range corpora(b) {
		for _, an := range analysis.Names() {
			b.Run(c.name+"/"+an, func(b *testing.B) {
				if an != "bigram" {
					analysis.LoadMorph() // dictionary load is not indexing time
				}
				fn(b, c, an)
			})
		}
	}
}

var (
	indexMu    sync.Mutex
	indexCache = map[string]*bm25.Index{}
)

func cachedIndex(b *testing.B, c corpus, an string) *bm25.Index {
	indexMu.Lock()
	defer indexMu.Unlock()
	key := c.name + "/" + an
	if ix := indexCache[key]; ix != nil {
		return ix
	}
	ix, err := bm25.Build(c.docs, bm25.Options{Analyzer: an})
	if err != nil {
		b.Fatal(err)
	}
	indexCache[key] = ix
	return ix
}

// BenchmarkBuild measures indexing throughput (all cores) and the index
// size on disk.
func BenchmarkBuild(b *testing.B) {
	eachCase(b, func(b *testing.B, c corpus, an string) {
		var ix *bm25.Index
		for b.Loop() {
			var err error
			ix, err = bm25.Build(c.docs, bm25.Options{Analyzer: an})
			if err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(c.docs))*float64(b.N)/b.Elapsed().Seconds(), "docs/s")
		path := filepath.Join(b.TempDir(), "idx.bm25")
		if err := ix.Save(path); err != nil {
			b.Fatal(err)
		}
		st, _ := os.Stat(path)
		b.ReportMetric(float64(st.Size())/1e6, "MB")
		b.ReportMetric(float64(ix.Terms()), "terms")
		indexMu.Lock()
		indexCache[c.name+"/"+an] = ix
		indexMu.Unlock()
	})
}

// BenchmarkSearch measures single-query latency (one goroutine, top 10);
// ns/op is the mean, p50-µs and p99-µs the percentiles.
func BenchmarkSearch(b *testing.B) {
	eachCase(b, func(b *testing.B, c corpus, an string) {
		ix := cachedIndex(b, c, an)
		lat := make([]time.Duration, 0, 1024)
		i := 0
		for b.Loop() {
			t0 := time.Now()
			hits := ix.Search(c.queries[i%len(c.queries)], 10)
			lat = append(lat, time.Since(t0))
			if len(hits) == 0 && i < len(c.queries) {
				b.Logf("no hits for %q", c.queries[i])
			}
			i++
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		pct := func(p float64) float64 {
			return float64(lat[min(len(lat)-1, int(p*float64(len(lat))))].Nanoseconds()) / 1e3
		}
		b.ReportMetric(pct(0.50), "p50-µs")
		b.ReportMetric(pct(0.99), "p99-µs")
	})
}

// BenchmarkLoad measures reading an index file back (decode + checksum).
func BenchmarkLoad(b *testing.B) {
	eachCase(b, func(b *testing.B, c corpus, an string) {
		ix := cachedIndex(b, c, an)
		path := filepath.Join(b.TempDir(), "idx.bm25")
		if err := ix.Save(path); err != nil {
			b.Fatal(err)
		}
		for b.Loop() {
			if _, err := bm25.Load(path); err != nil {
				b.Fatal(err)
			}
		}
		st, _ := os.Stat(path)
		b.ReportMetric(float64(st.Size())/1e6, "MB")
	})
}

// BenchmarkQuality reports NDCG@10 and Recall@100 of each analyzer on the
// drug corpus with benchdata.JudgedQueries (a quick check; the drug-bench
// dataset and 'kormed eval' are the real evaluation).
func BenchmarkQuality(b *testing.B) {
	path := benchdata.DrugCSV()
	if path == "" {
		b.Skip("drug CSV not found")
	}
	ps, err := benchdata.ReadProducts(path)
	if err != nil {
		b.Fatal(err)
	}
	j := benchdata.JudgedQueries(ps)
	c := corpus{name: "drug", docs: benchdata.Docs(ps)}
	for _, an := range analysis.Names() {
		b.Run("drug/"+an, func(b *testing.B) {
			ix := cachedIndex(b, c, an)
			var ndcg, recall float64
			for b.Loop() {
				ndcg, recall = 0, 0
				for i, q := range j.Texts {
					hits := ix.Search(q, 100)
					ranked := make([]string, len(hits))
					for k, h := range hits {
						ranked[k] = h.ID
					}
					rel := j.Qrels[j.IDs[i]]
					ndcg += metrics.NDCG(ranked, rel, 10)
					recall += metrics.Recall(ranked, rel, 100)
				}
			}
			n := float64(len(j.Texts))
			b.ReportMetric(ndcg/n, "ndcg@10")
			b.ReportMetric(recall/n, "recall@100")
			b.ReportMetric(n, "queries")
		})
	}
}
