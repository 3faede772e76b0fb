package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/lmtrain"
)

const trainLMLong = `Fine-tunes a decoder-only model (Llama or EXAONE 3.x) as the EXAONE-3.5
PubMedQA-Ko project did: the top --top-n transformer blocks, the final norm
and the LM head are trained, everything below stays frozen (no gradients, no
optimiser state). Each JSONL record {"question", "contexts" (a string or a
list; or "context"), "long_answer"} becomes the chat template's Korean user
turn (contexts, then the question) with the generation prompt, followed by
long_answer and EOS; the loss is the causal-LM cross-entropy on the answer
only (prompt labels -100). Sequences over --max-length lose the end of their
contexts, never the question or the answer (the count is printed).

AdamW (torch semantics; no weight decay on norms and biases), linear warm-up
over --warmup of the steps then linear decay, gradient clipping, batch 1 with
--accum examples per optimiser step. DIR/train.jsonl logs every step; an
interrupted run (Ctrl-C) saves a checkpoint and continues bit-exactly with
--resume. The result is DIR/model, a Hugging Face folder (config, tokenizer
and generation config copied; trained tensors in F32, frozen ones unchanged).
`

// cmdTrainLM is kormed train-lm writing its report to stdout, its log and
// usage to stderr.
func cmdTrainLM(stdout, stderr io.Writer) *base.Command {
	return &base.Command{
		Name: "train-lm",
		UsageLine: "train-lm --model M --data train.jsonl --output DIR [flags]\n" +
			"       kormed train RECIPE.toml   (a recipe whose stage has loss = \"causal_lm\"; see recipes/lm/)",
		Short:    "fine-tune the top layers of a decoder (Llama, EXAONE) on question/context/answer JSONL",
		Long:     trainLMLong,
		Required: []string{"model", "data", "output"},
		Engine:   true,
		Output:   stderr,
		Flags:    func(fs *flag.FlagSet) base.Func { return runTrainLM(fs, stdout, stderr) },
	}
}

func runTrainLM(fs *flag.FlagSet, stdout, stderr io.Writer) base.Func {
	d := lmtrain.Defaults()
	modelRef := fs.String("model", "", "base model: folder or Hugging Face id (required)")
	data := fs.String("data", "", "training JSONL, or a Hub dataset hf://OWNER/NAME[:CONFIG][@REV] with columns question, contexts, long_answer (required)")
	output := fs.String("output", "", "run folder (required); the model is saved in DIR/model")
	topN := fs.Int("top-n", d.TopN, "trainable top transformer blocks (plus the final norm and LM head)")
	lr := fs.Float64("lr", d.LR, "peak learning rate (AdamW)")
	wd := fs.Float64("weight-decay", d.WeightDecay, "AdamW weight decay (not on norms and biases)")
	warmup := fs.Float64("warmup", d.WarmupRatio, "warm-up as a fraction of the steps (linear schedule)")
	warmupSteps := fs.Int("warmup-steps", 0, "warm-up steps (instead of --warmup)")
	schedule := fs.String("schedule", d.Schedule, "learning-rate schedule: linear, cosine, constant, constant_with_warmup")
	clip := fs.Float64("max-grad-norm", d.MaxGradNorm, "gradient clipping norm (0: none)")
	accum := fs.Int("accum", d.Accumulate, "examples per optimiser step (gradient accumulation of batch 1)")
	epochs := fs.Int("epochs", d.Epochs, "epochs over the data")
	maxSteps := fs.Int("max-steps", 0, "train exactly this many optimiser steps instead of --epochs")
	maxLength := fs.Int("max-length", d.MaxLength, "tokens per example (prompt + answer + EOS); longer contexts are cut")
	seed := fs.Uint64("seed", d.Seed, "seed of the data order")
	frozen := fs.String("frozen-weights", "auto", "memory of the frozen blocks: auto (as the checkpoint: bf16 for a BF16 model), bf16 or fp32")
	ckptSteps := fs.Int("checkpoint-steps", 0, "save a resumable checkpoint every N steps (0: only when interrupted)")
	resume := fs.Bool("resume", false, "continue the run in --output from its last checkpoint")
	noProgress := fs.Bool("no-progress", false, "no progress bar")
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		neg := func(v float64) float64 { // 0 given on the command line means 0, not the default
			if v == 0 {
				return -1
			}
			return v
		}
		c := lmtrain.Config{Data: *data, Output: *output, TopN: *topN, LR: *lr, WeightDecay: neg(*wd),
			WarmupRatio: neg(*warmup), WarmupSteps: *warmupSteps, Schedule: *schedule, MaxGradNorm: neg(*clip),
			Accumulate: *accum, Epochs: *epochs, MaxSteps: *maxSteps, MaxLength: *maxLength, Seed: *seed,
			FrozenWeights: *frozen, CheckpointSteps: *ckptSteps, Resume: *resume}
		if *maxSteps > 0 {
			c.Epochs = 0
		}
		return runLM(ctx, c, *modelRef, hubOpts(), *noProgress, stdout, stderr)
	}
}

// runLM resolves the model and runs a causal-LM fine-tuning.
func runLM(ctx context.Context, c lmtrain.Config, modelRef string, ho hub.Options, noProgress bool, stdout, stderr io.Writer) error {
	dir, err := hub.Resolve(ctx, modelRef, ho)
	if err != nil {
		return err
	}
	c.Model, c.Log, c.Version = dir, stderr, version
	if noProgress {
		off := false
		c.Progress = &off
	}
	rep, err := lmtrain.Run(ctx, c)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\ntrained %d steps (%d epochs, %d examples, %d truncated, %d skipped): loss %.4f → %.4f in %.1fs; %d of %d parameters trained\n",
		rep.Steps, rep.Epochs, rep.Examples, rep.Truncated, rep.Skipped, rep.FirstLoss, rep.LastLoss, rep.Seconds, rep.Trainable, rep.Parameters)
	fmt.Fprintf(stdout, "model: %s (kormed generate --model %s --chat ..., or transformers' AutoModelForCausalLM)\n", rep.Model, rep.Model)
	return nil
}

// runLMRecipe runs a causal_lm recipe for kormed train.
func runLMRecipe(ctx context.Context, file string, sets []string, modelRef, output string, resume bool, maxSteps int, ho hub.Options, noProgress bool) error {
	r, err := lmtrain.ReadRecipe(file, sets...)
	if err != nil {
		return err
	}
	c := r.Config
	if output != "" {
		c.Output = output
	}
	if modelRef == "" {
		modelRef = c.Model
	}
	if modelRef == "" {
		return errors.New("no base model: set model in the recipe or pass --model")
	}
	if maxSteps > 0 && (c.MaxSteps == 0 || c.MaxSteps > maxSteps) {
		c.MaxSteps, c.Epochs = maxSteps, 0
	}
	c.Resume = resume
	return runLM(ctx, c, modelRef, ho, noProgress, os.Stdout, os.Stderr)
}
