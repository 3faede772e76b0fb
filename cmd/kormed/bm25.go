package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/progress"
)

// cmdBM25Index is kormed bm25 index.
var cmdBM25Index = &base.Command{
	Name:      "bm25 index",
	UsageLine: "bm25 index --corpus PATH --out FILE [flags]",
	Short:     "build a BM25 index from a JSONL corpus",
	Required:  []string{"corpus", "out"},
	Flags:     runBM25Index,
}

func runBM25Index(fs *flag.FlagSet) base.Func {
	corpus := fs.String("corpus", "", "corpus: a JSONL file of {\"_id\", \"title\", \"text\"} or a BEIR directory holding corpus.jsonl")
	out := fs.String("out", "", "index file to write")
	an := fs.String("analyzer", analysis.Default, "analyzer: "+strings.Join(analysis.Names(), ", "))
	k1 := fs.Float64("k1", bm25.DefaultK1, "BM25 k1")
	b := fs.Float64("b", bm25.DefaultB, "BM25 b (> 0)")
	return func(ctx context.Context, args []string) error {
		path := dataset.CorpusPath(*corpus)
		bar := progress.New(os.Stderr, "index", 0)
		bld, err := bm25.NewBuilder(bm25.Options{Analyzer: *an, K1: *k1, B: *b, Progress: bar})
		if err != nil {
			return err
		}
		start := time.Now()
		err = dataset.ReadCorpus(path, func(line int, d dataset.Doc) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.ID == "" {
				return fmt.Errorf("%s:%d: empty _id", path, line)
			}
			if err := bld.Add(bm25.Doc{ID: d.ID, Text: fusion.DocText(d.Title, d.Text)}); err != nil {
				return fmt.Errorf("%s:%d: %w", path, line, err)
			}
			return nil
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
}

// cmdBM25Search is kormed bm25 search.
var cmdBM25Search = &base.Command{
	Name:      "bm25 search",
	UsageLine: "bm25 search --index FILE [flags] QUERY...",
	Short:     "search a BM25 index",
	Required:  []string{"index"},
	Args:      true,
	Flags:     runBM25Search,
}

func runBM25Search(fs *flag.FlagSet) base.Func {
	index := fs.String("index", "", "index file written by 'kormed bm25 index'")
	k := fs.Int("k", 10, "number of results")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	corpus := fs.String("corpus", "", "corpus the index was built from (a JSONL file or BEIR directory), to show each hit's title and text")
	return func(ctx context.Context, args []string) error {
		if len(args) == 0 {
			return errors.New("need a query")
		}
		ix, err := bm25.Load(*index)
		if err != nil {
			return err
		}
		query := strings.Join(args, " ")
		hits := ix.Search(query, *k)
		docs := map[string]dataset.Doc{}
		if *corpus != "" {
			want := map[string]bool{}
			for _, h := range hits {
				want[h.ID] = true
			}
			err := dataset.ReadCorpus(dataset.CorpusPath(*corpus), func(_ int, d dataset.Doc) error {
				if want[d.ID] {
					docs[d.ID] = d
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		w := bufio.NewWriter(os.Stdout)
		defer w.Flush()
		for i, h := range hits {
			if *asJSON {
				d := docs[h.ID]
				b, _ := json.Marshal(struct {
					Rank  int     `json:"rank"`
					ID    string  `json:"id"`
					Score float64 `json:"score"`
					Title string  `json:"title,omitempty"`
					Text  string  `json:"text,omitempty"`
				}{i + 1, h.ID, h.Score, d.Title, d.Text})
				fmt.Fprintf(w, "%s\n", b)
			} else if d, ok := docs[h.ID]; ok {
				fmt.Fprintf(w, "%d\t%s\t%.4f\t%s\t%s\n", i+1, h.ID, h.Score, d.Title, snippet(d.Text, 60))
			} else {
				fmt.Fprintf(w, "%d\t%s\t%.4f\n", i+1, h.ID, h.Score)
			}
		}
		if len(hits) == 0 && !*asJSON {
			fmt.Fprintf(os.Stderr, "no document shares a term with %q (terms: %q)\n", query, ix.Analyze(query))
		}
		return nil
	}
}

// snippet is the first n characters of s on one line.
func snippet(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}
