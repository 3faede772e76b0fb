package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/model"
)

// Mixed is kormed bench mixed.
var Mixed = &base.Command{
	Name:      "bench mixed",
	UsageLine: "bench mixed --model DIR --input FILE [flags]",
	Short:     "time encoding real texts of uneven length, with and without length bucketing",
	Required:  []string{"model", "input"},
	Engine:    true,
	Int8:      true,
	Flags:     benchMixed,
}

func benchMixed(fs *flag.FlagSet) base.Func {
	dir := fs.String("model", "", "model folder")
	input := fs.String("input", "", "texts, one per line")
	batch := fs.Int("batch", 32, "texts per batch")
	iters := fs.Int("iters", 1, "passes over the texts")
	return func(ctx context.Context, args []string) error {
		texts, err := readLines(*input)
		if err != nil {
			return err
		}
		m, err := model.Load(*dir)
		if err != nil {
			return err
		}
		m.BatchSize = *batch
		encs, err := m.Tokenize(texts, m.PassagePrefix)
		if err != nil {
			return err
		}
		tokens := 0
		for _, e := range encs {
			tokens += len(e.IDs)
		}
		res := map[string]any{"texts": len(texts), "mean_tokens": float64(tokens) / float64(len(texts)), "batch": *batch, "threads": blas.Threads()}
		for _, sorted := range []bool{false, true} {
			m.SortByLength = sorted
			if _, err := m.EncodeTokens(ctx, encs[:min(len(encs), *batch)]); err != nil { // warm-up
				return err
			}
			t0 := time.Now()
			for i := 0; i < *iters; i++ {
				if _, err := m.EncodeTokens(ctx, encs); err != nil {
					return err
				}
			}
			rate := float64(len(texts)**iters) / time.Since(t0).Seconds()
			if sorted {
				res["bucketed_texts_per_s"] = rate
			} else {
				res["input_order_texts_per_s"] = rate
			}
		}
		res["bucketing_gain"] = res["bucketed_texts_per_s"].(float64) / res["input_order_texts_per_s"].(float64)
		return json.NewEncoder(os.Stdout).Encode(res)
	}
}

// readLines reads the non-empty lines of a UTF-8 text file.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
