package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/testmodel"
)

// TestBenchTrainLM runs kormed bench train-lm on tiny EXAONE-layout
// decoders and checks its JSON record: the fields, the parameter counts,
// the first step's loss against the inference forward's logits through
// decoder.CausalLMLoss, and the first step's loss and gradient norm against
// bench/torch_train_lm.py (PyTorch 1.13 fp32; its gradient norm summed in
// float64 as kormed's is, grad_norm_first_f64). The PyTorch values were
// printed by
//
//	kormed testmodel --arch exaone --shape tiny --seed 1 --std 0.1 --out /tmp/ex
//	kormed testmodel --arch exaone --shape tiny --seed 2 --std 0.1 --tie true --out /tmp/ext
//	OPENBLAS_CORETYPE=Haswell /usr/bin/python3 bench/torch_train_lm.py --model /tmp/ex --seq 64 --threads 1
//	OPENBLAS_CORETYPE=Haswell /usr/bin/python3 bench/torch_train_lm.py --model /tmp/ext --seq 64 --threads 1
//	OPENBLAS_CORETYPE=Haswell /usr/bin/python3 bench/torch_train_lm.py --model /tmp/ext --seq 63 --top-n 1 --threads 1
//
// covering an untied head, a tied head with every block trained (the
// shared matrix gets the head's and the input lookup's gradient) and a tied
// head above a frozen block (the head's use only), with an odd --seq.
func TestBenchTrainLM(t *testing.T) {
	cases := []struct {
		seed      uint64
		tie       string
		seq, topN int
		// bench/torch_train_lm.py's loss_first and grad_norm_first_f64.
		torchLoss, torchNorm float64
	}{
		{1, "false", 64, 2, 6.54777193069458, 4.814302799443297},
		{2, "true", 64, 2, 6.728785514831543, 6.1399673501970575},
		{2, "true", 63, 1, 6.739566802978516, 2.540997462781171},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("seed%d-tie%s-seq%d-top%d", c.seed, c.tie, c.seq, c.topN), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "m")
			if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: c.seed, Std: 0.1, Tie: c.tie}); err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			args := []string{"--model", dir, "--seq", fmt.Sprint(c.seq), "--top-n", fmt.Sprint(c.topN), "--warmup", "1", "--iters", "2", "--threads", "1"}
			if err := trainLM(&out).Exec(context.Background(), args); err != nil {
				t.Fatal(err)
			}
			var r struct {
				Bench             string    `json:"bench"`
				Seq               int       `json:"seq"`
				PromptTokens      int       `json:"prompt_tokens"`
				AnswerTokens      int       `json:"answer_tokens"`
				TopN              int       `json:"top_n"`
				Tied              bool      `json:"tied"`
				FrozenWeights     string    `json:"frozen_weights"`
				SecondsPerStep    float64   `json:"seconds_per_step"`
				MinSecondsPerStep float64   `json:"min_seconds_per_step"`
				StepSeconds       []float64 `json:"step_seconds"`
				LossFirst         float64   `json:"loss_first"`
				GradNormFirst     float64   `json:"grad_norm_first"`
				LossLast          float64   `json:"loss_last"`
				TrainableParams   int       `json:"trainable_params"`
				AllParams         int       `json:"all_params"`
				PeakRSSMiB        float64   `json:"peak_rss_mib"`
			}
			if err := json.Unmarshal(out.Bytes(), &r); err != nil {
				t.Fatalf("%v: %s", err, out.String())
			}
			if r.Bench != "train-lm" || r.Seq != c.seq || r.PromptTokens != c.seq/2 || r.AnswerTokens != c.seq-c.seq/2 ||
				r.TopN != c.topN || r.Tied != (c.tie == "true") || r.FrozenWeights != "fp32" || len(r.StepSeconds) != 2 ||
				r.MinSecondsPerStep <= 0 || r.MinSecondsPerStep > r.SecondsPerStep || r.PeakRSSMiB <= 0 {
				t.Fatalf("record %s", out.String())
			}

			m, err := decoder.Load(dir)
			if err != nil {
				t.Fatal(err)
			}
			// Parameter counts: tiny is hidden 64, FFN 160, 4 heads / 2 KV
			// heads of 16, vocab 512, 2 layers, no biases.
			C, F, V, QKV := 64, 160, 512, 64+2*32
			layer := 2*C + C*QKV + C*C + 2*C*F + F*C
			head := V * C
			wantTrain := c.topN*layer + C + head
			wantAll := 2*layer + C + V*C
			if c.tie != "true" {
				wantAll += head
			}
			if r.TrainableParams != wantTrain || r.AllParams != wantAll {
				t.Errorf("trainable %d of %d parameters, want %d of %d", r.TrainableParams, r.AllParams, wantTrain, wantAll)
			}

			// The first step's loss is the loss of the untouched model.
			ex := benchLMExample(c.seq, m.Cfg.VocabSize)
			logits, err := m.Forward(&decoder.Workspace{}, nil, ex.IDs, true)
			if err != nil {
				t.Fatal(err)
			}
			want, n, err := decoder.CausalLMLoss(nil, logits, ex.Labels(), m.Cfg.VocabSize)
			if err != nil {
				t.Fatal(err)
			}
			if n != r.AnswerTokens || math.Abs(r.LossFirst-want) > 1e-6*want {
				t.Errorf("loss_first %.9g over %d tokens; Forward + CausalLMLoss %.9g over %d", r.LossFirst, r.AnswerTokens, want, n)
			}
			if rel := math.Abs(r.LossFirst-c.torchLoss) / c.torchLoss; rel > 1e-5 {
				t.Errorf("loss_first %.9g, PyTorch %.9g (relative %.2g)", r.LossFirst, c.torchLoss, rel)
			}
			if rel := math.Abs(r.GradNormFirst-c.torchNorm) / c.torchNorm; rel > 1e-6 {
				t.Errorf("grad_norm_first %.9g, PyTorch %.9g (relative %.2g)", r.GradNormFirst, c.torchNorm, rel)
			}
			// lr 1e-5 moves the loss, a little.
			if r.LossLast == r.LossFirst || math.IsNaN(r.LossLast) {
				t.Errorf("loss_last %v after loss_first %v", r.LossLast, r.LossFirst)
			}
		})
	}
}

// --frozen-weights bf16 holds the frozen block in bfloat16 (as lmtrain
// does): the record says so, and the first loss is that model's.
func TestBenchTrainLMFrozenBF16(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 1, Std: 0.1, Tie: "false"}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	args := []string{"--model", dir, "--seq", "64", "--top-n", "1", "--frozen-weights", "bf16", "--warmup", "0", "--iters", "1", "--threads", "1"}
	if err := trainLM(&out).Exec(context.Background(), args); err != nil {
		t.Fatal(err)
	}
	var r struct {
		FrozenWeights string  `json:"frozen_weights"`
		LossFirst     float64 `json:"loss_first"`
	}
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	m, err := decoder.LoadWith(dir, decoder.LoadOptions{Weights: decoder.StorageBF16, TrainTop: 1})
	if err != nil {
		t.Fatal(err)
	}
	ex := benchLMExample(64, m.Cfg.VocabSize)
	logits, err := m.Forward(&decoder.Workspace{}, nil, ex.IDs, true)
	if err != nil {
		t.Fatal(err)
	}
	want, _, err := decoder.CausalLMLoss(nil, logits, ex.Labels(), m.Cfg.VocabSize)
	if err != nil {
		t.Fatal(err)
	}
	if r.FrozenWeights != "bf16" || math.Abs(r.LossFirst-want) > 1e-6*want {
		t.Fatalf("record %s; want frozen_weights bf16 and loss_first %.9g", out.String(), want)
	}
	if err := trainLM(&out).Exec(context.Background(), []string{"--model", dir, "--frozen-weights", "fp8"}); err == nil || !strings.Contains(err.Error(), "--frozen-weights") {
		t.Fatalf("--frozen-weights fp8: %v", err)
	}
}
