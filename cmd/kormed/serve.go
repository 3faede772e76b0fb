package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/rag"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/serve"
	"github.com/kormed/kormed/weaviate"
)

func init() {
	register(command{name: "serve", summary: "serve a search index over HTTP: JSON API, web page, metrics", run: runServe})
}

func runServe(ctx context.Context, args []string) error {
	return serveMain(ctx, args, os.Stderr, nil)
}

// serveMain is kormed serve with its messages to stderr; listening, when
// set, gets the URL once the server accepts connections (for tests).
func serveMain(ctx context.Context, args []string, stderr io.Writer, listening func(url string)) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), "usage: kormed serve --index DIR [--model M] [--addr 127.0.0.1:8080] [--api-key KEY] [flags]\n"+
			"       kormed serve --backend weaviate --weaviate-url URL --class NAME [--model M] [flags]\n\n"+
			"Serves a search index built by 'kormed index': the JSON API (/v1/search, /v1/embed,\n"+
			"/v1/documents, /v1/facets; described at /openapi.json), a web page at /, /healthz and\n"+
			"Prometheus /metrics. Without --model the model the index records is loaded when it is\n"+
			"available locally; otherwise the server answers BM25 only. Writes (POST /v1/documents,\n"+
			"DELETE /v1/documents/ID) need --api-key or KORMED_API_KEY; without one they are refused.\n"+
			"The embedded index is reloaded when 'kormed index' writes a new generation (checked every\n"+
			"--reload-interval and on SIGHUP). SIGTERM or Ctrl-C finishes in-flight requests and exits.\n\n")
		fs.PrintDefaults()
	}
	indexDir := fs.String("index", "", "index folder written by 'kormed index' (embedded backend)")
	modelArg := fs.String("model", "", "query model (folder or Hugging Face id); default: the index's model if available locally, else BM25 only")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; :8080 for all interfaces)")
	apiKey := fs.String("api-key", "", "API key for writes (default $KORMED_API_KEY; prefer the variable: arguments show in ps)")
	var cors listFlag
	fs.Var(&cors, "cors", "allow browser calls from this origin (repeatable or comma-separated; * for any); default: no CORS")
	safety := fs.String("safety", search.SafetyFlag, "default for queries that name a population (임산부, 노인, 소아, …): flag, strict (exclude) or off")
	backend := fs.String("backend", "embedded", "embedded (--index) or weaviate (--weaviate-url, --class)")
	weaviateURL := fs.String("weaviate-url", "", "Weaviate server, e.g. http://localhost:8080 (--backend weaviate)")
	class := fs.String("class", "", "Weaviate class holding the index (--backend weaviate)")
	logLevel := fs.String("log-level", "info", "log level: debug (also logs queries), info, warn or error")
	reloadEvery := fs.Duration("reload-interval", serve.DefaultReloadInterval, "how often to check the index for a new generation (0: only on SIGHUP)")
	maxBody := fs.Int64("max-body", serve.DefaultMaxSearchBytes, "largest /v1/search and /v1/embed request body in bytes")
	maxDocBody := fs.Int64("max-documents-body", serve.DefaultMaxDocumentBytes, "largest /v1/documents request body in bytes")
	applyEngine := engineFlags(fs)
	hubOpts := hubFlags(fs)
	llmOpts := llmFlags(fs, "") // --llm-url, --llm-model: /v1/ask and /v1/chat/completions (see ask.go)
	budget := fs.Int("budget", rag.DefaultBudget, "/v1/ask: tokens of source text in the prompt (characters without --generator or --tokenizer); lowered so that the prompt and the answer fit the model's context when it is known")
	minCoverage := fs.Float64("min-coverage", rag.DefaultMinCoverage, "/v1/ask: least coverage (idf-weighted share of the question's terms it holds, 0…1) for a source the keyword side found (negative: any keyword match counts; not applied with --backend weaviate, which computes no coverage; 'kormed ask --calibrate' measures it)")
	minDense := fs.Float64("min-dense", rag.DefaultMinDense, "/v1/ask: least cosine for a source whatever its coverage (negative: never; 'kormed ask --calibrate' measures it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := applyEngine(); err != nil {
		return err
	}
	llmGen, llmModel, counter, err := llmOpts()
	if err != nil {
		return err
	}
	askOpts := rag.Options{Budget: *budget, MinCoverage: *minCoverage, MinDense: *minDense}
	if llmGen != nil {
		budgetOptions(&askOpts, counter, llmModel, "kormed serve", stderr)
	}
	switch *safety {
	case search.SafetyFlag, search.SafetyStrict, search.SafetyOff:
	default:
		return fmt.Errorf("--safety %q: want flag, strict or off", *safety)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	if *apiKey == "" {
		*apiKey = os.Getenv("KORMED_API_KEY")
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	// The backend.
	var (
		b      search.Backend
		ix     *search.Index
		where  string
		reload func() (bool, error)
	)
	switch *backend {
	case "embedded":
		if *indexDir == "" {
			fs.Usage()
			return errors.New("--index is required (or --backend weaviate)")
		}
		if *weaviateURL != "" || *class != "" {
			return errors.New("--weaviate-url and --class go with --backend weaviate")
		}
		var err error
		if ix, err = search.Open(*indexDir); err != nil {
			return err
		}
		defer ix.Close()
		b, where, reload = ix, *indexDir, ix.Reload
		if *reloadEvery == 0 {
			*reloadEvery = 365 * 24 * time.Hour // SIGHUP only
		}
	case "weaviate":
		if *weaviateURL == "" || *class == "" {
			return errors.New("--backend weaviate needs --weaviate-url and --class")
		}
		if *indexDir != "" {
			return errors.New("--index goes with the embedded backend, not --backend weaviate")
		}
		wb, err := weaviate.Open(ctx, *weaviateURL, *class, weaviate.Options{})
		if err != nil {
			return err
		}
		defer wb.Close()
		b, where = wb, *weaviateURL+" class "+*class
	default:
		return fmt.Errorf("--backend %q: want embedded or weaviate", *backend)
	}
	info, err := b.Info(ctx)
	if err != nil {
		return err
	}

	// The query model.
	enc, mi, err := indexModel(ctx, info, *modelArg, where, hubOpts(), stderr, "kormed serve", "serving")
	if err != nil {
		return err
	}
	svc, err := search.NewService(ctx, b, enc, mi)
	if err != nil {
		return err
	}
	svc.Safety = *safety
	// Load the Korean morphological dictionary now (≈1.6 s; the union and
	// morph analyzers and the highlighting use it) rather than in the
	// first requests.
	analysis.LoadMorph()

	srv := serve.New(svc, serve.Options{
		APIKey:           *apiKey,
		CORSOrigins:      cors,
		MaxSearchBytes:   *maxBody,
		MaxDocumentBytes: *maxDocBody,
		Logger:           logger,
		Reload:           reload,
		ReloadInterval:   *reloadEvery,
		Version:          version,
		Generator:        llmGen,
		GeneratorModel:   llmModel,
		Ask:              askOpts,
	})
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	url := listenURL(ln.Addr())
	desc := "BM25 only"
	if svc.Dense() {
		desc = "model " + mi.Name + ", hybrid by default"
	}
	fmt.Fprintf(stderr, "kormed serve: %s (%d documents, %s backend, %s)\n", where, info.Docs, info.Backend, desc)
	if *apiKey == "" {
		fmt.Fprintln(stderr, "kormed serve: writes are disabled (no --api-key or KORMED_API_KEY)")
	}
	if llmGen != nil {
		fmt.Fprintf(stderr, "kormed serve: answers (/v1/ask, /v1/chat/completions) by %s\n", llmModel)
	}
	fmt.Fprintf(stderr, "kormed serve: open %s  (API: %sopenapi.json)\n", url, url)
	if listening != nil {
		listening(url)
	}
	return srv.Serve(ctx, ln)
}

// indexModel loads the query model for an index: --model (checked against
// the index later by search.NewService; the same folder under another
// spelling — ./x vs x, a path vs the hub id — counts as the index's
// model), else the model the index records when it is here (never
// downloaded), else none: the caller then runs BM25 only, which is said on
// stderr as "<cmd>: … <doing> BM25 only".
func indexModel(ctx context.Context, info search.Info, modelArg, where string, hopts hub.Options, stderr io.Writer, cmd, doing string) (search.Encoder, search.ModelInfo, error) {
	switch {
	case modelArg != "":
		if info.Model.Name == "" {
			return nil, search.ModelInfo{}, fmt.Errorf("%s was built without a model (BM25 only); drop --model, or rebuild it with 'kormed index --model %s'", where, modelArg)
		}
		dir, err := resolveModel(ctx, modelArg, hopts)
		if err != nil {
			return nil, search.ModelInfo{}, err
		}
		m, err := model.Load(dir)
		if err != nil {
			return nil, search.ModelInfo{}, err
		}
		m.SetName(modelArg)
		if modelArg != info.Model.Name {
			if idir, err := localModel(ctx, info.Model, hopts); err == nil && sameDir(idir, dir) {
				m.SetName(info.Model.Name)
			}
		}
		return m, modelInfo(m), nil
	case info.Model.Name != "":
		dir, err := localModel(ctx, info.Model, hopts)
		if err != nil {
			fmt.Fprintf(stderr, "%s: the index was built with %s, which is not available here (%v); %s BM25 only — pass --model to load it\n", cmd, info.Model.Name, err, doing)
			return nil, search.ModelInfo{}, nil
		}
		m, err := model.Load(dir)
		if err != nil {
			return nil, search.ModelInfo{}, fmt.Errorf("loading the index's model %s from %s: %w", info.Model.Name, dir, err)
		}
		m.SetName(info.Model.Name)
		return m, modelInfo(m), nil
	}
	return nil, search.ModelInfo{}, nil
}

// localModel finds the index's model without downloading: a folder as
// recorded, or the Hugging Face cache (at the recorded revision).
func localModel(ctx context.Context, mi search.ModelInfo, opts hub.Options) (string, error) {
	opts.Offline = true
	opts.Progress, opts.Log = nil, nil
	if mi.Revision != "" {
		opts.Revision = mi.Revision
	}
	return hub.Resolve(ctx, mi.Name, opts)
}

func sameDir(a, b string) bool {
	ea, err1 := filepath.EvalSymlinks(a)
	eb, err2 := filepath.EvalSymlinks(b)
	if err1 != nil || err2 != nil {
		return false
	}
	aa, err1 := filepath.Abs(ea)
	ab, err2 := filepath.Abs(eb)
	return err1 == nil && err2 == nil && aa == ab
}

// listenURL is the address to open in a browser: loopback for a server
// listening on all interfaces.
func listenURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// listFlag is a repeatable, comma-separated string flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }

func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
