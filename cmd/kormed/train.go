package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/lmtrain"
	"github.com/kormed/kormed/train"
)

const trainLong = `Runs the pipeline's stages in order, each from the previous stage's output:
loads the model (a folder or a Hugging Face id), prints the trainable-parameter
table, trains with the stage's loss (cosine, cosent, mnrl, multi-similarity),
AdamW, the learning-rate schedule, gradient clipping and accumulation or
GradCache, evaluates on the dev set, checkpoints, and saves each stage as a
sentence-transformers folder OUTPUT/NN-stage (OUTPUT/model links to the last).
OUTPUT/train.jsonl logs every step; OUTPUT/loss.png plots the loss.

An interrupted run (Ctrl-C, SIGTERM, a crash) continues with --resume from its
last checkpoint and ends with the weights an uninterrupted run would have
(same thread count). See recipes/ for examples and README.md for every key.
`

// cmdTrain is kormed train.
var cmdTrain = &base.Command{
	Name:         "train",
	UsageLine:    "train PIPELINE.toml [--model M] [--output DIR] [--resume] [--set key=value] [--threads N]",
	Short:        "fine-tune an encoder with a pipeline of stages (TOML recipe)",
	Long:         trainLong,
	Engine:       true,
	Args:         true,
	Interspersed: true, // the pipeline file may come before, between or after the flags
	Flags:        runTrain,
}

func runTrain(fs *flag.FlagSet) base.Func {
	modelRef := fs.String("model", "", "base model (folder or Hugging Face id), instead of the pipeline's model")
	output := fs.String("output", "", "run folder, instead of the pipeline's output (default runs/<name>)")
	resume := fs.Bool("resume", false, "continue the run in the output folder from its last checkpoint")
	maxSteps := fs.Int("max-steps", 0, "cap every stage at this many optimiser steps (a quick trial run)")
	verbose := fs.Bool("verbose", false, "print the trainable-parameter table tensor by tensor")
	noProgress := fs.Bool("no-progress", false, "no progress bar")
	var sets base.List
	fs.Var(&sets, "set", "override a stage key: key=value (every stage) or stage.key=value; repeatable (--set lr=1e-3 --set products.epochs=3)")
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		if len(args) > 1 {
			return fmt.Errorf("unexpected arguments %q", args[1:])
		}
		if len(args) == 0 {
			fs.Usage()
			return errors.New("a pipeline file is required")
		}
		file := args[0]
		if lmtrain.IsRecipe(file) { // a decoder stage (loss = "causal_lm"): package lmtrain
			return runLMRecipe(ctx, file, sets.Values, *modelRef, *output, *resume, *maxSteps, hubOpts(), *noProgress)
		}
		p, err := train.ReadPipeline(file, sets.Values...)
		if err != nil {
			return err
		}
		o := train.Options{Output: *output, Model: *modelRef, Resume: *resume, MaxSteps: *maxSteps, Verbose: *verbose,
			Log: os.Stderr, Version: version,
			ResolveModel: func(ctx context.Context, ref string) (string, error) { return hub.Resolve(ctx, ref, hubOpts()) }}
		if *noProgress {
			off := false
			o.Progress = &off
		}
		rep, err := train.Run(ctx, p, o)
		if err != nil {
			return err
		}
		fmt.Printf("\ntrained %s: %d stages\n", p.Name, len(rep.Stages))
		for _, s := range rep.Stages {
			line := fmt.Sprintf("  %-12s %5d steps  loss %.4f → %.4f  %6.1fs  %s", s.Name, s.Steps, s.FirstLoss, s.LastLoss, s.Seconds, s.Output)
			if s.Dev != nil {
				line += fmt.Sprintf("  dev NDCG@10 %.2f", 100*s.Dev["NDCG@10"])
			}
			if s.Collapsed {
				line += "  COLLAPSED"
			}
			fmt.Println(line)
		}
		fmt.Printf("model: %s (load with SentenceTransformer(%q) or kormed --model %s)\n", rep.Model, rep.Model, rep.Model)
		return nil
	}
}
