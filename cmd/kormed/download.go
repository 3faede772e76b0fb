package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/hub"
)

// cmdDownload is kormed download.
var cmdDownload = &base.Command{
	Name:      "download",
	UsageLine: "download --model ORG/NAME [--revision REV] [--cache-dir DIR]",
	Short:     "fetch a Hugging Face model into the HF cache (for offline use)",
	Long: `Downloads the files kormed needs (config, tokenizer, safetensors weights, sentence-transformers
module configs) into the Hugging Face cache, shared with Python's huggingface_hub, and prints
the snapshot folder. Set HF_TOKEN for gated or private models, HF_ENDPOINT for a mirror.`,
	Args:  true, // the model may come as the argument instead of --model
	Flags: runDownload,
}

func runDownload(fs *flag.FlagSet) base.Func {
	model := fs.String("model", "", "Hugging Face model id, e.g. intfloat/multilingual-e5-small")
	opts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		if *model == "" && len(args) == 1 {
			*model = args[0]
		} else if len(args) > 0 {
			return fmt.Errorf("unexpected arguments %q", args)
		}
		if *model == "" {
			return errors.New("--model is required")
		}
		dir, err := hub.Download(ctx, *model, opts())
		if err != nil {
			return err
		}
		fmt.Println(dir)
		return nil
	}
}
