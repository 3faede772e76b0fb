package eval

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/fusion"
)

// Grid is an experiment grid: the cross product of retrievers, analyzers,
// models, fusions and alphas that kormed eval's flags of those names give.
type Grid struct {
	Retrievers []string // bm25, dense, hybrid
	Analyzers  []string // one BM25 run each; hybrid runs fuse the first
	Models     []string // one dense run each; hybrid runs per model
	Fusions    []string // hybrid fusions: fusion.MethodRRF, fusion.MethodRelative
	// Alphas are the hybrid alphas (dense weight, 0 to 1); "auto" is one
	// calibrated run per model, whatever the fusions.
	Alphas []string
	K1, B  float64 // BM25's parameters
	// Calibrate is how calibrated runs choose their setting (copied into
	// each); CalName names them: hybrid-<CalName>-<analyzer>-<model>.
	Calibrate Calibrate
	CalName   string
	// Name, when set, renames the grid's run; a grid of several runs is
	// then an error.
	Name string
}

// Plan is one run of a grid.
type Plan struct {
	Spec Spec
	// Model is a dense or hybrid run's model (the flag's value): the
	// caller loads it and sets Spec.R (dense) or Base.Dense (hybrid).
	Model string
	// Base is a hybrid run's retrievers, shared by the model's hybrid
	// runs.
	Base *HybridBase
}

// Plans expands the grid into its runs, in flag order: each retriever,
// then each analyzer or model, fusion and alpha. A retriever holds its
// index and a calibrated run its Calibrate, so a caller evaluating
// several datasets expands the grid afresh for each.
func (g Grid) Plans() ([]Plan, error) {
	bases := map[string]*HybridBase{} // one per model, shared by its hybrid runs
	var plans []Plan
	for _, r := range g.Retrievers {
		switch r {
		case "bm25":
			for _, an := range g.Analyzers {
				plans = append(plans, Plan{Spec: Spec{
					Name: "bm25-" + an, Retriever: "bm25", Analyzer: an,
					R: &BM25{Options: bm25.Options{Analyzer: an, K1: g.K1, B: g.B}},
				}})
			}
		case "dense":
			ms := g.Models
			if len(ms) == 0 {
				return nil, errors.New("--retriever dense needs --model")
			}
			for _, m := range ms {
				plans = append(plans, Plan{Spec: Spec{Name: "dense-" + ShortModelName(m), Retriever: "dense", Model: m}, Model: m})
			}
		case "hybrid":
			ms := g.Models
			if len(ms) == 0 {
				return nil, errors.New("--retriever hybrid needs --model")
			}
			an := g.Analyzers[0]
			for _, m := range ms {
				if bases[m] == nil {
					bases[m] = &HybridBase{BM25: &BM25{Options: bm25.Options{Analyzer: an, K1: g.K1, B: g.B}}}
				}
				calibrated := false
				for _, fu := range g.Fusions {
					if fu != fusion.MethodRRF && fu != fusion.MethodRelative {
						return nil, fmt.Errorf("--fusion %q: want rrf or relative", fu)
					}
					for _, as := range g.Alphas {
						if as == "auto" {
							if !calibrated { // one calibrated run per model, whatever the fusions
								calibrated = true
								c := g.Calibrate
								plans = append(plans, Plan{Spec: Spec{
									Name:      fmt.Sprintf("hybrid-%s-%s-%s", g.CalName, an, ShortModelName(m)),
									Retriever: "hybrid", Model: m, Analyzer: an,
									R: &Hybrid{Base: bases[m], Calibrate: &c},
								}, Model: m, Base: bases[m]})
							}
							continue
						}
						a, err := strconv.ParseFloat(as, 64)
						if err != nil || a < 0 || a > 1 {
							return nil, fmt.Errorf("--alpha %q: want a number from 0 to 1", as)
						}
						plans = append(plans, Plan{Spec: Spec{
							Name:      fmt.Sprintf("hybrid-%s-a%s-%s-%s", fu, as, an, ShortModelName(m)),
							Retriever: "hybrid", Model: m, Analyzer: an,
							R: &Hybrid{Base: bases[m], Alpha: a, Fusion: fu},
						}, Model: m, Base: bases[m]})
					}
				}
			}
		default:
			return nil, fmt.Errorf("unknown retriever %q (want bm25, dense or hybrid)", r)
		}
	}
	if len(plans) == 0 {
		return nil, errors.New("no retriever given")
	}
	if g.Name != "" {
		if len(plans) != 1 {
			return nil, fmt.Errorf("--name names a single run; this invocation has %d", len(plans))
		}
		plans[0].Spec.Name = g.Name
	}
	return plans, nil
}

// ShortModelName is the last path element of a folder or hub id, for run
// names.
func ShortModelName(m string) string {
	m = strings.TrimRight(m, "/"+string(filepath.Separator))
	if i := strings.LastIndexAny(m, "/"+string(filepath.Separator)); i >= 0 {
		m = m[i+1:]
	}
	return m
}
