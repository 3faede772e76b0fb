package base

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/chat"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/llm"
)

// EngineFlags adds the shared --threads and --precision flags to fs; call
// the returned function after fs.Parse to apply them. A Command with
// Engine set does both.
func EngineFlags(fs *flag.FlagSet) (apply func() error) {
	n := fs.Int("threads", 0, "threads for the engine (0 = all cores)")
	prec := fs.String("precision", "fp32", "matrix products: fp32 (exact against PyTorch), or bf16 (on CPUs with AVX512-BF16 or AMX: operands rounded to bfloat16, float32 accumulation; faster, not exact) or int8 (encoder inference: embed, eval, index, serve, bench encode; the encoder's projections as int8 products, weights quantized per output channel at load, activations per token; and a decoder's prompt on --weights int8|int4 (Q4 requantized per row for the product); on the cgo build needs AVX512-VNNI, AVX-VNNI or AMX-INT8)")
	return func() error {
		blas.SetThreads(*n)
		p, err := blas.ParsePrecision(*prec)
		if err != nil {
			return err
		}
		return blas.SetPrecision(p)
	}
}

// HubFlags adds --revision, --cache-dir and --offline to fs; call the
// returned function after fs.Parse for the hub.Options (defaults from the
// HF_* environment variables, as in huggingface_hub). Commands that take
// --model pass them to hub.Resolve.
func HubFlags(fs *flag.FlagSet) func() hub.Options {
	rev := fs.String("revision", "main", "Hugging Face revision (branch, tag or commit) for a hub --model")
	cache := fs.String("cache-dir", "", "Hugging Face cache folder (default $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)")
	offline := fs.Bool("offline", false, "use only the Hugging Face cache (also HF_HUB_OFFLINE=1)")
	return func() hub.Options {
		return hub.Options{Revision: *rev, CacheDir: *cache, Offline: *offline, Progress: os.Stderr, Log: os.Stderr}
	}
}

// LLMFlags adds --llm-url, --llm-model, --llm-key, --llm-timeout,
// --generator, --weights (the generator's storage) and --tokenizer to fs; after fs.Parse the returned function
// gives the generator (nil, "" when neither --llm-url nor --llm-model is
// set and defURL is ""), its model and the token counter of the context
// budget (the --generator model's, --tokenizer's, else nil: characters).
func LLMFlags(fs *flag.FlagSet, defURL string) func() (llm.Generator, string, *chat.Counter, error) {
	url := fs.String("llm-url", defURL, "OpenAI-compatible API base: Ollama http://localhost:11434/v1, vLLM http://HOST:8000/v1, llama.cpp http://HOST:8080/v1, https://api.openai.com/v1")
	name := fs.String("llm-model", os.Getenv("KORMED_LLM_MODEL"), "model the LLM server serves, e.g. qwen2.5:7b or exaone3.5:2.4b (default $KORMED_LLM_MODEL)")
	key := fs.String("llm-key", "", "API key sent as Authorization: Bearer (default $OPENAI_API_KEY)")
	timeout := fs.Duration("llm-timeout", llm.DefaultTimeout, "bound on one LLM request, the streamed answer included")
	engine := fs.String("generator", "", "answer with kormed's own decoder instead of an LLM server: a decoder model folder or Hugging Face id (EXAONE 3.x, Llama; 'kormed testmodel --arch exaone' writes a tiny one)")
	weights := fs.String("weights", "auto", "--generator weight storage: auto (as the checkpoint), fp32, bf16, int8 or int4 (quantized projections and FFN)")
	tokDir := fs.String("tokenizer", "", "folder with the LLM server's model's tokenizer.json (and chat template, config.json) so that --budget counts its tokens and the prompt fits its context; without it (and without --generator) --budget counts characters")
	return func() (llm.Generator, string, *chat.Counter, error) {
		if *engine != "" {
			if *tokDir != "" {
				return nil, "", nil, errors.New("--tokenizer goes with --llm-url/--llm-model: the --generator model counts with its own tokenizer")
			}
			storage, err := decoder.ParseStorage(*weights)
			if err != nil {
				return nil, "", nil, err
			}
			dir, err := hub.Resolve(context.Background(), *engine, hub.Options{Log: os.Stderr, Progress: os.Stderr})
			if err != nil {
				return nil, "", nil, err
			}
			g, err := chat.LoadWith(dir, decoder.LoadOptions{Weights: storage})
			if err != nil {
				return nil, "", nil, err
			}
			return g.LLM(*engine), *engine, g.Counter(), nil
		}
		if *weights != "auto" {
			return nil, "", nil, errors.New("--weights goes with --generator (an LLM server keeps its own weights)")
		}
		if *url == "" && *name == "" {
			if *tokDir != "" {
				return nil, "", nil, errors.New("--tokenizer needs --llm-url/--llm-model (the model it counts for)")
			}
			return nil, "", nil, nil
		}
		var counter *chat.Counter
		if *tokDir != "" {
			var err error
			if counter, err = chat.LoadCounter(*tokDir); err != nil {
				return nil, "", nil, fmt.Errorf("--tokenizer: %w", err)
			}
		}
		if *url == "" {
			*url = llm.DefaultBaseURL
		}
		if *name == "" {
			return nil, "", nil, errors.New("--llm-model is required with --llm-url (e.g. --llm-model qwen2.5:7b for Ollama; 'ollama list' shows the models)")
		}
		if !strings.HasPrefix(*url, "http://") && !strings.HasPrefix(*url, "https://") {
			return nil, "", nil, fmt.Errorf("--llm-url %q: want an http:// or https:// URL such as %s", *url, llm.DefaultBaseURL)
		}
		c := llm.New(*url, *name)
		if *key != "" {
			c.APIKey = *key
		}
		c.Timeout = *timeout
		return c, *name, counter, nil
	}
}

// List is the repeatable string flag: each use adds its value or, with Sep
// set, its Sep-separated parts, trimmed, the empty ones dropped.
type List struct {
	Sep    string
	Values []string
}

func (l *List) String() string { return strings.Join(l.Values, ",") }

func (l *List) Set(v string) error {
	if l.Sep == "" {
		l.Values = append(l.Values, v)
		return nil
	}
	for _, s := range strings.Split(v, l.Sep) {
		if s = strings.TrimSpace(s); s != "" {
			l.Values = append(l.Values, s)
		}
	}
	return nil
}

// SplitList splits a comma-separated flag value into its trimmed, non-empty
// parts.
func SplitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}
