package ingest

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/progress"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// Encoder embeds documents (a *model.Model is one).
type Encoder interface {
	EncodePassages(ctx context.Context, texts []string) ([][]float32, error)
}

// Options configure Build.
type Options struct {
	// Index is the index's analyzer, dense index and model (Model.Name
	// "" for a BM25-only index).
	Index embedded.Options
	// Fingerprint names the build's inputs (see Fingerprint): a staging
	// area with the same fingerprint is resumed.
	Fingerprint string
	// DUR, when not nil, is attached to the documents as they are staged.
	DUR []dur.Record
	// Batch is how many documents are embedded and staged at a time (the
	// unit of resumption).
	Batch int
	// Calibrate, when set, calibrates the built index's hybrid fusion
	// before its generation is written; its error leaves the index
	// uncalibrated (served with the package defaults) and is reported.
	Calibrate func(ctx context.Context, ix *embedded.Index) (*fusion.Calibration, error)
	// Log receives the progress bar and the build's messages.
	Log io.Writer
	// Quiet drops the progress bar and the stage messages.
	Quiet bool
}

// Build embeds src's documents with enc (nil: a BM25-only index), stages
// them in batches in dir and builds the index there as a new generation.
// A crashed or interrupted build resumes where it stopped when run again
// with the same fingerprint. It returns the new index, open (the caller
// closes it), and what was built; src's documents need non-empty ids,
// each once.
func Build(ctx context.Context, src *Source, dir string, enc Encoder, opts Options) (*embedded.Index, Report, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	b, err := embedded.NewBuilder(dir, opts.Index, opts.Fingerprint)
	if err != nil {
		return nil, Report{}, err
	}
	if opts.Calibrate != nil {
		b.BeforeWrite = func(ix *embedded.Index) error {
			if !opts.Quiet {
				fmt.Fprintln(log, "building: calibration")
			}
			cal, err := opts.Calibrate(ctx, ix)
			if err != nil {
				// The index is still good: served with the package defaults.
				fmt.Fprintf(log, "hybrid fusion: not calibrated (%v); the service uses the built-in default, %s %g\n", err, search.DefaultFusion, search.DefaultAlpha)
				return nil
			}
			ix.SetCalibration(cal)
			return nil
		}
	}
	if n := b.Resumed(); n > 0 {
		fmt.Fprintf(log, "resuming: %d documents already staged in %s\n", n, dir)
	}
	var bar *progress.Bar
	if !opts.Quiet {
		bar = progress.New(log, "index", int64(src.Count))
		bar.Add(int64(b.Len()))
	}
	start := time.Now()
	var pending []search.Doc
	flushed := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if opts.DUR != nil {
			AttachDUR(opts.DUR, pending)
		}
		var vecs [][]float32
		if enc != nil {
			texts := make([]string, len(pending))
			for i, d := range pending {
				texts[i] = fusion.DocText(d.Title, d.Text)
			}
			v, err := enc.EncodePassages(ctx, texts)
			if err != nil {
				return err
			}
			vecs = v
			for i := range vecs {
				vecs[i] = search.Normalized(vecs[i])
			}
		}
		if err := b.Add(pending, vecs); err != nil {
			return err
		}
		flushed += len(pending)
		if bar != nil {
			bar.Add(int64(len(pending)))
		}
		pending = pending[:0]
		return nil
	}
	seen := map[string]string{}
	err = src.Each(func(where string, d search.Doc) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if d.ID == "" {
			return fmt.Errorf("%s: empty document id", where)
		}
		if prev, dup := seen[d.ID]; dup {
			return fmt.Errorf("%s: document id %q repeated (first at %s)", where, d.ID, prev)
		}
		seen[d.ID] = where
		if b.Has(d.ID) {
			return nil
		}
		pending = append(pending, d)
		if len(pending) >= opts.Batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(log, "\ninterrupted: %d documents staged; run the same command again to resume\n", b.Len())
		}
		return nil, Report{}, err
	}
	if bar != nil {
		bar.Finish()
	}
	ix, carried, err := b.Finish(func(stage string) {
		if !opts.Quiet {
			fmt.Fprintf(log, "building: %s\n", stage)
		}
	})
	if err != nil {
		return nil, Report{}, err
	}
	// The rate is over the whole build (staging, embedding, building and
	// writing the generation) and counts the documents this run staged: a
	// resumed build's earlier runs are not timed (none staged: no rate).
	took := time.Since(start)
	info, _ := ix.Info(ctx)
	r := Report{
		Dir: dir, Docs: info.Docs, New: flushed, Analyzer: info.Analyzer, Dense: ix.Options().Dense,
		Took: took, Generation: ix.Generation(), Calibration: ix.Calibration(), Carried: carried,
	}
	if enc != nil {
		mi := opts.Index.Model
		r.Model = &mi
	}
	r.Recall, r.HasRecall = ix.ANNRecall(200, 10)
	return ix, r, nil
}
