package decoder_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// bf16Pair writes a BF16 checkpoint and loads it twice: bfloat16-resident
// (StorageAuto picks it for a BF16 checkpoint) and widened to float32.
func bf16Pair(t *testing.T, o testmodel.DecoderOptions, lo decoder.LoadOptions) (bf, fp *decoder.Model, dir string) {
	t.Helper()
	dir = filepath.Join(t.TempDir(), "m")
	o.DType = safetensors.BF16
	if err := testmodel.WriteDecoder(dir, o); err != nil {
		t.Fatal(err)
	}
	bf, err := decoder.LoadWith(dir, lo)
	if err != nil {
		t.Fatal(err)
	}
	fp, err = decoder.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageFP32})
	if err != nil {
		t.Fatal(err)
	}
	return bf, fp, dir
}

// A BF16 checkpoint kept in bfloat16 computes what its float32 widening
// computes (the products are float32 arithmetic on the exactly widened
// weights; only the summation order differs): the logits of a prompt
// longer than blas.GEMVRows and of cached single tokens, and the greedy
// generation, for a tied EXAONE and an untied Llama with biases.
func TestBF16Storage(t *testing.T) {
	for _, o := range []testmodel.DecoderOptions{
		{Arch: "exaone", Shape: "tiny", Seed: 5, Std: 0.1, Tie: "true"},
		{Arch: "llama", Shape: "tiny", Seed: 6, Std: 0.1, AttentionBias: true},
	} {
		t.Run(o.Arch, func(t *testing.T) {
			bf, fp, _ := bf16Pair(t, o, decoder.LoadOptions{})
			for l := range bf.W.Layers {
				if !bf.W.Layers[l].BF16() || bf.W.Layers[l].QKVWT != nil || fp.W.Layers[l].BF16() {
					t.Fatalf("layer %d: auto did not keep bf16, or fp32 did", l)
				}
			}
			if bf.W.Embed16 == nil || bf.W.LMHead16 == nil || bf.W.Embed != nil || fp.W.Embed16 != nil {
				t.Fatal("embedding/head storage")
			}
			if tied := &bf.W.Embed16[0] == &bf.W.LMHead16[0]; tied != (o.Tie == "true") {
				t.Fatalf("tied head shares the embedding: %v", tied)
			}
			// Size: the same parameters; 2 bytes fewer for each but the
			// norms' and biases' (float32 in both).
			small := len(fp.W.Norm)
			for _, L := range fp.W.Layers {
				small += len(L.AttnNorm) + len(L.MLPNorm) + len(L.QKVB) + len(L.OB) + len(L.GateUpB) + len(L.DownB)
			}
			sb, sf := bf.W.Size(), fp.W.Size()
			if sb.Params != sf.Params || sf.Bytes != 4*sf.Params || sb.Bytes != 2*sb.Params+2*small {
				t.Fatalf("sizes: bf16 %+v, fp32 %+v (%d norm and bias parameters)", sb, sf, small)
			}
			prompt := []int{1, 40, 41, 42, 7, 8, 9, 10, 11, 12, 13, 14, 15}
			cb, cf := bf.NewCache(), fp.NewCache()
			lb, err := bf.Forward(&decoder.Workspace{}, cb, prompt, true)
			if err != nil {
				t.Fatal(err)
			}
			lf, _ := fp.Forward(&decoder.Workspace{}, cf, prompt, true)
			if d := relDiff(lb, lf); d > 1e-5 {
				t.Fatalf("prompt logits: bf16 storage differs from fp32 by %.3g of scale", d)
			}
			for _, id := range []int{3, 99, 200} {
				lb, _ = bf.Forward(&decoder.Workspace{}, cb, []int{id}, false)
				lf, _ = fp.Forward(&decoder.Workspace{}, cf, []int{id}, false)
				if d := relDiff(lb, lf); d > 1e-5 {
					t.Fatalf("token %d: bf16 storage differs from fp32 by %.3g of scale", id, d)
				}
			}
			gb, err := bf.Generate(context.Background(), prompt, 16, never)
			if err != nil {
				t.Fatal(err)
			}
			gf, _ := fp.Generate(context.Background(), prompt, 16, never)
			if fmt.Sprint(gb) != fmt.Sprint(gf) {
				t.Fatalf("greedy ids: bf16 %v, fp32 %v", gb, gf)
			}
		})
	}
}

// StorageBF16 rounds an F32 checkpoint to bfloat16; saving and reloading
// such a model keeps its bits (Tensors writes BF16 tensors).
func TestBF16RoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 2}); err != nil {
		t.Fatal(err)
	}
	fp, err := decoder.Load(dir) // auto: an F32 checkpoint stays float32
	if err != nil {
		t.Fatal(err)
	}
	if fp.W.Layers[0].BF16() || fp.W.Embed16 != nil {
		t.Fatal("auto rounded an F32 checkpoint")
	}
	bf, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageBF16})
	if err != nil {
		t.Fatal(err)
	}
	want := safetensors.Float32ToBF16(fp.W.Layers[1].DownWT[0]) // DownWT [F,C]: [0] is down_proj[0][0]
	if got := bf.W.Layers[1].DownW16[0]; got != want {
		t.Fatalf("down_proj[0][0]: %#x, want %#x", got, want)
	}
	out := filepath.Join(t.TempDir(), "saved.safetensors")
	if err := safetensors.Write(out, bf.Tensors(), nil); err != nil {
		t.Fatal(err)
	}
	r, err := safetensors.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	back, err := decoder.LoadWeights(r, &bf.Cfg)
	if err != nil {
		t.Fatal(err)
	}
	for l := range bf.W.Layers {
		a, b := &bf.W.Layers[l], &back.Layers[l]
		for i, pair := range [][2][]uint16{{a.QKVW16, b.QKVW16}, {a.OW16, b.OW16}, {a.GateUpW16, b.GateUpW16}, {a.DownW16, b.DownW16}} {
			if fmt.Sprint(pair[0]) != fmt.Sprint(pair[1]) {
				t.Fatalf("layer %d matrix %d changed in the round trip", l, i)
			}
		}
	}
	if fmt.Sprint(back.Embed16) != fmt.Sprint(bf.W.Embed16) || fmt.Sprint(back.LMHead16) != fmt.Sprint(bf.W.LMHead16) {
		t.Fatal("embedding or head changed in the round trip")
	}
}

// With TrainTop the top blocks, the head and (tied) the embedding stay
// float32 and train exactly as in an all-float32 model of the same
// checkpoint; the frozen blocks below are bfloat16.
func TestBF16FrozenTraining(t *testing.T) {
	for _, tie := range []string{"true", "false"} {
		o := testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 8, Std: 0.1, Tie: tie}
		bf, fp, _ := bf16Pair(t, o, decoder.LoadOptions{Weights: decoder.StorageBF16, TrainTop: 1})
		L := bf.Cfg.NumLayers
		for l := range bf.W.Layers {
			if bf.W.Layers[l].BF16() != (l < L-1) {
				t.Fatalf("tie %s: layer %d bf16 = %v", tie, l, bf.W.Layers[l].BF16())
			}
		}
		if bf.W.LMHead == nil || (tie == "true") != (bf.W.Embed != nil) {
			t.Fatalf("tie %s: head fp32 %v, embedding fp32 %v", tie, bf.W.LMHead != nil, bf.W.Embed != nil)
		}
		ids := []int{1, 40, 41, 42, 7, 8, 9, 10, 11, 12}
		labels := []int{-100, -100, -100, -100, 8, 9, 10, 11, 12, 2}
		lb, gb, _ := trainStep(t, bf, ids, labels, 1, false)
		lf, gf, _ := trainStep(t, fp, ids, labels, 1, false)
		if d := (lb - lf) / lf; d > 1e-6 || d < -1e-6 {
			t.Fatalf("tie %s: loss %v, fp32 %v", tie, lb, lf)
		}
		for i, s := range bf.Slots(gb) {
			if d := scaledDiff(s.Grad, fp.Slots(gf)[i].Grad); d > 1e-5 {
				t.Errorf("tie %s: gradient of %s differs by %.3g of scale", tie, s.Name, d)
			}
		}
		if _, err := bf.NewGrads(2, false); err == nil || !strings.Contains(err.Error(), "TrainTop ≥ 2") {
			t.Errorf("tie %s: training a bf16 block: %v", tie, err)
		}
	}
	bf, _, _ := bf16Pair(t, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 1}, decoder.LoadOptions{})
	if _, err := bf.NewGrads(1, false); err == nil || !strings.Contains(err.Error(), "LM head is bfloat16") {
		t.Errorf("training a bf16 head: %v", err)
	}
}

func TestParseStorage(t *testing.T) {
	for in, want := range map[string]decoder.Storage{"": decoder.StorageAuto, "auto": decoder.StorageAuto, "fp32": decoder.StorageFP32, "bf16": decoder.StorageBF16, "bfloat16": decoder.StorageBF16,
		"int8": decoder.StorageInt8, "int4": decoder.StorageInt4} {
		if got, err := decoder.ParseStorage(in); err != nil || got != want || (in != "" && in != "bfloat16" && got.String() != in) {
			t.Errorf("ParseStorage(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := decoder.ParseStorage("fp16"); err == nil || !strings.Contains(err.Error(), "want auto, fp32, bf16, int8 or int4") {
		t.Errorf("fp16: %v", err)
	}
	_, dir := tinyModel(t, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 1})
	for _, n := range []int{-1, 99} {
		if _, err := decoder.LoadWith(dir, decoder.LoadOptions{TrainTop: n}); err == nil || !strings.Contains(err.Error(), "TrainTop") {
			t.Errorf("TrainTop %d: %v", n, err)
		}
	}
}

// TensorsFunc gives Tensors' names, dtypes and shapes in the same order,
// with the values of the wanted tensors only (equal to Tensors').
func TestTensorsFunc(t *testing.T) {
	bf, _, _ := bf16Pair(t, testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 3, AttentionBias: true}, decoder.LoadOptions{TrainTop: 1})
	all := bf.Tensors()
	want := func(name string) bool {
		return strings.Contains(name, "layers.0.") && !strings.Contains(name, "k_proj")
	}
	some := bf.TensorsFunc(want)
	if len(some) != len(all) {
		t.Fatalf("%d tensors, Tensors has %d", len(some), len(all))
	}
	got := 0
	for i, a := range all {
		s := some[i]
		if s.Name != a.Name || s.DType != a.DType || fmt.Sprint(s.Shape) != fmt.Sprint(a.Shape) {
			t.Fatalf("tensor %d: %s %s %v, Tensors %s %s %v", i, s.Name, s.DType, s.Shape, a.Name, a.DType, a.Shape)
		}
		if want(a.Name) != (s.Floats != nil) || (s.Floats != nil && fmt.Sprint(s.Floats) != fmt.Sprint(a.Floats)) {
			t.Fatalf("%s: values %v (wanted %v)", a.Name, s.Floats != nil, want(a.Name))
		}
		if s.Floats != nil {
			got++
		}
	}
	// Layer 0 of the biased llama: 2 norms; q, k, v, o weights and biases;
	// gate, up, down: 13, less k_proj's weight and bias.
	if got != 11 {
		t.Fatalf("%d wanted tensors, want 11", got)
	}
}
