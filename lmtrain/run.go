package lmtrain

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/chat"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/progress"
	"github.com/kormed/kormed/run"
	"github.com/kormed/kormed/safetensors"
)

// Config is a fine-tuning run. Zero fields take Defaults' values.
type Config struct {
	Model  string `json:"model"`  // model folder (Hugging Face layout)
	Data   string `json:"data"`   // JSONL records (ReadJSONL)
	Output string `json:"output"` // run folder

	TopN        int     `json:"top_n"`        // trainable top blocks (plus final norm and LM head)
	LR          float64 `json:"lr"`           // peak learning rate
	WeightDecay float64 `json:"weight_decay"` // AdamW's (not on norms and biases); negative: 0
	Beta1       float64 `json:"adam_beta1"`
	Beta2       float64 `json:"adam_beta2"`
	Eps         float64 `json:"adam_epsilon"`
	Schedule    string  `json:"schedule"`     // linear (default), cosine, constant, constant_with_warmup
	WarmupRatio float64 `json:"warmup_ratio"` // of the total steps (HF's ceil(ratio·total)); negative: 0
	WarmupSteps int     `json:"warmup_steps"` // wins over the ratio when > 0
	MaxGradNorm float64 `json:"max_grad_norm"`
	Accumulate  int     `json:"accumulate"` // examples (micro-batches of 1) per optimiser step
	Epochs      int     `json:"epochs"`
	MaxSteps    int     `json:"max_steps"` // > 0: exactly this many optimiser steps (epochs repeat as needed)
	MaxLength   int     `json:"max_length"`
	Seed        uint64  `json:"seed"`
	// FrozenWeights is how the frozen blocks (and an untied embedding)
	// are kept in memory: "auto" or "" (as the checkpoint stores them:
	// bfloat16 for a BF16 checkpoint such as EXAONE's), "bf16" or "fp32".
	// The trained tensors are float32 always.
	FrozenWeights string `json:"frozen_weights,omitempty"`

	CheckpointSteps int `json:"checkpoint_steps"` // 0: only when interrupted
	KeepCheckpoints int `json:"keep_checkpoints"`
	LogSteps        int `json:"log_steps"`

	// Resume continues the run in Output from its last checkpoint.
	Resume bool `json:"-"`
	// Log receives progress and the summary (default os.Stderr).
	Log io.Writer `json:"-"`
	// Progress forces the progress bar on or off (default: on a terminal).
	Progress *bool `json:"-"`
	// AfterStep, if set, is called after each optimiser step (tests).
	AfterStep func(step int) `json:"-"`
	// Version is recorded in the log.
	Version string `json:"-"`
}

// Defaults are the PubMedQA-Ko recipe's settings: top 4 blocks, AdamW
// lr 1e-5 (β 0.9/0.999, ε 1e-8, weight decay 0.01), 10% linear warm-up
// then linear decay, clipping at 1.0, batch 1 without accumulation,
// 3 epochs, 512 tokens, seed 42.
func Defaults() Config {
	return Config{TopN: 4, LR: 1e-5, WeightDecay: 0.01, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, Schedule: "linear",
		WarmupRatio: 0.1, MaxGradNorm: 1, Accumulate: 1, Epochs: 3, MaxLength: 512, Seed: 42, KeepCheckpoints: 2, LogSteps: 1}
}

// withDefaults fills zero fields and checks the rest.
func (c Config) withDefaults() (Config, error) {
	if c.FrozenWeights == "auto" {
		c.FrozenWeights = "" // the default; "" keeps older runs' fingerprints
	}
	d := Defaults()
	setF := func(v *float64, def float64) {
		if *v == 0 {
			*v = def
		} else if *v < 0 {
			*v = 0
		}
	}
	setI := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	setI(&c.TopN, d.TopN)
	setF(&c.LR, d.LR)
	setF(&c.WeightDecay, d.WeightDecay)
	setF(&c.Beta1, d.Beta1)
	setF(&c.Beta2, d.Beta2)
	setF(&c.Eps, d.Eps)
	setF(&c.WarmupRatio, d.WarmupRatio)
	setF(&c.MaxGradNorm, d.MaxGradNorm)
	setI(&c.Accumulate, d.Accumulate)
	setI(&c.MaxLength, d.MaxLength)
	setI(&c.KeepCheckpoints, d.KeepCheckpoints)
	setI(&c.LogSteps, d.LogSteps)
	if c.Epochs == 0 && c.MaxSteps == 0 {
		c.Epochs = d.Epochs
	}
	if c.Seed == 0 {
		c.Seed = d.Seed
	}
	if c.Schedule == "" {
		c.Schedule = d.Schedule
	}
	if c.Log == nil {
		c.Log = os.Stderr
	}
	switch {
	case c.Model == "":
		return c, errors.New("no model")
	case c.Data == "":
		return c, errors.New("no training data")
	case c.Output == "":
		return c, errors.New("no output folder")
	case c.Accumulate < 1 || c.TopN < 1 || c.MaxLength < 2 || c.Epochs < 0 || c.MaxSteps < 0 || c.WarmupSteps < 0 ||
		c.CheckpointSteps < 0 || c.KeepCheckpoints < 1 || c.LogSteps < 1:
		return c, fmt.Errorf("out of range: top_n %d, accumulate %d, max_length %d, epochs %d, max_steps %d, warmup_steps %d, checkpoint_steps %d, keep_checkpoints %d, log_steps %d",
			c.TopN, c.Accumulate, c.MaxLength, c.Epochs, c.MaxSteps, c.WarmupSteps, c.CheckpointSteps, c.KeepCheckpoints, c.LogSteps)
	case c.WarmupRatio > 1 || c.Beta1 >= 1 || c.Beta2 >= 1 || math.IsNaN(c.LR) || math.IsInf(c.LR, 0):
		return c, fmt.Errorf("out of range: warmup_ratio %g, adam_beta1 %g, adam_beta2 %g, lr %g", c.WarmupRatio, c.Beta1, c.Beta2, c.LR)
	}
	if err := (optim.Schedule{Kind: c.Schedule}).Check(); err != nil {
		return c, err
	}
	return c, nil
}

// Plan lists the examples of each optimiser step: every epoch a fresh
// permutation of the n examples (PCG seeded by the seed and the epoch),
// cut into steps of accumulate examples (the last step of an epoch may
// have fewer). With maxSteps > 0 epochs repeat until there are that many
// steps. epoch[i] is step i's epoch (from 0).
func Plan(n, accumulate, epochs, maxSteps int, seed uint64) (steps [][]int, epoch []int) {
	for e := 0; maxSteps > 0 && len(steps) < maxSteps || maxSteps <= 0 && e < epochs; e++ {
		perm := rand.New(rand.NewPCG(seed, uint64(e)+1)).Perm(n)
		for i := 0; i < n; i += accumulate {
			steps = append(steps, perm[i:min(i+accumulate, n)])
			epoch = append(epoch, e)
			if maxSteps > 0 && len(steps) == maxSteps {
				break
			}
		}
	}
	return steps, epoch
}

// Report is what Run did.
type Report struct {
	Output     string  `json:"output"`
	Model      string  `json:"model"` // the saved model folder, OUTPUT/model
	Steps      int     `json:"steps"`
	Epochs     int     `json:"epochs"`
	Examples   int     `json:"examples"`
	Truncated  int     `json:"truncated"`
	Skipped    int     `json:"skipped"`
	FirstLoss  float64 `json:"first_loss"`
	LastLoss   float64 `json:"last_loss"`
	Trainable  int     `json:"trainable_parameters"`
	Parameters int     `json:"parameters"`
	Seconds    float64 `json:"seconds"`
}

// runState is OUTPUT/state.json.
type runState struct {
	Fingerprint string `json:"fingerprint"`
	Checkpoint  string `json:"checkpoint,omitempty"`
	Done        bool   `json:"done,omitempty"`
	run.Engine
}

func (st *runState) Stamp() (string, run.Engine) { return st.Fingerprint, st.Engine }

// trainerState is a checkpoint's trainer.json.
type trainerState struct {
	Step     int     `json:"step"`
	OptStep  int     `json:"optimizer_step"`
	Examples int64   `json:"examples"`
	Tokens   int64   `json:"tokens"`
	First    float64 `json:"first_loss"`
	Last     float64 `json:"last_loss"`
	Elapsed  float64 `json:"elapsed_s"`
	Seed     uint64  `json:"seed"`
}

// Run fine-tunes c.Model on c.Data and saves the result as a Hugging Face
// model folder OUTPUT/model (Save). OUTPUT/train.jsonl logs every step
// (loss, lr, gradient norm), each checkpoint and the end;
// OUTPUT/checkpoints/step-NNNNNN hold the trainable tensors
// (trainable.safetensors), AdamW's moments (optimizer.safetensors) and
// the step (trainer.json), named in OUTPUT/state.json. A cancelled ctx
// writes a checkpoint and returns run.ErrInterrupted; Resume continues
// from the last checkpoint and ends with the weights of an uninterrupted
// run (same thread count and precision).
func Run(ctx context.Context, c Config) (*Report, error) {
	c, err := c.withDefaults()
	if err != nil {
		return nil, err
	}
	w := c.Log
	storage, err := decoder.ParseStorage(c.FrozenWeights)
	if err != nil {
		return nil, fmt.Errorf("frozen_weights: %w", err)
	}
	g, err := chat.LoadWith(c.Model, decoder.LoadOptions{Weights: storage, TrainTop: c.TopN})
	if err != nil {
		return nil, err
	}
	m := g.Model
	recs, err := ReadData(ctx, c.Data, w)
	if err != nil {
		return nil, err
	}
	b, err := NewBuilder(g, c.MaxLength)
	if err != nil {
		return nil, err
	}
	exs, bs, err := b.Build(recs)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Data, err)
	}
	fmt.Fprintf(w, "%d records → %d examples (%d tokens), max_length %d: %d truncated (contexts cut), %d skipped (too long without contexts)\n",
		len(recs), bs.Examples, bs.Tokens, b.MaxLength, bs.Truncated, bs.Skipped)
	steps, epochOf := Plan(len(exs), c.Accumulate, c.Epochs, c.MaxSteps, c.Seed)
	total := len(steps)
	if total == 0 {
		return nil, errors.New("no optimiser steps")
	}
	sched := optim.Schedule{Kind: c.Schedule, Warmup: optim.WarmupSteps(c.WarmupSteps, c.WarmupRatio, total), Total: total}
	tr, err := NewTrainer(m, c.TopN, c.Beta1, c.Beta2, c.Eps, c.WeightDecay)
	if err != nil {
		return nil, err
	}
	trainable, all := tr.Counts()
	fmt.Fprintf(w, "%s (%s, %d layers): training blocks %d…%d, final norm and LM head%s: %d of %d parameters (%.2f%%)\n",
		c.Model, m.Cfg.ModelType, m.Cfg.NumLayers, tr.G.First, m.Cfg.NumLayers-1, map[bool]string{true: " (tied to the embedding)"}[m.Cfg.TieEmbeddings],
		trainable, all, 100*float64(trainable)/float64(max(all, 1)))
	fmt.Fprintf(w, "%d optimiser steps (%d epochs × %d examples, %d per step), warm-up %d, %s schedule, lr %g, weight decay %g, clip %g\n",
		total, epochOf[total-1]+1, len(exs), c.Accumulate, sched.Warmup, c.Schedule, c.LR, c.WeightDecay, c.MaxGradNorm)

	// The run folder: state, log, checkpoints.
	fp, err := fingerprint(c)
	if err != nil {
		return nil, err
	}
	var st runState
	resumed, err := run.Open(c.Output, fp, c.Resume, &st, "the settings or model changed since this run started; resume needs the same ones", w)
	if err != nil {
		return nil, err
	}
	if !resumed {
		st = runState{Fingerprint: fp, Engine: run.CurrentEngine()}
	}
	rep := &Report{Output: c.Output, Model: filepath.Join(c.Output, "model"), Steps: total, Epochs: epochOf[total-1] + 1,
		Examples: len(exs), Truncated: bs.Truncated, Skipped: bs.Skipped, Trainable: trainable, Parameters: all}
	if st.Done {
		var done Report
		if rb, err := os.ReadFile(filepath.Join(c.Output, "report.json")); err == nil && json.Unmarshal(rb, &done) == nil {
			fmt.Fprintf(w, "%s: the run finished earlier (%s)\n", c.Output, done.Model)
			return &done, nil
		}
	}
	lg, err := run.OpenLog(filepath.Join(c.Output, "train.jsonl"))
	if err != nil {
		return nil, err
	}
	defer lg.Close()
	var ts trainerState
	ts.Seed = c.Seed
	if st.Checkpoint != "" {
		dir := filepath.Join(c.Output, st.Checkpoint)
		if ts, err = loadCheckpoint(dir, tr, total); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "resuming at step %d/%d from %s\n", ts.Step, total, dir)
		if err := lg.Truncate(ts.Step); err != nil {
			return nil, err
		}
	} else {
		if err := lg.Truncate(-1); err != nil {
			return nil, err
		}
		lg.Write(map[string]any{"event": "start", "step": 0, "steps": total, "examples": len(exs), "truncated": bs.Truncated,
			"skipped": bs.Skipped, "tokens": bs.Tokens, "trainable": trainable, "parameters": all, "model": c.Model,
			"top_n": c.TopN, "kormed": c.Version})
	}
	ck := &checkpointer{out: c.Output, keep: c.KeepCheckpoints, st: &st, log: lg}
	start := time.Now()
	elapsed0 := ts.Elapsed
	bar := progress.New(w, "train", int64(total))
	if c.Progress != nil {
		bar.Force(*c.Progress)
	}
	bar.Add(int64(ts.Step))
	batch := make([]Example, 0, c.Accumulate)
	for ts.Step < total {
		if ctx.Err() != nil {
			bar.Finish()
			if err := ck.save(tr, ts); err != nil {
				return nil, err
			}
			return nil, run.ErrInterrupted
		}
		i := ts.Step
		batch = batch[:0]
		for _, e := range steps[i] {
			batch = append(batch, exs[e])
		}
		lr := c.LR * sched.Factor(i)
		loss, norm, tokens, err := tr.Step(batch, lr, c.MaxGradNorm)
		if err != nil {
			return nil, fmt.Errorf("step %d: %w", i+1, err)
		}
		ts.Step++
		ts.OptStep = tr.Opt.Step
		ts.Examples += int64(len(batch))
		ts.Tokens += int64(tokens)
		if ts.Step == 1 {
			ts.First = loss
		}
		ts.Last = loss
		ts.Elapsed = elapsed0 + time.Since(start).Seconds()
		if ts.Step%c.LogSteps == 0 || ts.Step == total {
			lg.Write(map[string]any{"step": ts.Step, "epoch": epochOf[i], "loss": loss, "lr": lr, "grad_norm": norm,
				"examples": ts.Examples, "tokens": ts.Tokens, "elapsed_s": ts.Elapsed})
		}
		bar.SetStatus(fmt.Sprintf("loss %.4f lr %.2e", loss, lr))
		bar.Add(1)
		if c.CheckpointSteps > 0 && ts.Step%c.CheckpointSteps == 0 && ts.Step < total {
			if err := ck.save(tr, ts); err != nil {
				return nil, err
			}
		}
		if c.AfterStep != nil {
			c.AfterStep(ts.Step)
		}
	}
	bar.Finish()
	if err := Save(m, c.Model, rep.Model, TrainedNames(tr.Slots)); err != nil {
		return nil, err
	}
	rep.FirstLoss, rep.LastLoss, rep.Seconds = ts.First, ts.Last, ts.Elapsed
	lg.Write(map[string]any{"event": "done", "step": ts.Step, "first_loss": ts.First, "last_loss": ts.Last, "model": rep.Model, "elapsed_s": ts.Elapsed})
	if err := atomicfile.WriteJSON(filepath.Join(c.Output, "report.json"), rep); err != nil {
		return nil, err
	}
	st.Done, st.Checkpoint = true, ""
	if err := run.WriteState(c.Output, &st); err != nil {
		return nil, err
	}
	if err := removeCheckpoints(c.Output, 0, ""); err != nil {
		return nil, err
	}
	return rep, nil
}

// fingerprint identifies the settings that decide the result, so a
// resume refuses changed ones.
func fingerprint(c Config) (string, error) {
	c.Output = "" // the folder may move
	return run.Fingerprint(c)
}

// checkpointer writes checkpoints OUTPUT/checkpoints/step-NNNNNN.
type checkpointer struct {
	out  string
	keep int
	st   *runState
	log  *run.Log
}

func (ck *checkpointer) save(tr *Trainer, ts trainerState) error {
	name := fmt.Sprintf("step-%06d", ts.Step)
	err := run.WriteCheckpoint(filepath.Join(ck.out, run.CheckpointDir), name, func(dir string) error {
		var params []safetensors.Tensor
		for _, s := range tr.Slots {
			params = append(params, safetensors.Float32s(s.Name, []int{len(s.Data)}, s.Data))
		}
		if err := safetensors.Write(filepath.Join(dir, "trainable.safetensors"), params, map[string]string{"kormed": "lmtrain"}); err != nil {
			return err
		}
		if err := safetensors.Write(filepath.Join(dir, "optimizer.safetensors"), tr.Opt.Moments(tr.Slots), map[string]string{"kormed": "adamw"}); err != nil {
			return err
		}
		return atomicfile.WriteJSON(filepath.Join(dir, "trainer.json"), &ts)
	})
	if err != nil {
		return err
	}
	rel := filepath.Join(run.CheckpointDir, name)
	if ck.st.Checkpoint == rel {
		return nil
	}
	ck.st.Checkpoint = rel
	if err := run.WriteState(ck.out, ck.st); err != nil {
		return err
	}
	ck.log.Write(map[string]any{"event": "checkpoint", "step": ts.Step, "path": rel})
	return removeCheckpoints(ck.out, ck.keep, name)
}

// loadCheckpoint restores the trainable tensors, AdamW's state and the
// trainer state.
func loadCheckpoint(dir string, tr *Trainer, total int) (trainerState, error) {
	var ts trainerState
	b, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		return ts, err
	}
	if err := json.Unmarshal(b, &ts); err != nil {
		return ts, fmt.Errorf("%s: %w", filepath.Join(dir, "trainer.json"), err)
	}
	if ts.Step > total {
		return ts, fmt.Errorf("%s: checkpoint at step %d of a run of %d steps", dir, ts.Step, total)
	}
	for _, f := range []struct {
		file string
		read func(r *safetensors.Reader) error
	}{
		{"trainable.safetensors", func(r *safetensors.Reader) error {
			for _, s := range tr.Slots {
				if err := r.ReadFloat32(s.Name, []int{len(s.Data)}, s.Data); err != nil {
					return err
				}
			}
			return nil
		}},
		{"optimizer.safetensors", func(r *safetensors.Reader) error { return tr.Opt.ReadMoments(r, tr.Slots) }},
	} {
		p := filepath.Join(dir, f.file)
		r, err := safetensors.Open(p)
		if err != nil {
			return ts, err
		}
		err = f.read(r)
		r.Close()
		if err != nil {
			return ts, fmt.Errorf("%s: %w (was top_n changed?)", p, err)
		}
	}
	tr.Opt.Step = ts.OptStep
	return ts, nil
}

// removeCheckpoints keeps current and the keep−1 newest checkpoints before
// it (current "": the keep newest; keep 0 with current "": none, and the
// folder goes).
func removeCheckpoints(out string, keep int, current string) error {
	root := filepath.Join(out, run.CheckpointDir)
	if err := run.PruneCheckpoints(root, "step-", keep, current); err != nil {
		return err
	}
	if current == "" && keep == 0 {
		os.Remove(root)
	}
	return nil
}
