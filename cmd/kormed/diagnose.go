package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/metrics"
)

const diagnoseLong = `Embeds the corpus and the queries that have a relevant document, then compares
the cosine of every relevant (query, gold document) pair with that of random
(query, non-relevant document) pairs, and measures the corpus's anisotropy
(mean pairwise cosine). Writes OUTPUT/collapse-<dataset>__<run>.{json,png} and
prints a WARNING when the gap is below --min-gap or the random-pair mean is
above --max-random-mean (with --strict these make the command fail).
`

// collapseRecord is what diagnose writes as JSON.
type collapseRecord struct {
	Model    string         `json:"model"`
	Dataset  string         `json:"dataset"`
	Path     string         `json:"path"`
	Options  any            `json:"options"`
	Collapse *eval.Collapse `json:"collapse"`
	Seconds  float64        `json:"embed_s"`
	Created  time.Time      `json:"created"`
}

// cmdDiagnose is kormed diagnose.
var cmdDiagnose = &base.Command{
	Name:      "diagnose",
	UsageLine: "diagnose --model M --data DIR|FILE --output DIR [--split test]",
	Short:     "check a model's embeddings for collapse (relevant vs random cosine)",
	Long:      diagnoseLong,
	Required:  []string{"model", "data", "output"},
	Engine:    true,
	Int8:      true,
	Flags:     runDiagnose,
}

func runDiagnose(fs *flag.FlagSet) base.Func {
	modelName := fs.String("model", "", "model folder or Hugging Face id")
	data := fs.String("data", "", "dataset: BEIR folder, .csv pairs or .jsonl triplets")
	split := fs.String("split", "test", "BEIR qrels split")
	output := fs.String("output", "", "output folder")
	name := fs.String("name", "", "run name in file names (default dense-<model>)")
	pairs := fs.Int("pairs", 10000, "random (query, non-relevant doc) pairs to sample")
	seed := fs.Uint64("seed", 1, "sampling seed")
	minGap := fs.Float64("min-gap", 0.05, "warn when mean(relevant) − mean(random) is below this")
	maxRandom := fs.Float64("max-random-mean", 0.85, "warn when the random-pair mean cosine is above this")
	strict := fs.Bool("strict", false, "exit with an error when a warning is raised")
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		d, note, err := eval.LoadDataset(*data, *split)
		if err != nil {
			return err
		}
		if note != "" {
			fmt.Fprintln(os.Stderr, note)
		}
		if err := os.MkdirAll(*output, 0o755); err != nil {
			return err
		}
		m, err := loadEvalModel(ctx, *modelName, hubOpts())
		if err != nil {
			return err
		}
		run := *name
		if run == "" {
			run = "dense-" + eval.ShortModelName(*modelName)
		}
		var queries []dataset.Query
		for _, q := range d.Queries {
			if metrics.NumRelevant(d.Qrels[q.ID]) > 0 {
				queries = append(queries, q)
			}
		}
		fmt.Fprintf(os.Stderr, "embedding %d docs and %d queries of %s with %s…\n", len(d.Corpus), len(queries), d.Name, *modelName)
		start := time.Now()
		dense := &eval.Dense{Enc: m}
		if err := dense.Index(ctx, d.Corpus); err != nil {
			return err
		}
		if _, err := dense.Search(ctx, queries, 1); err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		qv, dv := dense.Embeddings()
		opt := eval.CollapseOptions{RandomPairs: *pairs, Seed: *seed, MinGap: *minGap, MaxRandomMean: *maxRandom}
		c, err := eval.Diagnose(qv, dv, metrics.Qrels(d.Qrels), opt)
		if err != nil {
			return err
		}
		png := filepath.Join(*output, eval.CollapseFile(d.Name, run, ".png"))
		if err := eval.WriteCollapsePNG(png, c, "cosine: "+run+" on "+d.Name); err != nil {
			return err
		}
		rec := collapseRecord{Model: *modelName, Dataset: d.Name, Path: *data, Options: opt, Collapse: c, Seconds: secs, Created: time.Now().UTC().Truncate(time.Second)}
		jpath := filepath.Join(*output, eval.CollapseFile(d.Name, run, ".json"))
		if err := atomicfile.WriteJSON(jpath, rec); err != nil {
			return err
		}
		fmt.Printf("%s on %s\n%s", *modelName, d.Name, c.Summary())
		fmt.Printf("histogram: %s\nsummary:   %s\n", png, jpath)
		if *strict && len(c.Warnings) > 0 {
			return fmt.Errorf("%d collapse warning(s)", len(c.Warnings))
		}
		return nil
	}
}
