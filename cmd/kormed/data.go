package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/drugbench"
)

// cmdDrugBench is kormed data drug-bench.
var cmdDrugBench = &base.Command{
	Name:      "data drug-bench",
	UsageLine: "data drug-bench --input DIR --output DIR [--seed 42] [--train-output DIR]",
	Short:     "build the Korean drug retrieval benchmark (BEIR) and fine-tuning pairs",
	Required:  []string{"output"},
	Flags:     runDrugBench,
}

func runDrugBench(fs *flag.FlagSet) base.Func {
	input := fs.String("input", "../shared/data/drugs", "folder with "+drugbench.ProductsFile+" and "+drugbench.TypesFile)
	output := fs.String("output", "", "folder for the BEIR dataset (corpus.jsonl, queries.jsonl, qrels/)")
	trainOut := fs.String("train-output", "", "folder for fine-tuning pairs.csv and triplets.jsonl from the train templates (optional)")
	seed := fs.Uint64("seed", 42, "random seed (same seed, same files)")
	perKind := fs.Int("test-per-kind", drugbench.DefaultTestPerKind, "test queries sampled per query kind (type queries are all kept)")
	holdout := fs.Bool("holdout-entities", false, "also keep test subjects (product families, ingredients, types) out of the train split")
	maxRel := fs.Int("max-relevant", drugbench.DefaultMaxRelevant, "skip ingredients found in more products than this")
	return func(ctx context.Context, args []string) error {
		src, err := drugbench.Load(*input)
		if err != nil {
			return err
		}
		b, err := drugbench.Build(src, drugbench.Options{Seed: *seed, TestPerKind: *perKind, MaxRelevant: *maxRel, HoldOutEntities: *holdout})
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := b.Write(*output); err != nil {
			return err
		}
		b.Summary(os.Stderr)
		fmt.Fprintf(os.Stderr, "wrote %s (splits:", *output)
		for _, s := range drugbench.Splits() {
			fmt.Fprintf(os.Stderr, " %s", s)
		}
		fmt.Fprintln(os.Stderr, ")")
		if *trainOut != "" {
			ts, err := b.WriteTrain(*trainOut)
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "wrote %s: %d triplets, %d pairs\n", *trainOut, len(ts), 2*len(ts))
		}
		return nil
	}
}
