package ingest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/drugbench"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/search"
)

// Source is a document stream.
type Source struct {
	// Fingerprint names the stream's inputs (files with their sizes and
	// times, or a Hub commit), for Fingerprint.
	Fingerprint string
	// Count is the number of documents, for the progress bar (0:
	// unknown).
	Count int
	// Each calls fn with every document and where it was read
	// ("file:line"); fn's error stops the stream and is returned.
	Each func(fn func(where string, d search.Doc) error) error
}

// Open recognises the drug table (a folder holding
// drugbench.ProductsFile, or that CSV itself), a BEIR folder, a JSONL file
// or a Hub dataset (hf://…, whose columns cols maps); log receives a Hub
// corpus's download progress and description.
func Open(path string, cols dataset.Columns, log io.Writer) (*Source, error) {
	if hubdata.IsRef(path) {
		return hubCorpus(path, cols, log)
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
	file := dataset.CorpusPath(path)
	fst, err := os.Stat(file)
	if err != nil {
		return nil, err
	}
	n, err := countLines(file)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(file)
	return &Source{
		Fingerprint: fmt.Sprintf("jsonl:%s:%d@%d", abs, fst.Size(), fst.ModTime().UnixNano()),
		Count:       n,
		Each: func(fn func(string, search.Doc) error) error {
			return ReadJSONL(file, fn)
		},
	}, nil
}

// hubCorpus streams the corpus of a Hub dataset (its "corpus" config in
// the MTEB layout) from the downloaded files; the fingerprint is the
// commit and files, so a re-run over the same revision resumes.
func hubCorpus(arg string, cols dataset.Columns, log io.Writer) (*Source, error) {
	files, err := hubdata.CorpusFiles(context.Background(), arg, "", hub.Options{Progress: log, Log: log})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(log, "corpus: %s: %s\n", files.Describe(), strings.Join(files.Names, ", "))
	return &Source{
		Fingerprint: fmt.Sprintf("hf:%s@%s:%s", files.Ref.ID, files.Commit, strings.Join(files.Names, ",")),
		Each: func(fn func(string, search.Doc) error) error {
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
