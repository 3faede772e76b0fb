package bench

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"runtime"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/optim"
	"github.com/kormed/kormed/tokenizer"
	"github.com/kormed/kormed/train"
)

// Train is kormed bench train.
var Train = &base.Command{
	Name:      "bench train",
	UsageLine: "bench train --model DIR [flags]",
	Short:     "time training steps (MNRL, AdamW) on fixed random token ids",
	Required:  []string{"model"},
	Engine:    true,
	Flags:     benchTrain,
}

// benchTrain times full optimiser steps — forward of both columns,
// MultipleNegativesRankingLoss, backward, clipping, AdamW — on the batch
// that bench/torch_train.py times: B (query, passage) pairs of T tokens
// drawn by benchIDs, no padding.
func benchTrain(fs *flag.FlagSet) base.Func {
	dir := fs.String("model", "", "model folder (e.g. from 'kormed testmodel --shape e5-small')")
	B := fs.Int("batch", 32, "(query, passage) pairs per step")
	T := fs.Int("seq", 64, "tokens per sequence")
	iters := fs.Int("iters", 5, "timed steps")
	warm := fs.Int("warmup", 1, "untimed steps first")
	mini := fs.Int("mini-batch", 0, "GradCache mini-batch (0: off)")
	freezeWord := fs.Bool("freeze-word-embeddings", true, "freeze the word-embedding table")
	dropout := fs.Bool("dropout", false, "training dropout (config.json's rates)")
	return func(ctx context.Context, args []string) error {
		m, err := model.Load(*dir)
		if err != nil {
			return err
		}
		f := train.Freeze{}
		if *freezeWord {
			f.Embeddings = "word"
		}
		plan, err := f.Resolve(m)
		if err != nil {
			return err
		}
		tw := train.NewTower(m, plan.Func())
		loss, _ := train.NewLoss("mnrl", train.LossParams{})
		st := &train.Step{Towers: []*train.Tower{tw, tw}, Prefixes: []string{"", ""}, Loss: loss, MiniBatch: *mini}
		if *dropout {
			st.HiddenDropout, st.AttentionDropout = m.Enc.Cfg.DropoutRates()
		}
		ids := benchIDs(2**B, *T, m.Enc.Cfg.VocabSize)
		encs := make([][]tokenizer.Encoding, 2)
		for i := 0; i < 2**B; i++ {
			c := i / *B
			encs[c] = append(encs[c], tokenizer.Encoding{IDs: ids[i**T : (i+1)**T], TypeIDs: make([]int32, *T)})
		}
		opt := optim.NewAdamW(tw.Slots, 0.9, 0.999, 1e-8, 0.01)
		var lossVal float64
		step := func(i int) error {
			tw.ZeroGrad()
			l, err := st.LossAndGradTokens(encs, nil, nil, uint64(i), 1)
			if err != nil {
				return err
			}
			lossVal = l
			optim.ClipGradNorm(tw.Slots, 1)
			return opt.Update(tw.Slots, 2e-5)
		}
		sec, err := timeSteps(ctx, *warm, *iters, step)
		if err != nil {
			return err
		}
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		res := map[string]any{
			"bench": "train", "engine": engineName(), "precision": blas.CurrentPrecision().String(), "batch": *B, "seq": *T, "iters": *iters, "threads": blas.Threads(),
			"mini_batch": *mini, "dropout": *dropout, "trainable": tw.Trainable(), "loss": lossVal,
			"seconds_per_step": sec / float64(*iters), "pairs_per_s": float64(*B**iters) / sec,
			"heap_sys_mib": float64(ms.HeapSys) / (1 << 20),
		}
		return json.NewEncoder(os.Stdout).Encode(res)
	}
}
