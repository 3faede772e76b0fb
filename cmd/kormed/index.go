package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/progress"
)

func init() {
	register(command{name: "bm25 index", summary: "build a BM25 index from a JSONL corpus", run: runBM25Index})
	register(command{name: "bm25 search", summary: "search a BM25 index", run: runBM25Search})
}

func runBM25Index(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bm25 index", flag.ContinueOnError)
	corpus := fs.String("corpus", "", "corpus: a JSONL file of {\"_id\", \"title\", \"text\"} or a BEIR directory holding corpus.jsonl")
	out := fs.String("out", "", "index file to write")
	an := fs.String("analyzer", analysis.Default, "analyzer: "+strings.Join(analysis.Names(), ", "))
	k1 := fs.Float64("k1", bm25.DefaultK1, "BM25 k1")
	b := fs.Float64("b", bm25.DefaultB, "BM25 b (> 0)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *corpus == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return errors.New("need --corpus and --out")
	}
	path := *corpus
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "corpus.jsonl")
	}
	bar := progress.New(os.Stderr, "index", 0)
	bld, err := bm25.NewBuilder(bm25.Options{Analyzer: *an, K1: *k1, B: *b, Progress: bar})
	if err != nil {
		return err
	}
	start := time.Now()
	err = readCorpusJSONL(path, func(d bm25.Doc) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return bld.Add(d)
	})
	if err != nil {
		return err
	}
	ix, err := bld.Finish()
	if err != nil {
		return err
	}
	built := time.Since(start)
	if err := ix.Save(*out); err != nil {
		return err
	}
	st, _ := os.Stat(*out)
	fmt.Fprintf(os.Stderr, "indexed %d documents (%d terms, %d postings, avg %.1f terms/doc) with %s in %s (%.0f docs/s); wrote %s (%.1f MB)\n",
		ix.Len(), ix.Terms(), ix.Postings(), ix.AvgDocLen(), ix.Options().Analyzer, built.Round(time.Millisecond),
		float64(ix.Len())/built.Seconds(), *out, float64(st.Size())/1e6)
	return nil
}

func runBM25Search(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bm25 search", flag.ContinueOnError)
	index := fs.String("index", "", "index file written by 'kormed bm25 index'")
	k := fs.Int("k", 10, "number of results")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *index == "" || fs.NArg() == 0 {
		fs.Usage()
		return errors.New("need --index and a query")
	}
	ix, err := bm25.Load(*index)
	if err != nil {
		return err
	}
	query := strings.Join(fs.Args(), " ")
	hits := ix.Search(query, *k)
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	for i, h := range hits {
		if *asJSON {
			b, _ := json.Marshal(struct {
				Rank  int     `json:"rank"`
				ID    string  `json:"id"`
				Score float64 `json:"score"`
			}{i + 1, h.ID, h.Score})
			fmt.Fprintf(w, "%s\n", b)
		} else {
			fmt.Fprintf(w, "%d\t%s\t%.4f\n", i+1, h.ID, h.Score)
		}
	}
	if len(hits) == 0 && !*asJSON {
		fmt.Fprintf(os.Stderr, "no document shares a term with %q (terms: %q)\n", query, ix.Analyze(query))
	}
	return nil
}

// readCorpusJSONL streams a BEIR corpus file: one JSON object per line with
// "_id" (string or number), optional "title" and "text". The indexed text
// is the title and the text joined by a newline.
func readCorpusJSONL(path string, fn func(bm25.Doc) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	for line := 1; ; line++ {
		raw, err := r.ReadBytes('\n')
		if len(bytes.TrimSpace(raw)) > 0 {
			var rec struct {
				ID    json.RawMessage `json:"_id"`
				Title string          `json:"title"`
				Text  string          `json:"text"`
			}
			if err := json.Unmarshal(raw, &rec); err != nil {
				return fmt.Errorf("%s:%d: %v", path, line, err)
			}
			id, err := jsonID(rec.ID)
			if err != nil {
				return fmt.Errorf("%s:%d: _id: %v", path, line, err)
			}
			text := rec.Text
			if rec.Title != "" {
				text = rec.Title + "\n" + rec.Text
			}
			if err := fn(bm25.Doc{ID: id, Text: text}); err != nil {
				return fmt.Errorf("%s:%d: %w", path, line, err)
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
	}
}

func jsonID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("missing")
	}
	if raw[0] == '"' {
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		if s == "" {
			return "", errors.New("empty")
		}
		return s, nil
	}
	if _, err := strconv.ParseFloat(string(raw), 64); err != nil {
		return "", fmt.Errorf("want a string or number, got %s", raw)
	}
	return string(raw), nil
}
