// Command vectorcmp times kormed's vector indexes against chromem-go on the
// same clustered synthetic embeddings, one query at a time, and prints a
// Markdown table: query latency p50/p99, recall@10 against the exact
// search, build time and rate, and index memory.
//
// It lives in its own module so that kormed's go.mod does not depend on
// chromem-go. Run it from this folder:
//
//	go run . -n 100000 -dim 384
//
// The data: -clusters Gaussian centres on the unit sphere, each row a
// centre plus noise of norm about -spread, normalised (within-cluster
// cosine about 1/(1+spread²) = 0.6 at 0.8); queries are drawn the same
// way. Uniform random vectors would make every approximate index look
// broken (all rows nearly equidistant), real embeddings cluster.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	chromem "github.com/philippgille/chromem-go"

	"github.com/kormed/kormed/vector"
)

type row struct {
	Bench      string  `json:"bench"`
	Engine     string  `json:"engine"`
	N          int     `json:"n"`
	Dim        int     `json:"dim"`
	Threads    int     `json:"threads"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	Recall     float64 `json:"recall_at_10"`
	Exact      float64 `json:"exact_match"`
	BuildS     float64 `json:"build_s"`
	DocsPerS   float64 `json:"build_docs_per_s"`
	IndexBytes int64   `json:"index_bytes"`
	Note       string  `json:"note,omitempty"`
}

func main() {
	n := flag.Int("n", 100000, "rows")
	dim := flag.Int("dim", 384, "dimension")
	clusters := flag.Int("clusters", 100, "Gaussian clusters")
	spread := flag.Float64("spread", 0.8, "norm of the noise around a cluster centre")
	nq := flag.Int("queries", 300, "queries")
	k := flag.Int("k", 10, "results per query")
	efs := flag.String("ef", "16,32,64,128", "HNSW ef values")
	efc := flag.Int("efc", 200, "HNSW EfConstruction")
	m := flag.Int("m", 16, "HNSW M")
	chrom := flag.Bool("chromem", true, "run chromem-go")
	passes := flag.Int("passes", 3, "timed passes over the queries (the one with the lowest p50 is reported)")
	jsonl := flag.String("jsonl", "", "also append one JSON line per engine to this file")
	flag.Parse()
	threads := runtime.GOMAXPROCS(0)

	t0 := time.Now()
	data, queries := clustered(1, *n, *nq, *dim, *clusters, *spread)
	fmt.Fprintf(os.Stderr, "vectorcmp: %d × %d rows, %d clusters, %d queries, %d threads (data %.1fs)\n",
		*n, *dim, *clusters, *nq, threads, time.Since(t0).Seconds())

	var rows []row
	add := func(r row) {
		r.Bench, r.N, r.Dim, r.Threads = "vector", *n, *dim, threads
		rows = append(rows, r)
		fmt.Fprintf(os.Stderr, "  %-28s p50 %7.3f ms  p99 %7.3f ms  recall@%d %.4f  build %.2fs\n", r.Engine, r.P50ms, r.P99ms, *k, r.Recall, r.BuildS)
	}

	// kormed Flat: the exact reference for every recall below.
	var f *vector.Flat
	b0 := heap()
	bt := timeIt(func() {
		f = vector.NewFlat(*dim)
		if _, err := f.Add(data...); err != nil {
			panic(err)
		}
	})
	flatMem := heap() - b0
	truth := make([][]vector.Result, len(queries))
	for i, q := range queries {
		truth[i] = f.Search(q, *k, nil)
	}
	// score runs the queries -passes times (after a warm-up of 20) and
	// reports the latencies of the pass with the lowest p50: on a shared
	// machine the others mostly measure the neighbours.
	score := func(search func(q []float32) []vector.Result) (p50, p99, rec, exact float64) {
		lat := make([]float64, len(queries))
		for i := 0; i < min(20, len(queries)); i++ {
			search(queries[i]) // warm-up
		}
		p50 = math.Inf(1)
		for pass := 0; pass < *passes; pass++ {
			var rs, ex float64
			for i, q := range queries {
				st := time.Now()
				got := search(q)
				lat[i] = float64(time.Since(st).Nanoseconds()) / 1e6
				rs += recall(got, truth[i])
				if sameRows(got, truth[i]) {
					ex++
				}
			}
			slices.Sort(lat)
			if pct(lat, 50) < p50 {
				p50, p99 = pct(lat, 50), pct(lat, 99)
			}
			rec, exact = rs/float64(len(queries)), ex/float64(len(queries))
		}
		return p50, p99, rec, exact
	}
	p50, p99, rec, ex := score(func(q []float32) []vector.Result { return f.Search(q, *k, nil) })
	add(row{Engine: "kormed flat (exact)", P50ms: p50, P99ms: p99, Recall: rec, Exact: ex, BuildS: bt, DocsPerS: float64(*n) / bt, IndexBytes: flatMem,
		Note: fmt.Sprintf("scan split over %d goroutines", threads)})
	f.SetThreads(1)
	p50, p99, rec, ex = score(func(q []float32) []vector.Result { return f.Search(q, *k, nil) })
	add(row{Engine: "kormed flat, 1 goroutine", P50ms: p50, P99ms: p99, Recall: rec, Exact: ex, BuildS: bt, DocsPerS: float64(*n) / bt, IndexBytes: flatMem})
	f.SetThreads(0)

	for _, kind := range []string{"int8", "bf16"} {
		var qz *vector.Quantized
		b0 := heap()
		bt := timeIt(func() {
			var err error
			if qz, err = vector.Quantize(f, kind); err != nil {
				panic(err)
			}
		})
		mem := heap() - b0
		p50, p99, rec, ex := score(func(q []float32) []vector.Result { return qz.Search(q, *k, nil) })
		add(row{Engine: "kormed " + kind + " + exact re-score", P50ms: p50, P99ms: p99, Recall: rec, Exact: ex, BuildS: bt, DocsPerS: float64(*n) / bt, IndexBytes: mem,
			Note: "plus the Flat it re-scores against"})
		qz = nil
	}

	p := vector.DefaultHNSWParams()
	p.M, p.EfConstruction = *m, *efc
	var h *vector.HNSW
	b0 = heap()
	bt = timeIt(func() {
		h = vector.NewHNSW(f, p)
		h.AddAll(0)
	})
	hmem := heap() - b0
	for _, s := range strings.Split(*efs, ",") {
		ef, err := strconv.Atoi(s)
		if err != nil {
			panic(err)
		}
		p50, p99, rec, ex := score(func(q []float32) []vector.Result { return h.SearchEf(q, *k, ef, nil) })
		add(row{Engine: fmt.Sprintf("kormed HNSW ef %d", ef), P50ms: p50, P99ms: p99, Recall: rec, Exact: ex, BuildS: bt, DocsPerS: float64(*n) / bt, IndexBytes: hmem,
			Note: fmt.Sprintf("M %d, efC %d, parallel build; graph only, plus the Flat", *m, *efc)})
	}
	h = nil

	if *chrom {
		ctx := context.Background()
		var col *chromem.Collection
		b0 := heap()
		bt := timeIt(func() {
			db := chromem.NewDB()
			var err error
			col, err = db.CreateCollection("bench", nil, func(context.Context, string) ([]float32, error) { return nil, fmt.Errorf("no embedder") })
			if err != nil {
				panic(err)
			}
			docs := make([]chromem.Document, len(data))
			for i, v := range data {
				docs[i] = chromem.Document{ID: strconv.Itoa(i), Embedding: v}
			}
			if err := col.AddDocuments(ctx, docs, threads); err != nil {
				panic(err)
			}
		})
		mem := heap() - b0
		p50, p99, rec, ex := score(func(q []float32) []vector.Result {
			res, err := col.QueryEmbedding(ctx, q, *k, nil, nil)
			if err != nil {
				panic(err)
			}
			out := make([]vector.Result, len(res))
			for i, r := range res {
				id, _ := strconv.Atoi(r.ID)
				out[i] = vector.Result{Index: id, Score: r.Similarity}
			}
			return out
		})
		add(row{Engine: "chromem-go v0.7.0 (exact)", P50ms: p50, P99ms: p99, Recall: rec, Exact: ex, BuildS: bt, DocsPerS: float64(*n) / bt, IndexBytes: mem,
			Note: fmt.Sprintf("scan split over runtime.NumCPU() = %d goroutines; keeps the caller's vectors, not counted", runtime.NumCPU())})
	}

	fmt.Printf("\nDense top-%d, %d × %d clustered vectors (%d clusters, spread %.1f), %d queries one at a time (best p50 of %d passes), GOMAXPROCS %d, %s\n\n",
		*k, *n, *dim, *clusters, *spread, len(queries), *passes, threads, time.Now().Format("2006-01-02"))
	if p := pressure(); p != "" {
		fmt.Printf("CPU pressure at the end (/proc/pressure/cpu, share of time some runnable task waited for a core): %s\n\n", p)
	}
	fmt.Printf("| engine | p50 ms | p99 ms | recall@%d | same rows as exact | build s | build docs/s | index MB | bytes/vector | note |\n", *k)
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
	for _, r := range rows {
		fmt.Printf("| %s | %.3f | %.3f | %.4f | %.0f%% | %.2f | %.0f | %.1f | %.0f | %s |\n", r.Engine, r.P50ms, r.P99ms, r.Recall, 100*r.Exact,
			r.BuildS, r.DocsPerS, float64(r.IndexBytes)/1e6, float64(r.IndexBytes)/float64(*n), r.Note)
	}
	if *jsonl != "" {
		out, err := os.OpenFile(*jsonl, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			panic(err)
		}
		for _, r := range rows {
			b, _ := json.Marshal(r)
			fmt.Fprintln(out, string(b))
		}
		out.Close()
	}
}

// pressure returns the CPU pressure averages of Linux's PSI ("" where
// there are none): how much other work competed for the cores.
func pressure() string {
	b, err := os.ReadFile("/proc/pressure/cpu")
	if err != nil {
		return ""
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 4 {
		return ""
	}
	return strings.Join(f[1:4], " ") + " (%)"
}

func timeIt(fn func()) float64 {
	st := time.Now()
	fn()
	return time.Since(st).Seconds()
}

// heap is the live heap after a collection.
func heap() int64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// sameRows reports whether got lists the rows of want in the same order
// (scores aside: chromem-go's dot product rounds differently).
func sameRows(got, want []vector.Result) bool {
	return slices.EqualFunc(got, want, func(a, b vector.Result) bool { return a.Index == b.Index })
}

func pct(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func recall(got, want []vector.Result) float64 {
	in := map[int]bool{}
	for _, r := range want {
		in[r.Index] = true
	}
	hit := 0
	for _, r := range got {
		if in[r.Index] {
			hit++
		}
	}
	return float64(hit) / float64(len(want))
}

func normalize(v []float32) []float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	inv := float32(1 / math.Sqrt(s))
	for i := range v {
		v[i] *= inv
	}
	return v
}

// clustered draws n rows and nq queries around c centres (as the vector
// package's tests do).
func clustered(seed uint64, n, nq, dim, c int, spread float64) (data, queries [][]float32) {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	centres := make([][]float32, c)
	for i := range centres {
		v := make([]float32, dim)
		for j := range v {
			v[j] = float32(r.NormFloat64())
		}
		centres[i] = normalize(v)
	}
	sd := spread / math.Sqrt(float64(dim))
	draw := func() []float32 {
		ctr := centres[r.IntN(c)]
		v := make([]float32, dim)
		for j := range v {
			v[j] = ctr[j] + float32(r.NormFloat64()*sd)
		}
		return normalize(v)
	}
	data = make([][]float32, n)
	for i := range data {
		data[i] = draw()
	}
	queries = make([][]float32, nq)
	for i := range queries {
		queries[i] = draw()
	}
	return data, queries
}
