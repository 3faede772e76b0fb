package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/decoder"
)

// Decode is kormed bench decode.
var Decode = &base.Command{
	Name:      "bench decode",
	UsageLine: "bench decode --model DIR [flags]",
	Short:     "time a decoder LM: prompt processing and greedy generation with the KV cache, against the memory-bandwidth bound",
	Required:  []string{"model"},
	Engine:    true,
	Int8:      true,
	Flags:     benchDecode,
}

// benchDecode times the decoder on the prompt that bench/torch_decode.py
// times (benchIDs with B = 1): (a) one forward over the whole prompt into a
// fresh KV cache, after one untimed warm-up pass; (b) greedy generation of
// --new tokens, one Forward of one token per step against the prompt's
// cache. Then it measures the memory read bandwidth (a multi-threaded sum
// over a large buffer, after the model's peak RSS has been read) and
// compares the time per generated token with the bound "weight bytes read
// per token ÷ bandwidth".
func benchDecode(fs *flag.FlagSet) base.Func {
	dir := fs.String("model", "", "decoder folder (e.g. from 'kormed testmodel --arch exaone --shape exaone-2.4b')")
	T := fs.Int("prompt", 512, "prompt tokens")
	N := fs.Int("new", 32, "greedy tokens to generate")
	warm := fs.Int("warmup", 1, "untimed prompt passes first")
	bwGB := fs.Float64("bandwidth-gb", 2, "buffer size (GB) for the bandwidth measurement (0: skip it)")
	weights := fs.String("weights", "auto", "weight storage: auto (as the checkpoint), fp32, bf16, int8 or int4")
	return func(ctx context.Context, args []string) error {
		if *T < 1 || *N < 1 {
			return fmt.Errorf("--prompt and --new must be at least 1")
		}
		t0 := time.Now()
		storage, err := decoder.ParseStorage(*weights)
		if err != nil {
			return err
		}
		if err := decoder.CheckPrecision(storage); err != nil {
			blas.SetPrecision(blas.FP32)
			return err
		}
		m, err := decoder.LoadWith(*dir, decoder.LoadOptions{Weights: storage})
		if err != nil {
			return err
		}
		loadSec := time.Since(t0).Seconds()
		cfg := &m.Cfg
		ids32 := benchIDs(1, *T, cfg.VocabSize)
		ids := make([]int, len(ids32))
		for i, id := range ids32 {
			ids[i] = int(id)
		}

		ws := &decoder.Workspace{}
		c := m.NewCache()
		c.Reserve(*T + *N) // as Generate: no copy of the cache while timing
		for i := 0; i < *warm; i++ {
			c.Reset()
			if _, err := m.Forward(ws, c, ids, false); err != nil {
				return err
			}
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		c.Reset()
		t0 = time.Now()
		logits, err := m.Forward(ws, c, ids, false)
		if err != nil {
			return err
		}
		promptSec := time.Since(t0).Seconds()

		gen := make([]int, 0, *N)
		next := decoder.Argmax(logits)
		gen = append(gen, next)
		t0 = time.Now()
		for len(gen) < *N {
			if err := ctx.Err(); err != nil {
				return err
			}
			logits, err = m.Forward(ws, c, []int{next}, false)
			if err != nil {
				return err
			}
			next = decoder.Argmax(logits)
			gen = append(gen, next)
		}
		// The first token comes from the prompt pass; the N-1 steps timed here
		// each run one token through the model.
		steps := *N - 1
		genSec := time.Since(t0).Seconds()
		hwm := procStatusKB("VmHWM")

		sz := m.W.Size()
		weightBytes := sz.Bytes
		// One generated token reads every layer weight and the LM head once
		// (the embedding only for its one row), plus the cached keys and values.
		tokenBytes := float64(sz.LayerBytes + sz.HeadBytes + sz.NormBytes)
		kd := cfg.NumKVHeads * cfg.HeadDim
		meanPos := float64(*T) + float64(steps)/2
		kvBytes := 2 * 4 * float64(kd) * float64(cfg.NumLayers) * meanPos

		res := map[string]any{
			"bench": "decode", "engine": engineName(), "precision": blas.CurrentPrecision().String(), "threads": blas.Threads(),
			"weights": storage.String(), "bf16_layers": m.W.Layers[0].BF16(), "quantized_layers": m.W.Layers[0].Quantized(), "model_type": cfg.ModelType, "layers": cfg.NumLayers, "hidden": cfg.HiddenSize, "vocab": cfg.VocabSize,
			"prompt": *T, "new": *N, "load_seconds": loadSec,
			"prompt_seconds": promptSec, "prompt_tokens_per_s": float64(*T) / promptSec,
			"prompt_gflop_per_s": decoderPromptFLOPs(cfg, *T) / promptSec / 1e9,
			"gen_steps":          steps, "gen_seconds": genSec, "gen_tokens_per_s": float64(steps) / genSec,
			"ms_per_token": 1000 * genSec / float64(steps),
			"weight_bytes": weightBytes, "layer_weight_bytes_each": sz.LayerBytes / max(cfg.NumLayers, 1),
			"token_weight_bytes": tokenBytes, "token_kv_bytes": kvBytes,
			"peak_rss_mib": float64(hwm) / 1024, "generated": gen,
		}
		if *bwGB > 0 {
			rd, cp := memBandwidth(int64(*bwGB*1e9), blas.Threads())
			bound := (tokenBytes + kvBytes) / (rd * 1e9)
			res["read_gb_per_s"] = rd
			res["copy_gb_per_s"] = cp
			res["bound_ms_per_token"] = 1000 * bound
			res["ms_per_token_over_bound"] = genSec / float64(steps) / bound
		}
		return json.NewEncoder(os.Stdout).Encode(res)
	}
}

// decoderPromptFLOPs is the matrix work of one forward over a T-token
// prompt from position 0 (multiply-adds counted as 2): the q/k/v, output,
// gate/up and down projections, the causal attention products (about half
// of T² per head), and the LM head on the last position only.
func decoderPromptFLOPs(c *decoder.Config, T int) float64 {
	C, F := float64(c.HiddenSize), float64(c.IntermediateSize)
	QD, KD := float64(c.NumHeads*c.HeadDim), float64(c.NumKVHeads*c.HeadDim)
	t := float64(T)
	proj := 2 * t * (C*(QD+2*KD) + QD*C + 3*C*F)
	att := 2 * 2 * float64(c.NumHeads) * float64(c.HeadDim) * t * (t + 1) / 2
	return float64(c.NumLayers)*(proj+att) + 2*C*float64(c.VocabSize)
}

// procStatusKB reads one "Key: N kB" line of /proc/self/status (0 when absent).
func procStatusKB(key string) int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// memBandwidth measures memory bandwidth over an n-byte buffer with
// threads goroutines, best of three passes each: read (a sum of 64-bit
// words, what a matrix-vector product does to the weights) and copy
// (copy() between two halves, counting the bytes read and written), in GB/s.
func memBandwidth(n int64, threads int) (read, cp float64) {
	threads = max(threads, 1)
	words := make([]uint64, n/8)
	for i := range words {
		words[i] = uint64(i)
	}
	var sink uint64
	var mu sync.Mutex
	par := func(parts int, f func(lo, hi int)) {
		var wg sync.WaitGroup
		step := (parts + threads - 1) / threads
		for lo := 0; lo < parts; lo += step {
			wg.Add(1)
			go func(lo, hi int) {
				defer wg.Done()
				f(lo, hi)
			}(lo, min(lo+step, parts))
		}
		wg.Wait()
	}
	for pass := 0; pass < 3; pass++ {
		t0 := time.Now()
		par(len(words), func(lo, hi int) {
			var s0, s1, s2, s3 uint64
			w := words[lo:hi]
			i := 0
			for ; i+8 <= len(w); i += 8 {
				s0 += w[i] + w[i+4]
				s1 += w[i+1] + w[i+5]
				s2 += w[i+2] + w[i+6]
				s3 += w[i+3] + w[i+7]
			}
			for ; i < len(w); i++ {
				s0 += w[i]
			}
			mu.Lock()
			sink += s0 + s1 + s2 + s3
			mu.Unlock()
		})
		read = max(read, float64(8*len(words))/time.Since(t0).Seconds()/1e9)
	}
	half := len(words) / 2
	b := unsafe.Slice((*byte)(unsafe.Pointer(&words[0])), 8*len(words))
	src, dst := b[:8*half], b[8*half:8*2*half]
	for pass := 0; pass < 3; pass++ {
		t0 := time.Now()
		par(len(src), func(lo, hi int) { copy(dst[lo:hi], src[lo:hi]) })
		cp = max(cp, float64(2*len(src))/time.Since(t0).Seconds()/1e9)
	}
	runtime.KeepAlive(sink)
	return read, cp
}
