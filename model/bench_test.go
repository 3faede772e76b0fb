package model_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/testmodel"
)

var (
	benchOnce  sync.Once
	benchModel *model.Model
	benchErr   error
)

// e5SmallRandom writes (once per process) a random-weight model at
// multilingual-e5-small's shape and loads it.
func e5SmallRandom(b *testing.B) *model.Model {
	benchOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kormed-bench-e5")
		if err != nil {
			benchErr = err
			return
		}
		defer os.RemoveAll(dir)
		if benchErr = testmodel.Write(dir, testmodel.Options{Arch: "bert", Shape: "e5-small", Seed: 1, Normalize: true}); benchErr != nil {
			return
		}
		benchModel, benchErr = model.Load(dir)
	})
	if benchErr != nil {
		b.Fatal(benchErr)
	}
	return benchModel
}

// mixedTexts are the drug parity corpus lines: product names of a few
// tokens next to definitions of a hundred and more.
func mixedTexts(b *testing.B, n int) []string {
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizers", "corpus.txt"))
	if err != nil {
		b.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if l != "" {
			lines = append(lines, "passage: "+l)
		}
	}
	out := make([]string, n)
	for i := range out {
		out[i] = lines[(i*7)%len(lines)]
	}
	return out
}

// BenchmarkEncodeMixedLengths measures Encode on 512 texts of mixed length
// at the e5-small shape, batching in input order against batching by
// token count.
func BenchmarkEncodeMixedLengths(b *testing.B) {
	m := e5SmallRandom(b)
	texts := mixedTexts(b, 512)
	encs, _ := m.Tokenize(texts, "")
	var toks int
	for _, e := range encs {
		toks += len(e.IDs)
	}
	b.Logf("%d texts, %d tokens (mean %.1f)", len(texts), toks, float64(toks)/float64(len(texts)))
	for _, sorted := range []bool{false, true} {
		name := "input-order"
		if sorted {
			name = "length-sorted"
		}
		b.Run(name, func(b *testing.B) {
			m.SortByLength = sorted
			m.BatchSize = 32
			for i := 0; i < b.N; i++ {
				if _, err := m.EncodeTokens(context.Background(), encs); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(texts)*b.N)/b.Elapsed().Seconds(), "texts/s")
		})
	}
	m.SortByLength = true
}
