package model_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// drugTexts reads up to n distinct item names and type definitions of the
// shared drug table; nil when the table is not there.
func drugTexts(t *testing.T, n int) []string {
	root, err := testmodel.RepoRoot()
	if err != nil {
		t.Skip(err)
	}
	f, err := os.Open(filepath.Join(root, "..", "shared", "data", "drugs", "drug_data_20_per_product_type.csv"))
	if err != nil {
		t.Skipf("drug table: %v", err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var texts []string
	for _, r := range rows[1:] {
		for _, s := range []string{r[4], r[2]} { // item_name, type_definition
			if s != "" && !seen[s] && len(texts) < n {
				seen[s] = true
				texts = append(texts, s)
			}
		}
	}
	return texts
}

// e5Shape writes a random model of multilingual-e5-small's shape (hidden
// 384, 12 heads, FFN 1536) with layers blocks and the repository's
// 3002-token drug-text Unigram vocabulary (e5-small's 250k-row embedding
// table changes nothing for the int8 products and costs 400 MB).
func e5Shape(t *testing.T, layers int) string {
	root, err := testmodel.RepoRoot()
	if err != nil {
		t.Skip(err)
	}
	tok := filepath.Join(root, "testdata", "tokenizers", "unigram", "tokenizer.json")
	dir := t.TempDir()
	if err := testmodel.Write(dir, testmodel.Options{Arch: "xlmr", Shape: "small", Seed: 17, Tokenizer: tok, Normalize: true}); err != nil {
		t.Fatal(err)
	}
	cfg, err := model.ReadConfig(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.HiddenSize, cfg.NumAttentionHeads, cfg.IntermediateSize, cfg.NumHiddenLayers = 384, 12, 1536, layers
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	ts := testmodel.Tensors(*cfg, testmodel.Options{Arch: "xlmr", Seed: 17})
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// int8Cosines encodes texts under fp32 and int8 and returns each text's
// cosine between the two embeddings.
func int8Cosines(t *testing.T, dir string, texts []string) []float64 {
	defer blas.SetPrecision(blas.FP32)
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref, err := m.Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	if err := blas.SetPrecision(blas.INT8); err != nil {
		t.Skip(err)
	}
	got, err := m.Encode(ctx, texts)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("int8 kernel: %s", m.Enc.Int8Kernel())
	cos := make([]float64, len(texts))
	for i := range texts {
		cos[i] = cosine(ref[i], got[i])
	}
	return cos
}

// cosine is the cosine similarity of a and b, in float64.
func cosine(a, b []float32) float64 {
	var d, na, nb float64
	for j := range a {
		x, y := float64(a[j]), float64(b[j])
		d, na, nb = d+x*y, na+x*x, nb+y*y
	}
	return d / math.Sqrt(na*nb)
}

func minMean(c []float64) (lo, mean float64) {
	lo = 1
	for _, v := range c {
		lo, mean = min(lo, v), mean+v
	}
	return lo, mean / float64(len(c))
}

// int8 embeddings of the drug texts stay within the bounds of the
// float32 ones: per-text cosine mean ≥ 0.995, min ≥ 0.98, on a random
// model of e5-small's shape (and, with KORMED_INT8_MODEL=DIR, on that
// model too, e.g. the demo's trained one).
func TestInt8EmbeddingQuality(t *testing.T) {
	texts := drugTexts(t, 300)
	layers := 12
	if testing.Short() || !int8Fast() {
		texts, layers = texts[:30], 2 // the pure-Go int8 product is slow
	}
	dirs := map[string]string{"random e5-small shape": e5Shape(t, layers)}
	if d := os.Getenv("KORMED_INT8_MODEL"); d != "" {
		dirs[d] = d
	}
	for name, dir := range dirs {
		lo, mean := minMean(int8Cosines(t, dir, texts))
		t.Logf("%s (%d layers where random): %d drug texts, int8 vs fp32 cosine min %.6f mean %.6f (1-mean %.2g)", name, layers, len(texts), lo, mean, 1-mean)
		if mean < 0.995 || lo < 0.98 {
			t.Errorf("%s: int8 vs fp32 cosine min %.5f mean %.5f, want min ≥ 0.98, mean ≥ 0.995", name, lo, mean)
		}
	}
}

// int8Fast reports whether int8 products run on oneDNN here.
func int8Fast() bool {
	w := blas.QuantizeInt8(make([]float32, 4), 2, 2, false)
	return w.Kernel() != "pure-go"
}
