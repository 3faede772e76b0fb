package train

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/run"
)

// Pipeline is a training recipe: a base model and stages run in order,
// each starting from the previous stage's output. It is read from a TOML
// file (see ReadPipeline and the recipes/ folder):
//
//	name  = "drug-e5"
//	model = "intfloat/multilingual-e5-small"
//	seed  = 42
//
//	[defaults]            # keys every stage takes unless it sets them
//	batch_size = 32
//	lr         = 2e-5
//
//	[[stage]]
//	name = "types"
//	data = "${DRUG_DATA:-../shared/data/drugs}/drug_type_similarity_train.csv"
//	loss = "cosine"
//
//	[[stage]]
//	name = "products"
//	data = "${DRUG_TRAIN}/triplets.jsonl"
//	loss = "mnrl"
//	freeze = { embeddings = "word" }
type Pipeline struct {
	Name   string `toml:"name"`
	Model  string `toml:"model"`  // base model: Hugging Face id or folder
	Output string `toml:"output"` // run folder (default: runs/<name>)
	Seed   uint64 `toml:"seed"`
	// Attribution is the training data's licence and source, carried into
	// every model card.
	Attribution string `toml:"attribution"`
	Stages      []Stage

	// Path is the file it was read from; relative paths in it are
	// resolved against its folder.
	Path string `toml:"-"`
}

// Stage is one training stage.
type Stage struct {
	Name string `toml:"name"`
	// Data is the training file: CSV pairs (query,context,label …), JSONL
	// triplets (query, document, hard_negative) or synonym clusters
	// ("CODE || term" lines, or CSV code,term). Format forces one of
	// "pairs", "triplets", "synonyms" (default: from the file). Data may
	// also be a Hub dataset, hf://OWNER/NAME[:CONFIG][@REVISION] (parquet,
	// JSON Lines, CSV …; see package hub), read as pairs or triplets by
	// column names: Split picks its split (default: the only one, else
	// train) and Columns maps roles to other names, e.g.
	// columns = {query = "QUESTION", document = "CONTEXTS"}.
	Data    string            `toml:"data"`
	Format  string            `toml:"format"`
	Split   string            `toml:"split" json:",omitempty"`
	Columns map[string]string `toml:"columns" json:",omitempty"`
	// From is the model the stage starts from: a folder or hub id.
	// Default: the previous stage's output (the pipeline's model for the first).
	From string `toml:"from"`
	// Loss and its parameters (see NewLoss).
	Loss       string     `toml:"loss"`
	LossParams LossParams `toml:"loss_params"`
	// Epochs over the data, or MaxSteps optimiser steps when > 0 (which wins).
	Epochs   int `toml:"epochs"`
	MaxSteps int `toml:"max_steps"`
	// BatchSize examples per optimiser step and micro-batch; Accumulate
	// micro-batches per optimiser step (gradient accumulation); MiniBatch
	// > 0 turns on GradCache with mini-batches of that many examples.
	BatchSize  int `toml:"batch_size"`
	Accumulate int `toml:"accumulate"`
	MiniBatch  int `toml:"mini_batch"`
	// Sampler: "no-duplicates" (sentence-transformers' NoDuplicatesBatchSampler;
	// default for mnrl), "groups" (batches of synonym clusters; default for
	// multi-similarity; PerGroup examples of a cluster together) or "random".
	Sampler  string `toml:"sampler"`
	PerGroup int    `toml:"per_group"`
	DropLast bool   `toml:"drop_last"`
	// Shuffle false walks the examples in file order every epoch (the
	// sampler still applies); default true, a permutation per epoch.
	// (omitempty keeps the resume fingerprint of recipes without it.)
	Shuffle *bool `toml:"shuffle" json:",omitempty"`
	// Optimiser (AdamW) and schedule.
	LR          float64 `toml:"lr"`
	WeightDecay float64 `toml:"weight_decay"`
	Beta1       float64 `toml:"adam_beta1"`
	Beta2       float64 `toml:"adam_beta2"`
	Eps         float64 `toml:"adam_epsilon"`
	Schedule    string  `toml:"schedule"`
	WarmupSteps int     `toml:"warmup_steps"`
	WarmupRatio float64 `toml:"warmup_ratio"`
	MaxGradNorm float64 `toml:"max_grad_norm"`
	MaxLength   int     `toml:"max_length"`
	Seed        uint64  `toml:"seed"`
	Dropout     *bool   `toml:"dropout"` // config.json's dropout rates while training (default true)
	Freeze      Freeze  `toml:"freeze"`
	// Pooling ("mean" or "cls") and Normalize override the
	// model's sentence-embedding recipe for this stage and what it saves.
	Pooling   string    `toml:"pooling"`
	Normalize *bool     `toml:"normalize"`
	Prefixes  *[]string `toml:"prefixes"` // per text column; default: the model's query prefix, then passage prefixes
	// Dual trains separate question and context encoders (DPR): column 0
	// by the question encoder, the others by the context encoder. The
	// output is a pair folder (question_encoder/, context_encoder/).
	Dual bool `toml:"dual"`
	// CodeMix, a synonyms file, adds code-mixed copies of the examples
	// (column CodeMixColumn's Korean terms swapped for their English names).
	CodeMix       string `toml:"codemix"`
	CodeMixColumn int    `toml:"codemix_column"`
	// Dev is an optional evaluation set (BEIR folder, CSV pairs, JSONL
	// triplets), scored every EvalSteps steps (0: at the end of each epoch)
	// by NDCG@10 and Recall@10; the best model is kept. EarlyStopping > 0
	// stops after that many evaluations without improvement.
	Dev           string `toml:"dev"`
	DevSplit      string `toml:"dev_split"`
	EvalSteps     int    `toml:"eval_steps"`
	EarlyStopping int    `toml:"early_stopping"`
	// CheckpointSteps: save a resumable checkpoint every N steps (0: only
	// when the run is interrupted). KeepCheckpoints: the stage's newest
	// checkpoints kept, while it runs and after it ends (default 2); 0
	// keeps only the latest while the stage runs and removes them all
	// when it ends.
	CheckpointSteps int `toml:"checkpoint_steps"`
	KeepCheckpoints int `toml:"keep_checkpoints"`
	// LogSteps: a log record every N steps (default 1).
	LogSteps int `toml:"log_steps"`
}

// stageDefaults are what a recipe does not say: sentence-transformers'
// fit() defaults (lr 2e-5, weight decay 0.01, max_grad_norm 1, linear
// schedule, 1 epoch) with a 10% warm-up and batch 32.
func stageDefaults() Stage {
	return Stage{Epochs: 1, BatchSize: 32, Accumulate: 1, LR: 2e-5, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8,
		Schedule: "linear", WarmupRatio: 0.1, MaxGradNorm: 1, WeightDecay: 0.01, PerGroup: 2, KeepCheckpoints: 2, LogSteps: 1}
}

type pipelineFile struct {
	Name     string           `toml:"name"`
	Model    string           `toml:"model"`
	Output   string           `toml:"output"`
	Seed     *uint64          `toml:"seed"`
	Attr     string           `toml:"attribution"`
	Defaults toml.Primitive   `toml:"defaults"`
	Stage    []toml.Primitive `toml:"stage"`
}

// ReadPipeline reads and checks a pipeline file. ${VAR} and ${VAR:-default}
// in string values are replaced from the environment; relative paths
// (data, dev, codemix, output, models that are existing folders) are
// resolved against the file's folder. Unknown keys are errors.
//
// sets override stage keys after the file is read, each "key=value" (every
// stage) or "stage.key=value" (the stage of that name), the value in TOML
// syntax (a bare word is taken as a string): "lr=1e-3",
// "products.epochs=3", "freeze.embeddings=none".
func ReadPipeline(path string, sets ...string) (*Pipeline, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return ParsePipeline(path, b, sets...)
}

// ParsePipeline is ReadPipeline on the file's contents.
func ParsePipeline(path string, data []byte, sets ...string) (*Pipeline, error) {
	var f pipelineFile
	md, err := toml.Decode(string(data), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p := &Pipeline{Name: f.Name, Model: f.Model, Output: f.Output, Seed: 42, Attribution: f.Attr, Path: path}
	if f.Seed != nil {
		p.Seed = *f.Seed
	}
	def := stageDefaults()
	if md.IsDefined("defaults") {
		if err := md.PrimitiveDecode(f.Defaults, &def); err != nil {
			return nil, fmt.Errorf("%s: [defaults]: %w", path, err)
		}
	}
	for i, prim := range f.Stage {
		s := def
		s.Freeze.Names = append([]string(nil), def.Freeze.Names...)
		if err := md.PrimitiveDecode(prim, &s); err != nil {
			return nil, fmt.Errorf("%s: stage %d: %w", path, i+1, err)
		}
		// A stage's freeze table replaces the default one as a whole.
		var own struct {
			Freeze *Freeze `toml:"freeze"`
		}
		if err := md.PrimitiveDecode(prim, &own); err == nil && own.Freeze != nil {
			s.Freeze = *own.Freeze
		}
		p.Stages = append(p.Stages, s)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key %s", path, strings.Join(keys, ", "))
	}
	for _, a := range sets {
		if err := p.set(a); err != nil {
			return nil, fmt.Errorf("--set %s: %w", a, err)
		}
	}
	if err := p.expand(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// set applies one override (see ReadPipeline).
func (p *Pipeline) set(assign string) error {
	key, val, ok := strings.Cut(assign, "=")
	key, val = strings.TrimSpace(key), strings.TrimSpace(val)
	if !ok || key == "" {
		return errors.New("want key=value or stage.key=value")
	}
	only := ""
	if stage, rest, ok := strings.Cut(key, "."); ok {
		for _, s := range p.Stages {
			if s.Name == stage {
				only, key = stage, rest
			}
		}
	}
	matched := false
	for i := range p.Stages {
		s := &p.Stages[i]
		if only != "" && s.Name != only {
			continue
		}
		matched = true
		if err := run.Override(s, key, val); err != nil {
			return err
		}
	}
	if !matched {
		return fmt.Errorf("no stage named %q", only)
	}
	return nil
}

func (p *Pipeline) expand() error {
	dir := filepath.Dir(p.Path)
	rel := func(s string) string {
		if s == "" || filepath.IsAbs(s) || hubdata.IsRef(s) { // hf://… names a Hub dataset
			return s
		}
		return filepath.Join(dir, s)
	}
	// A model is a folder when it exists relative to the file; else it is
	// left as written (a Hugging Face id, or a folder relative to the
	// working directory).
	modelRef := func(s string) string {
		if s == "" || filepath.IsAbs(s) {
			return s
		}
		if _, err := os.Stat(filepath.Join(dir, s)); err == nil {
			return filepath.Join(dir, s)
		}
		return s
	}
	var err error
	if p.Model, err = run.ExpandEnv(p.Model, "model"); err != nil {
		return err
	}
	p.Model = modelRef(p.Model)
	if p.Output, err = run.ExpandEnv(p.Output, "output"); err != nil {
		return err
	}
	p.Output = rel(p.Output)
	for i := range p.Stages {
		s := &p.Stages[i]
		for _, f := range []struct {
			name string
			v    *string
			path bool
		}{{"data", &s.Data, true}, {"dev", &s.Dev, true}, {"codemix", &s.CodeMix, true}, {"from", &s.From, false}} {
			v, err := run.ExpandEnv(*f.v, fmt.Sprintf("stage %d (%s): %s", i+1, s.Name, f.name))
			if err != nil {
				return err
			}
			if f.path {
				*f.v = rel(v)
			} else {
				*f.v = modelRef(v)
			}
		}
	}
	return nil
}

// check validates every stage, naming the stage and the key.
func (p *Pipeline) check() error {
	if len(p.Stages) == 0 {
		return errors.New("no [[stage]]")
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(p.Path), filepath.Ext(p.Path))
	}
	seen := map[string]bool{}
	for i := range p.Stages {
		s := &p.Stages[i]
		if s.Name == "" {
			s.Name = fmt.Sprintf("stage%d", i+1)
		}
		where := fmt.Sprintf("stage %d (%s)", i+1, s.Name)
		if !safeStageName.MatchString(s.Name) {
			return fmt.Errorf("%s: name %q: use letters, digits, '-', '_' and '.'", where, s.Name)
		}
		if seen[s.Name] {
			return fmt.Errorf("%s: name used twice", where)
		}
		seen[s.Name] = true
		if s.Seed == 0 {
			s.Seed = p.Seed
		}
		if err := s.check(); err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
	}
	return nil
}

// capped is s with max_steps capped at n (--max-steps; n ≤ 0: no cap).
func (s Stage) capped(n int) Stage {
	if n > 0 && (s.MaxSteps == 0 || s.MaxSteps > n) {
		s.MaxSteps = n
	}
	return s
}

var safeStageName = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

func (s *Stage) check() error {
	if s.Data == "" {
		return errors.New("data: missing")
	}
	switch s.Format {
	case "", "pairs", "triplets", "synonyms":
	default:
		return fmt.Errorf("format %q: want pairs, triplets or synonyms", s.Format)
	}
	if s.Loss == "" {
		return errors.New("loss: missing (cosine, cosent, mnrl or multi-similarity)")
	}
	if _, err := NewLoss(s.Loss, s.LossParams); err != nil {
		return err
	}
	positive := []struct {
		key string
		v   int
	}{{"batch_size", s.BatchSize}, {"accumulate", s.Accumulate}, {"per_group", s.PerGroup}, {"log_steps", s.LogSteps}}
	for _, c := range positive {
		if c.v < 1 {
			return fmt.Errorf("%s = %d: want ≥ 1", c.key, c.v)
		}
	}
	nonNeg := []struct {
		key string
		v   int
	}{{"epochs", s.Epochs}, {"max_steps", s.MaxSteps}, {"mini_batch", s.MiniBatch}, {"warmup_steps", s.WarmupSteps},
		{"max_length", s.MaxLength}, {"eval_steps", s.EvalSteps}, {"early_stopping", s.EarlyStopping},
		{"checkpoint_steps", s.CheckpointSteps}, {"keep_checkpoints", s.KeepCheckpoints}, {"codemix_column", s.CodeMixColumn}}
	for _, c := range nonNeg {
		if c.v < 0 {
			return fmt.Errorf("%s = %d: want ≥ 0", c.key, c.v)
		}
	}
	if s.Epochs == 0 && s.MaxSteps == 0 {
		return errors.New("epochs and max_steps are both 0")
	}
	floats := []struct {
		key    string
		v      float64
		lo, hi float64
	}{{"lr", s.LR, 0, math.Inf(1)}, {"weight_decay", s.WeightDecay, 0, math.Inf(1)}, {"adam_beta1", s.Beta1, 0, 1},
		{"adam_beta2", s.Beta2, 0, 1}, {"adam_epsilon", s.Eps, 0, math.Inf(1)}, {"warmup_ratio", s.WarmupRatio, 0, 1},
		{"max_grad_norm", s.MaxGradNorm, 0, math.Inf(1)}}
	for _, c := range floats {
		if math.IsNaN(c.v) || c.v < c.lo || c.v > c.hi || (c.key == "lr" && c.v == 0) || (strings.HasPrefix(c.key, "adam_beta") && c.v == 1) {
			return fmt.Errorf("%s = %g: out of range", c.key, c.v)
		}
	}
	switch s.Pooling {
	case "", "mean", "cls":
	default:
		return fmt.Errorf("pooling %q: want mean or cls (what a sentence-transformers Pooling module can save)", s.Pooling)
	}
	if err := (optim.Schedule{Kind: s.Schedule}).Check(); err != nil {
		return err
	}
	switch s.Sampler {
	case "", "no-duplicates", "groups", "random":
	default:
		return fmt.Errorf("sampler %q: want no-duplicates, groups or random", s.Sampler)
	}
	if s.Sampler == "" {
		switch s.Loss {
		case "mnrl":
			s.Sampler = "no-duplicates"
		case "multi-similarity":
			s.Sampler = "groups"
		default:
			s.Sampler = "random"
		}
	}
	if s.Sampler == "groups" && s.Loss != "multi-similarity" {
		return fmt.Errorf("sampler groups needs the multi-similarity loss (synonym clusters)")
	}
	if s.PerGroup < 2 && s.Sampler == "groups" {
		return fmt.Errorf("per_group = %d: want ≥ 2", s.PerGroup)
	}
	if s.EarlyStopping > 0 && s.Dev == "" {
		return errors.New("early_stopping needs a dev set")
	}
	if s.MiniBatch > 0 && s.Accumulate > 1 {
		return errors.New("mini_batch (GradCache) and accumulate > 1 together: GradCache already decouples the batch from memory; use one")
	}
	return nil
}
