package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/gguf"
)

// cmdExportGGUF is kormed export gguf.
var cmdExportGGUF = exportGGUFCommand(os.Stdout)

func exportGGUFCommand(stdout io.Writer) *base.Command {
	return &base.Command{
		Name:      "export gguf",
		UsageLine: "export gguf MODEL_DIR OUT.gguf [--type f16|q8_0|q4_0|f32]",
		Short:     "export a decoder (Llama, EXAONE 3.x) to a GGUF file for llama.cpp and Ollama",
		Long: `Writes the decoder in MODEL_DIR (Llama or EXAONE 3.x in the Hugging Face layout, e.g. a
kormed train-lm output) as a GGUF file that llama.cpp and Ollama serve: llama.cpp's
architecture (llama, exaone), tensor and metadata names, the byte-level BPE tokenizer and
the chat template. Norms stay f32; with q8_0 or q4_0 a matrix whose rows are not a multiple
of 32 is f16, and with q4_0 the LM head is q8_0. Flags may come before or after the paths.`,
		Args:         true,
		Interspersed: true,
		Flags: func(fs *flag.FlagSet) base.Func {
			typ := fs.String("type", "f16", "weight type: f32, f16, q8_0 or q4_0")
			pre := fs.String("pre", "", "llama.cpp pre-tokenizer name (tokenizer.ggml.pre; default: detected, gpt-2, llama-bpe or exaone)")
			name := fs.String("name", "", "general.name (default: the model folder's name)")
			return func(ctx context.Context, pos []string) error {
				if len(pos) != 2 {
					return errors.New("MODEL_DIR and OUT.gguf are required")
				}
				t, err := gguf.ParseType(*typ)
				if err != nil {
					return err
				}
				start := time.Now()
				if err := gguf.Export(pos[0], pos[1], gguf.Options{Type: t, Pre: *pre, Name: *name}); err != nil {
					return err
				}
				st, err := os.Stat(pos[1])
				if err != nil {
					return err
				}
				fmt.Fprintf(stdout, "wrote %s (%s, %.1f MB) in %.1fs\n", pos[1], t, float64(st.Size())/1e6, time.Since(start).Seconds())
				return nil
			}
		},
	}
}
