package serve

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/rag"
	"github.com/kormed/kormed/search"
)

// Default limits and timeouts.
const (
	DefaultMaxSearchBytes    = 1 << 20  // request bodies of /v1/search and /v1/embed
	DefaultMaxDocumentBytes  = 32 << 20 // request bodies of /v1/documents
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultReadTimeout       = 60 * time.Second
	DefaultWriteTimeout      = 60 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultShutdownTimeout   = 15 * time.Second
	DefaultReloadInterval    = 2 * time.Second
)

// Options configure a Server.
type Options struct {
	// APIKey authorises writes (POST /v1/documents, DELETE
	// /v1/documents/{id}), sent as "Authorization: Bearer KEY" or
	// "X-API-Key: KEY". Empty refuses all writes with 403.
	APIKey string
	// ClientKey authorises generation (POST /v1/chat/completions, POST
	// /v1/ask, and POST /v1/embed with ProtectEmbed), sent like APIKey,
	// which is accepted there too. With neither key and without
	// PublicGeneration those endpoints answer 403; PublicGeneration opens
	// them to anyone.
	ClientKey        string
	PublicGeneration bool
	ProtectEmbed     bool
	// CORSOrigins are the origins allowed to call the API from a browser
	// ("*" for any); empty sends no CORS headers at all.
	CORSOrigins []string
	// MaxSearchBytes bounds the bodies of /v1/search and /v1/embed,
	// MaxDocumentBytes those of /v1/documents (defaults above).
	MaxSearchBytes   int64
	MaxDocumentBytes int64
	// Timeouts of the http.Server ListenAndServe and Serve run (defaults
	// above); ShutdownTimeout bounds the wait for in-flight requests after
	// the context is cancelled.
	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration
	// Logger receives one line per request at info level (method, path,
	// status, duration, bytes, request id); queries are logged at debug
	// level only. Nil discards.
	Logger *slog.Logger
	// Reload, when set, is called every ReloadInterval (default 2 s) and
	// on SIGHUP while Serve runs; it reports whether it swapped in new
	// content (embedded.Index.Reload is one).
	Reload         func() (bool, error)
	ReloadInterval time.Duration
	// Version is reported by /metrics (kormed_build_info) and /healthz.
	Version string
	// Generator answers POST /v1/chat/completions and POST /v1/ask (an
	// llm.Client proxying to an OpenAI-compatible server, or kormed's own
	// decoder); nil answers them with 501. GeneratorModel names it in
	// GET /v1/models and in replies when the request names no model.
	Generator      llm.Generator
	GeneratorModel string
	// GeneratorModels are other models a client may name (the request
	// goes upstream with GeneratorModel when it names none); any other
	// model is refused with 400.
	GeneratorModels []string
	// MaxTokens bounds max_tokens of /v1/chat/completions (a larger one
	// is refused with 400) and the answer of /v1/ask (DefaultMaxTokens).
	MaxTokens int
	// Ask holds the defaults of POST /v1/ask (k, thresholds, budget).
	Ask rag.Options
	// Bounded work (limits.go, jobs.go). RequestTimeout is each request's
	// deadline (default WriteTimeout less 10 s; 504 when it passes).
	// MaxInflight bounds the embedding, write and generation requests run
	// at once (default GOMAXPROCS), MaxInflightSearch the searches and
	// facet counts (default 4×MaxInflight); more answer 429.
	// MaxEmbedTexts and MaxEmbedTokens bound a /v1/embed request (413).
	// A POST /v1/documents over SyncWriteChars characters runs as a job
	// (202; default DefaultSyncWriteChars, MaxEmbedTokens with a dense
	// model), of which at most MaxJobs are queued or running.
	RequestTimeout    time.Duration
	MaxInflight       int
	MaxInflightSearch int
	MaxEmbedTexts     int
	MaxEmbedTokens    int
	SyncWriteChars    int
	MaxJobs           int
}

// Server is the HTTP service over one search.Service.
type Server struct {
	svc     *search.Service
	opts    Options
	log     *slog.Logger
	keyHash [sha256.Size]byte
	handler http.Handler
	metrics *metrics
	routes  []route
	started time.Time
	reloads atomic.Int64
	// ready is set by New with a service, or by SetService (lifecycle.go).
	ready         atomic.Bool
	autoSyncWrite bool // Options.SyncWriteChars was left to its default
	lim           *limits
	jobs          *jobs

	clientKeyHash [sha256.Size]byte // of Options.ClientKey
}

//go:embed openapi.json
var openAPI []byte

//go:embed web
var webFiles embed.FS

// New returns the server for svc; with svc nil it starts in the starting
// state until SetService (lifecycle.go).
func New(svc *search.Service, opts Options) *Server {
	if opts.MaxSearchBytes <= 0 {
		opts.MaxSearchBytes = DefaultMaxSearchBytes
	}
	if opts.MaxDocumentBytes <= 0 {
		opts.MaxDocumentBytes = DefaultMaxDocumentBytes
	}
	if opts.MaxTokens <= 0 {
		opts.MaxTokens = DefaultMaxTokens
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&opts.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	def(&opts.ReadTimeout, DefaultReadTimeout)
	def(&opts.WriteTimeout, DefaultWriteTimeout)
	def(&opts.IdleTimeout, DefaultIdleTimeout)
	def(&opts.ShutdownTimeout, DefaultShutdownTimeout)
	def(&opts.ReloadInterval, DefaultReloadInterval)
	autoSyncWrite := opts.SyncWriteChars <= 0
	setLimitDefaults(&opts, svc)
	if opts.Version == "" {
		opts.Version = "dev"
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			opts.Version = bi.Main.Version
		}
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger, started: time.Now(), autoSyncWrite: autoSyncWrite}
	s.ready.Store(svc != nil) // else SetService makes it ready (lifecycle.go)
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if opts.APIKey != "" {
		s.keyHash = sha256.Sum256([]byte(opts.APIKey))
	}
	if opts.ClientKey != "" {
		s.clientKeyHash = sha256.Sum256([]byte(opts.ClientKey))
	}
	s.metrics = newMetrics()
	s.lim, s.jobs = newLimits(opts), newJobs(opts.MaxJobs)
	s.handler = s.build()
	return s
}

// Handler is the server's whole HTTP handler.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on addr and serves until ctx is cancelled, then
// shuts down gracefully: it stops accepting connections and waits (up to
// Options.ShutdownTimeout) for in-flight requests to finish.
func (s *Server) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ctx, ln)
}

// Serve is ListenAndServe on a listener the caller opened (and Serve
// closes).
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.opts.ReadHeaderTimeout,
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	reloadCtx, stopReload := context.WithCancel(ctx)
	defer stopReload()
	if s.opts.Reload != nil {
		go s.reloadLoop(reloadCtx)
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info("listening", "addr", ln.Addr().String())
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting down", "timeout", s.opts.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	err := srv.Shutdown(sctx)
	s.jobs.stop() // a running job fails between two of its batches
	if err != nil {
		srv.Close()
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	s.log.Info("stopped")
	return nil
}

// reloadLoop calls Options.Reload periodically and on SIGHUP.
func (s *Server) reloadLoop(ctx context.Context) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	t := time.NewTicker(s.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.reload("poll")
		case <-hup:
			s.reload("SIGHUP")
		}
	}
}

func (s *Server) reload(why string) {
	if !s.ready.Load() {
		return
	}
	swapped, err := s.opts.Reload()
	if err != nil {
		s.log.Error("reload failed", "trigger", why, "error", err.Error())
		return
	}
	if swapped {
		s.IndexSwapped(why, nil)
	}
}

// --- routing

// route is one path with a handler per method.
type route struct {
	pattern string // ServeMux pattern, e.g. /v1/documents/{id}
	methods map[string]http.HandlerFunc
	api     bool // described in openapi.json
}

func (s *Server) build() http.Handler {
	s.routes = []route{
		{pattern: "/v1/search", api: true, methods: map[string]http.HandlerFunc{"GET": s.searchGet, "POST": s.searchPost}},
		{pattern: "/v1/embed", api: true, methods: map[string]http.HandlerFunc{"POST": s.embed}},
		{pattern: "/v1/documents", api: true, methods: map[string]http.HandlerFunc{"POST": s.upsert}},
		{pattern: "/v1/documents/{id}", api: true, methods: map[string]http.HandlerFunc{"GET": s.getDoc, "DELETE": s.deleteDoc}},
		{pattern: "/v1/facets", api: true, methods: map[string]http.HandlerFunc{"GET": s.facets}},
		{pattern: "/v1/chat/completions", api: true, methods: map[string]http.HandlerFunc{"POST": s.chatCompletions}},
		{pattern: "/v1/models", api: true, methods: map[string]http.HandlerFunc{"GET": s.models}},
		{pattern: "/v1/ask", api: true, methods: map[string]http.HandlerFunc{"POST": s.ask}},
		{pattern: "/v1/jobs/{id}", api: true, methods: map[string]http.HandlerFunc{"GET": s.getJob}},
		{pattern: "/healthz", api: true, methods: map[string]http.HandlerFunc{"GET": s.healthz}},
		{pattern: "/metrics", api: true, methods: map[string]http.HandlerFunc{"GET": s.metricsHandler}},
		{pattern: "/openapi.json", api: true, methods: map[string]http.HandlerFunc{"GET": s.openapi}},
		{pattern: "/{$}", api: true, methods: map[string]http.HandlerFunc{"GET": s.web}},
		{pattern: "/app.js", methods: map[string]http.HandlerFunc{"GET": s.web}},
		{pattern: "/style.css", methods: map[string]http.HandlerFunc{"GET": s.web}},
		{pattern: "/v1/", methods: nil}, // unknown API paths: JSON 404
	}
	mux := http.NewServeMux()
	for _, rt := range s.routes {
		mux.Handle(rt.pattern, s.dispatch(rt))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		reqInfoOf(r).route = "other"
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
	})
	var h http.Handler = mux
	h = s.cors(h)
	h = s.observe(h) // request id, recovery, logging, metrics
	return h
}

// dispatch picks the handler for the request's method, answering 405 with
// an Allow header for the others (HEAD is GET without a body).
func (s *Server) dispatch(rt route) http.Handler {
	var allow []string
	for _, m := range []string{"GET", "HEAD", "POST", "DELETE"} {
		if m == "HEAD" && rt.methods["GET"] != nil || rt.methods[m] != nil {
			allow = append(allow, m)
		}
	}
	if len(rt.methods) > 0 && len(s.opts.CORSOrigins) > 0 {
		allow = append(allow, "OPTIONS")
	}
	allowed := strings.Join(allow, ", ")
	name := strings.TrimSuffix(rt.pattern, "{$}") // the metrics label
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := reqInfoOf(r)
		info.route = name
		if rt.methods == nil {
			info.route = "other"
			writeError(w, http.StatusNotFound, "no such endpoint: "+r.URL.Path+" (see /openapi.json)")
			return
		}
		m := r.Method
		if m == "HEAD" {
			m = "GET"
		}
		h := rt.methods[m]
		if h == nil {
			w.Header().Set("Allow", allowed)
			writeError(w, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed on %s (allowed: %s)", r.Method, r.URL.Path, allowed))
			return
		}
		if !s.ready.Load() {
			s.starting(w, r)
			return
		}
		s.guard(w, r, name, m, h)
	})
}

// --- middleware

type ctxKey struct{}

// reqInfo is what the handlers tell the logging middleware.
type reqInfo struct {
	id    string
	route string
	mode  string // the search mode, for the search counter
}

func reqInfoOf(r *http.Request) *reqInfo {
	if ri, ok := r.Context().Value(ctxKey{}).(*reqInfo); ok {
		return ri
	}
	return &reqInfo{}
}

// statusWriter records the status and size of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// observe gives each request an id (X-Request-Id, kept from the client
// when it is sane), recovers panics into 500s, logs one line per request
// and counts it.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{id: requestID(r.Header.Get("X-Request-Id"))}
		r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, info))
		w.Header().Set("X-Request-Id", info.id)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("panic", "request_id", info.id, "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				if sw.status == 0 {
					writeJSON(sw, http.StatusInternalServerError, errorBody{Error: "internal error", RequestID: info.id})
				} else {
					sw.status = http.StatusInternalServerError
				}
			}
			d := time.Since(start)
			if info.route == "" {
				info.route = "other"
			}
			if sw.status == 0 {
				sw.status = http.StatusOK
			}
			if sw.status >= 500 && errors.Is(r.Context().Err(), context.Canceled) {
				// Whatever failed, the client had gone: nobody got the 5xx.
				sw.status = StatusClientClosed
			}
			s.metrics.observe(info.route, sw.status, d, info.mode)
			lvl := slog.LevelInfo
			if sw.status >= 500 {
				lvl = slog.LevelError
			}
			s.log.LogAttrs(r.Context(), lvl, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path),
				slog.Int("status", sw.status), slog.Float64("duration_ms", float64(d.Microseconds())/1000),
				slog.Int64("bytes", sw.bytes), slog.String("request_id", info.id),
				slog.String("remote", r.RemoteAddr))
		}()
		next.ServeHTTP(sw, r)
	})
}

// requestID keeps a client's id when it is short printable ASCII, else
// makes a random one.
func requestID(in string) string {
	if in != "" && len(in) <= 64 {
		ok := true
		for i := 0; i < len(in); i++ {
			c := in[i]
			if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
				ok = false
				break
			}
		}
		if ok {
			return in
		}
	}
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// cors adds the CORS headers for allowed origins and answers preflight
// requests; with no origins configured it does nothing.
func (s *Server) cors(next http.Handler) http.Handler {
	if len(s.opts.CORSOrigins) == 0 {
		return next
	}
	any := false
	allowed := map[string]bool{}
	for _, o := range s.opts.CORSOrigins {
		o = strings.TrimRight(strings.TrimSpace(o), "/")
		if o == "*" {
			any = true
		}
		allowed[o] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		h := w.Header()
		if origin != "" && (any || allowed[origin]) {
			if any {
				h.Set("Access-Control-Allow-Origin", "*")
			} else {
				h.Set("Access-Control-Allow-Origin", origin)
				h.Add("Vary", "Origin")
			}
			h.Set("Access-Control-Expose-Headers", "X-Request-Id")
			if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
				h.Set("Access-Control-Allow-Methods", "GET, POST, DELETE, OPTIONS")
				h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-API-Key, X-Request-Id")
				h.Set("Access-Control-Max-Age", "600")
				reqInfoOf(r).route = "preflight"
				w.WriteHeader(http.StatusNoContent)
				return
			}
		} else if origin != "" {
			h.Add("Vary", "Origin")
		}
		next.ServeHTTP(w, r)
	})
}

// authorized checks the API key of a write and answers 401/403 when it
// fails.
func (s *Server) authorized(w http.ResponseWriter, r *http.Request) bool {
	if s.opts.APIKey == "" {
		writeError(w, http.StatusForbidden, "writes are disabled: start the server with --api-key KEY or KORMED_API_KEY=KEY to allow them")
		return false
	}
	if status, msg := checkKey(w, r, "API key", s.keyHash); status != 0 {
		writeError(w, status, msg)
		return false
	}
	return true
}

// --- static files

func (s *Server) openapi(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(openAPI)
}

var webTypes = map[string]string{
	"index.html": "text/html; charset=utf-8",
	"app.js":     "text/javascript; charset=utf-8",
	"style.css":  "text/css; charset=utf-8",
}

func (s *Server) web(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/")
	if name == "" {
		name = "index.html"
	}
	data, err := fs.ReadFile(webFiles, "web/"+name)
	if err != nil {
		writeError(w, http.StatusNotFound, "not found: "+r.URL.Path)
		return
	}
	if name == "index.html" {
		if data, err = s.renderIndex(r); err != nil {
			s.internalError(w, r, "web page", err)
			return
		}
	}
	h := w.Header()
	h.Set("Content-Type", webTypes[name])
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	if r.Method == http.MethodHead {
		return
	}
	w.Write(data)
}
