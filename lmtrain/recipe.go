package lmtrain

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"

	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/run"
)

// Recipe is a pipeline TOML file (the format of package train's
// recipes) whose one stage has loss = "causal_lm":
//
//	name  = "pubmedqa-ko"
//	model = "LGAI-EXAONE/EXAONE-3.5-2.4B-Instruct"
//	seed  = 42
//
//	[[stage]]
//	name  = "pubmedqa"
//	loss  = "causal_lm"
//	data  = "${PUBMEDQA_KO:-data/pubmedqa-ko/train.jsonl}"
//	top_n = 4
//	lr    = 1e-5
//
// The stage's other keys are Config's (top_n, lr, weight_decay,
// adam_beta1, adam_beta2, adam_epsilon, schedule, warmup_ratio,
// warmup_steps, max_grad_norm, accumulate, epochs, max_steps, max_length,
// seed, checkpoint_steps, keep_checkpoints, log_steps); batch_size must be
// 1 if given. ${VAR} and ${VAR:-default} are expanded; relative data and
// output paths (and a model folder that exists) are resolved against the
// file's folder. Unknown keys are errors.
type Recipe struct {
	Name   string
	Config Config // Model, Data, Output and the stage's settings
	Path   string
}

type recipeStage struct {
	Name      string `toml:"name"`
	Loss      string `toml:"loss"`
	Data      string `toml:"data"`
	BatchSize int    `toml:"batch_size"`

	TopN            int     `toml:"top_n"`
	LR              float64 `toml:"lr"`
	WeightDecay     float64 `toml:"weight_decay"`
	Beta1           float64 `toml:"adam_beta1"`
	Beta2           float64 `toml:"adam_beta2"`
	Eps             float64 `toml:"adam_epsilon"`
	Schedule        string  `toml:"schedule"`
	WarmupRatio     float64 `toml:"warmup_ratio"`
	WarmupSteps     int     `toml:"warmup_steps"`
	MaxGradNorm     float64 `toml:"max_grad_norm"`
	Accumulate      int     `toml:"accumulate"`
	Epochs          int     `toml:"epochs"`
	MaxSteps        int     `toml:"max_steps"`
	MaxLength       int     `toml:"max_length"`
	Seed            uint64  `toml:"seed"`
	FrozenWeights   string  `toml:"frozen_weights"`
	CheckpointSteps int     `toml:"checkpoint_steps"`
	KeepCheckpoints int     `toml:"keep_checkpoints"`
	LogSteps        int     `toml:"log_steps"`
}

type recipeFile struct {
	Name   string           `toml:"name"`
	Model  string           `toml:"model"`
	Output string           `toml:"output"`
	Seed   uint64           `toml:"seed"`
	Attr   string           `toml:"attribution"`
	Stage  []toml.Primitive `toml:"stage"`
}

// IsRecipe reports whether the TOML file at path has a stage with
// loss = "causal_lm" (kormed train hands such files to lmtrain).
func IsRecipe(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var f struct {
		Stage []struct {
			Loss string `toml:"loss"`
		} `toml:"stage"`
	}
	if _, err := toml.Decode(string(b), &f); err != nil {
		return false
	}
	for _, s := range f.Stage {
		if s.Loss == "causal_lm" {
			return true
		}
	}
	return false
}

// ReadRecipe reads a causal-LM recipe; sets override stage keys
// ("key=value", the value in TOML syntax, a bare word a string), as
// kormed train's --set.
func ReadRecipe(path string, sets ...string) (*Recipe, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var f recipeFile
	md, err := toml.Decode(string(b), &f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(f.Stage) != 1 {
		return nil, fmt.Errorf("%s: a causal_lm recipe has exactly one [[stage]] (it has %d)", path, len(f.Stage))
	}
	var s recipeStage
	if err := md.PrimitiveDecode(f.Stage[0], &s); err != nil {
		return nil, fmt.Errorf("%s: stage 1: %w", path, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		return nil, fmt.Errorf("%s: unknown key %s", path, strings.Join(keys, ", "))
	}
	for _, a := range sets {
		key, val, ok := strings.Cut(a, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" {
			return nil, fmt.Errorf("--set %s: want key=value", a)
		}
		if _, rest, ok := strings.Cut(key, "."); ok && s.Name != "" && strings.HasPrefix(key, s.Name+".") {
			key = rest
		}
		if err := run.Override(&s, key, val); err != nil {
			return nil, fmt.Errorf("--set %s: %w", a, err)
		}
	}
	where := fmt.Sprintf("%s: stage 1 (%s)", path, s.Name)
	if s.Loss != "causal_lm" {
		return nil, fmt.Errorf("%s: loss %q: a causal-LM recipe's stage has loss = \"causal_lm\"", where, s.Loss)
	}
	if s.BatchSize > 1 {
		return nil, fmt.Errorf("%s: batch_size = %d: causal_lm trains batch 1 (use accumulate for larger effective batches)", where, s.BatchSize)
	}
	dir := filepath.Dir(path)
	model, err := run.ExpandEnv(f.Model, "model")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if model != "" && !filepath.IsAbs(model) {
		if _, err := os.Stat(filepath.Join(dir, model)); err == nil {
			model = filepath.Join(dir, model)
		}
	}
	rel := func(v, field string) (string, error) {
		v, err := run.ExpandEnv(v, field)
		if err != nil || v == "" || filepath.IsAbs(v) || hubdata.IsRef(v) { // hf://…: a Hub dataset
			return v, err
		}
		return filepath.Join(dir, v), nil
	}
	data, err := rel(s.Data, "data")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	if data == "" {
		return nil, fmt.Errorf("%s: data: missing", where)
	}
	output, err := rel(f.Output, "output")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	name := f.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	if output == "" {
		output = filepath.Join("runs", name)
	}
	seed := s.Seed
	if seed == 0 {
		seed = f.Seed
	}
	c := Config{Model: model, Data: data, Output: output, TopN: s.TopN, LR: s.LR, WeightDecay: s.WeightDecay,
		Beta1: s.Beta1, Beta2: s.Beta2, Eps: s.Eps, Schedule: s.Schedule, WarmupRatio: s.WarmupRatio,
		WarmupSteps: s.WarmupSteps, MaxGradNorm: s.MaxGradNorm, Accumulate: s.Accumulate, Epochs: s.Epochs,
		MaxSteps: s.MaxSteps, MaxLength: s.MaxLength, Seed: seed, FrozenWeights: s.FrozenWeights, CheckpointSteps: s.CheckpointSteps,
		KeepCheckpoints: s.KeepCheckpoints, LogSteps: s.LogSteps}
	// Check what can be checked before the model loads.
	probe := c
	probe.Model, probe.Output = "x", "x"
	if _, err := probe.withDefaults(); err != nil {
		return nil, fmt.Errorf("%s: %w", where, err)
	}
	return &Recipe{Name: name, Config: c, Path: path}, nil
}
