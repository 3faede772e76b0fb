package gguf

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/testmodel"
)

// nodeLlama returns the folder where node-llama-cpp is installed
// (KORMED_NODE_LLAMA, else ~/.cache/kormed/node-llama-cpp), skipping the
// test when node or the package is missing.
func nodeLlama(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: llama.cpp runs are slow")
	}
	if _, err := exec.LookPath("node"); err != nil {
		t.Skip("node not on PATH: the llama.cpp comparison needs node and node-llama-cpp (see scripts/node-llama.sh)")
	}
	dir := os.Getenv("KORMED_NODE_LLAMA")
	if dir == "" {
		home, _ := os.UserHomeDir()
		dir = filepath.Join(home, ".cache", "kormed", "node-llama-cpp")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "node-llama-cpp", "package.json")); err != nil {
		t.Skipf("node-llama-cpp not installed in %s (KORMED_NODE_LLAMA): run scripts/node-llama.sh", dir)
	}
	return dir
}

// llamaGreedy runs testdata/llama_greedy.mjs: llama.cpp's n greedy
// tokens after ids, and their probabilities, of each model.
func llamaGreedy(t *testing.T, nodeDir string, ids []int, n int, models ...string) (toks [][]int, probs [][]float64) {
	t.Helper()
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	cmd := exec.Command("node", append([]string{"testdata/llama_greedy.mjs", fmt.Sprint(n), strings.Join(s, ",")}, models...)...)
	cmd.Env = append(os.Environ(), "KORMED_NODE_LLAMA="+nodeDir)
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("llama_greedy.mjs: %v\n%s", err, msg)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var res struct {
			Tokens     []int     `json:"tokens"`
			Confidence []float64 `json:"confidence"`
		}
		if !strings.HasPrefix(line, "{") {
			continue // a llama.cpp log line
		}
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			t.Fatalf("llama_greedy.mjs output %q: %v", line, err)
		}
		toks, probs = append(toks, res.Tokens), append(probs, res.Confidence)
	}
	if len(toks) != len(models) {
		t.Fatalf("llama_greedy.mjs: %d results for %d models:\n%s", len(toks), len(models), out)
	}
	return toks, probs
}

// agree counts the leading tokens a and b share.
func agree(a, b []int) int {
	n := 0
	for n < min(len(a), len(b)) && a[n] == b[n] {
		n++
	}
	return n
}

// TestLlamaCppGreedy exports tiny random decoders (llama and exaone) and
// compares llama.cpp's greedy tokens with kormed's (decoder.Generate):
// f32 and f16 exports must give kormed's tokens exactly. Quantized ones
// are compared with kormed run on the dequantized weights (the values
// llama.cpp holds), reported and required to agree on the first token —
// llama.cpp also quantizes the activations to 8 bits in those products,
// and the tiny models' next-token distributions are nearly flat.
func TestLlamaCppGreedy(t *testing.T) {
	nodeDir := nodeLlama(t)
	ctx := context.Background()
	never := func(int) bool { return false }
	for _, arch := range []string{"llama", "exaone"} {
		src := writeTiny(t, testmodel.DecoderOptions{Arch: arch, Seed: 7, Std: 0.2})
		m, err := decoder.Load(src)
		if err != nil {
			t.Fatal(err)
		}
		prompt := []int{1, 72, 101, 108, 108, 111, 44, 32, 119}
		const n = 24
		want, err := m.Generate(ctx, prompt, n, never)
		if err != nil {
			t.Fatal(err)
		}
		types := []Type{F32, F16, Q8_0, Q4_0}
		var paths []string
		for _, typ := range types {
			out := filepath.Join(t.TempDir(), typ.String()+".gguf")
			if err := Export(src, out, Options{Type: typ}); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, out)
		}
		got, probs := llamaGreedy(t, nodeDir, prompt, n, paths...)
		for i, typ := range types {
			ref := want
			if typ == Q8_0 || typ == Q4_0 {
				dq, err := decoder.Load(dequantized(t, src, paths[i]))
				if err != nil {
					t.Fatal(err)
				}
				if ref, err = dq.Generate(ctx, prompt, n, never); err != nil {
					t.Fatal(err)
				}
			}
			k := agree(got[i], ref)
			t.Logf("%s %v: %d of %d tokens agree (vs the original weights: %d); p of llama.cpp's first: %.3f\n kormed    %v\n llama.cpp %v",
				arch, typ, k, n, agree(got[i], want), probs[i][0], ref, got[i])
			if (typ == F32 || typ == F16) && k != n || k == 0 {
				t.Errorf("%s %v: llama.cpp's tokens differ from kormed's", arch, typ)
			}
		}
	}
}
