package model_test

import (
	"context"
	"testing"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/model"
)

// Under BF16, LoadEncoder packs the blocks' products; a text's embedding
// on the packed weights is the unpacked bf16 one to summation order, and
// both stay within bfloat16 rounding of float32. DropBF16 returns to the
// unpacked products, bit for bit.
func TestPackBF16(t *testing.T) {
	defer blas.SetPrecision(blas.CurrentPrecision())
	if err := blas.SetPrecision(blas.BF16); err != nil {
		t.Skip(err)
	}
	texts := drugTexts(t, 20)
	m, err := model.Load(e5Shape(t, 2))
	if err != nil {
		t.Fatal(err)
	}
	if !m.Enc.W.PackedBF16() {
		t.Fatal("LoadEncoder under BF16 did not pack the products")
	}
	ctx := context.Background()
	one := func() [][]float32 { // a text at a time: few rows, the packed products' case
		var out [][]float32
		for _, s := range texts {
			v, err := m.Encode(ctx, []string{s})
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, v[0])
		}
		return out
	}
	packed := one()
	m.Enc.W.DropBF16()
	plain := one()
	again := one()
	blas.SetPrecision(blas.FP32)
	f32 := one()
	lo, loF, loP := 1.0, 1.0, 1.0
	for i := range texts {
		for j := range plain[i] {
			if plain[i][j] != again[i][j] {
				t.Fatalf("text %d: the unpacked bf16 embedding is not reproducible", i)
			}
		}
		lo, loF, loP = min(lo, cosine(packed[i], plain[i])), min(loF, cosine(packed[i], f32[i])), min(loP, cosine(plain[i], f32[i]))
	}
	t.Logf("%d texts: 1 − cosine, packed vs unpacked bf16 %.2g, packed vs float32 %.2g, unpacked bf16 vs float32 %.2g", len(texts), 1-lo, 1-loF, 1-loP)
	if loF == 1 || loP == 1 {
		t.Fatal("bf16 embeddings equal to float32 ones: the bf16 products did not run")
	}
	if lo < 0.99999 || loF < 0.999 {
		t.Errorf("packed bf16 embeddings: cosine min %.7f to unpacked bf16 (want ≥ 0.99999), %.6f to float32 (want ≥ 0.999)", lo, loF)
	}
}
