package ingest

import (
	"fmt"
	"io"
	"time"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// Report is what Build built.
type Report struct {
	Dir        string
	Docs       int // documents in the index
	New        int // documents this run staged
	Analyzer   string
	Model      *search.ModelInfo // nil: a BM25-only index
	Dense      string            // the dense index kind
	Took       time.Duration     // the whole build, staging to the written generation
	Generation string
	// Recall is HNSW's recall@10 against exact search over 200 of the
	// index's vectors, when HasRecall (an HNSW index).
	Recall      float64
	HasRecall   bool
	Calibration *fusion.Calibration // the stored hybrid fusion calibration, or nil
	Carried     int                 // API writes carried over from the previous generation's log
}

// Write writes kormed index's summary: the documents, model, time and
// rate, and generation on one line, then HNSW's recall when measured.
// The rate counts the documents this run staged over the whole build (a
// resumed build's earlier runs are not timed; none staged: no rate).
func (r Report) Write(w io.Writer) {
	fmt.Fprintf(w, "indexed %d documents (%d new) with %s", r.Docs, r.New, r.Analyzer)
	if r.Model != nil {
		fmt.Fprintf(w, " + %s (dim %d, %s)", r.Model.Name, r.Model.Dim, r.Dense)
	} else {
		fmt.Fprint(w, " (BM25 only: no --model)")
	}
	fmt.Fprintf(w, " in %s", r.Took.Round(time.Millisecond))
	if r.New > 0 {
		fmt.Fprintf(w, " (%.0f docs/s)", float64(r.New)/max(r.Took.Seconds(), 1e-9))
	}
	fmt.Fprintf(w, "; generation %s in %s\n", r.Generation, r.Dir)
	if r.HasRecall {
		fmt.Fprintf(w, "HNSW recall@10 against exact search: %.3f (200 of the index's vectors as queries)\n", r.Recall)
	}
}
