package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/metrics"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/search"
)

const evalUsage = `usage: kormed eval --retriever bm25[,dense][,hybrid] [--model M[,M2]] [--analyzer union|bigram|morph[,...]]
                   [--alpha auto|0.5[,0.3,...]] [--fusion rrf[,relative]] [--dev SPLIT]
                   --data SOURCE[#SPLIT][,SOURCE[#SPLIT]...] [--split test] [--columns ROLE=COL,...]
                   --output DIR [--k 1,3,5,10] [--metrics ndcg@1,f1@1,...] [--name RUN] [--overwrite]

Runs each retriever over each dataset, prints NDCG/Recall/F1/MRR at each k (×100),
writes OUTPUT/results/<dataset>__<run>.json (all metrics incl. P@k, MAP@k, Acc@k,
run metadata and timings; a run name already there is an error unless
--overwrite replaces it) and rebuilds OUTPUT/leaderboard.{md,html,png} from
every result in OUTPUT/results.

--data is a comma-separated list of datasets, evaluated in turn into the same
--output (every dataset is read first, so that a bad source fails before any
run; each model is loaded once and embeds each corpus). A SOURCE is a BEIR
folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv), a CSV pairs file
(query,context,label), a JSONL triplets file (query, document, hard_negative),
or a retrieval set on the Hugging Face Hub, hf://OWNER/NAME[:CONFIG][@REVISION],
in the MTEB / BEIR layout: configs corpus and queries and the qrels of the
split in the default config (or corpus.jsonl, queries.jsonl, qrels/<split>.tsv
files); --columns maps other column names (for every source). A #SPLIT suffix
chooses a source's split (hf://taeminlee/Ko-StrategyQA#dev, data/beir#dev);
without one, --split. One BM25 run per analyzer, one dense run per model, one
hybrid run per model, alpha and fusion (BM25 with the first analyzer fused with
the dense model exactly as 'kormed serve' fuses: alpha is the dense weight).

--metrics FAMILY@K,... (families ndcg, map, recall, p, mrr, acc, f1, f1avg;
case-insensitive) chooses the columns of the printed table and of the run's
rows on the leaderboard (recorded in the results JSON as "columns"; a dataset's
leaderboard table shows the union of its runs' columns, after the default ones
when some run chose none). Its cut-offs are the k list unless --k is given
too (then the union). Every family is still computed at every k and kept in
the results JSON. E.g. the KoE5 leaderboard:

  kormed eval --retriever dense --model nlpai-lab/KoE5 --output koe5-lb \
    --data hf://taeminlee/Ko-StrategyQA#dev,hf://yjoonjang/markers_bm#test \
    --metrics ndcg@1,ndcg@3,f1@1,f1@3

A hybrid run without --alpha (or with alpha "auto") is calibrated as 'kormed
index' calibrates an index: pseudo-queries made from --calibrate-docs sampled
documents of the evaluated corpus (no labels) choose the fusion and alpha; with
--dev SPLIT the labelled queries of that qrels split of each --data source choose
it instead. The chosen setting and what it measured are in the results JSON
("calibration") and the leaderboard.
`

func runEval(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("eval", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprint(fs.Output(), evalUsage+"\nflags:\n"); fs.PrintDefaults() }
	retrievers := fs.String("retriever", "bm25", "comma-separated retrievers: bm25, dense, hybrid")
	alphas := fs.String("alpha", "", "comma-separated hybrid alphas (dense weight, 0 to 1; auto: calibrated; default auto, or "+fmt.Sprint(search.DefaultAlpha)+" with --fusion)")
	fusions := fs.String("fusion", "", "comma-separated hybrid fusions: rrf, relative (default: calibrated, or "+search.DefaultFusion+" with --alpha)")
	dev := fs.String("dev", "", "calibrate hybrid runs on the labelled queries of this qrels split of --data (e.g. dev, train) instead of pseudo-queries")
	calQueries := fs.String("calibrate-queries", fusion.PseudoICT, "pseudo-queries for calibration: ict (a sentence taken out of its document), title, span")
	calDocs := fs.Int("calibrate-docs", fusion.DefaultCalibrationDocs, "documents sampled for calibration's pseudo-queries")
	calSeed := fs.Uint64("calibrate-seed", 1, "seed of calibration's sample")
	models := fs.String("model", "", "comma-separated models for dense runs: folder or Hugging Face id")
	analyzers := fs.String("analyzer", analysis.Default, "comma-separated BM25 analyzers: "+strings.Join(analysis.Names(), ", "))
	k1 := fs.Float64("k1", bm25.DefaultK1, "BM25 k1")
	b := fs.Float64("b", bm25.DefaultB, "BM25 b")
	data := fs.String("data", "", "comma-separated datasets, each evaluated in turn: BEIR folder, .csv pairs, .jsonl triplets or hf://OWNER/NAME[:CONFIG][@REVISION]; SOURCE#SPLIT picks its split")
	split := fs.String("split", "test", "qrels split of a BEIR folder or hf:// set without a #SPLIT suffix")
	columnsFlag := fs.String("columns", "", "hf:// data: map roles to columns, e.g. document=contents,query=question (roles id, title, document, query)")
	output := fs.String("output", "", "output folder for results and the leaderboard")
	ksFlag := fs.String("k", "1,3,5,10", "comma-separated cut-offs")
	metricsFlag := fs.String("metrics", "", "comma-separated FAMILY@K columns to print and show on the leaderboard, e.g. ndcg@1,ndcg@3,f1@1,f1@3 (families ndcg, map, recall, p, mrr, acc, f1, f1avg); their cut-offs are the --k list unless --k is given too")
	depth := fs.Int("depth", 0, "hits retrieved per query (default: the largest k)")
	name := fs.String("name", "", "run name on the leaderboard (only with a single run)")
	perQuery := fs.Bool("per-query", false, "keep each query's ranking and metrics in the results JSON")
	overwrite := fs.Bool("overwrite", false, "replace the results file of a run name evaluated before on this dataset (else that is an error)")
	ignoreIDs := fs.Bool("ignore-identical-ids", false, "drop a hit whose id equals the query id (BEIR's ignore_identical_ids)")
	diagnose := fs.Bool("diagnose", false, "for dense runs, also diagnose embedding collapse (histogram PNG, summary in the JSON)")
	hubOpts := base.HubFlags(fs)
	applyEngine := base.EngineFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := applyEngine(); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *data == "" || *output == "" {
		fs.Usage()
		return errors.New("--data and --output are required")
	}
	ks, err := parseKs(*ksFlag)
	if err != nil {
		return err
	}
	var columns []string
	if *metricsFlag != "" {
		var mks []int
		columns, mks, err = eval.ParseMetrics(*metricsFlag)
		if err != nil {
			return err
		}
		kSet := false
		fs.Visit(func(f *flag.Flag) { kSet = kSet || f.Name == "k" })
		if !kSet {
			ks = nil
		}
		for _, k := range mks {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
		slices.Sort(ks)
	}
	cols, err := dataset.ParseColumns(*columnsFlag)
	if err != nil {
		return err
	}
	cal := eval.Calibrate{Kind: *calQueries, N: *calDocs, Seed: *calSeed}
	switch cal.Kind {
	case fusion.PseudoICT, fusion.PseudoTitle, fusion.PseudoSpan:
	default:
		return fmt.Errorf("--calibrate-queries %q: want ict, title or span", cal.Kind)
	}
	calName := "calibrated"
	if *dev != "" {
		calName = "dev-" + *dev
	}
	// Each --data source with its split (a #SPLIT suffix, else --split).
	type source struct{ arg, split string }
	var sources []source
	items := splitList(*data)
	if _, err := os.Stat(*data); err == nil {
		items = []string{*data} // a local path with a comma in its name
	}
	for _, it := range items {
		src, sp, err := hubdata.WithSplit(it, *split)
		if err != nil {
			return err
		}
		sources = append(sources, source{src, sp})
	}
	if len(sources) == 0 {
		return errors.New("--data: no dataset given")
	}
	if *alphas == "" {
		*alphas = "auto"
		if *fusions != "" {
			*alphas = fmt.Sprint(search.DefaultAlpha)
		}
	}
	if *fusions == "" {
		*fusions = search.DefaultFusion
	}
	// The runs: expanded once first, so that a bad flag fails before any
	// work, then afresh for each dataset (a retriever holds its index; a
	// calibrated run, that dataset's cal).
	grid := eval.Grid{
		Retrievers: splitList(*retrievers), Analyzers: splitList(*analyzers), Models: splitList(*models),
		Fusions: splitList(*fusions), Alphas: splitList(*alphas), K1: *k1, B: *b,
		Calibrate: cal, CalName: calName, Name: *name,
	}
	plans, err := grid.Plans()
	if err != nil {
		return err
	}
	if *diagnose && *models == "" {
		return errors.New("--diagnose needs a dense run (--retriever dense --model M)")
	}

	// Read every dataset first, so that a bad source, a name met twice or
	// a results file already there fails before any run.
	type job struct {
		d   *dataset.Dataset
		cfg eval.Config
		cal eval.Calibrate
	}
	dataOpts := eval.DataOptions{Columns: cols, Hub: hub.Options{Progress: os.Stderr, Log: os.Stderr}}
	var jobs []job
	files := map[string]string{} // results file → the source writing it
	for _, src := range sources {
		d, note, err := eval.LoadDatasetWith(ctx, src.arg, src.split, dataOpts)
		if err != nil {
			return err
		}
		if note != "" {
			fmt.Fprintf(os.Stderr, "%s: %s\n", d.Name, note)
		}
		j := job{d: d, cal: cal, cfg: eval.Config{Ks: ks, Depth: *depth, IgnoreIdenticalIDs: *ignoreIDs, PerQuery: *perQuery, DatasetPath: src.arg, Columns: columns}}
		if st, err := os.Stat(src.arg); (err == nil && st.IsDir()) || hubdata.IsRef(src.arg) {
			j.cfg.Split = src.split
		}
		if *dev != "" {
			if *dev == src.split {
				fmt.Fprintf(os.Stderr, "--dev %s is the evaluated split of %s: the calibrated run is the best setting in hindsight, not a fair score\n", *dev, d.Name)
			}
			dd, _, err := eval.LoadDatasetWith(ctx, src.arg, *dev, dataOpts)
			if err != nil {
				return fmt.Errorf("--dev: %w", err)
			}
			j.cal.Dev, j.cal.DevQrels = dd.Queries, dd.Qrels
		}
		// A run name and the dataset name the results file: an earlier
		// run's file (perhaps with per-query data this run would not keep)
		// is replaced only when asked.
		for _, p := range plans {
			path := filepath.Join(*output, eval.ResultsDir, eval.ResultFile(&eval.Result{Run: p.Spec.Name, Dataset: eval.DatasetInfo{Name: d.Name}}))
			if prev, ok := files[path]; ok {
				return fmt.Errorf("--data %s and %s are both named %q: their results would share %s (evaluate them into different --output folders)", prev, src.arg, d.Name, path)
			}
			files[path] = src.arg
			if _, err := os.Stat(path); err == nil {
				if !*overwrite {
					return fmt.Errorf("%s exists (run %q on %s evaluated before): pass --overwrite to replace it, or --name to keep both", path, p.Spec.Name, d.Name)
				}
				fmt.Fprintf(os.Stderr, "--overwrite: replacing %s\n", path)
			}
		}
		jobs = append(jobs, j)
	}
	if err := os.MkdirAll(*output, 0o755); err != nil {
		return err
	}

	encoders := map[string]eval.Encoder{} // each model loaded once, embedding each corpus
	encoder := func(m string) (eval.Encoder, error) {
		if enc, ok := encoders[m]; ok {
			return enc, nil
		}
		enc, err := loadEvalModel(ctx, m, hubOpts())
		if err != nil {
			return nil, err
		}
		encoders[m] = enc
		return enc, nil
	}
	for i, j := range jobs {
		d, cfg := j.d, j.cfg
		grid.Calibrate = j.cal // what this dataset's calibrated runs read
		if plans, err = grid.Plans(); err != nil {
			return err
		}
		for _, p := range plans {
			s := p.Spec
			var dense *eval.Dense
			switch {
			case p.Base != nil:
				if p.Base.Dense == nil {
					enc, err := encoder(p.Model)
					if err != nil {
						return err
					}
					p.Base.Dense = &eval.Dense{Enc: enc}
				}
			case p.Model != "":
				enc, err := encoder(p.Model)
				if err != nil {
					return err
				}
				dense = &eval.Dense{Enc: enc}
				s.R = dense
			}
			fmt.Fprintf(os.Stderr, "running %s on %s (%d docs, %d queries)…\n", s.Name, d.Name, len(d.Corpus), len(d.Queries))
			res, err := eval.Run(ctx, d, s, cfg)
			if err != nil {
				return err
			}
			res.Host.Version = version
			if h, ok := s.R.(*eval.Hybrid); ok && h.Calibration != nil {
				res.Calibration = h.Calibration
				c := h.Calibration
				fmt.Fprintf(os.Stderr, "calibrated on %d %s: %s (BM25 %.2f, dense %.2f, best %s %.2f, chosen %.2f; %s) in %.1f s (encoder %.1f s)\n",
					c.N, calSource(c), c.Chosen.Name(), 100*c.BM25, 100*c.Dense, c.Best.Name(), 100*c.Best.Score, 100*c.Chosen.Score, c.Reason, c.TookMS/1000, c.EncodeMS/1000)
			}
			if dense != nil && *diagnose {
				qv, dv := dense.Embeddings()
				c, err := eval.Diagnose(qv, dv, metrics.Qrels(d.Qrels), eval.CollapseOptions{})
				if err != nil {
					return err
				}
				res.Collapse = c
				png := filepath.Join(*output, collapseFile(d.Name, s.Name, ".png"))
				if err := eval.WriteCollapsePNG(png, c, "cosine: "+s.Name+" on "+d.Name); err != nil {
					return err
				}
				fmt.Print(c.Summary())
				fmt.Printf("histogram: %s\n", png)
			}
			path, err := eval.WriteResult(*output, res)
			if err != nil {
				return err
			}
			fmt.Println()
			eval.PrintTable(os.Stdout, res)
			fmt.Printf("results: %s\n", path)
		}
		if i < len(jobs)-1 { // a later dataset's failure leaves this one on the leaderboard
			if _, err := eval.UpdateLeaderboard(*output); err != nil {
				return err
			}
		}
	}
	rs, err := eval.UpdateLeaderboard(*output)
	if err != nil {
		return err
	}
	fmt.Printf("\nleaderboard (%d runs): %s, %s, %s\n", len(rs),
		filepath.Join(*output, eval.LeaderboardMD), filepath.Join(*output, eval.LeaderboardHTML), filepath.Join(*output, eval.LeaderboardPNG))
	return nil
}

// loadEvalModel resolves a folder or hub id and loads the encoder: a
// bi-encoder (DPR pair) folder embeds queries with its question encoder
// and documents with its context encoder.
func loadEvalModel(ctx context.Context, name string, opts hub.Options) (eval.Encoder, error) {
	dir, err := hub.Resolve(ctx, name, opts)
	if err != nil {
		return nil, err
	}
	if model.IsPair(dir) {
		return model.LoadPair(dir)
	}
	m, err := model.Load(dir)
	if err != nil {
		return nil, err
	}
	m.SetName(name)
	return m, nil
}

// shortModelName is the last path element of a folder or hub id.
func shortModelName(m string) string { return eval.ShortModelName(m) }

// collapseFile names a collapse diagnosis file: collapse-<dataset>__<run><ext>.
func collapseFile(dataset, run, ext string) string {
	base := strings.TrimSuffix(eval.ResultFile(&eval.Result{Run: run, Dataset: eval.DatasetInfo{Name: dataset}}), ".json")
	return "collapse-" + base + ext
}

func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

func parseKs(s string) ([]int, error) {
	var ks []int
	for _, x := range splitList(s) {
		k, err := strconv.Atoi(x)
		if err != nil || k < 1 {
			return nil, fmt.Errorf("--k: %q is not a positive integer", x)
		}
		for _, y := range ks {
			if y == k {
				return nil, fmt.Errorf("--k: %d given twice", k)
			}
		}
		ks = append(ks, k)
	}
	if len(ks) == 0 {
		return nil, errors.New("--k: no cut-off given")
	}
	slices.Sort(ks)
	return ks, nil
}

// calSource says what a calibration measured: "ict pseudo-queries".
func calSource(c *fusion.Calibration) string {
	if c.Queries != "" {
		return c.Queries + " " + c.Source
	}
	return c.Source
}
