package eval

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/metrics"
)

// LoadDataset reads a dataset by the shape of path: a folder is BEIR
// (corpus.jsonl, queries.jsonl, qrels/<split>.tsv); a .csv file is CSV
// pairs (dataset.ReadCSVPairs); a .jsonl or .json file is triplets
// (dataset.ReadTriplets); hf://OWNER/NAME[:CONFIG][@REVISION] is a
// retrieval set on the Hugging Face Hub in the MTEB / BEIR layout
// (hubdata.LoadRetrieval). The returned note summarises what a pairs or
// triplets file gave ("" for BEIR).
func LoadDataset(path, split string) (d *dataset.Dataset, note string, err error) {
	return LoadDatasetWith(context.Background(), path, split, DataOptions{})
}

// DataOptions are LoadDatasetWith's settings for Hub datasets.
type DataOptions struct {
	Columns dataset.Columns // explicit column mapping (id, title, document, query)
	Hub     hub.Options     // download settings; the zero value takes the environment
}

// LoadDatasetWith is LoadDataset with a context and Hub settings.
//
// path may end in a split, PATH#SPLIT or hf://…#SPLIT
// (hubdata.WithSplit), which takes precedence over split.
func LoadDatasetWith(ctx context.Context, path, split string, o DataOptions) (d *dataset.Dataset, note string, err error) {
	path, split, err = hubdata.WithSplit(path, split)
	if err != nil {
		return nil, "", err
	}
	if hubdata.IsRef(path) {
		if split == "" {
			split = "test"
		}
		return hubdata.LoadRetrieval(ctx, path, split, o.Columns, o.Hub)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, "", err
	}
	if st.IsDir() {
		d, err := dataset.ReadBEIR(path, split)
		if err != nil {
			return nil, "", err
		}
		if d.Name == "" {
			d.Name = filepath.Base(filepath.Clean(path))
		}
		return d, "", nil
	}
	var rep *dataset.LoadReport
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".csv":
		d, rep, err = dataset.ReadCSVPairs(path)
	case ".jsonl", ".json":
		d, rep, err = dataset.ReadTriplets(path)
	default:
		return nil, "", fmt.Errorf("%s: unknown dataset format %q: want a BEIR folder, a .csv pairs file or a .jsonl triplets file", path, ext)
	}
	if err != nil {
		return nil, "", err
	}
	return d, rep.String(), nil
}

// Spec names one retriever run and carries its metadata.
type Spec struct {
	Name      string // run name on the leaderboard, e.g. "bm25-bigram"
	Retriever string // "bm25", "dense", …
	Model     string // model name or path, for dense runs
	Analyzer  string // analyzer, for BM25 runs
	R         Retriever
}

// Config controls Run.
type Config struct {
	Ks                 []int // cut-offs; default metrics.DefaultKs
	Depth              int   // hits retrieved per query; default the largest k (at least 10 is not forced)
	IgnoreIdenticalIDs bool  // BEIR's ignore_identical_ids
	PerQuery           bool  // keep each query's ranking and metrics in the result
	DatasetPath        string
	Split              string

	// Columns are the metric keys chosen for the printed table and the
	// leaderboard (ParseMetrics; e.g. NDCG@1, F1@3), recorded in the
	// result; empty = the default columns. Every family is still
	// computed at every k and kept in the result.
	Columns []string
}

// DatasetInfo describes the evaluated dataset.
type DatasetInfo struct {
	Name      string `json:"name"`
	Path      string `json:"path,omitempty"`
	Split     string `json:"split,omitempty"`
	Docs      int    `json:"docs"`
	Queries   int    `json:"queries"`
	Evaluated int    `json:"evaluated"` // queries with ≥ 1 relevant document
	Skipped   int    `json:"skipped"`   // queries without one (left out of the averages)
	Missing   int    `json:"missing"`   // evaluated queries with no hits at all (scored 0)
}

// Timings are wall-clock seconds.
type Timings struct {
	Index   float64 `json:"index_s"`   // build the index / embed the corpus
	Search  float64 `json:"search_s"`  // all queries (embedding them included)
	Metrics float64 `json:"metrics_s"` // metric computation
	Total   float64 `json:"total_s"`
	QPS     float64 `json:"queries_per_s"`
}

// QueryResult is one query's ranking and metric values.
type QueryResult struct {
	Ranking []metrics.Hit      `json:"ranking"`
	Metrics map[string]float64 `json:"metrics"`
}

// Result is one run's record: what was run on what, its metrics (fractions
// in [0, 1]) and timings. It is what results/*.json hold.
type Result struct {
	Run       string                 `json:"run"`
	Retriever string                 `json:"retriever"`
	Model     string                 `json:"model,omitempty"`
	Analyzer  string                 `json:"analyzer,omitempty"`
	Dataset   DatasetInfo            `json:"dataset"`
	Ks        []int                  `json:"ks"`
	Depth     int                    `json:"depth"`
	Metrics   map[string]float64     `json:"metrics"`
	Timings   Timings                `json:"timings"`
	Created   time.Time              `json:"created"`
	Host      Host                   `json:"host"`
	Options   map[string]string      `json:"options,omitempty"`
	Collapse  *Collapse              `json:"collapse,omitempty"`
	PerQuery  map[string]QueryResult `json:"per_query,omitempty"`

	// Columns are the metric keys chosen with kormed eval --metrics: the
	// printed table's and the leaderboard's columns for this run (empty:
	// the default NDCG, Recall, F1 at each k and MRR at the largest).
	Columns []string `json:"columns,omitempty"`

	// Calibration is the fusion a calibrated hybrid run chose, and what
	// it measured (kormed eval --retriever hybrid without --alpha).
	Calibration *fusion.Calibration `json:"calibration,omitempty"`
}

// Host records where a run ran.
type Host struct {
	Go      string `json:"go"`
	OS      string `json:"os"`
	Arch    string `json:"arch"`
	CPUs    int    `json:"cpus"`
	Threads int    `json:"threads,omitempty"`
	Version string `json:"kormed,omitempty"`
}

// ThisHost describes the running machine.
func ThisHost() Host {
	return Host{Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH, CPUs: runtime.NumCPU()}
}

// Run indexes d's corpus with s.R, searches all of d's queries and scores
// the hits. Queries without a relevant document are not searched.
func Run(ctx context.Context, d *dataset.Dataset, s Spec, cfg Config) (*Result, error) {
	ks := cfg.Ks
	if len(ks) == 0 {
		ks = metrics.DefaultKs
	}
	depth := cfg.Depth
	if depth <= 0 {
		depth = slices.Max(ks)
	}
	if depth < slices.Max(ks) {
		return nil, fmt.Errorf("eval: depth %d is below the largest cut-off %d", depth, slices.Max(ks))
	}
	if len(d.Corpus) == 0 {
		return nil, fmt.Errorf("eval: dataset %q has no documents", d.Name)
	}
	var queries []dataset.Query
	for _, q := range d.Queries {
		if metrics.NumRelevant(d.Qrels[q.ID]) > 0 {
			queries = append(queries, q)
		}
	}
	if len(queries) == 0 {
		return nil, fmt.Errorf("eval: dataset %q has no query with a relevant document", d.Name)
	}
	t0 := time.Now()
	if err := s.R.Index(ctx, d.Corpus); err != nil {
		return nil, fmt.Errorf("%s: index: %w", s.Name, err)
	}
	t1 := time.Now()
	run, err := s.R.Search(ctx, queries, depth)
	if err != nil {
		return nil, fmt.Errorf("%s: search: %w", s.Name, err)
	}
	t2 := time.Now()
	sum, err := metrics.Evaluate(metrics.Qrels(d.Qrels), run, metrics.Options{Ks: ks, IgnoreIdenticalIDs: cfg.IgnoreIdenticalIDs, PerQuery: cfg.PerQuery})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.Name, err)
	}
	t3 := time.Now()
	empty := 0
	for _, q := range queries {
		if len(run[q.ID]) == 0 {
			empty++
		}
	}
	r := &Result{
		Run: s.Name, Retriever: s.Retriever, Model: s.Model, Analyzer: s.Analyzer,
		Dataset: DatasetInfo{
			Name: d.Name, Path: cfg.DatasetPath, Split: cfg.Split, Docs: len(d.Corpus), Queries: len(d.Queries),
			Evaluated: sum.Evaluated, Skipped: sum.Skipped, Missing: empty,
		},
		Ks: sum.Ks, Depth: depth, Metrics: sum.Mean,
		Timings: Timings{
			Index: t1.Sub(t0).Seconds(), Search: t2.Sub(t1).Seconds(), Metrics: t3.Sub(t2).Seconds(), Total: t3.Sub(t0).Seconds(),
		},
		Created: time.Now().UTC().Truncate(time.Second),
		Host:    ThisHost(),
		Columns: slices.Clone(cfg.Columns),
	}
	if r.Timings.Search > 0 {
		r.Timings.QPS = float64(len(queries)) / r.Timings.Search
	}
	if cfg.IgnoreIdenticalIDs {
		r.Options = map[string]string{"ignore_identical_ids": "true"}
	}
	if cfg.PerQuery {
		r.PerQuery = make(map[string]QueryResult, len(sum.PerQuery))
		for qid, m := range sum.PerQuery {
			hs := append([]metrics.Hit{}, run[qid]...)
			metrics.Sort(hs)
			r.PerQuery[qid] = QueryResult{Ranking: hs, Metrics: m}
		}
	}
	return r, nil
}

// TableFamilies are the metric families PrintTable shows.
var TableFamilies = []string{metrics.NameNDCG, metrics.NameRecall, metrics.NameF1, metrics.NameMRR}

// PrintTable writes r's metrics ×100 as a families × k table, with the
// run's counts and timings. A result with Columns (--metrics) shows only
// their families and cut-offs, a pair not chosen as "–".
//
//	bm25-bigram on drug_type_similarity_train (1127 queries evaluated, 163 docs)
//	            @1      @3      @5     @10
//	NDCG     71.43   80.10   …
func PrintTable(w io.Writer, r *Result) {
	fmt.Fprintf(w, "%s on %s (%d queries evaluated", r.Run, r.Dataset.Name, r.Dataset.Evaluated)
	if r.Dataset.Skipped > 0 {
		fmt.Fprintf(w, ", %d without a relevant document skipped", r.Dataset.Skipped)
	}
	fmt.Fprintf(w, ", %d docs)\n", r.Dataset.Docs)
	families, ks := TableFamilies, r.Ks
	chosen := func(string) bool { return true }
	if len(r.Columns) > 0 {
		families, ks = nil, nil
		for _, c := range r.Columns {
			f, k, ok := splitKey(c)
			if !ok {
				continue
			}
			if !slices.Contains(families, f) {
				families = append(families, f)
			}
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
		slices.SortFunc(families, func(a, b string) int { return familyRank(a) - familyRank(b) })
		slices.Sort(ks)
		chosen = func(key string) bool { return slices.Contains(r.Columns, key) }
	}
	fmt.Fprintf(w, "%-8s", "")
	for _, k := range ks {
		fmt.Fprintf(w, "%8s", fmt.Sprintf("@%d", k))
	}
	fmt.Fprintln(w)
	for _, f := range families {
		fmt.Fprintf(w, "%-8s", f)
		for _, k := range ks {
			key := metrics.Key(f, k)
			v, ok := r.Metrics[key]
			if !ok || !chosen(key) {
				fmt.Fprintf(w, "%8s", "–")
				continue
			}
			fmt.Fprintf(w, "%8.2f", 100*v)
		}
		fmt.Fprintln(w)
	}
	t := r.Timings
	fmt.Fprintf(w, "index %s, search %s (%.0f queries/s), metrics %s\n", fmtSeconds(t.Index), fmtSeconds(t.Search), t.QPS, fmtSeconds(t.Metrics))
}

func fmtSeconds(s float64) string {
	switch {
	case s >= 10:
		return fmt.Sprintf("%.1fs", s)
	case s >= 1:
		return fmt.Sprintf("%.2fs", s)
	case s >= 1e-3:
		return fmt.Sprintf("%.1fms", s*1e3)
	default:
		return fmt.Sprintf("%.0fµs", s*1e6)
	}
}

// ParseMetrics parses a metric list such as "ndcg@1,ndcg@3,f1@1,f1@3"
// (kormed eval --metrics): FAMILY@K, families case-insensitive (ndcg,
// map, recall, p or precision, mrr, acc or accuracy, f1, f1avg). It
// returns the keys ("NDCG@1", …) in report order (metrics.Families, then
// k) and the cut-offs they use, ascending.
func ParseMetrics(s string) (keys []string, ks []int, err error) {
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x == "" {
			continue
		}
		fam, kStr, ok := strings.Cut(x, "@")
		k, kerr := strconv.Atoi(kStr)
		if !ok || kerr != nil || k < 1 {
			return nil, nil, fmt.Errorf("--metrics: %q: want FAMILY@K, e.g. ndcg@10", x)
		}
		f := familyName(fam)
		if f == "" {
			return nil, nil, fmt.Errorf("--metrics: %q: unknown metric %q (want ndcg, map, recall, p, mrr, acc, f1 or f1avg)", x, fam)
		}
		key := metrics.Key(f, k)
		if slices.Contains(keys, key) {
			return nil, nil, fmt.Errorf("--metrics: %s given twice", key)
		}
		keys = append(keys, key)
		if !slices.Contains(ks, k) {
			ks = append(ks, k)
		}
	}
	if len(keys) == 0 {
		return nil, nil, fmt.Errorf("--metrics: no metric given")
	}
	sortKeys(keys)
	slices.Sort(ks)
	return keys, ks, nil
}

// ParseKs parses a comma-separated list of cut-offs (kormed eval --k):
// positive integers, each once; it returns them ascending.
func ParseKs(s string) ([]int, error) {
	var ks []int
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x == "" {
			continue
		}
		k, err := strconv.Atoi(x)
		if err != nil || k < 1 {
			return nil, fmt.Errorf("--k: %q is not a positive integer", x)
		}
		if slices.Contains(ks, k) {
			return nil, fmt.Errorf("--k: %d given twice", k)
		}
		ks = append(ks, k)
	}
	if len(ks) == 0 {
		return nil, errors.New("--k: no cut-off given")
	}
	slices.Sort(ks)
	return ks, nil
}

func familyName(s string) string {
	switch strings.ToLower(s) {
	case "precision":
		return metrics.NamePrecision
	case "accuracy":
		return metrics.NameAccuracy
	}
	for _, f := range metrics.Families {
		if strings.EqualFold(s, f) {
			return f
		}
	}
	return ""
}

// familyRank is f's place in metrics.Families (unknown ones last).
func familyRank(f string) int {
	if i := slices.Index(metrics.Families, f); i >= 0 {
		return i
	}
	return len(metrics.Families)
}

// splitKey parses a metric key "NDCG@10".
func splitKey(key string) (family string, k int, ok bool) {
	f, ks, ok := strings.Cut(key, "@")
	if !ok {
		return "", 0, false
	}
	k, err := strconv.Atoi(ks)
	return f, k, err == nil
}

// sortKeys orders metric keys by family (metrics.Families), then k.
func sortKeys(keys []string) {
	slices.SortStableFunc(keys, func(a, b string) int {
		fa, ka, _ := splitKey(a)
		fb, kb, _ := splitKey(b)
		if c := familyRank(fa) - familyRank(fb); c != 0 {
			return c
		}
		return ka - kb
	})
}
