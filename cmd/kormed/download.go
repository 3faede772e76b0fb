package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/hub"
)

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
	opts := base.HubFlags(fs)
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
