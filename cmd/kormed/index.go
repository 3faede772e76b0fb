package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/drugbench"
	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/ingest"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/weaviate"
)

// cmdIndex is kormed index.
var cmdIndex = &base.Command{
	Name: "index",
	UsageLine: "index --corpus PATH --out DIR [--model M] [--dur FILE] [--alpha A --fusion F]\n" +
		"       kormed index --out DIR [--add FILE.jsonl] [--delete ID,ID] [--compact] [--calibrate] [--model M] [--dur FILE]",
	Short: "build a search index (BM25 + dense vectors + metadata + DUR flags) for 'kormed serve'",
	Long: `Embeds the corpus and builds the dense and BM25 indexes side by side. A crashed
or interrupted run resumes where it stopped when run again with the same input.
With --add/--delete it updates an existing index in place (through its write-ahead
log, as the API does; a running server sees the change within its reload interval).

An index with a model calibrates its hybrid fusion on its own documents (no labels):
300 sampled documents each give a sentence as a pseudo-query, which BM25, dense and
every fusion setting (relative or RRF, alpha 0 to 1) try to find its document with;
the best setting, moved towards the stronger of BM25 and dense unless it is clearly
better, is stored in the index with what was measured and is kormed serve's
default. --calibrate re-runs it on an existing index; --alpha/--fusion set the
default instead (a request's alpha and fusion still override it). --dev tunes it
on labelled queries instead: a BEIR folder (split --dev-split) or a qrels file
(BEIR's TSV; the queries' texts from --dev-queries, or the queries.jsonl beside
it or in its parent folder), whose document ids must be the index's. With
--backend weaviate the calibration is stored with the Weaviate class too (also by
--calibrate on an existing index), and 'kormed serve --backend weaviate' follows it.`,
	Engine: true,
	Int8:   true,
	Flags:  runIndex,
}

func runIndex(fs *flag.FlagSet) base.Func {
	add := fs.String("add", "", "add or replace the documents of this JSONL file (BEIR lines with metadata) in the existing index --out, without rebuilding it")
	del := fs.String("delete", "", "comma-separated document ids to delete from the existing index --out")
	compact := fs.Bool("compact", false, "rewrite the existing index --out without deleted documents and with an empty log (after --add/--delete if given)")
	corpus := fs.String("corpus", "", "documents: a BEIR folder or corpus.jsonl ({\"_id\",\"title\",\"text\",\"metadata\":{…}}), a Hub dataset hf://OWNER/NAME[:CONFIG][@REV] (its corpus config in the MTEB layout), or the MFDS drug table (a folder holding "+drugbench.ProductsFile+", or the CSV itself)")
	out := fs.String("out", "", "index folder to write (an existing index gets a new generation, swapped in atomically)")
	modelArg := fs.String("model", "", "embedding model (folder or Hugging Face id); none: a BM25-only index")
	durFile := fs.String("dur", "", "DUR records in the MFDS DUR open API format (JSON or CSV) to attach to products")
	an := fs.String("analyzer", analysis.Default, "BM25 analyzer: "+strings.Join(analysis.Names(), ", "))
	dense := fs.String("dense", embedded.DenseAuto, "dense index: auto (exact below --ann-threshold documents, HNSW above), exact, int8, bf16 or hnsw")
	columnsFlag := fs.String("columns", "", "hf:// corpus: map roles to columns, e.g. id=doc_id,document=contents (roles id, title, document)")
	annThreshold := fs.Int("ann-threshold", embedded.DefaultANNThreshold, "corpus size from which --dense auto builds HNSW")
	batch := fs.Int("batch", 256, "documents embedded and staged per batch (the unit of resumption)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	backend := fs.String("backend", "embedded", "embedded (the index folder is the index) or weaviate (the folder is built too, then every document and vector is pushed to a Weaviate class)")
	wURL := fs.String("weaviate-url", "http://127.0.0.1:18080", "Weaviate URL (--backend weaviate)"+base.URLsHelp)
	wClass := fs.String("class", "KormedDocs", "Weaviate class (collection) name (--backend weaviate)")
	wKey := fs.String("weaviate-api-key", os.Getenv("WEAVIATE_API_KEY"), "Weaviate API key (default $WEAVIATE_API_KEY; none: anonymous)")
	wFlags := base.WeaviateFlags(fs, true)
	again := fs.Bool("calibrate", false, "re-run the hybrid fusion's calibration on the existing index --out (with --corpus: calibrate even if the index is up to date)")
	var cal ingest.Calibrate
	fs.StringVar(&cal.Alpha, "alpha", "", "store this hybrid alpha (dense weight, 0 to 1) as the index's default instead of the calibrated one")
	fs.StringVar(&cal.Fusion, "fusion", "", "store this hybrid fusion (rrf or relative) as the index's default instead of the calibrated one")
	fs.StringVar(&cal.Kind, "calibrate-queries", fusion.PseudoICT, "calibration's pseudo-queries: ict (a sentence taken out of its document), title or span")
	fs.IntVar(&cal.Docs, "calibrate-docs", fusion.DefaultCalibrationDocs, "documents sampled for calibration")
	fs.Uint64Var(&cal.Seed, "calibrate-seed", 1, "seed of calibration's sample")
	fs.StringVar(&cal.Dev, "dev", "", "calibrate on labelled queries instead of pseudo-queries: a BEIR folder (queries.jsonl, qrels/SPLIT.tsv) or a qrels file (query-id, corpus-id, score; with --dev-queries) whose document ids are the index's")
	fs.StringVar(&cal.DevSplit, "dev-split", "dev", "the qrels split of a --dev folder")
	fs.StringVar(&cal.DevQueries, "dev-queries", "", "the queries (queries.jsonl: {\"_id\",\"text\"} a line) of a --dev qrels file (default: the queries.jsonl beside it or in its parent folder)")
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		if err := cal.Check(); err != nil {
			return err
		}
		// The calibration flags ask to change an existing index's fusion.
		recal := *again || cal.Alpha != "" || cal.Fusion != "" || cal.Dev != ""
		if *backend != "embedded" && *backend != "weaviate" {
			return fmt.Errorf("--backend %q: want embedded or weaviate", *backend)
		}
		wOpts, err := wFlags.Options(*backend == "weaviate", "--backend weaviate", *wURL)
		if err != nil {
			return err
		}
		wOpts.APIKey = *wKey
		if (*add != "" || *del != "" || *compact || recal) && *out != "" && *corpus == "" {
			if *add != "" || *del != "" || *compact {
				if err := indexUpdate(ctx, *out, *add, *del, *modelArg, *durFile, *compact, hubOpts()); err != nil {
					return err
				}
			}
			if recal {
				if err := recalibrateIndex(ctx, *out, *modelArg, cal, hubOpts()); err != nil {
					return err
				}
				if *backend == "weaviate" {
					return pushCalibration(ctx, *out, *wURL, *wClass, wOpts)
				}
			}
			return nil
		}
		if *out == "" {
			return errors.New("--out is required")
		}
		if *corpus == "" {
			return errors.New("--corpus is required (or --add, --delete or --calibrate on an existing index)")
		}
		cols, err := dataset.ParseColumns(*columnsFlag)
		if err != nil {
			return err
		}
		src, err := ingest.Open(*corpus, cols, os.Stderr)
		if err != nil {
			return err
		}
		var durRecs []dur.Record
		if *durFile != "" {
			recs, err := dur.ReadFile(*durFile)
			if err != nil {
				return err
			}
			durRecs = recs
			fmt.Fprintf(os.Stderr, "read %d DUR records from %s\n", len(recs), *durFile)
		}
		opts := embedded.Options{Analyzer: *an, Dense: *dense, ANNThreshold: *annThreshold}
		var m *model.Model
		if *modelArg != "" {
			dir, err := hub.Resolve(ctx, *modelArg, hubOpts())
			if err != nil {
				return err
			}
			if model.IsPair(dir) {
				return fmt.Errorf("%s is a bi-encoder (DPR pair); kormed index takes a single encoder for now", *modelArg)
			}
			if m, err = model.Load(dir); err != nil {
				return err
			}
			m.SetName(base.ModelName(*modelArg))
			opts.Model = base.ModelInfo(m)
		}
		if m == nil && recal {
			return errors.New("--alpha/--fusion/--calibrate need --model: a BM25-only index has nothing to fuse")
		}
		modelDir := ""
		if m != nil {
			modelDir = m.Dir()
		}
		fp := ingest.Fingerprint(src, *durFile, modelDir)
		if embedded.UpToDate(*out, opts, fp) {
			fmt.Fprintf(os.Stderr, "%s is up to date with %s\n", *out, *corpus)
			if recal {
				if err := recalibrateIndex(ctx, *out, *modelArg, cal, hubOpts()); err != nil {
					return err
				}
			}
			if *durFile != "" || *backend == "weaviate" {
				ix, err := embedded.Open(*out)
				if err != nil {
					return err
				}
				defer ix.Close()
				if *durFile != "" {
					fmt.Fprintln(os.Stderr, ingest.CountDUR(ix))
				}
				if *backend == "weaviate" {
					return ingest.PushWeaviate(ctx, ix, *wURL, *wClass, wOpts, *quiet, os.Stderr)
				}
			}
			return nil
		}
		bo := ingest.Options{Index: opts, Fingerprint: fp, DUR: durRecs, Batch: *batch, Log: os.Stderr, Quiet: *quiet}
		var enc ingest.Encoder
		if m != nil {
			enc = m
			bo.Calibrate = func(ctx context.Context, ix *embedded.Index) (*fusion.Calibration, error) {
				return cal.Run(ctx, ix, m)
			}
		}
		ix, rep, err := ingest.Build(ctx, src, *out, enc, bo)
		if err != nil {
			return err
		}
		defer ix.Close()
		rep.Write(os.Stderr)
		if rep.Calibration != nil {
			rep.Calibration.WriteSummary(os.Stderr)
		}
		if *durFile != "" {
			fmt.Fprintln(os.Stderr, ingest.CountDUR(ix))
		}
		if rep.Carried > 0 {
			fmt.Fprintf(os.Stderr, "carried over %d API writes logged in the previous generation\n", rep.Carried)
		}
		serveCmd := "kormed serve --index " + *out
		if *backend == "weaviate" { // kormed serve refuses --index with --backend weaviate
			serveCmd = fmt.Sprintf("kormed serve --backend weaviate --weaviate-url %s --class %s", *wURL, *wClass)
			if wOpts.Consistency != weaviate.ConsistencyQuorum {
				serveCmd += " --consistency " + wOpts.Consistency
			}
		}
		if m != nil {
			serveCmd += " --model " + *modelArg
		}
		if *backend == "weaviate" {
			if err := ingest.PushWeaviate(ctx, ix, *wURL, *wClass, wOpts, *quiet, os.Stderr); err != nil {
				return err
			}
		}
		fmt.Fprintf(os.Stderr, "serve it: %s\n", serveCmd)
		return nil
	}
}

// indexUpdate adds documents to and deletes documents from an existing
// index through search.Service, as POST/DELETE /v1/documents do.
func indexUpdate(ctx context.Context, dir, add, del, modelArg, durFile string, compact bool, hubOpts hub.Options) error {
	ix, err := embedded.Open(dir)
	if err != nil {
		return err
	}
	defer ix.Close()
	info, err := ix.Info(ctx)
	if err != nil {
		return err
	}
	var enc search.Encoder
	var mi search.ModelInfo
	if info.Model.Name != "" && add != "" {
		m, err := loadIndexModel(ctx, info, modelArg, hubOpts, "adding documents needs")
		if err != nil {
			return err
		}
		enc, mi = m, base.ModelInfo(m)
	}
	svc, err := search.NewService(ctx, ix, enc, mi)
	if err != nil {
		return err
	}
	if add != "" {
		var recs []dur.Record
		if durFile != "" {
			if recs, err = dur.ReadFile(durFile); err != nil {
				return err
			}
		}
		n, err := ingest.Add(ctx, svc, add, recs)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "added or replaced %d documents from %s\n", n, add)
	}
	if del != "" {
		ids := base.SplitList(del)
		n, err := ix.Delete(ctx, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "deleted %d of %d ids\n", n, len(ids))
	}
	if compact {
		if err := ix.Compact(); err != nil {
			return err
		}
	}
	after, _ := ix.Info(ctx)
	fmt.Fprintf(os.Stderr, "%s now holds %d documents (generation %s)\n", dir, after.Docs, after.Generated)
	return nil
}

// recalibrateIndex calibrates the index in dir again as c says (or stores
// the --alpha/--fusion override) with its model and writes it as a new
// generation, which running servers reload.
func recalibrateIndex(ctx context.Context, dir, modelArg string, c ingest.Calibrate, hubOpts hub.Options) error {
	ix, err := embedded.Open(dir)
	if err != nil {
		return err
	}
	defer ix.Close()
	info, err := ix.Info(ctx)
	if err != nil {
		return err
	}
	if info.Model.Name == "" {
		return errors.New("--calibrate/--alpha/--fusion: the index is BM25 only (no model), there is nothing to fuse")
	}
	m, err := loadIndexModel(ctx, info, modelArg, hubOpts, "calibration needs")
	if err != nil {
		return err
	}
	cal, err := ingest.Recalibrate(ctx, ix, m, base.ModelInfo(m), c)
	if err != nil {
		return err
	}
	cal.WriteSummary(os.Stderr)
	fmt.Fprintf(os.Stderr, "stored in %s (generation %s)\n", dir, ix.Generation())
	return nil
}

// pushCalibration stores the calibration of the index in dir with the
// Weaviate class it was pushed to.
func pushCalibration(ctx context.Context, dir, url, class string, opts weaviate.Options) error {
	ix, err := embedded.Open(dir)
	if err != nil {
		return err
	}
	defer ix.Close()
	return ingest.PushCalibration(ctx, ix, url, class, opts, os.Stderr)
}

// loadIndexModel loads the model an existing index embeds with: modelArg
// when given (a folder or hub id of the same model), else the name the
// index recorded; why says what needs it, for the error.
func loadIndexModel(ctx context.Context, info search.Info, modelArg string, hubOpts hub.Options, why string) (*model.Model, error) {
	name := modelArg
	if name == "" {
		name = info.Model.Name
	}
	mdir, err := hub.Resolve(ctx, name, hubOpts)
	if err != nil {
		return nil, fmt.Errorf("the index embeds with %s, which %s: %w", name, why, err)
	}
	m, err := model.Load(mdir)
	if err != nil {
		return nil, err
	}
	m.SetName(name)
	return m, nil
}
