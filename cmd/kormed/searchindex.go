package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/drugbench"
	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/progress"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/weaviate"
)

func runIndex(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("index", flag.ContinueOnError)
	add := fs.String("add", "", "add or replace the documents of this JSONL file (BEIR lines with metadata) in the existing index --out, without rebuilding it")
	del := fs.String("delete", "", "comma-separated document ids to delete from the existing index --out")
	compact := fs.Bool("compact", false, "rewrite the existing index --out without deleted documents and with an empty log (after --add/--delete if given)")
	corpus := fs.String("corpus", "", "documents: a BEIR folder or corpus.jsonl ({\"_id\",\"title\",\"text\",\"metadata\":{…}}), a Hub dataset hf://OWNER/NAME[:CONFIG][@REV] (its corpus config in the MTEB layout), or the MFDS drug table (a folder holding "+drugbench.ProductsFile+", or the CSV itself)")
	out := fs.String("out", "", "index folder to write (an existing index gets a new generation, swapped in atomically)")
	modelArg := fs.String("model", "", "embedding model (folder or Hugging Face id); none: a BM25-only index")
	durFile := fs.String("dur", "", "DUR records in the MFDS DUR open API format (JSON or CSV) to attach to products")
	an := fs.String("analyzer", analysis.Default, "BM25 analyzer: "+strings.Join(analysis.Names(), ", "))
	dense := fs.String("dense", embedded.DenseAuto, "dense index: auto (exact below --ann-threshold documents, HNSW above), exact, int8, bf16 or hnsw")
	columnsFlag := fs.String("columns", "", "hf:// corpus: map roles to columns, e.g. id=doc_id,document=contents (roles id, title, document)")
	annThreshold := fs.Int("ann-threshold", embedded.DefaultANNThreshold, "corpus size from which --dense auto builds HNSW")
	batch := fs.Int("batch", 256, "documents embedded and staged per batch (the unit of resumption)")
	quiet := fs.Bool("quiet", false, "no progress bar")
	backend := fs.String("backend", "embedded", "embedded (the index folder is the index) or weaviate (the folder is built too, then every document and vector is pushed to a Weaviate class)")
	wURL := fs.String("weaviate-url", "http://127.0.0.1:18080", "Weaviate URL (--backend weaviate)")
	wClass := fs.String("class", "KormedDocs", "Weaviate class (collection) name (--backend weaviate)")
	wKey := fs.String("weaviate-api-key", os.Getenv("WEAVIATE_API_KEY"), "Weaviate API key (default $WEAVIATE_API_KEY; none: anonymous)")
	cf := calibrateFlags(fs)
	hubOpts := base.HubFlags(fs)
	engine := base.EngineFlags(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kormed index --corpus PATH --out DIR [--model M] [--dur FILE] [--alpha A --fusion F]\n       kormed index --out DIR [--add FILE.jsonl] [--delete ID,ID] [--compact] [--calibrate] [--model M] [--dur FILE]\n\nEmbeds the corpus and builds the dense and BM25 indexes side by side. A crashed\nor interrupted run resumes where it stopped when run again with the same input.\nWith --add/--delete it updates an existing index in place (through its write-ahead\nlog, as the API does; a running server sees the change within its reload interval).\n\nAn index with a model calibrates its hybrid fusion on its own documents (no labels):\n300 sampled documents each give a sentence as a pseudo-query, which BM25, dense and\nevery fusion setting (relative or RRF, alpha 0 to 1) try to find its document with;\nthe best setting, moved towards the stronger of BM25 and dense unless it is clearly\nbetter, is stored in the index with what was measured and is kormed serve's\ndefault. --calibrate re-runs it on an existing index; --alpha/--fusion set the\ndefault instead (a request's alpha and fusion still override it).")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cf.check(); err != nil {
		return err
	}
	if (*add != "" || *del != "" || *compact || cf.recalibrate()) && *out != "" && *corpus == "" && fs.NArg() == 0 {
		if err := engine(); err != nil {
			return err
		}
		if *add != "" || *del != "" || *compact {
			if err := indexUpdate(ctx, *out, *add, *del, *modelArg, *durFile, *compact, hubOpts()); err != nil {
				return err
			}
		}
		if cf.recalibrate() {
			return recalibrateIndex(ctx, *out, *modelArg, cf, hubOpts())
		}
		return nil
	}
	if *corpus == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return errors.New("need --corpus and --out")
	}
	if err := engine(); err != nil {
		return err
	}
	if *backend != "embedded" && *backend != "weaviate" {
		return fmt.Errorf("--backend %q: want embedded or weaviate", *backend)
	}
	cols, err := dataset.ParseColumns(*columnsFlag)
	if err != nil {
		return err
	}
	src, err := openCorpusWith(*corpus, cols)
	if err != nil {
		return err
	}
	var durIx *durAttacher
	if *durFile != "" {
		recs, err := dur.ReadFile(*durFile)
		if err != nil {
			return err
		}
		durIx = &durAttacher{records: recs}
		fmt.Fprintf(os.Stderr, "read %d DUR records from %s\n", len(recs), *durFile)
	}
	opts := embedded.Options{Analyzer: *an, Dense: *dense, ANNThreshold: *annThreshold}
	var m *model.Model
	if *modelArg != "" {
		dir, err := hub.Resolve(ctx, *modelArg, hubOpts())
		if err != nil {
			return err
		}
		if model.IsPair(dir) {
			return fmt.Errorf("%s is a bi-encoder (DPR pair); kormed index takes a single encoder for now", *modelArg)
		}
		if m, err = model.Load(dir); err != nil {
			return err
		}
		// A local folder is recorded by its absolute path, so 'kormed serve'
		// finds the model from any working directory; a hub id as given.
		name := *modelArg
		if st, err := os.Stat(name); err == nil && st.IsDir() {
			if abs, err := filepath.Abs(name); err == nil {
				name = abs
			}
		}
		m.SetName(name)
		opts.Model = modelInfo(m)
	}
	if m == nil && cf.set() {
		return errors.New("--alpha/--fusion/--calibrate need --model: a BM25-only index has nothing to fuse")
	}
	fp := indexFingerprint(src, *durFile, m)
	if embedded.UpToDate(*out, opts, fp) {
		fmt.Fprintf(os.Stderr, "%s is up to date with %s\n", *out, *corpus)
		if cf.recalibrate() {
			if err := recalibrateIndex(ctx, *out, *modelArg, cf, hubOpts()); err != nil {
				return err
			}
		}
		if *durFile != "" || *backend == "weaviate" {
			ix, err := embedded.Open(*out)
			if err != nil {
				return err
			}
			defer ix.Close()
			if *durFile != "" {
				printDUR(ix)
			}
			if *backend == "weaviate" {
				return pushWeaviate(ctx, ix, *wURL, *wClass, *wKey, *quiet)
			}
		}
		return nil
	}
	b, err := embedded.NewBuilder(*out, opts, fp)
	if err != nil {
		return err
	}
	if m != nil {
		b.BeforeWrite = func(ix *embedded.Index) error {
			if !*quiet {
				fmt.Fprintln(os.Stderr, "building: calibration")
			}
			cal, err := cf.calibrate(ctx, ix, m)
			if err != nil {
				// The index is still good: served with the package defaults.
				fmt.Fprintf(os.Stderr, "hybrid fusion: not calibrated (%v); the service uses the built-in default, %s %g\n", err, search.DefaultFusion, search.DefaultAlpha)
				return nil
			}
			ix.SetCalibration(cal)
			return nil
		}
	}
	if n := b.Resumed(); n > 0 {
		fmt.Fprintf(os.Stderr, "resuming: %d documents already staged in %s\n", n, *out)
	}
	var bar *progress.Bar
	if !*quiet {
		bar = progress.New(os.Stderr, "index", int64(src.count))
		bar.Add(int64(b.Len()))
	}
	start := time.Now()
	var pending []search.Doc
	flushed := 0
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if durIx != nil {
			durIx.attach(pending)
		}
		var vecs [][]float32
		if m != nil {
			texts := make([]string, len(pending))
			for i, d := range pending {
				texts[i] = eval.DocText(dataset.Doc{ID: d.ID, Title: d.Title, Text: d.Text})
			}
			v, err := m.EncodePassages(ctx, texts)
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
	err = src.each(func(where string, d search.Doc) error {
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
		if len(pending) >= *batch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		if ctx.Err() != nil {
			fmt.Fprintf(os.Stderr, "\ninterrupted: %d documents staged; run the same command again to resume\n", b.Len())
		}
		return err
	}
	if bar != nil {
		bar.Finish()
	}
	ix, carried, err := b.Finish(func(stage string) {
		if !*quiet {
			fmt.Fprintf(os.Stderr, "building: %s\n", stage)
		}
	})
	if err != nil {
		return err
	}
	defer ix.Close()
	// The rate is over the whole build (staging, embedding, building and
	// writing the generation) and counts the documents this run staged: a
	// resumed build's earlier runs are not timed (none staged: no rate).
	took := time.Since(start)
	info, _ := ix.Info(ctx)
	fmt.Fprintf(os.Stderr, "indexed %d documents (%d new) with %s", info.Docs, flushed, info.Analyzer)
	if m != nil {
		fmt.Fprintf(os.Stderr, " + %s (dim %d, %s)", opts.Model.Name, opts.Model.Dim, ix.Options().Dense)
	} else {
		fmt.Fprint(os.Stderr, " (BM25 only: no --model)")
	}
	fmt.Fprintf(os.Stderr, " in %s", took.Round(time.Millisecond))
	if flushed > 0 {
		fmt.Fprintf(os.Stderr, " (%.0f docs/s)", float64(flushed)/max(took.Seconds(), 1e-9))
	}
	fmt.Fprintf(os.Stderr, "; generation %s in %s\n", ix.Generation(), *out)
	if r, ok := ix.ANNRecall(200, 10); ok {
		fmt.Fprintf(os.Stderr, "HNSW recall@10 against exact search: %.3f (200 of the index's vectors as queries)\n", r)
	}
	if c := ix.Calibration(); c != nil {
		printFusionCalibration(c)
	}
	if durIx != nil {
		printDUR(ix)
	}
	if carried > 0 {
		fmt.Fprintf(os.Stderr, "carried over %d API writes logged in the previous generation\n", carried)
	}
	serveCmd := "kormed serve --index " + *out
	if m != nil {
		serveCmd += " --model " + *modelArg
	}
	if *backend == "weaviate" {
		if err := pushWeaviate(ctx, ix, *wURL, *wClass, *wKey, *quiet); err != nil {
			return err
		}
		serveCmd += fmt.Sprintf(" --backend weaviate --weaviate-url %s --class %s", *wURL, *wClass)
	}
	fmt.Fprintf(os.Stderr, "serve it: %s\n", serveCmd)
	return nil
}

// pushWeaviate copies every document and vector of ix into a Weaviate
// class (created with the index's model if missing; a class built with
// another model is refused). Upserts are idempotent (object ids derive from
// document ids), so an interrupted push is finished by running it again.
func pushWeaviate(ctx context.Context, ix *embedded.Index, url, class, key string, quiet bool) error {
	info, err := ix.Info(ctx)
	if err != nil {
		return err
	}
	mi := info.Model
	wb, err := weaviate.Open(ctx, url, class, weaviate.Options{Model: &mi, Create: true, Generated: ix.Generation(), APIKey: key})
	if err != nil {
		return err
	}
	defer wb.Close()
	var bar *progress.Bar
	if !quiet {
		bar = progress.New(os.Stderr, "weaviate", int64(info.Docs))
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
		fmt.Fprintf(os.Stderr, "deleted %d documents from %s that the index no longer holds\n", n, class)
	}
	winfo, err := wb.Info(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "pushed %d documents to Weaviate class %s at %s in %s (the class holds %d)\n", info.Docs, class, url, time.Since(start).Round(time.Millisecond), winfo.Docs)
	return nil
}

// indexUpdate adds documents to and deletes documents from an existing
// index through search.Service, as POST/DELETE /v1/documents do.
func indexUpdate(ctx context.Context, dir, add, del, modelArg, durFile string, compact bool, hubOpts hub.Options) error {
	ix, err := embedded.Open(dir)
	if err != nil {
		return err
	}
	defer ix.Close()
	info, err := ix.Info(ctx)
	if err != nil {
		return err
	}
	var enc search.Encoder
	var mi search.ModelInfo
	if info.Model.Name != "" && add != "" {
		m, err := loadIndexModel(ctx, info, modelArg, hubOpts, "adding documents needs")
		if err != nil {
			return err
		}
		enc, mi = m, modelInfo(m)
	}
	svc, err := search.NewService(ctx, ix, enc, mi)
	if err != nil {
		return err
	}
	if add != "" {
		var durIx *durAttacher
		if durFile != "" {
			recs, err := dur.ReadFile(durFile)
			if err != nil {
				return err
			}
			durIx = &durAttacher{records: recs}
		}
		var batch []search.Doc
		n := 0
		flush := func() error {
			if len(batch) == 0 {
				return nil
			}
			if durIx != nil {
				durIx.attach(batch)
			}
			if err := svc.Upsert(ctx, batch); err != nil {
				return err
			}
			n += len(batch)
			batch = batch[:0]
			return nil
		}
		err := readJSONLCorpus(add, func(where string, d search.Doc) error {
			if d.ID == "" {
				return fmt.Errorf("%s: empty document id", where)
			}
			for _, b := range batch {
				if b.ID == d.ID {
					if err := flush(); err != nil {
						return err
					}
					break
				}
			}
			batch = append(batch, d)
			if len(batch) == 256 {
				return flush()
			}
			return ctx.Err()
		})
		if err == nil {
			err = flush()
		}
		if err != nil {
			return fmt.Errorf("after adding %d documents: %w", n, err)
		}
		fmt.Fprintf(os.Stderr, "added or replaced %d documents from %s\n", n, add)
	}
	if del != "" {
		ids := splitList(del)
		n, err := ix.Delete(ctx, ids)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "deleted %d of %d ids\n", n, len(ids))
	}
	if compact {
		if err := ix.Compact(); err != nil {
			return err
		}
	}
	after, _ := ix.Info(ctx)
	fmt.Fprintf(os.Stderr, "%s now holds %d documents (generation %s)\n", dir, after.Docs, after.Generated)
	return nil
}

// modelInfo is what an index records of its model.
func modelInfo(m *model.Model) search.ModelInfo {
	mi := search.ModelInfo{Name: m.Name(), Dim: m.Dim(), Pooling: string(m.Pooling), Query: m.QueryPrefix, Passage: m.PassagePrefix}
	if dir := m.Dir(); filepath.Base(filepath.Dir(dir)) == "snapshots" {
		mi.Revision = filepath.Base(dir) // a Hugging Face cache snapshot: the commit
	}
	return mi
}

func fileStamp(path string) string {
	if path == "" {
		return ""
	}
	st, err := os.Stat(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%d@%d", st.Size(), st.ModTime().UnixNano())
}

// corpusSource is a document stream.
type corpusSource struct {
	fingerprint string
	count       int // documents, for the progress bar (0: unknown)
	each        func(fn func(where string, d search.Doc) error) error
}

// openCorpus recognises the drug table, a BEIR folder, a JSONL file or a
// Hub dataset (hf://…).
func openCorpus(path string) (*corpusSource, error) { return openCorpusWith(path, nil) }

// openCorpusWith is openCorpus with a column mapping for hf:// corpora.
func openCorpusWith(path string, cols dataset.Columns) (*corpusSource, error) {
	if hubdata.IsRef(path) {
		return hubCorpus(path, cols)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	drugDir := ""
	switch {
	case st.IsDir():
		if _, err := os.Stat(filepath.Join(path, drugbench.ProductsFile)); err == nil {
			drugDir = path
		}
	case strings.EqualFold(filepath.Ext(path), ".csv"):
		if filepath.Base(path) != drugbench.ProductsFile {
			return nil, fmt.Errorf("%s: kormed index reads the MFDS drug table %s (or JSONL corpora)", path, drugbench.ProductsFile)
		}
		drugDir = filepath.Dir(path)
	}
	if drugDir != "" {
		return drugCorpus(drugDir)
	}
	file := corpusPath(path)
	fst, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	n, err := countLines(file)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(file)
	return &corpusSource{
		fingerprint: fmt.Sprintf("jsonl:%s:%d@%d", abs, fst.Size(), fst.ModTime().UnixNano()),
		count:       n,
		each: func(fn func(string, search.Doc) error) error {
			return readJSONLCorpus(file, fn)
		},
	}, nil
}

// hubCorpus streams the corpus of a Hub dataset (its "corpus" config in
// the MTEB layout) from the downloaded files; the fingerprint is the
// commit and files, so a re-run over the same revision resumes.
func hubCorpus(arg string, cols dataset.Columns) (*corpusSource, error) {
	files, err := hubdata.CorpusFiles(context.Background(), arg, "", hub.Options{Progress: os.Stderr, Log: os.Stderr})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(os.Stderr, "corpus: %s: %s\n", files.Describe(), strings.Join(files.Names, ", "))
	return &corpusSource{
		fingerprint: fmt.Sprintf("hf:%s@%s:%s", files.Ref.ID, files.Commit, strings.Join(files.Names, ",")),
		each: func(fn func(string, search.Doc) error) error {
			return dataset.EachDoc(arg, files.Paths, cols, func(where string, d dataset.Doc) error {
				return fn(where, search.Doc{ID: d.ID, Title: d.Title, Text: d.Text})
			})
		},
	}, nil
}

func countLines(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		if len(strings.TrimSpace(sc.Text())) > 0 {
			n++
		}
	}
	return n, sc.Err()
}

// readJSONLCorpus reads BEIR documents plus kormed's metadata: "metadata"
// (string, number or list values become keyword fields) and "fields".
func readJSONLCorpus(path string, fn func(string, search.Doc) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	line := 0
	for sc.Scan() {
		line++
		raw := strings.TrimSpace(sc.Text())
		if raw == "" {
			continue
		}
		var rec struct {
			ID       json.RawMessage     `json:"_id"`
			AltID    json.RawMessage     `json:"id"`
			Title    string              `json:"title"`
			Text     string              `json:"text"`
			Metadata map[string]any      `json:"metadata"`
			Fields   map[string][]string `json:"fields"`
			DUR      []dur.Flag          `json:"dur"`
		}
		where := fmt.Sprintf("%s:%d", path, line)
		dec := json.NewDecoder(strings.NewReader(raw))
		dec.UseNumber() // metadata numbers keep their text: 200806432, not 2.00806432e+08
		if err := dec.Decode(&rec); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		idRaw := rec.ID
		if len(idRaw) == 0 {
			idRaw = rec.AltID
		}
		id, err := jsonID(idRaw)
		if err != nil {
			return fmt.Errorf("%s: _id: %w", where, err)
		}
		d := search.Doc{ID: id, Title: rec.Title, Text: rec.Text, Fields: rec.Fields, DUR: rec.DUR}
		for k, v := range rec.Metadata {
			vals, err := metaValues(v)
			if err != nil {
				return fmt.Errorf("%s: metadata.%s: %w", where, k, err)
			}
			if d.Fields == nil {
				d.Fields = map[string][]string{}
			}
			d.Fields[k] = append(d.Fields[k], vals...)
		}
		if err := fn(where, d); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func jsonID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("want a string or a number, got %s", raw)
}

func metaValues(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case json.Number:
		return []string{x.String()}, nil
	case bool:
		return []string{fmt.Sprint(x)}, nil
	case []any:
		var out []string
		for _, e := range x {
			s, err := metaValues(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string, number, boolean or list of them")
}

// drugCorpus makes one document per MFDS product: the drug benchmark's
// document text, with the product type, type code, company and
// ingredients as fields, and 전문/일반 from drug_summary_100.csv where it
// lists the product.
func drugCorpus(dir string) (*corpusSource, error) {
	src, err := drugbench.Load(dir)
	if err != nil {
		return nil, err
	}
	bench, err := drugbench.Build(src, drugbench.Options{})
	if err != nil {
		return nil, err
	}
	class, err := readDrugClasses(filepath.Join(dir, "drug_summary_100.csv"))
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, drugbench.ProductsFile)
	abs, _ := filepath.Abs(dir)
	fp := "drug:" + abs
	csvs, _ := filepath.Glob(filepath.Join(dir, "*.csv")) // the products, type definitions, permit summaries
	for _, f := range csvs {
		fp += "|" + filepath.Base(f) + ":" + fileStamp(f)
	}
	return &corpusSource{
		fingerprint: fp,
		count:       len(src.Products),
		each: func(fn func(string, search.Doc) error) error {
			for i, p := range src.Products {
				bd := bench.Docs[i]
				d := search.Doc{ID: bd.ID, Title: bd.Title, Text: bd.Text, Fields: map[string][]string{}}
				if t := src.Types[p.TypeCode]; t != nil && len(t.Names) > 0 {
					d.Fields["type"] = []string{t.Names[0]}
				}
				if p.TypeCode != "" {
					d.Fields["type_code"] = []string{p.TypeCode}
				}
				if p.Company != "" {
					d.Fields["company"] = []string{p.Company}
				}
				if len(p.Ingredients) > 0 {
					d.Fields["ingredient"] = p.Ingredients
				}
				if len(p.IngredientCodes) > 0 {
					d.Fields["ingredient_code"] = p.IngredientCodes
				}
				if c := class[p.Seq]; c != "" {
					d.Fields["class"] = []string{c}
				}
				if err := fn(fmt.Sprintf("%s:%d", file, p.Line), d); err != nil {
					return err
				}
			}
			return nil
		},
	}, nil
}

// readDrugClasses maps item_sequence to 전문/일반 from the permit summary
// table, when it is there.
func readDrugClasses(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seqCol, classCol := -1, -1
	for i, h := range head {
		switch strings.TrimPrefix(h, "\ufeff") {
		case "item_sequence":
			seqCol = i
		case "special_general_type":
			classCol = i
		}
	}
	if seqCol < 0 || classCol < 0 {
		return nil, fmt.Errorf("%s: no item_sequence or special_general_type column", path)
	}
	out := map[string]string{}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rec) <= max(seqCol, classCol) {
			continue
		}
		c := strings.TrimSuffix(rec[classCol], "의약품") // 일반의약품 → 일반
		if c == "NULL" || c == "" {
			continue
		}
		out[rec[seqCol]] = c
	}
	return out, nil
}

// indexFingerprint names every input of a build: the corpus files, the
// DUR file and the model's files (its weights can change under the same
// name when a training run writes to the same folder).
func indexFingerprint(src *corpusSource, durFile string, m *model.Model) string {
	fp := fmt.Sprintf("%s|%s|%s", src.fingerprint, durFile, fileStamp(durFile))
	if m != nil {
		for _, f := range []string{"config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "modules.json"} {
			if st := fileStamp(filepath.Join(m.Dir(), f)); st != "" {
				fp += "|" + f + ":" + st
			}
		}
	}
	return fp
}

// printDUR reports the DUR flags the index holds, read from its live
// documents, so that a resumed or skipped build reports the index's real
// numbers rather than those of the documents this run attached.
func printDUR(ix *embedded.Index) {
	flagged, types := 0, map[string]int{}
	ix.Docs(func(d search.Doc, _ []float32) error {
		if len(d.DUR) > 0 {
			flagged++
		}
		for _, f := range d.DUR {
			types[f.Type]++
		}
		return nil
	})
	fmt.Fprintf(os.Stderr, "DUR: %d products flagged (%s)\n", flagged, durSummary(types))
}

// durAttacher attaches DUR records to documents as they are indexed: by
// item sequence (the document id), ingredient code or ingredient name
// (the "ingredient_code" and "ingredient" fields).
type durAttacher struct {
	records []dur.Record
}

func (a *durAttacher) attach(docs []search.Doc) {
	ps := make([]dur.Product, len(docs))
	for i, d := range docs {
		ps[i] = dur.Product{Seq: d.ID, Name: d.Title, Ingredients: d.Fields["ingredient"], IngredientCodes: d.Fields["ingredient_code"]}
	}
	flags := dur.Attach(a.records, ps)
	for i := range docs {
		docs[i].DUR = append(docs[i].DUR, flags[docs[i].ID]...)
	}
}

// durSummary renders flag counts by DUR type ("노인주의 3, 임부금기 12").
func durSummary(types map[string]int) string {
	ts := make([]string, 0, len(types))
	for t := range types {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	for i, t := range ts {
		ts[i] = fmt.Sprintf("%s %d", t, types[t])
	}
	return strings.Join(ts, ", ")
}

// loadIndexModel loads the model an existing index embeds with: modelArg
// when given (a folder or hub id of the same model), else the name the
// index recorded; why says what needs it, for the error.
func loadIndexModel(ctx context.Context, info search.Info, modelArg string, hubOpts hub.Options, why string) (*model.Model, error) {
	name := modelArg
	if name == "" {
		name = info.Model.Name
	}
	mdir, err := hub.Resolve(ctx, name, hubOpts)
	if err != nil {
		return nil, fmt.Errorf("the index embeds with %s, which %s: %w", name, why, err)
	}
	m, err := model.Load(mdir)
	if err != nil {
		return nil, err
	}
	m.SetName(name)
	return m, nil
}
