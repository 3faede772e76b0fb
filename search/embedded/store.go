package embedded

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/vector"
)

// An index directory:
//
//	DIR/index.json         the manifest: format, generation, settings, model
//	DIR/g000003/docs.jsonl one live document per line, numbered from 0
//	DIR/g000003/bm25.idx   package bm25's file
//	DIR/g000003/vectors.bin package vector's Flat (with a model)
//	DIR/g000003/hnsw.bin   the HNSW graph (when one was built)
//	DIR/g000003/wal.jsonl  writes since the generation was made
//	DIR/.lock              flock(2) held while writing
//
// A generation is never modified after the manifest names it, except for
// appends to its write-ahead log. Replacing the index (kormed index again,
// Compact) writes a new generation directory, renames it into place and
// then rewrites the manifest atomically, so a reader sees the old or the
// new index, never a mixture; serving processes notice the new manifest
// and swap (Index.Reload).
const (
	ManifestFile  = "index.json"
	FormatVersion = 1
	docsFile      = "docs.jsonl"
	bm25File      = "bm25.idx"
	vectorsFile   = "vectors.bin"
	hnswFile      = "hnsw.bin"
	walFile       = "wal.jsonl"
	lockFile      = ".lock"
)

// Manifest is index.json.
type Manifest struct {
	Format     int       `json:"format"`
	Generation string    `json:"generation"`
	Created    time.Time `json:"created"`
	Docs       int       `json:"docs"` // in the generation, before its log
	Options    Options   `json:"options"`
	HNSW       bool      `json:"hnsw_built"`
	// Source identifies the input a Builder made the generation from
	// (its fingerprint), so a rerun over the same input can skip work.
	Source string `json:"source,omitempty"`
}

// ReadManifest reads DIR/index.json.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s: not a kormed index (no %s; build one with 'kormed index')", dir, ManifestFile)
		}
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if m.Format != FormatVersion {
		return nil, fmt.Errorf("%s: format %d, this kormed reads %d (rebuild the index)", path, m.Format, FormatVersion)
	}
	if m.Generation == "" || strings.ContainsAny(m.Generation, `/\.`) {
		return nil, fmt.Errorf("%s: bad generation %q", path, m.Generation)
	}
	return &m, nil
}

// lockDir takes the directory's writer lock, waiting for it.
func lockDir(dir string) (func(), error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	unlock, err := atomicfile.Lock(context.Background(), filepath.Join(dir, lockFile), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: lock: %w", dir, err)
	}
	return unlock, nil
}

// Open loads the index in dir, replaying its write-ahead log; later writes
// are logged there.
func Open(dir string) (*Index, error) {
	unlock, err := lockDir(dir)
	if err != nil {
		if _, e := os.Stat(dir); e != nil {
			return nil, fmt.Errorf("%s: not a kormed index: %w", dir, e)
		}
		return nil, err
	}
	defer unlock()
	return openLocked(dir)
}

func openLocked(dir string) (*Index, error) {
	m, err := ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	gdir := filepath.Join(dir, m.Generation)
	ix, err := New(m.Options)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, ManifestFile), err)
	}
	ix.gen = m.Generation
	docs, err := readDocs(filepath.Join(gdir, docsFile))
	if err != nil {
		return nil, err
	}
	if len(docs) != m.Docs {
		return nil, fmt.Errorf("%s: %d documents, the manifest says %d", filepath.Join(gdir, docsFile), len(docs), m.Docs)
	}
	bm, err := bm25.Load(filepath.Join(gdir, bm25File))
	if err != nil {
		return nil, err
	}
	if bm.Len() != len(docs) {
		return nil, fmt.Errorf("%s: %d documents, docs.jsonl has %d", filepath.Join(gdir, bm25File), bm.Len(), len(docs))
	}
	st := ix.st
	st.bm = bm
	if m.Options.Model.Name != "" {
		f, err := readFlat(filepath.Join(gdir, vectorsFile))
		if err != nil {
			return nil, err
		}
		if f.Len() != len(docs) || f.Dim() != m.Options.Model.Dim {
			return nil, fmt.Errorf("%s: %d×%d vectors, want %d×%d", filepath.Join(gdir, vectorsFile), f.Len(), f.Dim(), len(docs), m.Options.Model.Dim)
		}
		st.flat = f
		if m.HNSW {
			p := filepath.Join(gdir, hnswFile)
			r, err := os.Open(p)
			if err != nil {
				return nil, err
			}
			h, err := vector.ReadHNSW(bufio.NewReaderSize(r, 1<<20), f)
			r.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			st.hnsw = h
		}
	}
	for n, d := range docs {
		st.docs = append(st.docs, d)
		st.byID[d.ID] = n
		st.index(n, d)
	}
	ix.syncDense()
	// Replay the log.
	log, err := openWAL(filepath.Join(gdir, walFile), ix)
	if err != nil {
		return nil, err
	}
	ix.log = log
	ix.dir = dir
	return ix, nil
}

func readFlat(path string) (*vector.Flat, error) {
	r, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	f, err := vector.ReadFlat(bufio.NewReaderSize(r, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// index adds document n's fields and DUR types to the postings.
func (st *state) index(n int, d search.Doc) {
	for f, vals := range d.Fields {
		m := st.fields[f]
		if m == nil {
			m = map[string][]int{}
			st.fields[f] = m
		}
		for _, v := range dedup(vals) {
			m[v] = append(m[v], n)
		}
	}
	var types []string
	for _, fl := range d.DUR {
		types = append(types, fl.Type)
	}
	for _, t := range dedup(types) {
		st.dur[t] = append(st.dur[t], n)
	}
}

func readDocs(path string) ([]search.Doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var lines [][]byte
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			nl = len(data)
		}
		lines = append(lines, data[:nl])
		data = data[min(nl+1, len(data)):]
	}
	// Decoding is most of an Open without a log: spread it over the cores.
	docs := make([]search.Doc, len(lines))
	bad := make([]int, runtime.GOMAXPROCS(0)) // each worker's first bad line
	errs := make([]error, len(bad))
	var wg sync.WaitGroup
	for w := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(lines); i += len(errs) {
				if err := json.Unmarshal(lines[i], &docs[i]); err != nil {
					bad[w], errs[w] = i, err
					return
				}
			}
		}()
	}
	wg.Wait()
	first := -1
	for w, err := range errs {
		if err != nil && (first < 0 || bad[w] < bad[first]) {
			first = w
		}
	}
	if first >= 0 {
		return nil, fmt.Errorf("%s:%d: %w", path, bad[first]+1, errs[first])
	}
	return docs, nil
}

// nextGeneration names the generation after the current one.
func nextGeneration(dir string) string {
	n := 0
	if m, err := ReadManifest(dir); err == nil {
		n, _ = strconv.Atoi(strings.TrimPrefix(m.Generation, "g"))
	}
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if v, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "g")); err == nil && strings.HasPrefix(e.Name(), "g") && v > n {
			n = v
		}
	}
	return fmt.Sprintf("g%06d", n+1)
}

// Save writes ix's live documents as a new generation of the index in dir
// (created if needed) and makes it current; the previous generation is
// removed. Documents are renumbered without tombstones, so Save is also
// the compaction. Writes that a serving process logged in the previous
// generation after this index was loaded are carried over when keepLog is
// true and the model is the same; the count is returned.
func (ix *Index) Save(dir string) error {
	_, err := ix.save(dir, false, "")
	return err
}

func (ix *Index) save(dir string, keepLog bool, source string) (carried int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	swapped := false
	defer func() { // after every lock below is released
		if swapped {
			ix.notifySwap(SwapCompaction, nil)
		}
	}()
	ix.cmu.Lock() // one save at a time
	defer ix.cmu.Unlock()
	ix.wmu.Lock()
	locked := true
	defer func() {
		if locked {
			ix.wmu.Unlock()
		}
	}()
	if ix.closed {
		return 0, errClosed
	}
	sn, err := ix.snapshotLocked()
	if err != nil {
		return 0, err
	}
	// Compacting the generation this index serves lets writes go on while
	// the new generation is written: they are logged after the snapshot's
	// offset and carried over below.
	compacting := keepLog && ix.dir == dir && ix.log != nil
	if compacting {
		ix.wmu.Unlock()
		locked = false
	}
	// Write the generation without the directory lock (it is a new
	// directory).
	tmp, err := os.MkdirTemp(dir, ".gen-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return 0, err
	}
	hnsw, err := sn.write(tmp)
	if err != nil {
		return 0, err
	}
	if !locked {
		if compactHook != nil {
			compactHook()
		}
		ix.wmu.Lock()
		locked = true
		if ix.closed {
			return 0, errClosed
		}
		if ix.gen != sn.gen {
			return 0, fmt.Errorf("%s: generation %s replaced %s during the compaction: not swapped", dir, ix.gen, sn.gen)
		}
	}
	unlock, err := lockDir(dir)
	if err != nil {
		return 0, err
	}
	defer unlock()
	old, _ := ReadManifest(dir)
	if ix.dir == dir && old != nil && old.Generation != ix.gen {
		return 0, fmt.Errorf("%s: generation %s replaced the one this index loaded (%s): Reload before saving", dir, old.Generation, ix.gen)
	}
	gen := nextGeneration(dir)
	if keepLog && old != nil {
		// A re-index carries the whole previous log; compacting the
		// generation this index loaded carries only what was logged
		// after the snapshot (by this process meanwhile, or by others).
		var from int64
		if old.Generation == ix.gen && ix.dir == dir && ix.log != nil {
			from = sn.off
		}
		carried, err = carryLog(filepath.Join(dir, old.Generation, walFile), from, filepath.Join(tmp, walFile), old.Options.Model, ix.opts.Model)
		if err != nil {
			return 0, err
		}
	}
	// The generation's log exists, empty if nothing was carried, before
	// the folder is synced, so that its directory entry is as durable as
	// the writes later fsynced into it.
	if err := touchFile(filepath.Join(tmp, walFile)); err != nil {
		return 0, err
	}
	if err := atomicfile.SyncDir(tmp); err != nil {
		return 0, err
	}
	if err := os.Rename(tmp, filepath.Join(dir, gen)); err != nil {
		return 0, err
	}
	if err := atomicfile.SyncDir(dir); err != nil {
		return 0, err
	}
	m := Manifest{Format: FormatVersion, Generation: gen, Created: time.Now().UTC(), Docs: len(sn.docs), Options: ix.opts, HNSW: hnsw, Source: source}
	data, _ := json.MarshalIndent(m, "", "  ")
	if err := atomicfile.WriteBytes(filepath.Join(dir, ManifestFile), append(data, '\n')); err != nil {
		return 0, err
	}
	atomicfile.SyncDir(dir)
	// Remove the previous generation, and any left by a crash between a
	// rename and its manifest.
	for _, g := range Generations(dir) {
		if g != gen {
			os.RemoveAll(filepath.Join(dir, g))
		}
	}
	if ix.log != nil {
		ix.log.close()
		ix.log = nil
	}
	// This index now is the new generation (compacted) and logs there.
	if ix.dir != dir {
		ix.dir = dir
	}
	swapped = true
	if compacting && ix.swapSnapshotLocked(sn, gen) == nil {
		return carried, nil
	}
	if err := ix.swapLocked(); err != nil {
		swapped = false
		return 0, err
	}
	return carried, nil
}

// Reload swaps in the index's current generation if the manifest names
// another one than the loaded one (a re-index finished); searches running
// meanwhile finish on the old state. It reports whether it swapped.
func (ix *Index) Reload() (bool, error) {
	if ix.dir == "" {
		return false, nil
	}
	m, err := ReadManifest(ix.dir)
	if err != nil {
		return false, err
	}
	ix.wmu.Lock()
	defer ix.wmu.Unlock()
	if m.Generation == ix.gen {
		// Same generation: apply what other processes logged meanwhile.
		if ix.log == nil {
			return false, nil
		}
		unlock, err := lockDir(ix.dir)
		if err != nil {
			return false, err
		}
		defer unlock()
		return false, ix.catchUp()
	}
	if m.Options.Model != ix.opts.Model {
		return false, fmt.Errorf("%s: generation %s was built with model %q (dim %d), this process serves %q (dim %d): not swapped; restart with the new model",
			ix.dir, m.Generation, m.Options.Model.Name, m.Options.Model.Dim, ix.opts.Model.Name, ix.opts.Model.Dim)
	}
	unlock, err := lockDir(ix.dir)
	if err != nil {
		return false, err
	}
	defer unlock()
	return true, ix.swapLocked()
}

// beginWrite takes the directory lock for a logged write (the caller
// holds wmu) and first swaps in a newer generation if a re-index made one,
// so the write lands in the current log.
func (ix *Index) beginWrite() (func(), error) {
	if ix.dir == "" {
		return func() {}, nil
	}
	unlock, err := lockDir(ix.dir)
	if err != nil {
		return nil, err
	}
	m, err := ReadManifest(ix.dir)
	if err != nil {
		unlock()
		return nil, err
	}
	if m.Generation != ix.gen {
		if m.Options.Model != ix.opts.Model {
			unlock()
			return nil, fmt.Errorf("%s: a re-index with model %q replaced the one this process serves (%q): write refused; restart with the new model", ix.dir, m.Options.Model.Name, ix.opts.Model.Name)
		}
		if err := ix.swapLocked(); err != nil {
			unlock()
			return nil, err
		}
		ix.swappedByWrite = true
	}
	if ix.log != nil {
		if err := ix.catchUp(); err != nil {
			unlock()
			return nil, err
		}
	}
	return unlock, nil
}

// swapLocked loads the current generation in place of the loaded one (the
// caller holds wmu and the directory lock).
func (ix *Index) swapLocked() error {
	fresh, err := openLocked(ix.dir)
	if err != nil {
		return err
	}
	if ix.log != nil {
		ix.log.close()
	}
	ix.mu.Lock()
	ix.opts, ix.st, ix.gen, ix.log = fresh.opts, fresh.st, fresh.gen, fresh.log
	ix.mu.Unlock()
	return nil
}

// Compact rewrites an opened index as a new generation without tombstones
// and with an empty log (what the log held is in the generation); writes
// other processes log meanwhile are carried over. Servers reload it.
func (ix *Index) Compact() error {
	if ix.dir == "" {
		return errors.New("search: Compact needs an index opened from a folder")
	}
	m, err := ReadManifest(ix.dir)
	if err != nil {
		return err
	}
	_, err = ix.save(ix.dir, true, m.Source)
	return err
}

// Generation is the loaded generation ("" for an in-memory index).
func (ix *Index) Generation() string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.gen
}

// --- write-ahead log

type walRecord struct {
	Op   string       `json:"op"`
	Docs []search.Doc `json:"docs,omitempty"`
	Vecs [][]float32  `json:"vecs,omitempty"`
	IDs  []string     `json:"ids,omitempty"`
}

type wal struct {
	f      *os.File
	path   string
	off    int64 // bytes of the log this process has applied
	recs   int   // records in those bytes
	text   int64 // bytes of document text in those records (textBytes)
	broken error // a failed write that could not be undone
}

// textBytes are the bytes of document text records hold: what a replay
// analyses, so what its time grows with. Vectors, which a replay only
// copies, do not count (a 384-d vector is ~4 KB of JSON, ten times a
// typical text).
func textBytes(recs []walRecord) int64 {
	var n int64
	for _, r := range recs {
		for _, d := range r.Docs {
			n += int64(len(fusion.DocText(d.Title, d.Text)))
		}
	}
	return n
}

// parseWAL splits data into records. A torn last record (no newline, or
// bad JSON on the last line: a crash while writing it) ends the good part;
// a bad record before the last is an error naming its line (first is the
// line number of data's first line).
func parseWAL(path string, data []byte, first int) (recs []walRecord, good int, err error) {
	line := first - 1
	for len(data[good:]) > 0 {
		nl := bytes.IndexByte(data[good:], '\n')
		line++
		if nl < 0 {
			break // torn: no newline
		}
		var r walRecord
		if err := json.Unmarshal(data[good:good+nl], &r); err != nil {
			if good+nl+1 == len(data) {
				break // torn last line
			}
			return nil, 0, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if r.Op != "upsert" && r.Op != "delete" {
			return nil, 0, fmt.Errorf("%s:%d: unknown op %q", path, line, r.Op)
		}
		recs = append(recs, r)
		good += nl + 1
	}
	return recs, good, nil
}

// replay applies records, batching consecutive upserts into one apply
// (one BM25 append) as long as their ids do not repeat.
func (ix *Index) replay(recs []walRecord) error {
	var docs []search.Doc
	var vecs [][]float32
	seen := map[string]bool{}
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		if ix.opts.Model.Name == "" {
			vecs = nil
		}
		if err := ix.checkDocs(docs, vecs); err != nil {
			return err
		}
		err := ix.apply(docs, vecs)
		docs, vecs, seen = nil, nil, map[string]bool{}
		return err
	}
	for _, r := range recs {
		if r.Op == "delete" {
			if err := flush(); err != nil {
				return err
			}
			ix.applyDelete(r.IDs)
			continue
		}
		for _, d := range r.Docs {
			if seen[d.ID] {
				if err := flush(); err != nil {
					return err
				}
				break
			}
		}
		for _, d := range r.Docs {
			seen[d.ID] = true
		}
		docs = append(docs, r.Docs...)
		vecs = append(vecs, r.Vecs...)
	}
	return flush()
}

// openWAL replays path's records into ix and opens the log for appending;
// a torn last record is cut off.
func openWAL(path string, ix *Index) (*wal, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	recs, good, err := parseWAL(path, data, 1)
	if err == nil {
		err = ix.replay(recs)
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if good < len(data) {
		fmt.Fprintf(os.Stderr, "search: %s: dropping a torn last record (%d bytes) left by a crash\n", path, len(data)-good)
		if err := f.Truncate(int64(good)); err != nil {
			f.Close()
			return nil, err
		}
	}
	return &wal{f: f, path: path, off: int64(good), recs: len(recs), text: textBytes(recs)}, nil
}

// catchUp applies the records other processes appended since this one last
// read the log (the caller holds the directory lock and wmu).
func (ix *Index) catchUp() error {
	w := ix.log
	st, err := w.f.Stat()
	if err != nil {
		return err
	}
	if st.Size() <= w.off {
		return nil
	}
	data := make([]byte, st.Size()-w.off)
	if _, err := w.f.ReadAt(data, w.off); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	recs, good, err := parseWAL(w.path, data, 1)
	if err != nil {
		return err
	}
	if err := ix.replay(recs); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	w.off += int64(good)
	w.recs += len(recs)
	w.text += textBytes(recs)
	return nil
}

// write appends one record durably. A failed write is cut back off, so
// the log never holds a partial record followed by good ones.
func (w *wal) write(r walRecord) error {
	if w.broken != nil {
		return fmt.Errorf("%s: the log is unusable after an earlier failure (%v); restart", w.path, w.broken)
	}
	data, err := json.Marshal(r)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	_, err = w.f.Write(data)
	if err == nil {
		err = w.f.Sync()
	}
	if err != nil {
		if terr := w.f.Truncate(w.off); terr != nil {
			w.broken = err
		}
		return fmt.Errorf("%s: %w", w.path, err)
	}
	w.off += int64(len(data))
	w.recs++
	w.text += textBytes([]walRecord{r})
	return nil
}

func (w *wal) upsert(docs []search.Doc, vecs [][]float32) error {
	return w.write(walRecord{Op: "upsert", Docs: docs, Vecs: vecs})
}

func (w *wal) delete(ids []string) error { return w.write(walRecord{Op: "delete", IDs: ids}) }

func (w *wal) close() error { return w.f.Close() }

// carryLog copies the records of an old generation's log into a new one
// when the model is unchanged; every record is parsed first, so a damaged
// log fails the re-index before anything is swapped.
func carryLog(from string, offset int64, to string, oldModel, newModel search.ModelInfo) (int, error) {
	data, err := os.ReadFile(from)
	switch {
	case errors.Is(err, os.ErrNotExist) && offset == 0:
		return 0, nil // the old generation was never written to
	case err != nil:
		// The records after offset exist only in this file: swapping
		// without them would lose acknowledged writes.
		return 0, fmt.Errorf("carrying the writes logged meanwhile, not swapping: %w", err)
	case int64(len(data)) < offset:
		return 0, fmt.Errorf("carrying the writes logged meanwhile, not swapping: %s holds %d bytes, the snapshot read %d", from, len(data), offset)
	case int64(len(data)) == offset:
		return 0, nil
	}
	data = data[offset:]
	recs, good, err := parseWAL(from, data, 1)
	if err != nil {
		return 0, fmt.Errorf("re-index: the previous generation's log is damaged, not swapping: %w", err)
	}
	if oldModel != newModel {
		fmt.Fprintf(os.Stderr, "search: %d API writes of the previous generation not carried over: the model changed (%s → %s)\n", len(recs), oldModel.Name, newModel.Name)
		return 0, nil
	}
	return len(recs), atomicfile.WriteBytes(to, data[:good])
}

// Generations lists the generation directories in dir (for tests and
// tools).
func Generations(dir string) []string {
	ents, _ := os.ReadDir(dir)
	var out []string
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "g") {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

// touchFile creates path empty and synced unless it exists.
func touchFile(path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
