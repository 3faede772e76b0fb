package decoder_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// fixtures are the models of oracle/make_decoder_fixtures.sh (the same
// options), whose PyTorch outputs are checked in under testdata.
var fixtures = []struct {
	name string
	opt  testmodel.DecoderOptions
}{
	{"tiny-llama", testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 1, Std: 0.1}},
	{"tiny-exaone", testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 2, Std: 0.1, DType: safetensors.BF16, Shards: 2}},
	{"tiny-llama-tied", testmodel.DecoderOptions{Arch: "llama", Shape: "tiny", Seed: 3, Std: 0.1, DType: safetensors.F16,
		Tie: "true", AttentionBias: true, HeadDim: 8, Layers: 3}},
}

// tol is the comparison bound: 1e-4 of the logits' scale (their largest
// magnitude, at least 1).
const tol = 1e-4

type golden struct {
	ids, gen  []int
	logits    []float32 // [T,V]
	genLogits []float32 // [N,V]
	V         int
}

func readGolden(t *testing.T, path string) golden {
	t.Helper()
	r, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var g golden
	toInts := func(name string) []int {
		v, err := r.Int64(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]int, len(v))
		for i, x := range v {
			out[i] = int(x)
		}
		return out
	}
	g.ids, g.gen = toInts("input_ids"), toInts("generated")
	in, _ := r.Info("logits")
	g.V = in.Shape[1]
	if g.logits, err = r.Float32("logits", nil); err != nil {
		t.Fatal(err)
	}
	if g.genLogits, err = r.Float32("generated_logits", nil); err != nil {
		t.Fatal(err)
	}
	return g
}

// relDiff is max |a-b| over the scale of b (its largest magnitude, ≥ 1).
func relDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d, s float64 = 0, 1
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
		s = math.Max(s, math.Abs(float64(b[i])))
	}
	return d / s
}

func never(int) bool { return false }

func TestGolden(t *testing.T) {
	for _, f := range fixtures {
		t.Run(f.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), f.name)
			if err := testmodel.WriteDecoder(dir, f.opt); err != nil {
				t.Fatal(err)
			}
			m, err := decoder.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			g := readGolden(t, filepath.Join("testdata", f.name+".safetensors"))
			checkModel(t, m, g)
		})
	}
}

// checkModel compares m with the oracle's outputs g: the prompt's logits
// in one forward, the same built up through the KV cache one token at a
// time (and in uneven chunks), the logits of each greedy step, and the
// greedy ids.
func checkModel(t *testing.T, m *decoder.Model, g golden) {
	V, T := g.V, len(g.ids)
	ws := &decoder.Workspace{}
	full, err := m.Forward(ws, nil, g.ids, true)
	if err != nil {
		t.Fatal(err)
	}
	full = append([]float32(nil), full...)
	worst := relDiff(full, g.logits)
	if worst > tol {
		t.Errorf("prompt logits differ from PyTorch by %.3g of their scale", worst)
	}
	// The KV cache, one token at a time and in chunks 3, 1, 5, …: every
	// position's logits as the single forward's.
	for _, chunks := range [][]int{{1}, {3, 1, 5}} {
		c := m.NewCache()
		for pos, i := 0, 0; pos < T; i++ {
			n := min(chunks[i%len(chunks)], T-pos)
			lg, err := m.Forward(ws, c, g.ids[pos:pos+n], true)
			if err != nil {
				t.Fatal(err)
			}
			if d := relDiff(lg, full[pos*V:(pos+n)*V]); d > 1e-5 {
				t.Errorf("chunks %v: positions %d..%d through the cache differ by %.3g from the single forward", chunks, pos, pos+n-1, d)
			}
			if c.Len != pos+n {
				t.Fatalf("cache length %d, want %d", c.Len, pos+n)
			}
			pos += n
		}
	}
	// The greedy steps' logits, feeding PyTorch's tokens through the cache.
	c := m.NewCache()
	next := g.ids
	for i, id := range g.gen {
		lg, err := m.Forward(ws, c, next, false)
		if err != nil {
			t.Fatal(err)
		}
		d := relDiff(lg, g.genLogits[i*V:(i+1)*V])
		worst = math.Max(worst, d)
		if d > tol {
			t.Errorf("greedy step %d: logits differ from PyTorch by %.3g", i, d)
		}
		next = []int{id}
	}
	got, err := m.Generate(context.Background(), g.ids, len(g.gen), never)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(g.gen) {
		t.Errorf("greedy continuation %v, PyTorch's %v", got, g.gen)
	}
	t.Logf("%s: max |go - torch| / scale over the prompt's %d and %d greedy steps' logits = %.3g; greedy ids equal: %v",
		m.Cfg.ModelType, T, len(g.gen), worst, fmt.Sprint(got) == fmt.Sprint(g.gen))
}

// TestOracleExaone24B compares with PyTorch live at EXAONE-3.5-2.4B's
// shape (hidden 2560, 32 heads, 8 KV heads, head_dim 80, FFN 7168, vocab
// 102400, tied embeddings, llama3 rope scaling, theta 1e6) with 2 of its
// 30 layers and random weights. It needs /usr/bin/python3 with torch
// (skipped otherwise, in -short mode and with KORMED_ORACLE=0) and about
// 6 GB of memory.
func TestOracleExaone24B(t *testing.T) {
	env := os.Getenv("KORMED_ORACLE")
	if env == "0" {
		t.Skip("KORMED_ORACLE=0")
	}
	if testing.Short() && env != "1" {
		t.Skip("oracle comparison skipped in -short mode")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch, numpy").Run(); err != nil {
		if env == "1" {
			t.Fatalf("KORMED_ORACLE=1 but /usr/bin/python3 cannot import torch/numpy: %v", err)
		}
		t.Skip("no /usr/bin/python3 with torch: oracle comparison skipped")
	}
	start := time.Now()
	dir := filepath.Join(t.TempDir(), "exaone-2.4b-2layers")
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: "exaone", Shape: "exaone-2.4b", Seed: 7, Layers: 2, DType: safetensors.BF16}); err != nil {
		t.Fatal(err)
	}
	t.Logf("model written in %v", time.Since(start).Round(time.Millisecond))
	ids := "1,3000,77,102399,361,5,40000,12345,9,800"
	fx := filepath.Join(t.TempDir(), "golden.safetensors")
	cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "oracle", "decoder_reference.py"), "--model", dir,
		"--ids", ids, "--new", "4", "--out", fx, "--threads", "2")
	cmd.Env = append(os.Environ(), "OPENBLAS_CORETYPE=Haswell")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oracle: %v\n%s", err, out)
	}
	t.Logf("oracle done at %v", time.Since(start).Round(time.Millisecond))
	m, err := decoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	checkModel(t, m, readGolden(t, fx))
	t.Logf("total %v", time.Since(start).Round(time.Millisecond))
}
