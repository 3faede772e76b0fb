package bench

import (
	"context"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25/benchdata"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// Index is kormed bench index.
var Index = &base.Command{
	Name:      "bench index",
	UsageLine: "bench index [--docs 10000,100000] [--dim 384] [flags]",
	Short:     "time building a search index (BM25 + dense + metadata) from precomputed vectors at several corpus sizes",
	Flags:     benchIndex,
}

// benchIndex measures the index itself, not the encoder: synthetic Korean
// documents (the BM25 benchmark's generator over the drug vocabulary) with
// clustered random unit vectors go through embedded.Builder as 'kormed index'
// drives it.
func benchIndex(fs *flag.FlagSet) base.Func {
	sizes := fs.String("docs", "10000,100000", "comma-separated corpus sizes")
	dim := fs.Int("dim", 384, "vector dimension (384: multilingual-e5-small)")
	out := fs.String("out", "", "scratch folder (default: a temporary one, removed)")
	an := fs.String("analyzer", "union", "BM25 analyzer")
	return func(ctx context.Context, args []string) error {
		products, err := benchdata.ReadProducts(benchdata.DrugCSV())
		if err != nil {
			return err
		}
		vocab := benchdata.Vocabulary(products)
		analysis.LoadMorph() // the dictionary (≈ 200 MB) is not the index's memory
		scratch := *out
		if scratch == "" {
			if scratch, err = os.MkdirTemp("", "kormed-bench-index-"); err != nil {
				return err
			}
			defer os.RemoveAll(scratch)
		}
		fmt.Printf("| docs | dense | build docs/s | staging s | finish s | heap MB (per doc) | disk MB (per doc) | open s |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range base.SplitList(*sizes) {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return fmt.Errorf("--docs %q", s)
			}
			bdocs := benchdata.Synthetic(vocab, n)
			rng := rand.New(rand.NewPCG(uint64(n), 7))
			centres := make([][]float32, 200)
			for i := range centres {
				centres[i] = randUnit(rng, *dim, nil, 0)
			}
			dir := filepath.Join(scratch, fmt.Sprint(n))
			os.RemoveAll(dir)
			opts := embedded.Options{Analyzer: *an, Model: search.ModelInfo{Name: "bench/random-clustered", Dim: *dim, Pooling: "mean"}}
			runtime.GC()
			var base runtime.MemStats
			runtime.ReadMemStats(&base)
			start := time.Now()
			b, err := embedded.NewBuilder(dir, opts, fmt.Sprintf("bench-%d", n))
			if err != nil {
				return err
			}
			const batch = 1000
			for lo := 0; lo < n; lo += batch {
				if err := ctx.Err(); err != nil {
					return err
				}
				hi := min(n, lo+batch)
				docs := make([]search.Doc, 0, hi-lo)
				vecs := make([][]float32, 0, hi-lo)
				for i := lo; i < hi; i++ {
					d := bdocs[i]
					docs = append(docs, search.Doc{ID: d.ID, Text: d.Text, Fields: map[string][]string{"class": {[]string{"일반", "전문"}[i%2]}, "type": {fmt.Sprintf("type-%02d", i%40)}}})
					vecs = append(vecs, randUnit(rng, *dim, centres[rng.IntN(len(centres))], 0.6))
				}
				if err := b.Add(docs, vecs); err != nil {
					return err
				}
			}
			staged := time.Since(start)
			last := time.Now()
			ix, _, err := b.Finish(func(stage string) {
				fmt.Fprintf(os.Stderr, "  %.2fs, then %s\n", time.Since(last).Seconds(), stage)
				last = time.Now()
			})
			if err != nil {
				return err
			}
			total := time.Since(start)
			runtime.GC()
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			heap := float64(ms.HeapAlloc) - float64(base.HeapAlloc)
			kind := ix.Options().Dense
			if kind == embedded.DenseAuto {
				kind = "exact"
				if n >= ix.Options().ANNThreshold {
					kind = "hnsw"
				}
			}
			ix.Close()
			bdocs = nil
			disk := dirSize(dir)
			t0 := time.Now()
			re, err := embedded.Open(dir)
			if err != nil {
				return err
			}
			opened := time.Since(t0)
			re.Close()
			fmt.Printf("| %d | %s | %.0f | %.1f | %.1f | %.0f (%.1f KB) | %.0f (%.1f KB) | %.2f |\n", n, kind, float64(n)/total.Seconds(),
				staged.Seconds(), (total - staged).Seconds(), heap/1e6, heap/float64(n)/1e3, disk/1e6, disk/float64(n)/1e3, opened.Seconds())
			os.RemoveAll(dir)
		}
		fmt.Println("\n(heap: live Go heap after the build less before it (the analyzer's dictionary excluded), index and its documents included; vectors are random unit vectors around 200 centres; the encoder is not run)")
		return nil
	}
}

// randUnit draws a unit vector: around centre with the given spread, or
// uniformly when centre is nil.
func randUnit(r *rand.Rand, dim int, centre []float32, spread float64) []float32 {
	v := make([]float32, dim)
	sd := spread / math.Sqrt(float64(dim))
	var ss float64
	for j := range v {
		x := r.NormFloat64()
		if centre != nil {
			x = float64(centre[j]) + x*sd
		}
		v[j] = float32(x)
		ss += x * x
	}
	inv := float32(1 / math.Sqrt(ss))
	for j := range v {
		v[j] *= inv
	}
	return v
}

func dirSize(dir string) float64 {
	var total int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(fi.Name(), ".lock") {
			total += fi.Size()
		}
		return nil
	})
	return float64(total)
}
