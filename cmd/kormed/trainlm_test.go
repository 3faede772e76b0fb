package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/testmodel"
)

// TestTrainLM fine-tunes a tiny EXAONE-layout decoder with kormed train-lm
// and with kormed train on a causal_lm recipe; both save loadable models.
func TestTrainLM(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	if err := testmodel.WriteDecoder(base, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 5, Std: 0.1}); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "train.jsonl")
	os.WriteFile(data, []byte(`{"question":"열이 나요?","contexts":["해열제를 복용했다."],"long_answer":"해열제가 도움이 된다."}
{"question":"기침?","context":"기침이 2주 지속.","long_answer":"검사가 필요하다."}
`), 0o644)
	out := filepath.Join(dir, "run")
	var stdout, stderr bytes.Buffer
	args := []string{"--model", base, "--data", data, "--output", out, "--top-n", "1", "--lr", "1e-3", "--accum", "2",
		"--max-steps", "3", "--max-length", "200", "--no-progress", "--threads", "1"}
	if err := cmdTrainLM(&stdout, &stderr).Exec(context.Background(), args); err != nil {
		t.Fatalf("%v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "trained 3 steps") || !strings.Contains(stderr.String(), "1 truncated (contexts cut)") {
		t.Fatalf("stdout %s\nstderr %s", stdout.String(), stderr.String())
	}
	if _, err := decoder.Load(filepath.Join(out, "model")); err != nil {
		t.Fatal(err)
	}
	if err := cmdTrainLM(&stdout, &stderr).Exec(context.Background(), args); err == nil || !strings.Contains(err.Error(), "--resume") {
		t.Fatalf("second run into %s: %v", out, err)
	}
	// kormed train with a causal_lm recipe.
	recipe := filepath.Join(dir, "lm.toml")
	os.WriteFile(recipe, []byte("name = \"lm\"\nmodel = \"base\"\noutput = \"run2\"\n[[stage]]\nloss = \"causal_lm\"\ndata = \"train.jsonl\"\ntop_n = 2\nlr = 1e-3\nmax_length = 200\nepochs = 1\n"), 0o644)
	if err := cmdTrain.Exec(context.Background(), []string{recipe, "--no-progress", "--threads", "1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := decoder.Load(filepath.Join(dir, "run2", "model")); err != nil {
		t.Fatal(err)
	}
}
