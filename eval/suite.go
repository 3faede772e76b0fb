package eval

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/metrics"
)

// Source is one dataset of a Suite: a BEIR folder, CSV pairs, JSONL
// triplets or hf:// reference, and its qrels split.
type Source struct{ Path, Split string }

// Suite is kormed eval: a Grid run on each of several datasets in turn,
// every result written into one output folder and its leaderboard.
type Suite struct {
	Grid Grid
	// Config is every run's configuration; DatasetPath and Split are set
	// for each dataset.
	Config Config
	Data   DataOptions
	// Dev, when set, is the qrels split of each dataset whose labelled
	// queries calibrate the hybrid runs instead of pseudo-queries, or a
	// qrels file (IsQrelsFile) naming the documents of every dataset,
	// whose queries' texts are in DevQueries (a queries.jsonl), or when
	// that is empty in the dataset's own queries.jsonl (a BEIR folder).
	Dev       string
	Output    string
	Overwrite bool // replace a run's results file written before (else an error)
	Diagnose  bool // diagnose each dense run's embedding collapse
	Version   string
	// Encoder loads a dense or hybrid run's model by name; each model is
	// loaded once and embeds each corpus.
	Encoder func(name string) (Encoder, error)
	// Stdout receives the tables and file names, Stderr the progress.
	Stdout, Stderr io.Writer

	DevQueries string // the queries of a Dev qrels file

	jobs []suiteJob
}

// suiteJob is one dataset to evaluate.
type suiteJob struct {
	d   *dataset.Dataset
	cfg Config
	cal Calibrate
}

// Load reads every source first, so that a bad source, a name met twice
// or a results file already there (without Overwrite) fails before any
// run.
func (s *Suite) Load(ctx context.Context, sources []Source) error {
	plans, err := s.Grid.Plans()
	if err != nil {
		return err
	}
	files := map[string]string{} // results file → the source writing it
	for _, src := range sources {
		d, note, err := LoadDatasetWith(ctx, src.Path, src.Split, s.Data)
		if err != nil {
			return err
		}
		if note != "" {
			fmt.Fprintf(s.Stderr, "%s: %s\n", d.Name, note)
		}
		j := suiteJob{d: d, cal: s.Grid.Calibrate, cfg: s.Config}
		j.cfg.DatasetPath = src.Path
		if st, err := os.Stat(src.Path); (err == nil && st.IsDir()) || hubdata.IsRef(src.Path) {
			j.cfg.Split = src.Split
		}
		if s.Dev != "" {
			dd, err := s.devSet(ctx, src, d)
			if err != nil {
				return fmt.Errorf("--dev: %w", err)
			}
			j.cal.Dev, j.cal.DevQrels = dd.Queries, dd.Qrels
		}
		// A run name and the dataset name the results file: an earlier
		// run's file (perhaps with per-query data this run would not keep)
		// is replaced only when asked.
		for _, p := range plans {
			path := filepath.Join(s.Output, ResultsDir, ResultFile(&Result{Run: p.Spec.Name, Dataset: DatasetInfo{Name: d.Name}}))
			if prev, ok := files[path]; ok {
				return fmt.Errorf("--data %s and %s are both named %q: their results would share %s (evaluate them into different --output folders)", prev, src.Path, d.Name, path)
			}
			files[path] = src.Path
			if _, err := os.Stat(path); err == nil {
				if !s.Overwrite {
					return fmt.Errorf("%s exists (run %q on %s evaluated before): pass --overwrite to replace it, or --name to keep both", path, p.Spec.Name, d.Name)
				}
				fmt.Fprintf(s.Stderr, "--overwrite: replacing %s\n", path)
			}
		}
		s.jobs = append(s.jobs, j)
	}
	return nil
}

// IsQrelsFile reports whether a --dev value names a qrels file rather
// than a split: it ends in .tsv or holds a path separator (a split name
// holds none).
func IsQrelsFile(dev string) bool {
	return strings.HasSuffix(strings.ToLower(dev), ".tsv") || strings.ContainsAny(dev, `/\`)
}

// devSet is the labelled queries of Dev for the dataset d read from src:
// its split Dev, or the qrels file Dev with the queries of DevQueries or
// of src's queries.jsonl, its documents checked against d's corpus.
func (s *Suite) devSet(ctx context.Context, src Source, d *dataset.Dataset) (*dataset.Dataset, error) {
	if !IsQrelsFile(s.Dev) {
		if s.DevQueries != "" {
			return nil, fmt.Errorf("--dev-queries goes with a qrels file (--dev FILE.tsv), not the split %s", s.Dev)
		}
		if s.Dev == src.Split {
			fmt.Fprintf(s.Stderr, "--dev %s is the evaluated split of %s: the calibrated run is the best setting in hindsight, not a fair score\n", s.Dev, d.Name)
		}
		dd, _, err := LoadDatasetWith(ctx, src.Path, s.Dev, s.Data)
		return dd, err
	}
	queries := s.DevQueries
	if queries == "" {
		if st, err := os.Stat(src.Path); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("%s is a qrels file, and --data %s is not a BEIR folder whose %s holds its queries' texts: pass --dev-queries FILE (%s, one {\"_id\",\"text\"} a line)", s.Dev, src.Path, dataset.QueriesFile, dataset.QueriesFile)
		}
		queries = filepath.Join(src.Path, dataset.QueriesFile)
	}
	ids := make(map[string]bool, len(d.Corpus))
	for _, doc := range d.Corpus {
		ids[doc.ID] = true
	}
	dd, err := dataset.ReadLabelled(s.Dev, queries, func(id string) bool { return ids[id] }, "the corpus of "+d.Name)
	if err != nil {
		return nil, err
	}
	evaluated := make(map[string]bool, len(d.Queries))
	for _, q := range d.Queries {
		evaluated[q.ID] = true
	}
	n := 0
	for _, q := range dd.Queries {
		if evaluated[q.ID] {
			n++
		}
	}
	if n > 0 {
		fmt.Fprintf(s.Stderr, "--dev %s: %d of its %d queries are evaluated queries of %s too: the calibrated run has seen their labels, its score is not a fair one\n", s.Dev, n, len(dd.Queries), d.Name)
	}
	return dd, nil
}

// Run evaluates every run of the grid on each loaded dataset, writes each
// result (and collapse diagnosis) and prints its table, and rebuilds the
// leaderboard after each dataset, so that a later dataset's failure
// leaves the earlier ones on it.
func (s *Suite) Run(ctx context.Context) error {
	if err := os.MkdirAll(s.Output, 0o755); err != nil {
		return err
	}
	encoders := map[string]Encoder{} // each model loaded once, embedding each corpus
	encoder := func(m string) (Encoder, error) {
		if enc, ok := encoders[m]; ok {
			return enc, nil
		}
		enc, err := s.Encoder(m)
		if err != nil {
			return nil, err
		}
		encoders[m] = enc
		return enc, nil
	}
	grid := s.Grid
	for i, j := range s.jobs {
		d, cfg := j.d, j.cfg
		grid.Calibrate = j.cal // what this dataset's calibrated runs read
		plans, err := grid.Plans()
		if err != nil {
			return err
		}
		for _, p := range plans {
			sp := p.Spec
			var dense *Dense
			switch {
			case p.Base != nil:
				if p.Base.Dense == nil {
					enc, err := encoder(p.Model)
					if err != nil {
						return err
					}
					p.Base.Dense = &Dense{Enc: enc}
				}
			case p.Model != "":
				enc, err := encoder(p.Model)
				if err != nil {
					return err
				}
				dense = &Dense{Enc: enc}
				sp.R = dense
			}
			fmt.Fprintf(s.Stderr, "running %s on %s (%d docs, %d queries)…\n", sp.Name, d.Name, len(d.Corpus), len(d.Queries))
			res, err := Run(ctx, d, sp, cfg)
			if err != nil {
				return err
			}
			res.Host.Version = s.Version
			if h, ok := sp.R.(*Hybrid); ok && h.Calibration != nil {
				res.Calibration = h.Calibration
				c := h.Calibration
				fmt.Fprintf(s.Stderr, "calibrated on %d %s: %s (BM25 %.2f, dense %.2f, best %s %.2f, chosen %.2f; %s) in %.1f s (encoder %.1f s)\n",
					c.N, calSource(c), c.Chosen.Name(), 100*c.BM25, 100*c.Dense, c.Best.Name(), 100*c.Best.Score, 100*c.Chosen.Score, c.Reason, c.TookMS/1000, c.EncodeMS/1000)
			}
			if dense != nil && s.Diagnose {
				qv, dv := dense.Embeddings()
				c, err := Diagnose(qv, dv, metrics.Qrels(d.Qrels), CollapseOptions{})
				if err != nil {
					return err
				}
				res.Collapse = c
				png := filepath.Join(s.Output, CollapseFile(d.Name, sp.Name, ".png"))
				if err := WriteCollapsePNG(png, c, "cosine: "+sp.Name+" on "+d.Name); err != nil {
					return err
				}
				fmt.Fprint(s.Stdout, c.Summary())
				fmt.Fprintf(s.Stdout, "histogram: %s\n", png)
			}
			path, err := WriteResult(s.Output, res)
			if err != nil {
				return err
			}
			fmt.Fprintln(s.Stdout)
			PrintTable(s.Stdout, res)
			fmt.Fprintf(s.Stdout, "results: %s\n", path)
		}
		if i < len(s.jobs)-1 { // a later dataset's failure leaves this one on the leaderboard
			if _, err := UpdateLeaderboard(s.Output); err != nil {
				return err
			}
		}
	}
	rs, err := UpdateLeaderboard(s.Output)
	if err != nil {
		return err
	}
	fmt.Fprintf(s.Stdout, "\nleaderboard (%d runs): %s, %s, %s\n", len(rs),
		filepath.Join(s.Output, LeaderboardMD), filepath.Join(s.Output, LeaderboardHTML), filepath.Join(s.Output, LeaderboardPNG))
	return nil
}

// CollapseFile names a collapse diagnosis file: collapse-<dataset>__<run><ext>.
func CollapseFile(dataset, run, ext string) string {
	base := strings.TrimSuffix(ResultFile(&Result{Run: run, Dataset: DatasetInfo{Name: dataset}}), ".json")
	return "collapse-" + base + ext
}

// calSource says what a calibration measured: "ict pseudo-queries".
func calSource(c *fusion.Calibration) string {
	if c.Queries != "" {
		return c.Queries + " " + c.Source
	}
	return c.Source
}
