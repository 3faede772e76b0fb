package ingest

import (
	"context"
	"fmt"
	"io"
	"reflect"
	"time"

	"github.com/kormed/kormed/progress"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/weaviate"
)

// PushWeaviate copies every document and vector of ix into the Weaviate
// class at url, one node's URL or a cluster's several (created with the
// index's model, analyzer and BM25 parameters if missing, so that
// Weaviate's BM25 ranks as the index's, laid out and written as opts
// says: its APIKey, Shards, Replicas and Consistency; a class built with
// another model or analyzer is refused),
// deletes from the class the documents ix no longer holds and stores ix's
// hybrid calibration with the class (weaviate.Backend.SetCalibration),
// which kormed serve --backend weaviate then follows. Upserts are
// idempotent (object ids derive from document ids), so an interrupted push
// is finished by running it again. log receives a progress bar (unless
// quiet) and what was pushed and deleted.
func PushWeaviate(ctx context.Context, ix *embedded.Index, url, class string, opts weaviate.Options, quiet bool, log io.Writer) error {
	info, err := ix.Info(ctx)
	if err != nil {
		return err
	}
	mi := info.Model
	o := ix.Options()
	opts.Model, opts.Create, opts.Generated = &mi, true, ix.Generation()
	opts.Analyzer, opts.K1, opts.B = info.Analyzer, o.K1, o.B
	wb, err := weaviate.Open(ctx, url, class, opts)
	if err != nil {
		return err
	}
	defer wb.Close()
	var bar *progress.Bar
	if !quiet {
		bar = progress.New(log, "weaviate", int64(info.Docs))
	}
	const batch = 200
	var docs []search.Doc
	var vecs [][]float32
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		if err := wb.Upsert(ctx, docs, vecs); err != nil {
			return err
		}
		if bar != nil {
			bar.Add(int64(len(docs)))
		}
		docs, vecs = docs[:0], nil
		return nil
	}
	start := time.Now()
	err = ix.Docs(func(d search.Doc, v []float32) error {
		docs = append(docs, d)
		if v != nil {
			vecs = append(vecs, v)
		}
		if len(docs) == batch {
			return flush()
		}
		return ctx.Err()
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return err
	}
	if bar != nil {
		bar.Finish()
	}
	// The class mirrors the index: documents the index no longer holds
	// (removed from the corpus, deleted) are deleted from the class.
	have, err := wb.IDs(ctx)
	if err != nil {
		return err
	}
	var stale []string
	for _, id := range have {
		if _, ok, _ := ix.Get(ctx, id); !ok {
			stale = append(stale, id)
		}
	}
	if len(stale) > 0 {
		n, err := wb.Delete(ctx, stale)
		if err != nil {
			return err
		}
		fmt.Fprintf(log, "deleted %d documents from %s that the index no longer holds\n", n, class)
	}
	if err := pushCalibration(ctx, ix, wb); err != nil {
		return err
	}
	winfo, err := wb.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "pushed %d documents to Weaviate class %s at %s in %s (the class holds %d; %d shards, %d replicas, consistency %s)\n",
		info.Docs, class, url, time.Since(start).Round(time.Millisecond), winfo.Docs, wb.Shards(), wb.Replicas(), wb.Consistency())
	return nil
}

// PushCalibration stores ix's hybrid calibration (none: clears it) with
// the Weaviate class at url that ix was pushed to (PushWeaviate), without
// pushing documents: kormed index --calibrate on a Weaviate-backed index.
// opts gives the API key and consistency level; log receives what was
// stored.
func PushCalibration(ctx context.Context, ix *embedded.Index, url, class string, opts weaviate.Options, log io.Writer) error {
	info, err := ix.Info(ctx)
	if err != nil {
		return err
	}
	mi := info.Model
	opts.Model, opts.Create = &mi, false
	wb, err := weaviate.Open(ctx, url, class, opts)
	if err != nil {
		return err
	}
	defer wb.Close()
	if err := pushCalibration(ctx, ix, wb); err != nil {
		return err
	}
	what := "no calibration"
	if c := ix.Calibration(); c != nil {
		what = "the calibration (" + c.Setting().Name() + ")"
	}
	fmt.Fprintf(log, "stored %s in Weaviate class %s at %s\n", what, class, url)
	return nil
}

// pushCalibration stores ix's calibration with the class wb unless the
// class holds it already.
func pushCalibration(ctx context.Context, ix *embedded.Index, wb *weaviate.Backend) error {
	c := ix.Calibration()
	if reflect.DeepEqual(c, wb.Calibration()) {
		return nil
	}
	return wb.SetCalibration(ctx, c)
}
