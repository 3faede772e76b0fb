package embedded

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sync"
	"time"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/vector"
)

// Background compaction: an index opened from a folder (Open) whose
// write-ahead log passes a size or record threshold (SetCompaction) writes
// a new generation from a snapshot of its documents while searches and
// writes go on, then swaps it in. Writes that arrive meanwhile are logged
// in the old generation after the snapshot's offset and carried over into
// the new generation's log (carryLog), so none is lost. Replaying the log
// at Open is what makes a restart slow (every text is analysed again); the
// thresholds bound it.

// Default compaction thresholds, chosen so that replaying a log of that
// size at Open takes a few seconds on two cores with the union analyzer
// (see BENCHMARKS.md, "Restart").
const (
	DefaultCompactBytes   = 2 << 20
	DefaultCompactRecords = 10000
)

// compactRetry is how long a failed background compaction waits before
// the next write may try again.
const compactRetry = time.Minute

// Swap triggers passed to the OnSwap hook.
const (
	SwapWrite      = "write"      // a write found a generation a re-index made and swapped to it first
	SwapCompaction = "compaction" // this index compacted itself (Compact or in the background)
)

// SetCompaction makes the index compact itself in the background when its
// write-ahead log holds maxBytes bytes of document text (what a replay
// analyses; vectors, which it only copies, do not count, so that an index
// with a model, whose every compaction may rebuild its HNSW graph, does not
// compact ten times as often) or maxRecords records (a value
// <= 0 disables that limit). It is checked now, so an index opened with a
// long log compacts at once, and after every write.
func (ix *Index) SetCompaction(maxBytes int64, maxRecords int) {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.compactBytes, ix.compactRecords = maxBytes, maxRecords
	if ix.compactDone == nil {
		ix.compactDone = sync.NewCond(&ix.wmu)
	}
	ix.maybeCompactLocked()
}

// OnSwap sets fn to be called after every generation swap that Reload does
// not report to its caller: a write that swapped to a generation a
// re-index made (trigger SwapWrite), and a compaction (SwapCompaction).
// A background compaction that fails calls fn with its error (nothing was
// swapped). fn runs in the writing or compacting goroutine without the
// index's locks.
func (ix *Index) OnSwap(fn func(trigger string, err error)) {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	ix.onSwap = fn
}

// notifySwap calls the OnSwap hook (the caller holds no lock of ix).
func (ix *Index) notifySwap(trigger string, err error) {
	ix.wmu.Lock()
	fn := ix.onSwap
	ix.wmu.Unlock()
	if fn != nil {
		fn(trigger, err)
	}
}

// LogSize reports the bytes and records of the write-ahead log of the
// loaded generation (0, 0 for an in-memory index).
func (ix *Index) LogSize() (bytes int64, records int) {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.log == nil {
		return 0, 0
	}
	return ix.log.off, ix.log.recs
}

// LogText reports the bytes of document text in the write-ahead log of the
// loaded generation: what the byte threshold of SetCompaction counts.
func (ix *Index) LogText() int64 {
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if ix.log == nil {
		return 0
	}
	return ix.log.text
}

// maybeCompactLocked starts a background compaction when the log is over a
// threshold and none is running (the caller holds wmu).
func (ix *Index) maybeCompactLocked() {
	if ix.log == nil || ix.closed || ix.compacting || time.Now().Before(ix.compactAfter) {
		return
	}
	if !ix.logOverLocked(1) {
		return
	}
	ix.compacting = true
	ix.bg.Add(1)
	go func() {
		defer ix.bg.Done()
		err := ix.Compact()
		ix.wmu.Lock()
		ix.compacting = false
		ix.compactDone.Broadcast()
		if err != nil {
			ix.compactAfter = time.Now().Add(compactRetry)
		}
		closed := ix.closed
		ix.wmu.Unlock()
		if err != nil && !closed {
			ix.notifySwap(SwapCompaction, fmt.Errorf("background compaction of %s: %w", ix.dir, err))
		}
	}()
}

// logOverLocked reports whether the log holds times a threshold or more
// (the caller holds wmu).
func (ix *Index) logOverLocked(times int64) bool {
	return ix.log != nil && (ix.compactBytes > 0 && ix.log.text >= times*ix.compactBytes ||
		ix.compactRecords > 0 && int64(ix.log.recs) >= times*int64(ix.compactRecords))
}

// waitCompactionLocked makes a write wait while a background compaction
// runs and the log has grown to twice a threshold meanwhile, so that the
// log, and the replay at the next start, stays bounded however fast the
// writes come (the caller holds wmu, which the wait releases).
func (ix *Index) waitCompactionLocked() {
	for ix.compacting && !ix.closed && ix.logOverLocked(2) {
		ix.compactDone.Wait()
	}
}

// snapshot is what a generation is written from: the live documents at one
// point of the log.
type snapshot struct {
	gen   string
	off   int64 // log bytes applied when it was taken
	docs  []search.Doc
	bm    *bm25.Index
	flat  *vector.Flat // live rows, nil without a model
	hnsw  []byte       // the graph as saved
	graph *vector.HNSW // the graph, when write rebuilt it
	build bool         // HNSW to be rebuilt over flat
	hp    vector.HNSWParams
}

// snapshotLocked takes the snapshot (the caller holds wmu, so no write
// changes the state meanwhile; searches go on). It copies what writes
// modify in place (the vectors, the HNSW graph) and keeps references to
// what they replace (documents, the BM25 index).
func (ix *Index) snapshotLocked() (*snapshot, error) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	st := ix.st
	sn := &snapshot{gen: ix.gen, hp: ix.opts.HNSW}
	if ix.log != nil {
		sn.off = ix.log.off
	}
	var live []int
	for n := range st.docs {
		if !st.dead.has(n) {
			live = append(live, n)
			sn.docs = append(sn.docs, st.docs[n])
		}
	}
	sn.bm = st.bm
	if st.ndead > 0 {
		// Dropping the dead documents' postings analyses nothing again.
		bm, err := st.bm.Keep(live)
		if err != nil {
			return nil, err
		}
		sn.bm = bm
	}
	if st.flat == nil {
		return sn, nil
	}
	sn.flat = vector.NewFlat(st.flat.Dim())
	for _, n := range live {
		if _, err := sn.flat.Add(st.flat.Row(n)); err != nil {
			return nil, err
		}
	}
	if st.hnsw != nil {
		if st.ndead > 0 {
			sn.build = true
		} else {
			var buf bytes.Buffer
			if _, err := st.hnsw.WriteTo(&buf); err != nil {
				return nil, err
			}
			sn.hnsw = buf.Bytes()
		}
	}
	return sn, nil
}

// write writes the snapshot's generation files into gdir (no lock of the
// index is needed).
func (sn *snapshot) write(gdir string) (hnsw bool, err error) {
	err = atomicfile.WriteFile(filepath.Join(gdir, docsFile), func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		enc := json.NewEncoder(bw)
		enc.SetEscapeHTML(false)
		for i := range sn.docs {
			if err := enc.Encode(sn.docs[i]); err != nil {
				return err
			}
		}
		return bw.Flush()
	})
	if err != nil {
		return false, err
	}
	if err := sn.bm.Save(filepath.Join(gdir, bm25File)); err != nil {
		return false, err
	}
	if sn.flat == nil {
		return false, nil
	}
	err = atomicfile.WriteFile(filepath.Join(gdir, vectorsFile), func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		if _, err := sn.flat.WriteTo(bw); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return false, err
	}
	if sn.build {
		h := vector.NewHNSW(sn.flat, sn.hp)
		h.AddAll(0)
		sn.graph = h
		var buf bytes.Buffer
		if _, err := h.WriteTo(&buf); err != nil {
			return false, err
		}
		sn.hnsw = buf.Bytes()
	}
	if sn.hnsw == nil {
		return false, nil
	}
	return true, atomicfile.WriteBytes(filepath.Join(gdir, hnswFile), sn.hnsw)
}

// swapSnapshotLocked makes the generation gen, just written from sn, the
// loaded one, from sn itself rather than by reading the generation back
// (half of a compaction's work otherwise), then replays the writes carried
// into its log (the caller holds wmu and the directory lock; the old log
// is closed).
func (ix *Index) swapSnapshotLocked(sn *snapshot, gen string) error {
	fresh, err := New(ix.opts)
	if err != nil {
		return err
	}
	st := fresh.st
	st.bm = sn.bm
	if sn.flat != nil {
		st.flat = sn.flat // the snapshot's own copy
		switch {
		case sn.graph != nil:
			st.hnsw = sn.graph
		case sn.hnsw != nil:
			if st.hnsw, err = vector.ReadHNSW(bytes.NewReader(sn.hnsw), sn.flat); err != nil {
				return err
			}
		}
	}
	st.docs = make([]search.Doc, 0, len(sn.docs))
	for n, d := range sn.docs {
		st.docs = append(st.docs, d)
		st.byID[d.ID] = n
		st.index(n, d)
	}
	fresh.syncDense()
	fresh.gen, fresh.dir = gen, ix.dir
	log, err := openWAL(filepath.Join(ix.dir, gen, walFile), fresh)
	if err != nil {
		return err
	}
	ix.mu.Lock()
	ix.opts, ix.st, ix.gen, ix.log = fresh.opts, fresh.st, fresh.gen, log
	ix.mu.Unlock()
	return nil
}

// compactHook, when set (by tests), runs in a compaction after the new
// generation is written and before it is swapped in, while writes go on.
var compactHook func()
