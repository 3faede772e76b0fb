package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kormed/kormed/model"
)

// TestMain lets the test binary run as kormed itself (KORMED_MAIN=1), so
// tests can start it as a separate process and kill it.
func TestMain(m *testing.M) {
	if os.Getenv("KORMED_MAIN") == "1" {
		os.Args = append([]string{"kormed"}, strings.Fields(os.Getenv("KORMED_ARGS"))...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// trainFixture writes a two-stage pipeline over small generated drug-like
// data (a cosine stage on labelled pairs, an mnrl stage on triplets, with
// dropout and checkpoints) and returns its path.
func trainFixture(t *testing.T, steps int) string {
	t.Helper()
	dir := t.TempDir()
	var pairs, trip bytes.Buffer
	pairs.WriteString("query,context,label\n")
	kinds := []string{"해열제", "진통제", "소화제", "항생제", "안약", "기침약", "감기약", "변비약", "수면제", "비타민"}
	for i := 0; i < 60; i++ {
		k := kinds[i%len(kinds)]
		fmt.Fprintf(&pairs, "%s %d번,%s은 증상 %d을 줄이는 약입니다,1.0\n", k, i, k, i)
		fmt.Fprintf(&pairs, "%s %d번,%s은 다른 약입니다,0.0\n", k, i, kinds[(i+3)%len(kinds)])
		q, _ := json.Marshal(map[string]string{"query": fmt.Sprintf("%s %d 알려줘", k, i),
			"document": fmt.Sprintf("%s 제품 %d 설명", k, i), "hard_negative": fmt.Sprintf("%s 제품 %d 설명", kinds[(i+5)%len(kinds)], i)})
		trip.Write(append(q, '\n'))
	}
	os.WriteFile(filepath.Join(dir, "pairs.csv"), pairs.Bytes(), 0o644)
	os.WriteFile(filepath.Join(dir, "triplets.jsonl"), trip.Bytes(), 0o644)
	recipe := fmt.Sprintf(`name = "resume-test"
model = %q
seed = 7
[defaults]
batch_size = 8
lr = 1e-3
max_steps = %d
checkpoint_steps = 5
max_length = 24
[[stage]]
name = "pairs"
data = "pairs.csv"
loss = "cosine"
[[stage]]
name = "triplets"
data = "triplets.jsonl"
loss = "mnrl"
freeze = { embeddings = "word" }
`, mustAbs(t, tinyModelDir("tiny-xlmr")), steps)
	p := filepath.Join(dir, "recipe.toml")
	os.WriteFile(p, []byte(recipe), 0o644)
	return p
}

func mustAbs(t *testing.T, p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestTrainResumeAfterSIGKILL kills a training run with SIGKILL (in the
// first stage, and again in the second), resumes it twice with --resume,
// and checks the final weights of both stages are bit-identical to an
// uninterrupted run's.
func TestTrainResumeAfterSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three times")
	}
	const steps = 120
	recipe := trainFixture(t, steps)
	ref := filepath.Join(t.TempDir(), "ref")
	if err := cmdTrain.Exec(context.Background(), []string{recipe, "--output", ref, "--threads", "2", "--no-progress"}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "killed")
	args := fmt.Sprintf("train %s --output %s --threads 2 --no-progress", recipe, out)
	// Kill once in stage 1 after its checkpoint at step 20, once in stage 2
	// after step 10.
	for _, at := range []string{"01-pairs-step-000020", "02-triplets-step-000010"} {
		resume := ""
		if _, err := os.Stat(filepath.Join(out, "state.json")); err == nil {
			resume = " --resume"
		}
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "KORMED_MAIN=1", "KORMED_ARGS="+args+resume)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		killed := false
		deadline := time.Now().Add(2 * time.Minute)
		for !killed && time.Now().Before(deadline) {
			select {
			case err := <-done:
				t.Fatalf("the run ended (%v) before reaching %s:\n%s", err, at, stderr.String())
			case <-time.After(2 * time.Millisecond):
			}
			if b, err := os.ReadFile(filepath.Join(out, "state.json")); err == nil && bytes.Contains(b, []byte(at)) {
				cmd.Process.Signal(syscall.SIGKILL)
				<-done
				killed = true
			}
		}
		if !killed {
			t.Fatalf("no checkpoint %s within 2 minutes:\n%s", at, stderr.String())
		}
	}
	if err := cmdTrain.Exec(context.Background(), []string{recipe, "--output", out, "--threads", "2", "--no-progress", "--resume"}); err != nil {
		t.Fatal(err)
	}
	for _, stage := range []string{"01-pairs", "02-triplets"} {
		a, err := os.ReadFile(filepath.Join(ref, stage, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(out, stage, "model.safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s: weights after kill + resume differ from the uninterrupted run", stage)
		}
	}
	// The resumed log has each step once.
	logb, _ := os.ReadFile(filepath.Join(out, "train.jsonl"))
	seen := map[string]bool{}
	for _, l := range strings.Split(strings.TrimSpace(string(logb)), "\n") {
		var r struct {
			Stage string   `json:"stage"`
			Step  int      `json:"step"`
			Loss  *float64 `json:"loss"`
		}
		if json.Unmarshal([]byte(l), &r) != nil || r.Loss == nil {
			continue
		}
		k := fmt.Sprint(r.Stage, r.Step)
		if seen[k] {
			t.Fatalf("step %s logged twice after resuming", k)
		}
		seen[k] = true
	}
	if len(seen) != 2*steps {
		t.Errorf("log holds %d steps, want %d", len(seen), 2*steps)
	}
	if _, err := model.Load(filepath.Join(out, "model")); err != nil {
		t.Errorf("final model: %v", err)
	}
}
