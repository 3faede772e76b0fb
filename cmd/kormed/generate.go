package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kormed/kormed/blas"

	"github.com/kormed/kormed/chat"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/hub"
)

const generateLong = `Generates a continuation of PROMPT with a decoder-only model (Llama or EXAONE 3.x), streaming
the text to stdout as it comes and the speed to stderr. With --chat the prompt is a user
message rendered through the model's chat template (tokenizer_config.json's chat_template,
or --template) with the assistant's generation prompt. Decoding is greedy unless
generation_config.json has do_sample or --temperature > 0; it stops at the model's EOS ids,
a --stop string (cut from the output) or --max-new-tokens.
`

// cmdGenerate is kormed generate reading a PROMPT of - from stdin and
// writing the text to stdout, the speed and usage to stderr.
func cmdGenerate(stdin io.Reader, stdout, stderr io.Writer) *base.Command {
	return &base.Command{
		Name:      "generate",
		UsageLine: "generate --model M [flags] PROMPT   (PROMPT - reads stdin)",
		Short:     "generate text with a decoder model (Llama, EXAONE), optionally through its chat template",
		Long:      generateLong,
		Required:  []string{"model"},
		Engine:    true,
		Int8:      true,
		Args:      true,
		Output:    stderr,
		Flags:     func(fs *flag.FlagSet) base.Func { return runGenerate(fs, stdin, stdout, stderr) },
	}
}

func runGenerate(fs *flag.FlagSet, stdin io.Reader, stdout, stderr io.Writer) base.Func {
	modelArg := fs.String("model", "", "model folder or Hugging Face id (required)")
	useChat := fs.Bool("chat", false, "apply the chat template: PROMPT is the user's message")
	system := fs.String("system", "", "system message (with --chat)")
	tmplFile := fs.String("template", "", "chat template file (Jinja) to use instead of the model's (implies --chat)")
	maxNew := fs.Int("max-new-tokens", 0, "most new tokens (default: generation_config.json's max_new_tokens, else 256)")
	temp := fs.Float64("temperature", 0, "sampling temperature; 0 decodes greedily (default: generation_config.json's when do_sample)")
	topK := fs.Int("top-k", 0, "sample from the k most likely tokens (0: all; default: generation_config.json's)")
	topP := fs.Float64("top-p", 0, "nucleus sampling: the smallest set of tokens with this probability (default: generation_config.json's)")
	repPen := fs.Float64("repetition-penalty", 0, "CTRL repetition penalty, 1 = none (default: generation_config.json's)")
	seed := fs.Uint64("seed", 0, "seed of the sampling draws")
	var stops base.List
	fs.Var(&stops, "stop", "stop when the text contains this string (repeatable)")
	quiet := fs.Bool("quiet", false, "no speed line on stderr")
	weights := fs.String("weights", "auto", "weight storage: auto (as the checkpoint: bf16 for a BF16 model), fp32, bf16 (half the memory), int8 or int4 (quantized projections and FFN, dequantized in the kernel)")
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		if len(args) != 1 {
			fs.Usage()
			return errors.New("one PROMPT argument is required")
		}
		prompt := args[0]
		if prompt == "-" {
			b, err := io.ReadAll(stdin)
			if err != nil {
				return err
			}
			prompt = strings.TrimRight(string(b), "\r\n")
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

		storage, err := decoder.ParseStorage(*weights)
		if err != nil {
			return err
		}
		if err := decoder.CheckPrecision(storage); err != nil {
			blas.SetPrecision(blas.FP32)
			return err
		}
		dir, err := hub.Resolve(ctx, *modelArg, hubOpts())
		if err != nil {
			return err
		}
		g, err := chat.LoadWith(dir, decoder.LoadOptions{Weights: storage})
		if err != nil {
			return err
		}
		if *tmplFile != "" {
			b, err := os.ReadFile(*tmplFile)
			if err != nil {
				return err
			}
			t, err := chat.ParseTemplate(string(b))
			if err != nil {
				return err
			}
			if g.Template != nil {
				t.Vars = g.Template.Vars
			} else if cfgVars, err := chat.LoadTemplateVars(dir); err == nil {
				t.Vars = cfgVars
			}
			g.Template, *useChat = t, true
		}
		if *system != "" && !*useChat {
			return errors.New("--system needs --chat")
		}
		opts := chat.Options{MaxNewTokens: *maxNew, Sampling: g.Defaults.Sampling(), Stop: stops.Values}
		s := &opts.Sampling
		if set["temperature"] {
			s.Temperature = *temp
		}
		if set["top-k"] {
			s.TopK = *topK
		}
		if set["top-p"] {
			s.TopP = *topP
		}
		if set["repetition-penalty"] {
			s.RepetitionPenalty = *repPen
		}
		if (set["top-k"] || set["top-p"]) && !set["temperature"] && s.Temperature == 0 {
			// Asking for top-k/top-p asks for sampling.
			s.Temperature = g.Defaults.Temperature
		}
		s.Seed = *seed
		if *useChat {
			if g.Template == nil {
				return fmt.Errorf("%s has no chat template (tokenizer_config.json chat_template or chat_template.jinja): pass --template FILE, or leave out --chat", *modelArg)
			}
			if prompt, err = g.ChatPrompt(*system, prompt); err != nil {
				return err
			}
			opts.Raw = true // the template holds the BOS token where the model wants one
		}
		wrote := false
		var last string
		res, err := g.Generate(ctx, prompt, opts, func(p string) error {
			wrote, last = true, p
			_, err := io.WriteString(stdout, p)
			return err
		})
		if wrote && !strings.HasSuffix(last, "\n") {
			fmt.Fprintln(stdout)
		}
		if err != nil {
			return err
		}
		if !*quiet {
			fmt.Fprintf(stderr, "%d new tokens (prompt %d) in %.2fs: %.1f tokens/s (first token %.0f ms); stop: %s\n",
				len(res.IDs), res.PromptTokens, res.Duration.Seconds(), res.TokensPerSecond(), float64(res.Prefill.Microseconds())/1000, res.StopReason)
		}
		return nil
	}
}
