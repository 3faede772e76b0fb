package bench

import (
	"context"
	"encoding/json"
	"flag"
	"os"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/model"
)

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

// Encode is kormed bench encode.
var Encode = &base.Command{
	Name:      "bench encode",
	UsageLine: "bench encode --model DIR [flags]",
	Short:     "time the encoder on a fixed batch of random token ids",
	Required:  []string{"model"},
	Engine:    true,
	Int8:      true,
	Flags:     benchEncode,
}

func benchEncode(fs *flag.FlagSet) base.Func {
	dir := fs.String("model", "", "model folder (e.g. from 'kormed testmodel --shape e5-small')")
	B := fs.Int("batch", 32, "sequences per batch")
	T := fs.Int("seq", 64, "tokens per sequence")
	iters := fs.Int("iters", 10, "timed batches")
	warm := fs.Int("warmup", 2, "untimed batches first")
	return func(ctx context.Context, args []string) error {
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
		if blas.CurrentPrecision() == blas.INT8 {
			res["int8_kernel"] = enc.Int8Kernel()
		}
		return json.NewEncoder(os.Stdout).Encode(res)
	}
}
