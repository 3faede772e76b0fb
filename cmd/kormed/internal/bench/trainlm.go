package bench

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/lmtrain"
)

// The optimiser of bench train-lm and bench/torch_train_lm.py: lmtrain's
// defaults (lmtrain.Defaults) at the recipe's lr, without a schedule.
const (
	benchLMLR          = 1e-5
	benchLMWeightDecay = 0.01 // on matrices and embeddings, not on norms or biases
	benchLMBeta1       = 0.9
	benchLMBeta2       = 0.999
	benchLMEps         = 1e-8
	benchLMMaxNorm     = 1.0
)

// lmBenchLoad is how bench train-lm loads the decoder: every load option
// goes through this struct and loadLMBenchModel.
type lmBenchLoad struct {
	Dir    string
	Frozen string // --frozen-weights: auto, fp32 or bf16
}

// lmBenchLoadFlags registers the load flags on fs; the returned options
// are valid after fs.Parse.
func lmBenchLoadFlags(fs *flag.FlagSet) *lmBenchLoad {
	o := &lmBenchLoad{}
	fs.StringVar(&o.Dir, "model", "", "decoder folder (e.g. from 'kormed testmodel --arch exaone --shape exaone-2.4b')")
	fs.StringVar(&o.Frozen, "frozen-weights", "auto", "memory of the frozen blocks: auto (as the checkpoint), fp32 or bf16 (as lmtrain)")
	return o
}

// frozenWeights names how m's frozen blocks are held in memory.
func frozenWeights(m *decoder.Model) string {
	if m.W.Layers[0].BF16() {
		return "bf16"
	}
	return "fp32"
}

// loadLMBenchModel loads the decoder as o says, the top topN blocks (and
// the head) float32 for training, as lmtrain.Run loads it.
func loadLMBenchModel(o *lmBenchLoad, topN int) (*decoder.Model, error) {
	st, err := decoder.ParseStorage(o.Frozen)
	if err != nil {
		return nil, fmt.Errorf("--frozen-weights: %w", err)
	}
	return decoder.LoadWith(o.Dir, decoder.LoadOptions{Weights: st, TrainTop: topN})
}

// benchLMExample is the fixed example both engines train on: --seq ids of
// benchIDs (B = 1), the first half (seq/2, rounded down) the prompt, whose
// labels are masked, the rest the answer. The causal-LM loss is the mean
// over the seq - seq/2 answer tokens, each predicted from the position
// before it.
func benchLMExample(T, vocab int) lmtrain.Example {
	ids32 := benchIDs(1, T, vocab)
	ids := make([]int, len(ids32))
	for i, id := range ids32 {
		ids[i] = int(id)
	}
	return lmtrain.Example{IDs: ids, PromptLen: T / 2}
}

// TrainLM is kormed bench train-lm.
var TrainLM = trainLM(os.Stdout)

// trainLM is kormed bench train-lm writing its record to w.
func trainLM(w io.Writer) *base.Command {
	return &base.Command{
		Name:      "bench train-lm",
		UsageLine: "bench train-lm --model DIR [flags]",
		Short:     "time decoder LM fine-tuning steps (top N blocks + final norm + LM head, AdamW), as bench/torch_train_lm.py does",
		Required:  []string{"model"},
		Engine:    true,
		Flags:     func(fs *flag.FlagSet) base.Func { return benchTrainLMTo(fs, w) },
	}
}

// benchTrainLMTo times full optimiser steps of lmtrain.Trainer — the
// forward (frozen blocks as at inference, the top N saving activations),
// the causal-LM loss over the answer tokens of benchLMExample, the
// backward of the top N blocks, final norm and LM head (for a tied model
// the shared embedding matrix, from the head's use only), clipping to 1.0
// and AdamW at lr 1e-5 — after --warmup untimed steps, and writes one JSON
// line to w.
func benchTrainLMTo(fs *flag.FlagSet, w io.Writer) base.Func {
	load := lmBenchLoadFlags(fs)
	T := fs.Int("seq", 512, "tokens of the example (the first half the masked prompt, the rest the trained answer)")
	topN := fs.Int("top-n", 2, "trainable top blocks (with the final norm and the LM head)")
	iters := fs.Int("iters", 3, "timed steps")
	warm := fs.Int("warmup", 1, "untimed steps first")
	return func(ctx context.Context, args []string) error {
		if *T < 2 || *iters < 1 || *warm < 0 {
			return fmt.Errorf("--seq must be at least 2, --iters at least 1, --warmup at least 0")
		}
		t0 := time.Now()
		m, err := loadLMBenchModel(load, *topN)
		if err != nil {
			return err
		}
		loadSec := time.Since(t0).Seconds()
		cfg := &m.Cfg
		if *T > cfg.MaxPositions {
			return fmt.Errorf("--seq %d: the model has %d positions", *T, cfg.MaxPositions)
		}
		tr, err := lmtrain.NewTrainer(m, *topN, benchLMBeta1, benchLMBeta2, benchLMEps, benchLMWeightDecay)
		if err != nil {
			return err
		}
		ex := benchLMExample(*T, cfg.VocabSize)
		exs := []lmtrain.Example{ex}

		var (
			lossFirst, normFirst, lossLast float64
			answer                         int
			stepSec                        []float64
		)
		for i := 0; i < *warm+*iters; i++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			ts := time.Now()
			loss, norm, n, err := tr.Step(exs, benchLMLR, benchLMMaxNorm)
			if err != nil {
				return err
			}
			if i >= *warm {
				stepSec = append(stepSec, time.Since(ts).Seconds())
			}
			if i == 0 {
				lossFirst, normFirst, answer = loss, norm, n
			}
			lossLast = loss
		}
		hwm := procStatusKB("VmHWM")
		sum, minSec := 0.0, math.Inf(1)
		for _, s := range stepSec {
			sum += s
			minSec = min(minSec, s)
		}
		trainable, all := tr.Counts()
		res := map[string]any{
			"bench": "train-lm", "engine": engineName(), "precision": blas.CurrentPrecision().String(), "threads": blas.Threads(),
			"frozen_weights": frozenWeights(m),
			"model_type":     cfg.ModelType, "layers": cfg.NumLayers, "hidden": cfg.HiddenSize, "vocab": cfg.VocabSize, "tied": cfg.TieEmbeddings,
			"seq": *T, "prompt_tokens": ex.PromptLen, "answer_tokens": answer, "top_n": *topN,
			"lr": benchLMLR, "weight_decay": benchLMWeightDecay, "max_grad_norm": benchLMMaxNorm,
			"warmup": *warm, "iters": *iters, "load_seconds": loadSec,
			"seconds_per_step": sum / float64(len(stepSec)), "min_seconds_per_step": minSec, "step_seconds": stepSec,
			"loss_first": lossFirst, "grad_norm_first": normFirst, "loss_last": lossLast,
			"trainable_params": trainable, "all_params": all,
			"peak_rss_mib": float64(hwm) / 1024,
		}
		return json.NewEncoder(w).Encode(res)
	}
}
