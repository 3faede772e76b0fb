package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25/benchdata"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/serve"
)

// Restart is kormed bench restart.
var Restart = &base.Command{
	Name:      "bench restart",
	UsageLine: "bench restart [--mb 100] [--batch 1000] [--analyzer union] [--compact-bytes N] [--compact-records N]",
	Short:     "time reopening a BM25 index after MB of API writes, with background compaction",
	Flags:     benchRestart,
}

// benchRestart writes --mb of documents through search.Service.Upsert, the
// path POST /v1/documents takes (batches of --batch synthetic Korean
// documents over the drug vocabulary, counted as the JSON request bodies),
// into a BM25-only index served with the compaction thresholds of kormed
// serve; then it closes the index and times what a restart does before it
// answers: embedded.Open, search.NewService and a first search. It does so
// twice: after the writes (the log as compaction left it), and with the
// log grown with compaction off to just under twice a threshold, the most
// a serving index's log holds (writes wait for a running compaction
// there), so the longest replay the thresholds allow. --skip-writes reuses
// the index an earlier run left in --out: its first restart is a cold one,
// the morphological dictionary loaded meanwhile as kormed serve loads it.
func benchRestart(fs *flag.FlagSet) base.Func {
	mb := fs.Float64("mb", 100, "megabytes of POST /v1/documents bodies to write")
	batch := fs.Int("batch", search.MaxDocs, "documents per request")
	an := fs.String("analyzer", "union", "BM25 analyzer")
	compactBytes := fs.Int64("compact-bytes", embedded.DefaultCompactBytes, "as kormed serve --compact-bytes")
	compactRecords := fs.Int("compact-records", embedded.DefaultCompactRecords, "as kormed serve --compact-records")
	out := fs.String("out", "", "scratch folder (default: a temporary one, removed)")
	skip := fs.Bool("skip-writes", false, "reuse the index a run with the same --out wrote: time the restarts only")
	return func(ctx context.Context, args []string) error {
		target := int64(*mb * (1 << 20))
		if fs.NArg() != 0 || *mb <= 0 || *batch < 1 || *batch > search.MaxDocs {
			return errors.New("usage: kormed bench restart [--mb 100] [--batch 1000] [--analyzer union] [--compact-bytes N] [--compact-records N]")
		}
		products, err := benchdata.ReadProducts(benchdata.DrugCSV())
		if err != nil {
			return err
		}
		vocab := benchdata.Vocabulary(products)
		if !*skip {
			t0, cpu0 := time.Now(), cpuSeconds()
			analysis.LoadMorph() // once per process, timed apart
			fmt.Fprintf(os.Stderr, "bench restart: the morphological dictionary (loaded once per start, whatever the log) took %.2f s wall, %.2f s CPU\n", time.Since(t0).Seconds(), cpuSeconds()-cpu0)
		}
		scratch := *out
		if scratch == "" {
			if scratch, err = os.MkdirTemp("", "kormed-bench-restart-"); err != nil {
				return err
			}
			defer os.RemoveAll(scratch)
		}
		dir := filepath.Join(scratch, "ix")
		if *skip {
			target = 0
		} else {
			os.RemoveAll(dir)
			empty, err := embedded.New(embedded.Options{Analyzer: *an})
			if err != nil {
				return err
			}
			if err := empty.Save(dir); err != nil {
				return err
			}
		}
		ix, err := embedded.Open(dir)
		if err != nil {
			return err
		}
		var swaps, failed atomic.Int64
		ix.OnSwap(func(_ string, err error) {
			if err != nil {
				failed.Add(1)
				fmt.Fprintln(os.Stderr, "bench restart:", err)
			} else {
				swaps.Add(1)
			}
		})
		ix.SetCompaction(*compactBytes, *compactRecords)
		svc, err := search.NewService(ctx, ix, nil, search.ModelInfo{})
		if err != nil {
			return err
		}
		// Synthetic documents are generated in chunks (their ids stay unique).
		var written int64
		docs, next := 0, 0
		var pool []search.Doc
		// nextBatch is the next --batch documents, not yet counted as written
		// (next += *batch does that).
		nextBatch := func() []search.Doc {
			if next+*batch > len(pool) {
				more := benchdata.Synthetic(vocab, docs+50000)[docs:]
				pool = pool[:0]
				for _, d := range more {
					pool = append(pool, search.Doc{ID: d.ID, Title: "합성 문서 " + d.ID, Text: d.Text})
				}
				docs += len(more)
				next = 0
			}
			return pool[next : next+*batch]
		}
		start := time.Now()
		lastReport := int64(0)
		for written < target {
			if err := ctx.Err(); err != nil {
				return err
			}
			b := nextBatch()
			next += *batch
			body, _ := json.Marshal(serve.UpsertRequest{Documents: b})
			if err := svc.Upsert(ctx, b); err != nil {
				return err
			}
			written += int64(len(body))
			if written-lastReport >= 10<<20 {
				lastReport = written
				lb, lr := ix.LogSize()
				fmt.Fprintf(os.Stderr, "bench restart: %.0f MB written in %.0f s, %d compactions, log %.1f MB / %d records\n",
					float64(written)/(1<<20), time.Since(start).Seconds(), swaps.Load(), float64(lb)/(1<<20), lr)
			}
		}
		writeSecs := time.Since(start).Seconds()
		if err := ix.Close(); err != nil { // waits for a running compaction
			return err
		}
		n := svc.Backend.(*embedded.Index).Len()
		reopen := func() (secs float64, logMB float64, logRecs int, err error) {
			t0, cpu0 := time.Now(), cpuSeconds()
			go analysis.LoadMorph() // as kormed serve does; a no-op once loaded
			ix, err := embedded.Open(dir)
			if err != nil {
				return 0, 0, 0, err
			}
			defer ix.Close()
			s, err := search.NewService(ctx, ix, nil, search.ModelInfo{})
			if err != nil {
				return 0, 0, 0, err
			}
			if _, err := s.Search(ctx, search.Request{Query: "두통 해열제"}); err != nil {
				return 0, 0, 0, err
			}
			secs = time.Since(t0).Seconds()
			fmt.Fprintf(os.Stderr, "bench restart: reopened in %.2f s wall, %.2f s CPU (the machine's other load shows as the difference)\n", secs, cpuSeconds()-cpu0)
			if ix.Len() < n {
				return 0, 0, 0, fmt.Errorf("reopened with %d documents, want %d", ix.Len(), n)
			}
			lb, lr := ix.LogSize()
			return secs, float64(lb) / (1 << 20), lr, nil
		}
		secs, logMB, logRecs, err := reopen()
		if err != nil {
			return err
		}
		var disk int64
		filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
			if err == nil && !fi.IsDir() {
				disk += fi.Size()
			}
			return nil
		})
		// The worst case: the log just under twice a threshold.
		worst, worstMB, worstRecs := 0.0, 0.0, 0
		if *compactBytes > 0 {
			ix, err := embedded.Open(dir)
			if err != nil {
				return err
			}
			s, _ := search.NewService(ctx, ix, nil, search.ModelInfo{})
			for {
				_, lr := ix.LogSize()
				b := nextBatch()
				text := ix.LogText()
				for _, d := range b {
					text += int64(len(d.Title) + 1 + len(d.Text))
				}
				if text >= 2**compactBytes || *compactRecords > 0 && lr+1 >= 2**compactRecords {
					break
				}
				next += *batch
				if err := s.Upsert(ctx, b); err != nil {
					return err
				}
			}
			ix.Close()
			if worst, worstMB, worstRecs, err = reopen(); err != nil {
				return err
			}
		}
		fmt.Printf("| API writes MB | docs | analyzer | write s | compactions | index on disk MB | restart s (log MB, records) | worst restart s (log MB, records) |\n|---:|---:|---|---:|---:|---:|---|---|\n")
		fmt.Printf("| %.0f | %d | %s | %.0f | %d | %.0f | %.2f (%.1f, %d) | %.2f (%.1f, %d) |\n",
			float64(written)/(1<<20), n, *an, writeSecs, swaps.Load(), float64(disk)/(1<<20), secs, logMB, logRecs, worst, worstMB, worstRecs)
		if failed.Load() > 0 {
			return fmt.Errorf("%d background compactions failed", failed.Load())
		}
		return nil
	}
}

// cpuSeconds is the CPU time (user and system) the process has used.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
