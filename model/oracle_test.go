package model_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// oracleAvailable reports whether Debian's python with torch and
// sentencepiece can run oracle/reference.py. KORMED_ORACLE=0 turns the
// oracle tests off, KORMED_ORACLE=1 makes a missing torch a failure.
func oracleAvailable(t *testing.T) {
	t.Helper()
	env := os.Getenv("KORMED_ORACLE")
	if env == "0" {
		t.Skip("KORMED_ORACLE=0")
	}
	if testing.Short() && env != "1" {
		t.Skip("oracle comparison skipped in -short mode")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torch, numpy, sentencepiece").Run(); err != nil {
		if env == "1" {
			t.Fatalf("KORMED_ORACLE=1 but /usr/bin/python3 cannot import torch/numpy/sentencepiece: %v", err)
		}
		t.Skip("no /usr/bin/python3 with torch: oracle comparison skipped")
	}
}

// TestOracleE5Small compares the encoder with PyTorch at the real
// multilingual-e5-small shape (BertModel, 12 layers, hidden 384, 12 heads,
// FFN 1536, vocab 250037, 512 positions) with random weights: every
// hidden state, the tokenizer ids and the final embeddings. The xlmr
// variant is the same shape as an XLMRobertaModel (514 positions
// numbered from pad+1, one token type).
func TestOracleE5Small(t *testing.T) {
	oracleAvailable(t)
	for _, arch := range []string{"bert", "xlmr"} {
		t.Run(arch, func(t *testing.T) { oracleE5Small(t, arch) })
	}
}

func oracleE5Small(t *testing.T, arch string) {
	start := time.Now()
	dir := filepath.Join(t.TempDir(), "multilingual-e5-small-random")
	if err := testmodel.Write(dir, testmodel.Options{Arch: arch, Shape: "e5-small", Seed: 3, Normalize: true}); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile(filepath.Join("..", "testdata", "tokenizers", "corpus.txt"))
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Split(string(lines), "\n")
	texts := []string{m.QueryPrefix + "타이레놀의 효능은?", m.PassagePrefix + all[10], m.PassagePrefix + strings.Repeat(all[11]+" ", 3), ""}
	for i := 0; i < len(all) && len(texts) < 8; i += 47 {
		texts = append(texts, m.PassagePrefix+all[i])
	}
	tj, _ := json.Marshal(texts)
	tpath := filepath.Join(dir, "texts.json")
	os.WriteFile(tpath, tj, 0o644)
	fx := filepath.Join(dir, "golden.safetensors")
	t.Logf("model written in %v", time.Since(start).Round(time.Millisecond))
	cmd := exec.Command("/usr/bin/python3", filepath.Join("..", "oracle", "reference.py"), "--model", dir, "--texts", tpath,
		"--out", fx, "--max-length", "128", "--threads", "2")
	cmd.Env = append(os.Environ(), "OPENBLAS_CORETYPE=Zen")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("oracle: %v\n%s", err, out)
	}
	t.Logf("oracle done at %v", time.Since(start).Round(time.Millisecond))

	r, err := safetensors.Open(fx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	in, _ := r.Info("input_ids")
	B, T := in.Shape[0], in.Shape[1]
	ids, _ := r.Int32("input_ids", nil)
	tt, _ := r.Int32("token_type_ids", nil)
	m64, _ := r.Int64("attention_mask", nil)
	mask := make([]float32, len(m64))
	for i, v := range m64 {
		mask[i] = float32(v)
	}
	var worst float64
	ws := &model.Workspace{}
	_, err = m.Enc.Forward(ws, ids, tt, mask, B, T, func(l int, h []float32) {
		want, err := r.Float32(fmt.Sprintf("hidden_states.%d", l), nil)
		if err != nil {
			t.Fatal(err)
		}
		d := maxDiff(h, want)
		worst = math.Max(worst, d)
		if d > 1e-4 {
			t.Errorf("hidden state %d differs by %g", l, d)
		}
	})
	if err != nil {
		t.Fatal(err)
	}

	m.MaxLength = 128
	encs, _ := m.Tokenize(texts, "")
	for b, e := range encs {
		for j, id := range e.IDs {
			if ids[b*T+j] != id || mask[b*T+j] != 1 {
				t.Fatalf("text %d: Go ids %v differ from sentencepiece's at %d", b, e.IDs, j)
			}
		}
	}
	got, err := m.Encode(context.Background(), texts)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := r.Float32("embedding", nil)
	D := m.Dim()
	for i, v := range got {
		d := maxDiff(v, want[i*D:(i+1)*D])
		worst = math.Max(worst, d)
		if d > 1e-4 {
			t.Errorf("embedding %d differs by %g", i, d)
		}
	}
	t.Logf("%s at e5-small shape, B=%d T=%d: max |go - torch| over 13 hidden states and embeddings = %.3g (total %v)", arch, B, T, worst, time.Since(start).Round(time.Millisecond))
}
