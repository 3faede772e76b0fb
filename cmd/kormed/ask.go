package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"

	"github.com/kormed/kormed/chat"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/rag"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

const askLong = `Answers a question from an index built by 'kormed index': retrieves --k sources (hybrid with
a model, else BM25), asks an OpenAI-compatible LLM server (Ollama by default) to answer in
Korean from them citing [n], and prints the answer, the sources and, for questions about
dosing, pregnancy or age, the DUR warnings of the cited products. When no source is relevant
it says so without asking the LLM.

kormed ask --calibrate BENCH --index DIR measures the relevance thresholds (--min-coverage,
--min-dense) on a benchmark instead (no LLM needed).
`

// cmdAsk is kormed ask writing the answer to stdout, notes and usage to
// stderr.
func cmdAsk(stdout, stderr io.Writer) *base.Command {
	return &base.Command{
		Name:         "ask",
		UsageLine:    `ask "질문" --index DIR [--model M] [--llm-url URL] --llm-model NAME [--stream] [flags]`,
		Short:        "answer a question from an index with an LLM, citing the sources (RAG)",
		Long:         askLong,
		Required:     []string{"index"},
		Engine:       true,
		Int8:         true,
		Args:         true,
		Interspersed: true, // the question may come before or after the flags
		Output:       stderr,
		Flags:        func(fs *flag.FlagSet) base.Func { return runAsk(fs, stdout, stderr) },
	}
}

func runAsk(fs *flag.FlagSet, stdout, stderr io.Writer) base.Func {
	indexDir := fs.String("index", "", "index folder written by 'kormed index'")
	modelArg := fs.String("model", "", "query model (folder or Hugging Face id); default: the index's model if available locally, else BM25 only")
	k := fs.Int("k", rag.DefaultK, "sources to retrieve")
	stream := fs.Bool("stream", false, "print the answer as it is generated")
	asJSON := fs.Bool("json", false, "print the whole answer as JSON (with --calibrate: the measurement, every question's scores included)")
	budget := fs.Int("budget", rag.DefaultBudget, "tokens of source text in the prompt (characters without --generator or --tokenizer); lowered so that the prompt and --max-tokens fit the model's context when it is known")
	minCoverage := fs.Float64("min-coverage", rag.DefaultMinCoverage, "least coverage (idf-weighted share of the question's terms it holds, 0…1) for a source the keyword side found (negative: any keyword match counts)")
	minDense := fs.Float64("min-dense", rag.DefaultMinDense, "least cosine for a source whatever its coverage (negative: never)")
	mode := fs.String("mode", "", "search mode: bm25, dense or hybrid (default hybrid with a model)")
	maxTokens := fs.Int("max-tokens", 0, "bound on the answer's tokens (0: the server's default)")
	calibrate := fs.String("calibrate", "", "instead of answering, measure --min-coverage and --min-dense on a BEIR benchmark folder (e.g. 'kormed data drug-bench' output): its --split queries asked as they are (answerable) and with their relevant documents left out, plus off-topic questions; prints precision/recall/F1 of answering per threshold and the best")
	split := fs.String("split", "test", "benchmark split for --calibrate")
	offTopic := fs.String("off-topic", "", "file of off-topic questions for --calibrate, one a line (default: kormed's 20 Korean ones)")
	gen := base.LLMFlags(fs, llm.DefaultBaseURL)
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		q := strings.TrimSpace(strings.Join(args, " "))
		if *calibrate != "" {
			if q != "" {
				return errors.New("--calibrate asks the benchmark's questions: drop the question")
			}
			opts := rag.Options{K: *k, MinCoverage: *minCoverage, MinDense: *minDense, Search: search.Request{Mode: *mode}}
			return calibrateMain(ctx, *indexDir, *modelArg, hubOpts(), *calibrate, *split, *offTopic, opts, *asJSON, stdout, stderr)
		}
		if q == "" {
			fs.Usage()
			return errors.New("no question: kormed ask \"타이레놀 복용량은?\" --index DIR --llm-model NAME")
		}
		g, name, counter, err := gen()
		if err != nil {
			return err
		}
		svc, closeIx, err := openIndexService(ctx, *indexDir, *modelArg, hubOpts(), stderr)
		if err != nil {
			return err
		}
		defer closeIx()
		opts := rag.Options{K: *k, Budget: *budget, MinCoverage: *minCoverage, MinDense: *minDense, Model: name, MaxTokens: *maxTokens, Search: search.Request{Mode: *mode}}
		budgetOptions(&opts, counter, name, "kormed ask", stderr)
		var emit func(string) error
		streamed := false
		if *stream && !*asJSON {
			emit = func(p string) error {
				streamed = true
				_, err := io.WriteString(stdout, p)
				return err
			}
		}
		a, err := rag.Ask(ctx, svc, g, q, opts, emit)
		if a == nil {
			return err
		}
		if *asJSON {
			enc := json.NewEncoder(stdout)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if e := enc.Encode(a); e != nil {
				return e
			}
			return err
		}
		if !streamed {
			io.WriteString(stdout, a.Text)
		}
		io.WriteString(stdout, "\n")
		if err != nil {
			return err
		}
		printSources(stdout, a)
		return nil
	}
}

// budgetOptions sets the token counting of rag options from a counter
// (nil: the budget counts characters, which is said on stderr).
func budgetOptions(opts *rag.Options, c *chat.Counter, name, cmd string, stderr io.Writer) {
	if c == nil {
		fmt.Fprintf(stderr, "%s: no tokenizer for %s: --budget counts characters (Korean is about 1–1.5 characters a token), and the model's context is not checked; --tokenizer DIR counts tokens\n", cmd, name)
		return
	}
	opts.Tokens, opts.PromptTokens, opts.Context = c.Tokens, c.Prompt, c.Context
}

// printSources writes the sources and DUR warnings of an answer.
func printSources(w io.Writer, a *rag.Answer) {
	if len(a.Sources) > 0 {
		fmt.Fprintln(w, "\n출처:")
		for _, s := range a.Sources {
			mark := " "
			if s.Cited {
				mark = "*"
			}
			fmt.Fprintf(w, " %s[%d] %s (%s, %.3f)\n", mark, s.N, s.Title, s.ID, s.Score)
		}
	}
	if len(a.Warnings) > 0 {
		fmt.Fprintln(w, "\nDUR 주의:")
		for _, x := range a.Warnings {
			line := fmt.Sprintf("  [%d] %s — %s", x.N, x.Title, x.Type)
			if x.Content != "" {
				line += ": " + x.Content
			}
			fmt.Fprintln(w, line)
		}
	}
	for _, n := range a.Notes {
		fmt.Fprintln(w, "참고:", n)
	}
}

// openIndexService opens an embedded index with its query model (the
// given one, else the index's own when it is available locally, else
// BM25 only, said on stderr).
func openIndexService(ctx context.Context, dir, modelArg string, hopts hub.Options, stderr io.Writer) (*search.Service, func(), error) {
	ix, err := embedded.Open(dir)
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (*search.Service, func(), error) {
		ix.Close()
		return nil, nil, err
	}
	info, err := ix.Info(ctx)
	if err != nil {
		return fail(err)
	}
	enc, mi, err := indexModel(ctx, info, modelArg, dir, hopts, stderr, "kormed ask", "searching")
	if err != nil {
		return fail(err)
	}
	svc, err := search.NewService(ctx, ix, enc, mi)
	if err != nil {
		return fail(err)
	}
	return svc, func() { ix.Close() }, nil
}

// calibrateMain is kormed ask --calibrate: it asks a benchmark's questions
// against the index (answerable, with their relevant documents left out,
// off-topic) and reports how well each --min-coverage and --min-dense
// tells them apart.
func calibrateMain(ctx context.Context, indexDir, modelArg string, hopts hub.Options, bench, split, offTopicFile string, opts rag.Options, asJSON bool, stdout, stderr io.Writer) error {
	d, err := dataset.ReadBEIR(bench, split)
	if err != nil {
		return err
	}
	off := rag.OffTopic
	if offTopicFile != "" {
		b, err := os.ReadFile(offTopicFile)
		if err != nil {
			return err
		}
		off = nil
		for _, l := range strings.Split(string(b), "\n") {
			if l = strings.TrimSpace(l); l != "" {
				off = append(off, l)
			}
		}
		if len(off) == 0 {
			return fmt.Errorf("--off-topic %s: no questions (one a line)", offTopicFile)
		}
	}
	svc, closeIx, err := openIndexService(ctx, indexDir, modelArg, hopts, stderr)
	if err != nil {
		return err
	}
	defer closeIx()
	if !svc.Dense() {
		fmt.Fprintln(stderr, "kormed ask --calibrate: the index is searched without a dense model, so --min-dense decides nothing; the numbers are the keyword side's (coverage) alone")
	}
	ids, texts := make([]string, len(d.Queries)), make([]string, len(d.Queries))
	for i, q := range d.Queries {
		ids[i], texts[i] = q.ID, q.Text
	}
	has := func(id string) bool {
		_, ok, err := svc.Backend.Get(ctx, id)
		return err == nil && ok
	}
	qs, skipped := rag.BenchQuestions(ids, texts, d.Qrels, has, off)
	if skipped == len(ids) {
		return fmt.Errorf("--calibrate %s: none of the %d %s queries has its relevant documents in %s (is it the benchmark of this index's corpus?)", bench, len(ids), split, indexDir)
	}
	if skipped > 0 {
		fmt.Fprintf(stderr, "kormed ask --calibrate: %d of %d queries skipped (a relevant document is not in the index)\n", skipped, len(ids))
	}
	fmt.Fprintf(stderr, "kormed ask --calibrate: asking %d questions (k %d)\n", len(qs), max(opts.K, 1))
	c, err := rag.Calibrate(ctx, svc, qs, opts)
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	}
	printCalibration(stdout, c)
	return nil
}

// printCalibration writes the summary of a calibration.
func printCalibration(w io.Writer, c *rag.Calibration) {
	fmt.Fprintf(w, "questions: %d answerable, %d with their sources deleted, %d off-topic\n", c.Answerable, c.Deleted, c.OffTopic)
	fmt.Fprintf(w, "the keyword side found a hit (answered without a coverage bound): %d answerable, %d unanswerable\n", c.KeywordAnswerable, c.KeywordUnanswerable)
	for _, sw := range []struct {
		title string
		s     rag.Sweep
		def   float64
		zero  string
	}{
		{fmt.Sprintf("the relevance test over min-coverage (keyword hit with coverage ≥ threshold, or dense cosine ≥ %.2f)", c.MinDense), c.Coverage, rag.DefaultMinCoverage, "no coverage bound (any keyword hit)"},
		{fmt.Sprintf("the relevance test over min-dense (keyword hit with coverage ≥ %.2f, or dense cosine ≥ threshold)", c.MinCoverage), c.Relevant, rag.DefaultMinDense, ""},
		{"the dense cosine alone (keyword side ignored)", c.DenseOnly, rag.DefaultMinDense, ""},
	} {
		fmt.Fprintf(w, "\n%s:\nthreshold  precision  recall      F1     TP    FP    FN    TN\n", sw.title)
		row := func(p rag.Point, what string) {
			fmt.Fprintf(w, "%9.2f  %9.4f  %6.4f  %6.4f  %5d %5d %5d %5d  %s\n", p.Threshold, p.Precision, p.Recall, p.F1, p.TP, p.FP, p.FN, p.TN, what)
		}
		row(sw.s.Best, "best F1")
		for _, p := range sw.s.At {
			what := "asked"
			switch {
			case p.Threshold == 0 && sw.zero != "":
				what = sw.zero
			case p.Threshold == sw.def:
				what = "default"
			}
			row(p, what)
		}
		for _, p := range sw.s.Curve {
			if int(math.Round(p.Threshold*100))%10 == 0 {
				row(p, "")
			}
		}
	}
}
