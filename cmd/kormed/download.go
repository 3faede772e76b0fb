package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/kormed/kormed/hub"
)

// hubFlags adds --revision, --cache-dir and --offline to fs; call the
// returned function after fs.Parse for the hub.Options (defaults from the
// HF_* environment variables, as in huggingface_hub). Commands that take
// --model use it with resolveModel.
func hubFlags(fs *flag.FlagSet) func() hub.Options {
	rev := fs.String("revision", "main", "Hugging Face revision (branch, tag or commit) for a hub --model")
	cache := fs.String("cache-dir", "", "Hugging Face cache folder (default $HF_HUB_CACHE, $HF_HOME/hub or ~/.cache/huggingface/hub)")
	offline := fs.Bool("offline", false, "use only the Hugging Face cache (also HF_HUB_OFFLINE=1)")
	return func() hub.Options {
		return hub.Options{Revision: *rev, CacheDir: *cache, Offline: *offline, Progress: os.Stderr, Log: os.Stderr}
	}
}

// resolveModel turns a --model value (a folder or a Hugging Face id) into a
// local folder, downloading into the shared Hugging Face cache if needed.
func resolveModel(ctx context.Context, model string, opts hub.Options) (string, error) {
	return hub.Resolve(ctx, model, opts)
}

func init() {
	register(command{
		name:    "download",
		summary: "fetch a Hugging Face model into the HF cache (for offline use)",
		run:     runDownload,
	})
}

func runDownload(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("download", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: kormed download --model ORG/NAME [--revision REV] [--cache-dir DIR]\n\n"+
			"Downloads the files kormed needs (config, tokenizer, safetensors weights, sentence-transformers\n"+
			"module configs) into the Hugging Face cache, shared with Python's huggingface_hub, and prints\n"+
			"the snapshot folder. Set HF_TOKEN for gated or private models, HF_ENDPOINT for a mirror.\n\n")
		fs.PrintDefaults()
	}
	model := fs.String("model", "", "Hugging Face model id, e.g. intfloat/multilingual-e5-small")
	opts := hubFlags(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if *model == "" && fs.NArg() == 1 {
		*model = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if *model == "" {
		fs.Usage()
		return fmt.Errorf("--model is required")
	}
	dir, err := hub.Download(ctx, *model, opts())
	if err != nil {
		return err
	}
	fmt.Println(dir)
	return nil
}
