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
	"runtime"
	"time"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/rag"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/weaviate"
	"github.com/kormed/kormed/serve"
)

const serveLong = `Serves a search index built by 'kormed index': the JSON API (/v1/search, /v1/embed,
/v1/documents, /v1/facets; described at /openapi.json), a web page at /, /healthz and
Prometheus /metrics. Without --model the model the index records is loaded when it is
available locally; otherwise the server answers BM25 only. Writes (POST /v1/documents,
DELETE /v1/documents/ID) need --api-key or KORMED_API_KEY; without one they are refused.
Answers (/v1/ask, /v1/chat/completions with --llm-url or --generator) need the client key
(--client-key or KORMED_CLIENT_KEY; the API key works too) unless --public-generation opens them.
The embedded index is reloaded when 'kormed index' writes a new generation (checked every
--reload-interval and on SIGHUP); a Weaviate class's hybrid calibration is re-read likewise. SIGTERM or Ctrl-C finishes in-flight requests and exits.
Every request has a deadline (--request-timeout; 504 past it, its work cancelled); embedding,
writes and answers run at most --max-inflight at once (429 with Retry-After beyond); a large
document write runs as a job (202, progress at GET /v1/jobs/ID). The server listens at once:
/healthz answers 503 {"status":"starting"} until the index is loaded. The index compacts
itself in the background when its write-ahead log passes --compact-bytes or --compact-records,
which bounds the log a restart replays.
`

// cmdServe is kormed serve with its messages and usage to stderr;
// listening, when set, gets the URL once the server accepts connections
// (for tests).
func cmdServe(stderr io.Writer, listening func(url string)) *base.Command {
	return &base.Command{
		Name: "serve",
		UsageLine: "serve --index DIR [--model M] [--addr 127.0.0.1:8080] [--api-key KEY] [flags]\n" +
			"       kormed serve --backend weaviate --weaviate-url URL --class NAME [--model M] [flags]",
		Short:  "serve a search index over HTTP: JSON API, web page, metrics",
		Long:   serveLong,
		Engine: true,
		Int8:   true,
		Output: stderr,
		Flags:  func(fs *flag.FlagSet) base.Func { return runServe(fs, stderr, listening) },
	}
}

func runServe(fs *flag.FlagSet, stderr io.Writer, listening func(url string)) base.Func {
	indexDir := fs.String("index", "", "index folder written by 'kormed index' (embedded backend)")
	modelArg := fs.String("model", "", "query model (folder or Hugging Face id); default: the index's model if available locally, else BM25 only")
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; :8080 for all interfaces)")
	apiKey := fs.String("api-key", "", "API key for writes (default $KORMED_API_KEY; prefer the variable: arguments show in ps)")
	clientKey := fs.String("client-key", "", "key for the endpoints that generate (/v1/ask, /v1/chat/completions; /v1/embed with --protect-embed), sent as 'Authorization: Bearer KEY' or 'X-API-Key: KEY'; the --api-key is accepted too (default $KORMED_CLIENT_KEY)")
	publicGen := fs.Bool("public-generation", false, "let anyone use /v1/ask and /v1/chat/completions without a key (they spend the LLM account's money or this machine's CPU)")
	protectEmbed := fs.Bool("protect-embed", false, "/v1/embed needs the client key too (as the generation endpoints do)")
	llmModels := base.List{Sep: ","}
	fs.Var(&llmModels, "llm-models", "other models clients may name in /v1/chat/completions besides --llm-model (comma-separated); any other model is refused")
	maxTokens := fs.Int("max-tokens", serve.DefaultMaxTokens, "largest max_tokens a client may ask of /v1/chat/completions, and the bound of /v1/ask's answers")
	cors := base.List{Sep: ","}
	fs.Var(&cors, "cors", "allow browser calls from this origin (repeatable or comma-separated; * for any); default: no CORS")
	safety := fs.String("safety", search.SafetyFlag, "default for queries that name a population (임산부, 노인, 소아, …): flag, strict (exclude) or off")
	backend := fs.String("backend", "embedded", "embedded (--index) or weaviate (--weaviate-url, --class)")
	weaviateURL := fs.String("weaviate-url", "", "Weaviate server, e.g. http://localhost:8080 (--backend weaviate)"+base.URLsHelp)
	class := fs.String("class", "", "Weaviate class holding the index (--backend weaviate)")
	wFlags := base.WeaviateFlags(fs, false)
	logLevel := fs.String("log-level", "info", "log level: debug (also logs queries), info, warn or error")
	reloadEvery := fs.Duration("reload-interval", serve.DefaultReloadInterval, "how often to check the index for a new generation (0: only on SIGHUP)")
	maxBody := fs.Int64("max-body", serve.DefaultMaxSearchBytes, "largest /v1/search and /v1/embed request body in bytes")
	maxDocBody := fs.Int64("max-documents-body", serve.DefaultMaxDocumentBytes, "largest /v1/documents request body in bytes")
	compactBytes := fs.Int64("compact-bytes", embedded.DefaultCompactBytes, "compact the index in the background when its write-ahead log holds this many bytes of document text (vectors do not count; 0: no byte limit); the log is replayed at every start, so this bounds the start time")
	compactRecords := fs.Int("compact-records", embedded.DefaultCompactRecords, "compact the index in the background when its write-ahead log holds this many writes (0: no record limit)")
	requestTimeout := fs.Duration("request-timeout", serve.DefaultWriteTimeout-10*time.Second, "deadline of each request: past it the answer is 504 and the work is cancelled (a streamed answer is under it until its first event)")
	maxInflight := fs.Int("max-inflight", runtime.GOMAXPROCS(0), "most embedding, document-write, chat and ask requests run at once; more are answered 429 with Retry-After")
	maxInflightSearch := fs.Int("max-inflight-search", 0, "most searches and facet counts run at once (default 4 × --max-inflight); more are answered 429")
	maxEmbedTexts := fs.Int("max-embed-texts", serve.DefaultMaxEmbedTexts, fmt.Sprintf("most texts in one /v1/embed request (at most %d)", search.MaxDocs))
	maxEmbedTokens := fs.Int("max-embed-tokens", serve.DefaultMaxEmbedTokens, "most tokens in one /v1/embed request, counted as the model reads them (each text truncated to its maximum length)")
	syncWriteChars := fs.Int("max-sync-write-chars", 0, fmt.Sprintf("most characters (titles and texts) a POST /v1/documents writes within the request; a larger write runs as a job (202, GET /v1/jobs/ID) (default %d, or --max-embed-tokens with a dense model)", serve.DefaultSyncWriteChars))
	maxJobs := fs.Int("max-jobs", serve.DefaultMaxJobs, "most document jobs queued or running; more are answered 429")
	hubOpts := base.HubFlags(fs)
	llmOpts := base.LLMFlags(fs, "") // --llm-url, --llm-model: /v1/ask and /v1/chat/completions
	budget := fs.Int("budget", rag.DefaultBudget, "/v1/ask: tokens of source text in the prompt (characters without --generator or --tokenizer); lowered so that the prompt and the answer fit the model's context when it is known")
	minCoverage := fs.Float64("min-coverage", rag.DefaultMinCoverage, "/v1/ask: least coverage (idf-weighted share of the question's terms it holds, 0…1) for a source the keyword side found (negative: any keyword match counts; not applied with --backend weaviate, which computes no coverage; 'kormed ask --calibrate' measures it)")
	minDense := fs.Float64("min-dense", rag.DefaultMinDense, "/v1/ask: least cosine for a source whatever its coverage (negative: never; 'kormed ask --calibrate' measures it)")
	return func(ctx context.Context, args []string) error {
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
		if *clientKey == "" {
			*clientKey = os.Getenv("KORMED_CLIENT_KEY")
		}
		for _, f := range []struct {
			name      string
			v, lo, hi int
		}{{"max-inflight", *maxInflight, 1, 1 << 16}, {"max-inflight-search", *maxInflightSearch, 0, 1 << 16},
			{"max-embed-texts", *maxEmbedTexts, 1, search.MaxDocs}, {"max-embed-tokens", *maxEmbedTokens, 1, 1 << 30},
			{"max-sync-write-chars", *syncWriteChars, 0, 1 << 30}, {"max-jobs", *maxJobs, 1, 1 << 16}} {
			if f.v < f.lo || f.v > f.hi {
				return fmt.Errorf("--%s %d: want %d to %d", f.name, f.v, f.lo, f.hi)
			}
		}
		if *requestTimeout <= 0 {
			return fmt.Errorf("--request-timeout %s: want a positive duration", *requestTimeout)
		}
		if *maxTokens < 1 {
			return fmt.Errorf("--max-tokens %d: want at least 1", *maxTokens)
		}
		if len(llmModels.Values) > 0 && llmGen == nil {
			return errors.New("--llm-models goes with --llm-url/--llm-model")
		}
		logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

		// The backend.
		var (
			b      search.Backend
			ix     *embedded.Index
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
			if _, err := wFlags.Options(false, "--backend weaviate", ""); err != nil {
				return err
			}
			// Opened once the server listens; a folder that is no index fails
			// now.
			if _, err := embedded.ReadManifest(*indexDir); err != nil {
				return err
			}
			where = *indexDir
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
			wOpts, err := wFlags.Options(true, "--backend weaviate", *weaviateURL)
			if err != nil {
				return err
			}
			wb, err := weaviate.Open(ctx, *weaviateURL, *class, wOpts)
			if err != nil {
				return err
			}
			defer wb.Close()
			b, where = wb, *weaviateURL+" class "+*class
			// The class's calibration (kormed index --calibrate) is re-read
			// as the embedded index's generations are.
			reload = func() (bool, error) { return wb.Reload(ctx) }
			if *reloadEvery == 0 {
				*reloadEvery = 365 * 24 * time.Hour // SIGHUP only
			}
		default:
			return fmt.Errorf("--backend %q: want embedded or weaviate", *backend)
		}
		if *backend == "embedded" {
			// Set before the server is ready; it reloads only once ready.
			reload = func() (bool, error) { return ix.Reload() }
		}

		// The server listens while the index and the model load: /healthz
		// answers 503 "starting" (the other routes 503) until SetService.
		srv := serve.New(nil, serve.Options{
			APIKey:           *apiKey,
			ClientKey:        *clientKey,
			PublicGeneration: *publicGen,
			ProtectEmbed:     *protectEmbed,
			GeneratorModels:  llmModels.Values,
			MaxTokens:        *maxTokens,
			CORSOrigins:      cors.Values,
			MaxSearchBytes:   *maxBody,
			MaxDocumentBytes: *maxDocBody,
			Logger:           logger,
			Reload:           reload,
			ReloadInterval:   *reloadEvery,
			Version:          version,
			Generator:        llmGen,
			GeneratorModel:   llmModel,
			Ask:              askOpts,

			RequestTimeout:    *requestTimeout,
			MaxInflight:       *maxInflight,
			MaxInflightSearch: *maxInflightSearch,
			MaxEmbedTexts:     *maxEmbedTexts,
			MaxEmbedTokens:    *maxEmbedTokens,
			SyncWriteChars:    *syncWriteChars,
			MaxJobs:           *maxJobs,
		})
		ln, err := net.Listen("tcp", *addr)
		if err != nil {
			return err
		}
		url := listenURL(ln.Addr())
		sctx, stop := context.WithCancel(ctx)
		defer stop()
		served := make(chan error, 1)
		go func() { served <- srv.Serve(sctx, ln) }()
		fail := func(err error) error {
			stop()
			<-served
			return err
		}
		fmt.Fprintf(stderr, "kormed serve: listening on %s, loading %s\n", url, where)
		if starting != nil {
			starting(url)
		}
		if *backend == "embedded" {
			t0 := time.Now()
			// The dictionary (below) loads while the generation is read; a
			// log to replay with the union or morph analyzer waits for it.
			go analysis.LoadMorph()
			if ix, err = embedded.Open(*indexDir); err != nil {
				return fail(err)
			}
			defer ix.Close()
			b = ix
			logBytes, logRecords := ix.LogSize()
			logger.Info("index loaded", "index", *indexDir, "generation", ix.Generation(), "seconds", time.Since(t0).Seconds(),
				"log_bytes", logBytes, "log_records", logRecords)
			// Swaps a write or a compaction makes are logged and counted as
			// reloads; compaction keeps the log, and so the next start, short.
			ix.OnSwap(srv.IndexSwapped)
			ix.SetCompaction(*compactBytes, *compactRecords)
		}
		info, err := b.Info(ctx)
		if err != nil {
			return fail(err)
		}

		// The query model.
		enc, mi, err := indexModel(ctx, info, *modelArg, where, hubOpts(), stderr, "kormed serve", "serving")
		if err != nil {
			return fail(err)
		}
		svc, err := search.NewService(ctx, b, enc, mi)
		if err != nil {
			return fail(err)
		}
		svc.Safety = *safety
		// Load the Korean morphological dictionary now (≈1.6 s; the union and
		// morph analyzers and the highlighting use it) rather than in the
		// first requests.
		analysis.LoadMorph()
		srv.SetService(svc)
		desc := "BM25 only"
		if svc.Dense() {
			desc = "model " + mi.Name + ", hybrid by default"
			if _, _, _, c := svc.Defaults(); c != nil {
				desc += " (" + c.Setting().Name() + ", calibrated by kormed index)"
			} else {
				desc += fmt.Sprintf(" (%s %.1f; the index has no calibration: 'kormed index --calibrate')", svc.Fusion, svc.Alpha)
			}
		}
		fmt.Fprintf(stderr, "kormed serve: %s (%d documents, %s backend, %s)\n", where, info.Docs, info.Backend, desc)
		if *apiKey == "" {
			fmt.Fprintln(stderr, "kormed serve: writes are disabled (no --api-key or KORMED_API_KEY)")
		}
		if llmGen != nil {
			fmt.Fprintf(stderr, "kormed serve: answers (/v1/ask, /v1/chat/completions) by %s\n", llmModel)
			switch {
			case *publicGen:
				logger.Warn("--public-generation: anyone who can reach this server generates answers with your LLM account or CPU, without a key",
					"endpoints", "/v1/ask, /v1/chat/completions", "max_tokens", *maxTokens)
			case *clientKey == "" && *apiKey == "":
				fmt.Fprintln(stderr, "kormed serve: answers are refused (403) until the server has --client-key (or KORMED_CLIENT_KEY) or --public-generation")
			}
		}
		fmt.Fprintf(stderr, "kormed serve: open %s  (API: %sopenapi.json)\n", url, url)
		if listening != nil {
			listening(url)
		}
		return <-served
	}
}

// starting, when set (by tests), gets the URL as soon as kormed serve
// listens, before the index is loaded.
var starting func(url string)

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
		dir, err := hub.Resolve(ctx, modelArg, hopts)
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
		return m, base.ModelInfo(m), nil
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
		return m, base.ModelInfo(m), nil
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
