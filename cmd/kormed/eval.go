package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/search"
)

// cmdEval is kormed eval.
var cmdEval = &base.Command{
	Name: "eval",
	UsageLine: `eval --retriever bm25[,dense][,hybrid] [--model M[,M2]] [--analyzer union|bigram|morph[,...]]
                   [--alpha auto|0.5[,0.3,...]] [--fusion rrf[,relative]] [--dev SPLIT|FILE.tsv [--dev-queries FILE]]
                   --data SOURCE[#SPLIT][,SOURCE[#SPLIT]...] [--split test] [--columns ROLE=COL,...]
                   --output DIR [--k 1,3,5,10] [--metrics ndcg@1,f1@1,...] [--name RUN] [--overwrite]`,
	Short: "evaluate retrievers (BM25, dense) on a dataset and update the leaderboard",
	Long: `Runs each retriever over each dataset, prints NDCG/Recall/F1/MRR at each k (×100),
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
it instead; with --dev FILE.tsv (a value ending in .tsv or holding a /), those of
a qrels file (BEIR's: a header "query-id corpus-id score", then a tab-separated
judgement a line), whose documents must be the evaluated corpus's and whose
queries' texts are in --dev-queries FILE or else in the BEIR folder's queries.jsonl. The chosen setting and what it measured are in the results JSON
("calibration") and the leaderboard.`,
	Required: []string{"data", "output"},
	Engine:   true,
	Int8:     true,
	Flags:    runEval,
}

func runEval(fs *flag.FlagSet) base.Func {
	retrievers := fs.String("retriever", "bm25", "comma-separated retrievers: bm25, dense, hybrid")
	alphas := fs.String("alpha", "", "comma-separated hybrid alphas (dense weight, 0 to 1; auto: calibrated; default auto, or "+fmt.Sprint(search.DefaultAlpha)+" with --fusion)")
	fusions := fs.String("fusion", "", "comma-separated hybrid fusions: rrf, relative (default: calibrated, or "+search.DefaultFusion+" with --alpha)")
	dev := fs.String("dev", "", "calibrate hybrid runs on the labelled queries of this qrels split of --data (e.g. dev, train), or of this qrels file (FILE.tsv), instead of pseudo-queries")
	devQueries := fs.String("dev-queries", "", "the queries (queries.jsonl) of a --dev qrels file (default: the --data BEIR folder's queries.jsonl)")
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
	return func(ctx context.Context, args []string) error {
		ks, err := eval.ParseKs(*ksFlag)
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
			if eval.IsQrelsFile(*dev) {
				calName = "dev-" + strings.TrimSuffix(filepath.Base(*dev), filepath.Ext(*dev))
			}
		}
		if *devQueries != "" && !eval.IsQrelsFile(*dev) {
			return errors.New("--dev-queries goes with a qrels file: --dev FILE.tsv")
		}
		// Each --data source with its split (a #SPLIT suffix, else --split).
		var sources []eval.Source
		items := base.SplitList(*data)
		if _, err := os.Stat(*data); err == nil {
			items = []string{*data} // a local path with a comma in its name
		}
		for _, it := range items {
			src, sp, err := hubdata.WithSplit(it, *split)
			if err != nil {
				return err
			}
			sources = append(sources, eval.Source{Path: src, Split: sp})
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
		suite := eval.Suite{
			Grid: eval.Grid{
				Retrievers: base.SplitList(*retrievers), Analyzers: base.SplitList(*analyzers), Models: base.SplitList(*models),
				Fusions: base.SplitList(*fusions), Alphas: base.SplitList(*alphas), K1: *k1, B: *b,
				Calibrate: cal, CalName: calName, Name: *name,
			},
			Config:    eval.Config{Ks: ks, Depth: *depth, IgnoreIdenticalIDs: *ignoreIDs, PerQuery: *perQuery, Columns: columns},
			Data:      eval.DataOptions{Columns: cols, Hub: hub.Options{Progress: os.Stderr, Log: os.Stderr}},
			Dev:       *dev,
			Output:    *output,
			Overwrite: *overwrite,
			Diagnose:  *diagnose,
			Version:   version,
			Encoder:   func(m string) (eval.Encoder, error) { return loadEvalModel(ctx, m, hubOpts()) },
			Stdout:    os.Stdout,
			Stderr:    os.Stderr,
		}
		suite.DevQueries = *devQueries
		if _, err := suite.Grid.Plans(); err != nil {
			return err
		}
		if *diagnose && *models == "" {
			return errors.New("--diagnose needs a dense run (--retriever dense --model M)")
		}
		if err := suite.Load(ctx, sources); err != nil {
			return err
		}
		return suite.Run(ctx)
	}
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
