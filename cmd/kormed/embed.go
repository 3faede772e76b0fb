package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/embedfile"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/model"
)

// cmdEmbed is kormed embed.
var cmdEmbed = &base.Command{
	Name:      "embed",
	UsageLine: "embed --model M --input FILE --output FILE [flags]",
	Short:     "embed texts (lines or JSONL) into JSONL or .npy vectors",
	Long: `Embeds each input text with the model's sentence-embedding recipe. Input: one text per line,
or JSONL (a .jsonl/.json file, or when --field is given) taking the string field --field;
an "_id" or "id" field is carried to JSONL output. Output by extension: .npy (float32 [N,D],
row i = text i) or JSONL ({"id"|"line", "embedding": [...]} per text). --input - reads stdin.`,
	Required: []string{"model", "input", "output"},
	Engine:   true,
	Int8:     true,
	Flags:    runEmbed,
}

func runEmbed(fs *flag.FlagSet) base.Func {
	modelArg := fs.String("model", "", "model folder or Hugging Face id (required)")
	input := fs.String("input", "", "input file: text lines or JSONL (required; - for stdin), or a Hub dataset hf://OWNER/NAME[:CONFIG][@REV]")
	split := fs.String("split", "", "hf:// input: the split (default: the only one, else train)")
	columnsFlag := fs.String("columns", "", "hf:// input: map roles to columns, e.g. document=contents,id=doc_id")
	output := fs.String("output", "", "output file, .npy or .jsonl (required)")
	field := fs.String("field", "", `JSONL field holding the text (default "text"; setting it implies JSONL input)`)
	as := fs.String("as", "none", "prefix to add: query, passage (the model's prompts, \"query: \"/\"passage: \" for e5) or none")
	custom := fs.String("prefix", "", "custom prefix added to every text (overrides --as)")
	batch := fs.Int("batch", 32, "texts per forward pass")
	maxLen := fs.Int("max-length", 0, "truncate texts to this many tokens (default: the model's max_seq_length)")
	format := fs.String("format", "", "output format jsonl or npy (default: from the output extension)")
	withText := fs.Bool("include-text", false, "JSONL output: also write each text")
	quiet := fs.Bool("quiet", false, "no progress bar")
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		f := *format
		if f == "" {
			if strings.EqualFold(filepath.Ext(*output), ".npy") {
				f = "npy"
			} else {
				f = "jsonl"
			}
		}
		if f != "npy" && f != "jsonl" {
			return fmt.Errorf("--format %q: want jsonl or npy", f)
		}
		jsonl := *field != "" || strings.EqualFold(filepath.Ext(*input), ".jsonl") || strings.EqualFold(filepath.Ext(*input), ".json")
		hubField := *field // hf:// input: "" = the document column by its default names
		if *field == "" {
			*field = "text"
		}
		if *batch <= 0 {
			return fmt.Errorf("--batch %d: want a positive count", *batch)
		}

		dir, err := hub.Resolve(ctx, *modelArg, hubOpts())
		if err != nil {
			return err
		}
		m, err := loadEmbedModel(dir, *as)
		if err != nil {
			return err
		}
		m.BatchSize = *batch
		if *maxLen > 0 {
			if *maxLen > m.Enc.Cfg.MaxTokens() {
				return fmt.Errorf("--max-length %d exceeds the model's %d positions", *maxLen, m.Enc.Cfg.MaxTokens())
			}
			m.MaxLength = *maxLen
		}
		var prefix string
		switch *as {
		case "query":
			prefix = m.QueryPrefix
		case "passage":
			prefix = m.PassagePrefix
		case "none":
			if *custom == "" && (m.QueryPrefix != "" || m.PassagePrefix != "") {
				fmt.Fprintf(os.Stderr, "note: %s expects prefixes (%q / %q); pass --as query or --as passage to add them\n", m.Name(), m.QueryPrefix, m.PassagePrefix)
			}
		default:
			return fmt.Errorf("--as %q: want query, passage or none", *as)
		}
		if *custom != "" {
			prefix = *custom
		}
		job := embedfile.Job{Input: *input, Output: *output, Stdin: os.Stdin, JSONL: jsonl, Field: *field,
			NPY: f == "npy", Prefix: prefix, WithText: *withText, Progress: !*quiet, Log: os.Stderr}
		if hubdata.IsRef(*input) {
			cols, err := dataset.ParseColumns(*columnsFlag)
			if err != nil {
				return err
			}
			files, err := hubdata.Files(ctx, *input, *split, hubOpts())
			if err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "input: %s: %s\n", files.Describe(), strings.Join(files.Names, ", "))
			job.Hub, job.Columns, job.JSONL = files, cols, false
			job.Field = hubField
		}
		return embedfile.Run(ctx, m, job)
	}
}

// loadEmbedModel loads the model of folder dir; for a bi-encoder (DPR
// pair) folder, the encoder of the side --as names.
func loadEmbedModel(dir, as string) (*model.Model, error) {
	if !model.IsPair(dir) {
		return model.Load(dir)
	}
	p, err := model.LoadPair(dir)
	if err != nil {
		return nil, err
	}
	switch as {
	case "query":
		return p.Query, nil
	case "passage":
		return p.Passage, nil
	}
	return nil, fmt.Errorf("%s is a bi-encoder (question and context encoders): pass --as query or --as passage", dir)
}
