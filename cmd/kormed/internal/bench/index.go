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
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/bm25/benchdata"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/weaviate"
)

// Index is kormed bench index.
var Index = &base.Command{
	Name:      "bench index",
	UsageLine: "bench index [--docs 10000,100000] [--dim 384] [--weaviate-url URL[,URL...]] [flags]",
	Short:     "time building a search index (BM25 + dense + metadata) from precomputed vectors at several corpus sizes",
	Long: `Synthetic Korean documents with clustered random vectors (the encoder is
not run) go into kormed's embedded index, or with --weaviate-url into a
fresh Weaviate class (on one node or a cluster: --shards, --replicas,
--consistency as kormed index takes them), pushed by --workers concurrent
writers as kormed index pushes (one writer). The Weaviate class is dropped
afterwards unless --keep; --resume continues a kept class that a stopped
run left (the same documents and vectors as one uninterrupted run).`,
	Flags: benchIndex,
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
	wURL := fs.String("weaviate-url", "", "build in Weaviate instead: node URL(s), comma-separated")
	wShards := fs.Int("shards", 0, "shards of the Weaviate class (0: the backend's default, 1)")
	wReplicas := fs.Int("replicas", 0, "replication factor of the Weaviate class (0: min(3, nodes))")
	wCons := fs.String("consistency", "", "write consistency: ONE, QUORUM (default) or ALL")
	wVI := fs.String("vector-index", "hnsw", "Weaviate vector index: hnsw or flat")
	workers := fs.Int("workers", 1, "concurrent Weaviate writers")
	keep := fs.Bool("keep", false, "keep the Weaviate class (KormedBenchIndex<docs>) afterwards")
	resume := fs.Bool("resume", false, "continue pushing into an existing KormedBenchIndex<docs> class instead of starting afresh: its object count, less the batches that may have been in flight, is taken as pushed")
	return func(ctx context.Context, args []string) error {
		if *workers < 1 {
			return fmt.Errorf("--workers %d: want at least 1", *workers)
		}
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
		if *wURL != "" {
			return benchWeaviateIndex(ctx, vocab, *wURL, weaviate.Options{Analyzer: *an, Shards: *wShards, Replicas: *wReplicas,
				Consistency: *wCons, VectorIndex: *wVI}, base.SplitList(*sizes), *dim, *workers, *keep, *resume)
		}
		fmt.Printf("| docs | dense | build docs/s | staging s | finish s | heap MB (per doc) | disk MB (per doc) | open s |\n|---:|---|---:|---:|---:|---:|---:|---:|\n")
		for _, s := range base.SplitList(*sizes) {
			n, err := strconv.Atoi(s)
			if err != nil || n <= 0 {
				return fmt.Errorf("--docs %q", s)
			}
			gen := newSynth(vocab, n, *dim)
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
				docs, vecs := gen.batch(lo, min(n, lo+batch))
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
			gen = nil
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

// synth makes the benchmark's corpus: synthetic Korean documents (the BM25
// benchmark's generator over the drug vocabulary) with keyword fields, and
// random unit vectors around 200 centres, drawn in document order.
type synth struct {
	docs    []bm25.Doc
	rng     *rand.Rand
	centres [][]float32
	dim     int
}

func newSynth(vocab []string, n, dim int) *synth {
	g := &synth{docs: benchdata.Synthetic(vocab, n), rng: rand.New(rand.NewPCG(uint64(n), 7)), dim: dim}
	g.centres = make([][]float32, 200)
	for i := range g.centres {
		g.centres[i] = randUnit(g.rng, dim, nil, 0)
	}
	return g
}

// batch returns documents lo..hi-1 and their vectors (call in order: the
// vectors come from one random stream).
func (g *synth) batch(lo, hi int) ([]search.Doc, [][]float32) {
	docs := make([]search.Doc, 0, hi-lo)
	vecs := make([][]float32, 0, hi-lo)
	for i := lo; i < hi; i++ {
		d := g.docs[i]
		docs = append(docs, search.Doc{ID: d.ID, Text: d.Text, Fields: map[string][]string{"class": {[]string{"일반", "전문"}[i%2]}, "type": {fmt.Sprintf("type-%02d", i%40)}}})
		vecs = append(vecs, randUnit(g.rng, g.dim, g.centres[g.rng.IntN(len(g.centres))], 0.6))
	}
	return docs, vecs
}

// benchWeaviateIndex pushes each corpus size into a fresh Weaviate class
// (KormedBenchIndex<n>) with workers concurrent writers and prints the
// push rate, then checks the count and times a few searches. With resume,
// an existing class is kept and the push goes on from its object count
// (rounded down to a batch, less two batches per writer: the batches in
// flight when a run stopped may have landed in any order); the rate is
// that of the resumed part.
func benchWeaviateIndex(ctx context.Context, vocab []string, url string, opts weaviate.Options, sizes []string, dim, workers int, keep, resume bool) error {
	const batch = 500
	fmt.Printf("| docs | nodes | shards × replicas | consistency | writers | push docs/s | push s | objects counted | bm25 / dense / hybrid ms (one query each, median of 20) |\n|---:|---:|---|---|---:|---:|---:|---:|---|\n")
	for _, s := range sizes {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("--docs %q", s)
		}
		class := fmt.Sprintf("KormedBenchIndex%d", n)
		o := opts
		o.Model = &search.ModelInfo{Name: "bench/random-clustered", Dim: dim, Pooling: "mean"}
		o.Create = true
		o.Generated = fmt.Sprintf("bench-%d", n)
		from := 0
		if old, err := weaviate.Open(ctx, url, class, weaviate.Options{}); err == nil {
			if resume {
				info, err := old.Info(ctx)
				if err != nil {
					return err
				}
				from = resumeAt(info.Docs, n, batch, workers)
				fmt.Fprintf(os.Stderr, "  %s holds %d objects: resuming at document %d\n", class, info.Docs, from)
			} else if err := old.Drop(ctx); err != nil {
				return err
			}
		}
		wb, err := weaviate.Open(ctx, url, class, o)
		if err != nil {
			return err
		}
		gen := newSynth(vocab, n, dim)
		gen.skip(from, batch)
		type job struct {
			docs []search.Doc
			vecs [][]float32
		}
		jobs := make(chan job, workers)
		errc := make(chan error, workers)
		ctx, cancel := context.WithCancel(ctx)
		for range workers {
			go func() {
				var first error
				for j := range jobs {
					if first == nil {
						if first = wb.Upsert(ctx, j.docs, j.vecs); first != nil {
							cancel()
						}
					}
				}
				errc <- first
			}()
		}
		start := time.Now()
		for lo := from; lo < n && ctx.Err() == nil; lo += batch {
			docs, vecs := gen.batch(lo, min(n, lo+batch))
			jobs <- job{docs, vecs}
			if lo/batch%20 == 19 {
				fmt.Fprintf(os.Stderr, "  %d/%d pushed in %.0fs\n", lo+batch, n, time.Since(start).Seconds())
			}
		}
		close(jobs)
		for range workers {
			if e := <-errc; e != nil && err == nil {
				err = e
			}
		}
		took := time.Since(start)
		if err == nil {
			err = ctx.Err()
		}
		cancel()
		if err != nil {
			return fmt.Errorf("push %d documents: %w", n, err)
		}
		info, err := wb.Info(context.Background())
		if err != nil {
			return err
		}
		nodes := len(strings.Split(url, ","))
		q := gen.docs[n/2].Text
		if r := []rune(q); len(r) > 20 {
			q = string(r[:20])
		}
		_, qv := gen.batch(0, 1)
		var lat []string
		for _, mode := range []string{search.ModeBM25, search.ModeDense, search.ModeHybrid} {
			var ts []float64
			for range 20 {
				t0 := time.Now()
				if _, err := wb.Search(context.Background(), search.Query{Request: search.Request{Query: q, Mode: mode, K: 10}, Alpha: 0.5, Vector: qv[0]}); err != nil {
					return fmt.Errorf("%s search: %w", mode, err)
				}
				ts = append(ts, float64(time.Since(t0).Microseconds())/1e3)
			}
			sort.Float64s(ts)
			lat = append(lat, fmt.Sprintf("%.1f", ts[len(ts)/2]))
		}
		shards, replicas := "default", "default"
		if opts.Shards > 0 {
			shards = fmt.Sprint(opts.Shards)
		}
		if opts.Replicas > 0 {
			replicas = fmt.Sprint(opts.Replicas)
		}
		cons := opts.Consistency
		if cons == "" {
			cons = "QUORUM"
		}
		fmt.Printf("| %d | %d | %s × %s | %s | %d | %.0f | %.1f | %d | %s |\n", n, nodes, shards, replicas, cons, workers,
			float64(n-from)/took.Seconds(), took.Seconds(), info.Docs, strings.Join(lat, " / "))
		if !keep {
			if err := wb.Drop(context.Background()); err != nil {
				return err
			}
		}
	}
	fmt.Println("\n(push: Upsert of batches of 500 synthetic documents with precomputed 384-d vectors, kormed's analyzer run client-side; objects counted: Weaviate's count after the push)")
	return nil
}

// resumeAt is where a push of n documents in batches of batch by workers
// writers resumes when the class holds count objects: count rounded down to
// a batch, less two batches per writer (the batches in flight when a run
// stopped may have landed in any order).
func resumeAt(count, n, batch, workers int) int {
	return min(n, max(0, count/batch-2*workers)*batch)
}

// skip draws documents 0..to-1 in batches as a push would, so that the
// next batch has the vectors of an uninterrupted run.
func (g *synth) skip(to, batch int) {
	for lo := 0; lo < to; lo += batch {
		g.batch(lo, min(to, lo+batch))
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
