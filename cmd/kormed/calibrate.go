package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strconv"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// calFlags are kormed index's calibration flags.
type calFlags struct {
	again  *bool
	alpha  *string
	fusion *string
	kind   *string
	docs   *int
	seed   *uint64
	dev    *string
	split  *string
}

func calibrateFlags(fs *flag.FlagSet) *calFlags {
	return &calFlags{
		again:  fs.Bool("calibrate", false, "re-run the hybrid fusion's calibration on the existing index --out (with --corpus: calibrate even if the index is up to date)"),
		alpha:  fs.String("alpha", "", "store this hybrid alpha (dense weight, 0 to 1) as the index's default instead of the calibrated one"),
		fusion: fs.String("fusion", "", "store this hybrid fusion (rrf or relative) as the index's default instead of the calibrated one"),
		kind:   fs.String("calibrate-queries", fusion.PseudoICT, "calibration's pseudo-queries: ict (a sentence taken out of its document), title or span"),
		docs:   fs.Int("calibrate-docs", fusion.DefaultCalibrationDocs, "documents sampled for calibration"),
		seed:   fs.Uint64("calibrate-seed", 1, "seed of calibration's sample"),
		dev:    fs.String("dev", "", "calibrate on labelled queries instead of pseudo-queries: a BEIR folder (queries.jsonl, qrels/SPLIT.tsv) whose document ids are the index's"),
		split:  fs.String("dev-split", "dev", "the qrels split of --dev"),
	}
}

func (c *calFlags) set() bool { return *c.again || *c.alpha != "" || *c.fusion != "" || *c.dev != "" }

// recalibrate: the flags ask to change an existing index's fusion.
func (c *calFlags) recalibrate() bool { return c.set() }

func (c *calFlags) check() error {
	if *c.alpha != "" {
		a, err := strconv.ParseFloat(*c.alpha, 64)
		if err != nil || math.IsNaN(a) || a < 0 || a > 1 {
			return fmt.Errorf("--alpha %q: want a number from 0 to 1", *c.alpha)
		}
	}
	if f := *c.fusion; f != "" && f != search.FusionRRF && f != search.FusionRelative {
		return fmt.Errorf("--fusion %q: want rrf or relative", f)
	}
	switch *c.kind {
	case fusion.PseudoICT, fusion.PseudoTitle, fusion.PseudoSpan:
	default:
		return fmt.Errorf("--calibrate-queries %q: want ict, title or span", *c.kind)
	}
	if *c.docs < 2 {
		return fmt.Errorf("--calibrate-docs %d: want at least 2", *c.docs)
	}
	return nil
}

// calibrate measures ix's fusion settings with its encoder and applies
// the --alpha/--fusion overrides: the setting then is the override, and
// what calibration measured and chose stays beside it.
func (c *calFlags) calibrate(ctx context.Context, ix *embedded.Index, enc search.Encoder) (*fusion.Calibration, error) {
	var cal fusion.Calibration
	var err error
	if *c.dev != "" {
		d, _, err := eval.LoadDataset(*c.dev, *c.split)
		if err != nil {
			return nil, fmt.Errorf("--dev: %w", err)
		}
		qs := eval.LabelledQueries(d)
		if len(qs) == 0 {
			return nil, fmt.Errorf("--dev %s: no query with a relevant document in split %s", *c.dev, *c.split)
		}
		cal, err = ix.CalibrateLabelled(ctx, enc, qs, fusion.CalibrateOptions{})
		if err != nil {
			return nil, err
		}
		cal.Queries = *c.dev + ":" + *c.split
	} else if cal, err = ix.Calibrate(ctx, enc, embedded.CalibrateConfig{Kind: *c.kind, Docs: *c.docs, Seed: *c.seed}); err != nil {
		return nil, err
	}
	if *c.alpha != "" || *c.fusion != "" {
		if *c.alpha != "" {
			cal.Alpha, _ = strconv.ParseFloat(*c.alpha, 64)
		}
		if *c.fusion != "" && *c.fusion != cal.Fusion {
			cal.Fusion, cal.K = *c.fusion, 0
			if cal.Fusion == search.FusionRRF {
				cal.K = fusion.RRFK
			}
		}
		cal.Reason = fmt.Sprintf("set by --alpha/--fusion (calibration chose %s)", cal.Chosen.Name())
	}
	return &cal, nil
}

// recalibrateIndex calibrates the index in dir again (or stores the
// --alpha/--fusion override) and writes it as a new generation, which
// running servers reload.
func recalibrateIndex(ctx context.Context, dir, modelArg string, c *calFlags, hubOpts hub.Options) error {
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
	if _, err := search.NewService(ctx, ix, m, modelInfo(m)); err != nil { // the same model as the index's
		return err
	}
	// The union and morph analyzers' dictionary (≈1.5 s) loads here, not
	// inside calibration's timing (a build has it loaded already).
	analysis.LoadMorph()
	cal, err := c.calibrate(ctx, ix, m)
	if err != nil {
		return err
	}
	ix.SetCalibration(cal)
	if err := ix.Compact(); err != nil {
		return err
	}
	printFusionCalibration(cal)
	fmt.Fprintf(os.Stderr, "stored in %s (generation %s)\n", dir, ix.Generation())
	return nil
}

// printFusionCalibration shows what calibration measured and chose.
func printFusionCalibration(c *fusion.Calibration) {
	w := os.Stderr
	src := c.Source
	if c.Source == "pseudo-queries" {
		src = fmt.Sprintf("%s %s (seed %d)", c.Queries, c.Source, c.Seed)
	} else if c.Queries != "" {
		src += " from " + c.Queries
	}
	fmt.Fprintf(w, "hybrid fusion: %s — %s\n", settingName(c), c.Reason)
	fmt.Fprintf(w, "  calibrated on %d %s in %.1f s (encoder %.1f s); NDCG@10 / recall@10 ×100 of their relevant documents:\n",
		c.N, src, c.TookMS/1000, c.EncodeMS/1000)
	fmt.Fprintf(w, "  %-16s %6s %6s\n", "setting", "ndcg", "r@10")
	for _, x := range c.Candidates {
		mark := ""
		switch {
		case x == c.Chosen && x == c.Best:
			mark = "  ← chosen (best)"
		case x == c.Chosen:
			mark = "  ← chosen"
		case x == c.Best:
			mark = "  ← best"
		}
		name := x.Name()
		if x.Fusion == search.FusionRelative && x.Alpha == 0 {
			name = "BM25 alone"
		} else if x.Fusion == search.FusionRelative && x.Alpha == 1 {
			name = "dense alone"
		}
		fmt.Fprintf(w, "  %-16s %6.2f %6.2f%s\n", name, 100*x.Score, 100*x.Recall10, mark)
	}
}

// settingName is the setting in effect: "relative 0.2".
func settingName(c *fusion.Calibration) string {
	return fusion.Candidate{Fusion: c.Fusion, Alpha: c.Alpha, K: c.K}.Name()
}
