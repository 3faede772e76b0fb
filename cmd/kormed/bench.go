package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/model"
)

// timeSteps runs step warm times untimed, then iters times timed, and
// returns the timed seconds; step gets the running index from 0.
func timeSteps(ctx context.Context, warm, iters int, step func(i int) error) (float64, error) {
	for i := 0; i < warm; i++ {
		if err := step(i); err != nil {
			return 0, err
		}
	}
	t0 := time.Now()
	for i := 0; i < iters; i++ {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		if err := step(warm + i); err != nil {
			return 0, err
		}
	}
	return time.Since(t0).Seconds(), nil
}

// engineName names kormed's engine in benchmark records: the matrix-product
// backend and, under --precision bf16, the precision.
func engineName() string {
	if blas.CurrentPrecision() == blas.BF16 {
		return "kormed bf16 " + blas.Backend()
	}
	return "kormed " + blas.Backend()
}

// benchIDs fills a [B,T] batch with the deterministic ids that
// bench/torch_encode.py and bench/ort_encode.js use, so the three engines
// time the same input.
func benchIDs(B, T, vocab int) []int32 {
	ids := make([]int32, B*T)
	s := int64(12345)
	for i := range ids {
		s = (s*1103515245 + 12345) % 2147483648
		ids[i] = int32(5 + s%int64(vocab-5))
	}
	return ids
}

// encoderFLOPs is the matrix work of one forward pass over B sequences of
// length T (multiply-adds counted as 2): the QKV, output and FFN
// projections plus the two attention products, per layer.
func encoderFLOPs(c *model.Config, B, T int) float64 {
	C, F := float64(c.HiddenSize), float64(c.IntermediateSize)
	bt := float64(B * T)
	perLayer := 2*bt*(3*C*C+C*C+2*C*F) + 2*2*float64(B)*float64(T)*float64(T)*C
	return perLayer * float64(c.NumHiddenLayers)
}

func benchEncode(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench encode", flag.ContinueOnError)
	dir := fs.String("model", "", "model folder (e.g. from 'kormed testmodel --shape e5-small')")
	B := fs.Int("batch", 32, "sequences per batch")
	T := fs.Int("seq", 64, "tokens per sequence")
	iters := fs.Int("iters", 10, "timed batches")
	warm := fs.Int("warmup", 2, "untimed batches first")
	applyEngine := base.EngineFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := applyEngine(); err != nil {
		return err
	}
	if *dir == "" {
		return fmt.Errorf("--model is required")
	}
	enc, _, err := model.LoadEncoder(*dir)
	if err != nil {
		return err
	}
	ids := benchIDs(*B, *T, enc.Cfg.VocabSize)
	mask := make([]float32, len(ids))
	for i := range mask {
		mask[i] = 1
	}
	out := make([]float32, *B*enc.Cfg.HiddenSize)
	ws := &model.Workspace{}
	sec, err := timeSteps(ctx, *warm, *iters, func(int) error {
		h, err := enc.Forward(ws, ids, nil, mask, *B, *T, nil)
		if err != nil {
			return err
		}
		return enc.Pool(out, h, mask, *B, *T, model.PoolMean, true)
	})
	if err != nil {
		return err
	}
	res := map[string]any{
		"engine": engineName(), "batch": *B, "seq": *T, "iters": *iters, "threads": blas.Threads(),
		"seconds": sec, "seq_per_s": float64(*B**iters) / sec,
		"gflop_per_s": encoderFLOPs(&enc.Cfg, *B, *T) * float64(*iters) / sec / 1e9,
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

func benchMixed(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("bench mixed", flag.ContinueOnError)
	dir := fs.String("model", "", "model folder")
	input := fs.String("input", "", "texts, one per line")
	batch := fs.Int("batch", 32, "texts per batch")
	iters := fs.Int("iters", 1, "passes over the texts")
	applyEngine := base.EngineFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if err := applyEngine(); err != nil {
		return err
	}
	if *dir == "" || *input == "" {
		return fmt.Errorf("--model and --input are required")
	}
	texts, err := readLines(*input)
	if err != nil {
		return err
	}
	m, err := model.Load(*dir)
	if err != nil {
		return err
	}
	m.BatchSize = *batch
	encs, err := m.Tokenize(texts, m.PassagePrefix)
	if err != nil {
		return err
	}
	tokens := 0
	for _, e := range encs {
		tokens += len(e.IDs)
	}
	res := map[string]any{"texts": len(texts), "mean_tokens": float64(tokens) / float64(len(texts)), "batch": *batch, "threads": blas.Threads()}
	for _, sorted := range []bool{false, true} {
		m.SortByLength = sorted
		if _, err := m.EncodeTokens(ctx, encs[:min(len(encs), *batch)]); err != nil { // warm-up
			return err
		}
		t0 := time.Now()
		for i := 0; i < *iters; i++ {
			if _, err := m.EncodeTokens(ctx, encs); err != nil {
				return err
			}
		}
		rate := float64(len(texts)**iters) / time.Since(t0).Seconds()
		if sorted {
			res["bucketed_texts_per_s"] = rate
		} else {
			res["input_order_texts_per_s"] = rate
		}
	}
	res["bucketing_gain"] = res["bucketed_texts_per_s"].(float64) / res["input_order_texts_per_s"].(float64)
	return json.NewEncoder(os.Stdout).Encode(res)
}

// readLines reads the non-empty lines of a UTF-8 text file.
func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" {
			out = append(out, s)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}
