package ingest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// Calibrate says how an index's hybrid fusion is calibrated (kormed
// index's calibration flags): on pseudo-queries made from Docs of its
// documents sampled with Seed (embedded.Index.Calibrate), or on labelled
// queries whose document ids are the index's: those of a BEIR folder Dev,
// split DevSplit, or of a qrels file Dev (BEIR's TSV) whose queries' texts
// are in DevQueries (a queries.jsonl; by default the one beside Dev or in
// its parent folder, BEIR's layout). Alpha and Fusion ("" none), when
// set, override the chosen setting, what calibration measured and chose
// staying beside it.
type Calibrate struct {
	Kind          string // fusion.PseudoICT, PseudoTitle or PseudoSpan
	Docs          int
	Seed          uint64
	Dev, DevSplit string
	DevQueries    string
	Alpha, Fusion string
}

// Check rejects an alpha outside 0 to 1, an unknown fusion or
// pseudo-query kind and fewer than 2 documents.
func (c Calibrate) Check() error {
	if c.Alpha != "" {
		a, err := strconv.ParseFloat(c.Alpha, 64)
		if err != nil || math.IsNaN(a) || a < 0 || a > 1 {
			return fmt.Errorf("--alpha %q: want a number from 0 to 1", c.Alpha)
		}
	}
	if f := c.Fusion; f != "" && f != search.FusionRRF && f != search.FusionRelative {
		return fmt.Errorf("--fusion %q: want rrf or relative", f)
	}
	switch c.Kind {
	case fusion.PseudoICT, fusion.PseudoTitle, fusion.PseudoSpan:
	default:
		return fmt.Errorf("--calibrate-queries %q: want ict, title or span", c.Kind)
	}
	if c.Docs < 2 {
		return fmt.Errorf("--calibrate-docs %d: want at least 2", c.Docs)
	}
	if c.DevQueries != "" && c.Dev == "" {
		return errors.New("--dev-queries goes with --dev QRELS.tsv")
	}
	return nil
}

// Run measures ix's fusion settings with its encoder and applies the
// Alpha/Fusion overrides: the setting then is the override, and what
// calibration measured and chose stays beside it.
func (c Calibrate) Run(ctx context.Context, ix *embedded.Index, enc search.Encoder) (*fusion.Calibration, error) {
	var cal fusion.Calibration
	var err error
	if c.Dev != "" {
		d, from, err := c.dev(ctx, ix)
		if err != nil {
			return nil, fmt.Errorf("--dev: %w", err)
		}
		qs := eval.LabelledQueries(d)
		if len(qs) == 0 {
			return nil, fmt.Errorf("--dev %s: no query with a relevant document in %s", c.Dev, from)
		}
		cal, err = ix.CalibrateLabelled(ctx, enc, qs, fusion.CalibrateOptions{})
		if err != nil {
			return nil, err
		}
		cal.Queries = c.Dev + ":" + c.DevSplit
		if from == c.Dev {
			cal.Queries = c.Dev
		}
	} else if cal, err = ix.Calibrate(ctx, enc, embedded.CalibrateConfig{Kind: c.Kind, Docs: c.Docs, Seed: c.Seed}); err != nil {
		return nil, err
	}
	if c.Alpha != "" || c.Fusion != "" {
		if c.Alpha != "" {
			cal.Alpha, _ = strconv.ParseFloat(c.Alpha, 64)
		}
		if c.Fusion != "" && c.Fusion != cal.Fusion {
			cal.Fusion, cal.K = c.Fusion, 0
			if cal.Fusion == search.FusionRRF {
				cal.K = fusion.RRFK
			}
		}
		cal.Reason = fmt.Sprintf("set by --alpha/--fusion (calibration chose %s)", cal.Chosen.Name())
	}
	return &cal, nil
}

// dev reads the labelled queries of Dev (a BEIR folder or a qrels file)
// and says where they come from: "split S" of a folder, or the file Dev.
func (c Calibrate) dev(ctx context.Context, ix *embedded.Index) (*dataset.Dataset, string, error) {
	st, err := os.Stat(c.Dev)
	if err != nil {
		return nil, "", err
	}
	if st.IsDir() {
		if c.DevQueries != "" {
			return nil, "", fmt.Errorf("%s is a BEIR folder, its queries are its %s: --dev-queries goes with a qrels file", c.Dev, dataset.QueriesFile)
		}
		d, _, err := eval.LoadDataset(c.Dev, c.DevSplit)
		return d, "split " + c.DevSplit, err
	}
	queries := c.DevQueries
	if queries == "" {
		// BEIR's layout: DIR/queries.jsonl beside DIR/qrels/SPLIT.tsv.
		dir := filepath.Dir(c.Dev)
		for _, p := range []string{filepath.Join(dir, dataset.QueriesFile), filepath.Join(filepath.Dir(dir), dataset.QueriesFile)} {
			if _, err := os.Stat(p); err == nil {
				queries = p
				break
			}
		}
		if queries == "" {
			return nil, "", fmt.Errorf("%s is a qrels file and no %s is beside it or in its parent folder: pass --dev-queries FILE with its queries' texts (one {\"_id\",\"text\"} a line)", c.Dev, dataset.QueriesFile)
		}
	}
	has := func(id string) bool {
		_, ok, err := ix.Get(ctx, id)
		return err == nil && ok
	}
	d, err := dataset.ReadLabelled(c.Dev, queries, has, "the index")
	return d, c.Dev, err
}

// Recalibrate calibrates the existing index ix again as c says (or stores
// the Alpha/Fusion override) with enc, its model (mi, checked against the
// index's), and writes it as a new generation, which running servers
// reload.
func Recalibrate(ctx context.Context, ix *embedded.Index, enc search.Encoder, mi search.ModelInfo, c Calibrate) (*fusion.Calibration, error) {
	if _, err := search.NewService(ctx, ix, enc, mi); err != nil { // the same model as the index's
		return nil, err
	}
	// The union and morph analyzers' dictionary (≈1.5 s) loads here, not
	// inside calibration's timing (a build has it loaded already).
	analysis.LoadMorph()
	cal, err := c.Run(ctx, ix, enc)
	if err != nil {
		return nil, err
	}
	ix.SetCalibration(cal)
	if err := ix.Compact(); err != nil {
		return nil, err
	}
	return cal, nil
}
