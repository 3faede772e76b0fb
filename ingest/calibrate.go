package ingest

import (
	"context"
	"fmt"
	"math"
	"strconv"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// Calibrate says how an index's hybrid fusion is calibrated (kormed
// index's calibration flags): on pseudo-queries made from Docs of its
// documents sampled with Seed (embedded.Index.Calibrate), or on the
// labelled queries of a BEIR folder Dev, split DevSplit, whose document
// ids are the index's; Alpha and Fusion ("" none), when set, override
// the chosen setting, what calibration measured and chose staying beside
// it.
type Calibrate struct {
	Kind          string // fusion.PseudoICT, PseudoTitle or PseudoSpan
	Docs          int
	Seed          uint64
	Dev, DevSplit string
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
	return nil
}

// Run measures ix's fusion settings with its encoder and applies the
// Alpha/Fusion overrides: the setting then is the override, and what
// calibration measured and chose stays beside it.
func (c Calibrate) Run(ctx context.Context, ix *embedded.Index, enc search.Encoder) (*fusion.Calibration, error) {
	var cal fusion.Calibration
	var err error
	if c.Dev != "" {
		d, _, err := eval.LoadDataset(c.Dev, c.DevSplit)
		if err != nil {
			return nil, fmt.Errorf("--dev: %w", err)
		}
		qs := eval.LabelledQueries(d)
		if len(qs) == 0 {
			return nil, fmt.Errorf("--dev %s: no query with a relevant document in split %s", c.Dev, c.DevSplit)
		}
		cal, err = ix.CalibrateLabelled(ctx, enc, qs, fusion.CalibrateOptions{})
		if err != nil {
			return nil, err
		}
		cal.Queries = c.Dev + ":" + c.DevSplit
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
