package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/drugbench"
)

// cmdSynonyms is kormed data synonyms.
var cmdSynonyms = &base.Command{
	Name:      "data synonyms",
	UsageLine: "data synonyms [--input DIR] --output FILE [--format sapbert|csv]",
	Short:     "build Korean/English ingredient synonym clusters (SapBERT-style) from the drug data",
	Long: `Builds one synonym cluster per ingredient code of DIR/` + drugbench.ProductsFile + `:
its Korean names (main_ingredient "[M040353]아세트아미노펜|…") and its English
name (main_ingredient_eng "Acetaminophen/…", listed alphabetically, so
multi-ingredient rows are aligned by elimination and intersection against
the pairs other rows establish). Codes left without an English name keep
their Korean names; an English name aligned to two codes stays with the
first. The output, sorted by code, is SapBERT-style synonym training data
and a dictionary for code-mixed augmentation (dataset.CodeMixer).

Data: derived from the public project ryukato/fine-tuned-e5-drugmodel
(MIT License, Copyright (c) 2025 Yoon Y. Yoo); source records from the
Korean MFDS (식품의약품안전처) open drug APIs.`,
	Required: []string{"output"},
	Flags:    runSynonyms,
}

func runSynonyms(fs *flag.FlagSet) base.Func {
	input := fs.String("input", "../shared/data/drugs", "folder with "+drugbench.ProductsFile)
	output := fs.String("output", "", "synonyms file to write")
	format := fs.String("format", "", "sapbert (\"CODE || term\" lines) or csv (code,term); default: csv for a .csv output, else sapbert")
	return func(ctx context.Context, args []string) error {
		isCSV := strings.EqualFold(filepath.Ext(*output), ".csv")
		switch *format {
		case "":
			*format = dataset.SynonymsSapBERT
			if isCSV {
				*format = dataset.SynonymsCSV
			}
		case dataset.SynonymsSapBERT:
			if isCSV {
				return fmt.Errorf("--format sapbert writes \"CODE || term\" lines, but %s ends in .csv (read back as CSV code,term): name it .txt or use --format csv", *output)
			}
		case dataset.SynonymsCSV:
		default:
			return fmt.Errorf("--format %q: want sapbert or csv", *format)
		}
		path := filepath.Join(*input, drugbench.ProductsFile)
		s, err := drugbench.BuildSynonyms(path)
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := dataset.WriteSynonyms(*output, *format, s.Codes, s.Terms); err != nil {
			return err
		}
		s.WriteSummary(os.Stderr)
		fmt.Fprintf(os.Stderr, "wrote %s (%s)\n", *output, *format)
		return nil
	}
}
