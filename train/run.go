package train

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/nn"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/progress"
	"github.com/kormed/kormed/run"
)

// Options control Run.
type Options struct {
	// Output overrides the pipeline's run folder; Model its base model.
	Output, Model string
	// Resume continues the run in Output from its last checkpoint.
	Resume bool
	// MaxSteps > 0 caps every stage at that many optimiser steps (smoke tests).
	MaxSteps int
	// Verbose prints the trainable-parameter table tensor by tensor.
	Verbose bool
	// Log receives progress, tables and warnings (default os.Stderr).
	Log io.Writer
	// Progress forces the progress bar on or off (default: on a terminal).
	Progress *bool
	// ResolveModel turns a model reference (folder or Hugging Face id)
	// into a folder; default: the reference as a folder.
	ResolveModel func(ctx context.Context, ref string) (string, error)
	// Version is recorded in the log and the model cards.
	Version string
	// AfterStep, if set, is called after each optimiser step (tests).
	AfterStep func(stage string, step int)
}

// StageReport summarises a finished stage.
type StageReport struct {
	Name       string             `json:"name"`
	Output     string             `json:"output"`
	Steps      int                `json:"steps"`
	Examples   int64              `json:"examples"`
	FirstLoss  float64            `json:"first_loss"`
	LastLoss   float64            `json:"last_loss"`
	Dev        map[string]float64 `json:"dev,omitempty"`
	BestStep   int                `json:"best_step,omitempty"`
	Collapse   string             `json:"collapse,omitempty"`
	Collapsed  bool               `json:"collapsed,omitempty"`
	Seconds    float64            `json:"seconds"`
	StoppedAt  int                `json:"stopped_early_at,omitempty"`
	Trainable  int                `json:"trainable_parameters"`
	Parameters int                `json:"parameters"`
}

// Report is what Run did.
type Report struct {
	Output string        `json:"output"`
	Model  string        `json:"model"` // the final model folder
	Stages []StageReport `json:"stages"`
}

// runState is OUTPUT/state.json: how far the run got.
type runState struct {
	Fingerprint string        `json:"fingerprint"` // of the pipeline as resolved
	Done        []string      `json:"done"`        // output folders of finished stages, in order
	Reports     []StageReport `json:"reports"`     // their reports
	Checkpoint  string        `json:"checkpoint,omitempty"`
	run.Engine
}

func (st *runState) Stamp() (string, run.Engine) { return st.Fingerprint, st.Engine }

// Run executes the pipeline's stages in order. Each stage's model is saved
// as a sentence-transformers folder OUTPUT/NN-name (a pair folder for a
// dual stage); OUTPUT/model links to the last one. OUTPUT/train.jsonl logs
// every step, evaluation, checkpoint and stage, OUTPUT/loss.png plots the
// loss. With Resume, finished stages are skipped and the stage in progress
// continues from its last checkpoint exactly (weights, optimiser state,
// schedule, data order and dropout masks): the final weights are bit for
// bit those of an uninterrupted run with the same thread count. A
// cancelled ctx writes a checkpoint and returns run.ErrInterrupted. The
// folder follows package run's protocol.
func Run(ctx context.Context, p *Pipeline, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = os.Stderr
	}
	if o.ResolveModel == nil {
		o.ResolveModel = func(_ context.Context, ref string) (string, error) { return ref, nil }
	}
	out := p.Output
	if o.Output != "" {
		out = o.Output
	}
	if out == "" {
		out = filepath.Join("runs", p.Name)
	}
	base := p.Model
	if o.Model != "" {
		base = o.Model
	}
	if base == "" && p.Stages[0].From == "" {
		return nil, errors.New("no base model: set model in the pipeline file or pass --model")
	}
	fp, err := fingerprint(p, base, o.MaxSteps)
	if err != nil {
		return nil, err
	}
	var st runState
	resumed, err := run.Open(out, fp, o.Resume, &st, "the pipeline (or --model/--max-steps) changed since this run started; resume needs the same recipe", o.Log)
	if err != nil {
		return nil, err
	}
	if !resumed {
		st = runState{Fingerprint: fp, Engine: run.CurrentEngine()}
	}
	lg, err := run.OpenLog(filepath.Join(out, "train.jsonl"))
	if err != nil {
		return nil, err
	}
	defer lg.Close()
	rep := &Report{Output: out}
	r := &runner{p: p, o: o, out: out, log: lg, state: &st}
	prev := base
	for i := range p.Stages {
		s := p.Stages[i].capped(o.MaxSteps)
		dir := stageDir(out, i, s.Name)
		if i < len(st.Done) {
			if st.Done[i] != filepath.Base(dir) {
				return nil, fmt.Errorf("%s: state.json lists stage %q done, the pipeline's stage %d is %q", out, st.Done[i], i+1, s.Name)
			}
			fmt.Fprintf(o.Log, "stage %d/%d %s: done earlier (%s)\n", i+1, len(p.Stages), s.Name, dir)
			if i < len(st.Reports) {
				rep.Stages = append(rep.Stages, st.Reports[i])
			}
			prev = dir
			continue
		}
		from := prev
		if s.From != "" {
			from = s.From
		}
		sr, err := r.stage(ctx, i, &s, from, dir)
		if err != nil {
			if errors.Is(err, run.ErrInterrupted) {
				return rep, err
			}
			return rep, fmt.Errorf("stage %d (%s): %w", i+1, s.Name, err)
		}
		rep.Stages = append(rep.Stages, *sr)
		st.Done = append(st.Done, filepath.Base(dir))
		st.Reports = append(st.Reports, *sr)
		st.Checkpoint = ""
		if err := run.WriteState(out, &st); err != nil {
			return rep, err
		}
		// The stage's last keep_checkpoints checkpoints stay (0: none).
		if err := removeCheckpoints(out, i, s.Name, s.KeepCheckpoints, ""); err != nil {
			return rep, err
		}
		prev = dir
	}
	link := filepath.Join(out, "model")
	os.Remove(link)
	if err := os.Symlink(filepath.Base(prev), link); err != nil {
		return rep, err
	}
	rep.Model = link
	if err := writePlot(filepath.Join(out, "loss.png"), lg.Path(), p.Name); err != nil {
		fmt.Fprintf(o.Log, "warning: loss plot: %v\n", err)
	}
	return rep, atomicfile.WriteJSON(filepath.Join(out, "report.json"), rep)
}

// stageDir is OUTPUT/NN-name.
func stageDir(out string, i int, name string) string {
	return filepath.Join(out, fmt.Sprintf("%02d-%s", i+1, name))
}

// fingerprint identifies the resolved recipe, so a resume refuses a
// changed one.
func fingerprint(p *Pipeline, base string, maxSteps int) (string, error) {
	return run.Fingerprint(struct {
		Base     string
		MaxSteps int
		Seed     uint64
		Stages   []Stage
	}{base, maxSteps, p.Seed, p.Stages})
}

// runner holds what every stage of a run shares.
type runner struct {
	p     *Pipeline
	o     Options
	out   string
	log   *run.Log
	state *runState
}

// stageRun is one stage in progress.
type stageRun struct {
	*runner
	idx    int
	s      *Stage
	data   *stageData
	plan   *stepPlan
	towers []*Tower
	slots  []optim.Slot
	opt    *optim.AdamW
	sched  optim.Schedule
	step   *Step
	ts     trainerState
	enc    eval.Encoder // what evaluation embeds with (a model or a pair)
	save   func(dir string, o model.SaveOptions) error

	bar     *progress.Bar
	dev     *dataset.Dataset
	lastDev map[string]float64
}

// trainerState is the part of a checkpoint that is not tensors.
type trainerState struct {
	Stage    int     `json:"stage"`
	Name     string  `json:"stage_name"`
	Step     int     `json:"step"` // optimiser steps done
	OptStep  int     `json:"optimizer_step"`
	Best     float64 `json:"best_ndcg10"` // -1: no evaluation yet
	BestStep int     `json:"best_step"`
	BadEvals int     `json:"bad_evals"`
	Examples int64   `json:"examples"`
	Elapsed  float64 `json:"elapsed_s"`
	First    float64 `json:"first_loss"`
	Last     float64 `json:"last_loss"`
	Stopped  bool    `json:"stopped_early"`
	// Before is the collapse diagnosis of the stage's starting model.
	Before *eval.Collapse `json:"before,omitempty"`
}

func (r *runner) stage(ctx context.Context, idx int, s *Stage, from, dir string) (*StageReport, error) {
	w := r.o.Log
	fmt.Fprintf(w, "\n== stage %d/%d %s: %s loss on %s\n", idx+1, len(r.p.Stages), s.Name, s.Loss, s.Data)
	loss, err := NewLoss(s.Loss, s.LossParams)
	if err != nil {
		return nil, err
	}
	sr := &stageRun{runner: r, idx: idx, s: s}
	sr.ts = trainerState{Stage: idx, Name: s.Name, Best: -1}
	if sr.data, err = loadStageData(s, loss, w); err != nil {
		return nil, err
	}
	if sr.plan, err = sr.data.plan(s, w); err != nil {
		return nil, err
	}
	// The model: from the stage's checkpoint when resuming, else its source.
	ckpt := ""
	if r.state.Checkpoint != "" && strings.HasPrefix(filepath.Base(r.state.Checkpoint), checkpointPrefix(idx, s.Name)) {
		ckpt = filepath.Join(r.out, r.state.Checkpoint)
		from = filepath.Join(ckpt, "model")
	}
	if err := sr.loadModels(ctx, from, loss); err != nil {
		return nil, err
	}
	total := len(sr.plan.steps)
	sr.sched = optim.Schedule{Kind: s.Schedule, Warmup: optim.WarmupSteps(s.WarmupSteps, s.WarmupRatio, total), Total: total}
	sr.opt = optim.NewAdamW(sr.slots, s.Beta1, s.Beta2, s.Eps, s.WeightDecay)
	if ckpt != "" {
		if err := sr.loadCheckpoint(ckpt); err != nil {
			return nil, err
		}
		fmt.Fprintf(w, "resuming %s at step %d/%d from %s\n", s.Name, sr.ts.Step, total, ckpt)
		if err := truncateLog(r.log, idx, sr.ts.Step); err != nil {
			return nil, err
		}
	}
	trainable, all := sr.paramCounts()
	fmt.Fprintf(w, "%d examples, %d epochs, %d optimiser steps of %d×%d examples (sampler %s), warm-up %d steps, %s schedule, lr %g\n",
		len(sr.data.rows), sr.plan.epochs, total, s.BatchSize, s.Accumulate, s.Sampler, sr.sched.Warmup, s.Schedule, s.LR)
	if ckpt == "" {
		// A stage starting over (fresh, or killed before its first
		// checkpoint) drops whatever an earlier attempt logged for it.
		if err := truncateLog(r.log, idx, -1); err != nil {
			return nil, err
		}
		r.log.Write(map[string]any{"event": "stage_start", "stage": s.Name, "stage_index": idx, "steps": total,
			"examples": len(sr.data.rows), "trainable": trainable, "parameters": all, "from": from, "kormed": r.o.Version})
		// Before the first step: how collapsed is the starting model? (To
		// its end even after Ctrl-C: the loop then checkpoints step 0.)
		if sr.ts.Before, err = sr.diagnose(context.WithoutCancel(ctx)); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	elapsed0 := sr.ts.Elapsed
	bar := progress.New(w, s.Name, int64(total))
	if r.o.Progress != nil {
		bar.Force(*r.o.Progress)
	}
	sr.bar = bar
	defer func() { sr.bar = nil }()
	bar.Add(int64(sr.ts.Step))
	for sr.ts.Step < total && !sr.ts.Stopped {
		if err := ctx.Err(); err != nil {
			bar.Finish()
			if err := sr.checkpoint(); err != nil {
				return nil, err
			}
			return nil, run.ErrInterrupted
		}
		if err := sr.oneStep(); err != nil {
			return nil, err
		}
		sr.ts.Elapsed = elapsed0 + time.Since(start).Seconds()
		bar.SetStatus(fmt.Sprintf("loss %.4f lr %.2e %.1f ex/s", sr.ts.Last, sr.lr(sr.ts.Step-1), float64(sr.ts.Examples)/math.Max(sr.ts.Elapsed, 1e-9)))
		bar.Add(1)
		step := sr.ts.Step
		epochEnd := step == total || sr.plan.epoch[step] != sr.plan.epoch[step-1]
		if s.Dev != "" && (s.EvalSteps > 0 && step%s.EvalSteps == 0 || s.EvalSteps == 0 && epochEnd || step == total) {
			if err := sr.evaluate(ctx); err != nil {
				return nil, err
			}
		}
		if s.CheckpointSteps > 0 && step%s.CheckpointSteps == 0 && step < total {
			if err := sr.checkpoint(); err != nil {
				return nil, err
			}
		}
		if r.o.AfterStep != nil {
			r.o.AfterStep(s.Name, step)
		}
	}
	bar.Finish()
	sr.bar = nil
	return sr.finish(ctx, dir)
}

// paramCounts counts the trainable and all parameters of the stage's encoders.
func (sr *stageRun) paramCounts() (trainable, all int) {
	for _, tw := range sr.towers {
		trainable += tw.Trainable()
		for _, sl := range tw.Slots {
			all += len(sl.Data)
		}
	}
	return trainable, all
}

// lr is the learning rate of optimiser step i.
func (sr *stageRun) lr(i int) float64 { return sr.s.LR * sr.sched.Factor(i) }

// stepKey seeds the dropout masks of one micro-batch.
func (sr *stageRun) stepKey(step, micro int) uint64 {
	k := nn.DropKey(sr.s.Seed, uint64(sr.idx)+1)
	return nn.DropKey(nn.DropKey(k, uint64(step)+1), uint64(micro)+1)
}

// oneStep runs optimiser step ts.Step: its micro-batches, clipping, AdamW.
func (sr *stageRun) oneStep() error {
	i := sr.ts.Step
	for _, tw := range sr.towers {
		tw.ZeroGrad()
	}
	micro := sr.plan.steps[i]
	var total float64
	n := 0
	for k, idx := range micro {
		l, err := sr.step.LossAndGrad(sr.data.batch(idx), sr.stepKey(i, k), 1/float64(len(micro)))
		if err != nil {
			return err
		}
		total += l / float64(len(micro))
		n += len(idx)
	}
	if math.IsNaN(total) || math.IsInf(total, 0) {
		return fmt.Errorf("step %d: the loss is %v (diverged; lower lr or check the data)", i+1, total)
	}
	norm := optim.ClipGradNorm(sr.slots, sr.s.MaxGradNorm)
	lr := sr.lr(i)
	if err := sr.opt.Update(sr.slots, lr); err != nil {
		return err
	}
	sr.ts.Step++
	sr.ts.OptStep = sr.opt.Step
	sr.ts.Examples += int64(n)
	if sr.ts.Step == 1 {
		sr.ts.First = total
	}
	sr.ts.Last = total
	if sr.ts.Step%sr.s.LogSteps == 0 || sr.ts.Step == len(sr.plan.steps) {
		sr.log.Write(map[string]any{"stage": sr.s.Name, "stage_index": sr.idx, "step": sr.ts.Step, "epoch": sr.plan.epoch[i],
			"loss": total, "lr": lr, "grad_norm": norm, "examples": sr.ts.Examples, "elapsed_s": sr.ts.Elapsed})
	}
	return nil
}

// loadModels loads the stage's encoder (two for a dual stage) from a
// folder or hub id, applies the stage's pooling, prefixes and freezing,
// and prints the trainable-parameter table.
func (sr *stageRun) loadModels(ctx context.Context, from string, loss Loss) error {
	s, w := sr.s, sr.o.Log
	dir, err := sr.o.ResolveModel(ctx, from)
	if err != nil {
		return err
	}
	var ms []*model.Model
	switch {
	case model.IsPair(dir) && !s.Dual:
		return fmt.Errorf("%s is a bi-encoder (pair) folder; a stage that trains one encoder must start from one (set dual = true to continue both)", dir)
	case model.IsPair(dir):
		pr, err := model.LoadPair(dir)
		if err != nil {
			return err
		}
		ms = []*model.Model{pr.Query, pr.Passage}
	case s.Dual:
		for range 2 {
			m, err := model.Load(dir)
			if err != nil {
				return err
			}
			ms = append(ms, m)
		}
	default:
		m, err := model.Load(dir)
		if err != nil {
			return err
		}
		ms = []*model.Model{m}
	}
	for _, m := range ms {
		m.SetName(from)
		if s.Pooling != "" {
			m.Pooling = model.Pooling(s.Pooling)
		}
		if s.Normalize != nil {
			m.Normalize = *s.Normalize
		}
	}
	hidden, attn := float32(0), float32(0)
	if s.Dropout == nil || *s.Dropout {
		hidden, attn = ms[0].Enc.Cfg.DropoutRates()
	}
	nc := len(sr.data.rows[0])
	if s.Dual && nc < 2 {
		return fmt.Errorf("dual: the data has %d text column; a question and a context encoder need queries and passages (2 or more columns)", nc)
	}
	sr.step = &Step{Loss: loss, MaxLength: s.MaxLength, MiniBatch: s.MiniBatch, HiddenDropout: hidden, AttentionDropout: attn}
	names := []string{""}
	if s.Dual {
		names = []string{"question encoder", "context encoder"}
	}
	for ti, m := range ms {
		plan, err := s.Freeze.Resolve(m)
		if err != nil {
			return err
		}
		if names[ti] != "" {
			fmt.Fprintf(w, "%s:\n", names[ti])
		}
		plan.WriteTable(w, sr.o.Verbose)
		tw := NewTower(m, plan.Func())
		sr.towers = append(sr.towers, tw)
		prefix := ""
		if s.Dual {
			prefix = []string{"question.", "context."}[ti]
		}
		for _, sl := range tw.Slots {
			sl.Name = prefix + sl.Name
			sr.slots = append(sr.slots, sl)
		}
	}
	for c := 0; c < nc; c++ {
		tw := sr.towers[0]
		if s.Dual && c > 0 {
			tw = sr.towers[1]
		}
		sr.step.Towers = append(sr.step.Towers, tw)
		prefix := tw.M.PassagePrefix
		if c == 0 {
			prefix = tw.M.QueryPrefix
		}
		if s.Prefixes != nil {
			if len(*s.Prefixes) != nc {
				return fmt.Errorf("prefixes: %d given, the data has %d text columns", len(*s.Prefixes), nc)
			}
			prefix = (*s.Prefixes)[c]
		}
		sr.step.Prefixes = append(sr.step.Prefixes, prefix)
		// The model keeps the prefixes it trains with, so that evaluation
		// and the saved prompts (config_sentence_transformers.json) use
		// them: column 0's as the query prefix, column 1's as the passage
		// prefix.
		switch c {
		case 0:
			tw.M.QueryPrefix = prefix
		case 1:
			tw.M.PassagePrefix = prefix
		}
	}
	fmt.Fprintf(w, "text prefixes per column: %q\n", sr.step.Prefixes)
	if s.Dual {
		pr := &model.Pair{Query: ms[0], Passage: ms[1]}
		sr.enc, sr.save = pr, pr.Save
	} else {
		sr.enc, sr.save = ms[0], ms[0].Save
	}
	return nil
}
