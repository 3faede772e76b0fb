package serve

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/tokenizer"
)

// Bounded work. Every request runs under a deadline (Options.RequestTimeout)
// shorter than the write timeout, so that its real status reaches the
// client: when the deadline passes the request is answered 504 and its
// context is cancelled. The expensive endpoints run under concurrency
// limits (Options.MaxInflight, MaxInflightSearch) and answer 429 with
// Retry-After when those are full; /v1/embed is bounded by texts and
// tokens (413), and document writes too large to finish in time run as
// jobs (jobs.go).

// Default limits of the work one request may ask for.
const (
	// DefaultMaxEmbedTexts and DefaultMaxEmbedTokens bound a /v1/embed
	// request. At e5-small's shape on 2 cores (about 4,500 tokens a
	// second: the 1,000 texts of 830 bytes in 62 s) 32,768 tokens
	// take about 7 s, twice that when two such requests share the cores
	// (measured: 112 texts of 800 bytes, 32,526 tokens, in 14–16 s with
	// the 2 cores shared at a load of 6–9): well inside the deadline.
	DefaultMaxEmbedTexts  = 512
	DefaultMaxEmbedTokens = 32768
	// DefaultSyncWriteChars is the most characters (titles and texts) a
	// synchronous POST /v1/documents writes on a server without a dense
	// model: BM25 analysis takes about 12 ms per 1,000 characters, so
	// about 13 s. With a dense model the default is MaxEmbedTokens, as
	// encoding a passage costs about a token per character of Korean.
	DefaultSyncWriteChars = 1 << 20
	// DefaultMaxJobs bounds the document jobs queued or running.
	DefaultMaxJobs = 4
	// requestTimeoutMargin is how much of the write timeout the default
	// request deadline leaves for writing the answer.
	requestTimeoutMargin = 10 * time.Second
	// retryAfter is the Retry-After of a 429.
	retryAfter = 1
)

// setLimitDefaults fills in the limits of opts (its WriteTimeout already
// defaulted): the request deadline defaults to the write timeout less a
// margin, and a longer one raises the write timeout so that the 504 can
// still be written.
func setLimitDefaults(opts *Options, svc *search.Service) {
	margin := min(requestTimeoutMargin, opts.WriteTimeout/6)
	if opts.RequestTimeout <= 0 {
		opts.RequestTimeout = opts.WriteTimeout - margin
	}
	if opts.WriteTimeout < opts.RequestTimeout+margin {
		opts.WriteTimeout = opts.RequestTimeout + margin
	}
	if opts.MaxInflight <= 0 {
		opts.MaxInflight = runtime.GOMAXPROCS(0)
	}
	if opts.MaxInflightSearch <= 0 {
		opts.MaxInflightSearch = 4 * opts.MaxInflight
	}
	if opts.MaxEmbedTexts <= 0 {
		opts.MaxEmbedTexts = DefaultMaxEmbedTexts
	}
	if opts.MaxEmbedTokens <= 0 {
		opts.MaxEmbedTokens = DefaultMaxEmbedTokens
	}
	if opts.SyncWriteChars <= 0 {
		opts.SyncWriteChars = DefaultSyncWriteChars
		if svc != nil && svc.Dense() {
			opts.SyncWriteChars = opts.MaxEmbedTokens
		}
	}
	if opts.MaxJobs <= 0 {
		opts.MaxJobs = DefaultMaxJobs
	}
}

// --- concurrency limits

// limiter is a counting semaphore.
type limiter struct {
	slots chan struct{}
	flag  string // the option that sets its size, for messages
}

func newLimiter(n int, flag string) *limiter {
	return &limiter{slots: make(chan struct{}, n), flag: flag}
}

// tryAcquire takes a slot if one is free.
func (l *limiter) tryAcquire() bool {
	select {
	case l.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

// acquire waits for a slot.
func (l *limiter) acquire(ctx context.Context) error {
	select {
	case l.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *limiter) release() { <-l.slots }

// limits are a server's concurrency limits.
type limits struct {
	heavy  *limiter // embedding, writes, generation
	search *limiter // searches and facet counts
}

func newLimits(opts Options) *limits {
	return &limits{
		heavy:  newLimiter(opts.MaxInflight, "--max-inflight"),
		search: newLimiter(opts.MaxInflightSearch, "--max-inflight-search"),
	}
}

// limiterFor is the limit a route's method runs under: the endpoints that
// encode, analyse or generate (embed, document writes, chat, ask) share
// MaxInflight; searches and facet counts, cheaper but still CPU-bound
// (a dense or hybrid search encodes its query), share MaxInflightSearch;
// the rest (documents by id, jobs, health, metrics, the page) are free.
func (l *limits) limiterFor(route, method string) *limiter {
	switch method + " " + route {
	case "POST /v1/embed", "POST /v1/documents", "POST /v1/chat/completions", "POST /v1/ask":
		return l.heavy
	case "GET /v1/search", "POST /v1/search", "GET /v1/facets":
		return l.search
	}
	return nil
}

// guard runs h for a request to route under the route's concurrency limit
// (429 with Retry-After when it is full) and the request deadline.
func (s *Server) guard(w http.ResponseWriter, r *http.Request, route, method string, h http.HandlerFunc) {
	openai := route == "/v1/chat/completions"
	lim := s.lim.limiterFor(route, method)
	release := func() {}
	if lim != nil {
		// The body is read before a slot is taken: a client that trickles
		// its body (bounded by the read timeout) holds no slot meanwhile.
		limit := s.opts.MaxSearchBytes
		if route == "/v1/documents" {
			// Up to 32 MB: only for a caller with the write key.
			if !s.authorized(w, r) {
				return
			}
			limit = s.opts.MaxDocumentBytes
		}
		r.Body = readAhead(w, r, limit)
		if !lim.tryAcquire() {
			w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
			msg := fmt.Sprintf("too busy: %d requests of this kind are running, the most this server takes at once (%s); retry after %d s",
				cap(lim.slots), lim.flag, retryAfter)
			if openai {
				writeOpenAIError(w, http.StatusTooManyRequests, "rate_limit_error", "too_busy", msg)
			} else {
				writeError(w, http.StatusTooManyRequests, msg)
			}
			return
		}
		release = lim.release
	}
	s.withDeadline(w, r, openai, h, release)
}

// readAhead reads r's body (at most limit bytes, one more to tell an
// oversized body) and returns a body that replays what was read, then the
// read's error (a *http.MaxBytesError past limit, which the handler's
// decoding reports as a 413), so that the handler sees the body it would
// have read itself.
func readAhead(w http.ResponseWriter, r *http.Request, limit int64) io.ReadCloser {
	if r.Body == nil || r.Body == http.NoBody {
		return r.Body
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err == nil {
		return io.NopCloser(bytes.NewReader(data))
	}
	return io.NopCloser(io.MultiReader(bytes.NewReader(data), errReader{err}))
}

// errReader fails every read with err.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// --- the request deadline

// Request states, for the deadline.
const (
	running   = iota
	streaming // the response was flushed: the deadline no longer applies
	timedOut  // the deadline passed first
)

// requestCtx is a request's context under its deadline: cancelled when
// the deadline passes (Err is then context.DeadlineExceeded), unless the
// handler started streaming first (the first Flush lifts the deadline).
type requestCtx struct {
	context.Context
	deadline time.Time
	state    *atomic.Int32
}

func (c *requestCtx) Deadline() (time.Time, bool) {
	if c.state.Load() == streaming {
		return c.Context.Deadline()
	}
	return c.deadline, true
}

func (c *requestCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.state.Load() == timedOut {
		return context.DeadlineExceeded
	}
	return err
}

// withDeadline runs h in its own goroutine with a deadline of
// Options.RequestTimeout: its response is buffered, and when the deadline
// passes before h returns the client gets a 504 at once, h's context is
// cancelled and whatever it writes later is dropped; release runs when h
// has returned (the work is over, not merely abandoned). A response that
// h flushes (a server-sent event stream) goes out from then on unbuffered
// and is no longer under the deadline: each event must leave within the
// write timeout (the stream moves the connection's write deadline ahead
// of itself), and the stream ends with the generation, bounded by
// max_tokens.
func (s *Server) withDeadline(w http.ResponseWriter, r *http.Request, openai bool, h http.HandlerFunc, release func()) {
	d := s.opts.RequestTimeout
	inner, cancel := context.WithCancel(r.Context())
	defer cancel()
	// The handler tells its own copy of the request's details, copied
	// back when it returns in time: a late one races with nothing.
	info := reqInfoOf(r)
	hinfo := *info
	dw := &deadlineWriter{w: w, h: http.Header{}, expired: make(chan struct{})}
	ctx := &requestCtx{Context: context.WithValue(inner, ctxKey{}, &hinfo), deadline: time.Now().Add(d), state: &dw.state}
	dw.timer = time.AfterFunc(d, func() {
		dw.mu.Lock()
		fire := dw.state.Load() == running && !dw.handlerDone && !dw.committing && r.Context().Err() == nil
		if fire {
			dw.state.Store(timedOut)
			close(dw.expired)
		}
		dw.mu.Unlock()
		if fire {
			cancel()
		}
	})
	finished := make(chan struct{})
	panicked := make(chan any, 1)
	go func() {
		defer func() {
			p := recover()
			release()
			dw.mu.Lock()
			dw.handlerDone = true
			late := dw.state.Load() == timedOut
			dw.mu.Unlock()
			switch {
			case p == nil:
				close(finished)
			case late: // nobody waits for it any more
				s.log.Error("panic", "request_id", info.id, "method", r.Method, "path", r.URL.Path,
					"panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			case p == http.ErrAbortHandler:
				panicked <- p
			default:
				panicked <- fmt.Sprintf("%v\n\nhandler goroutine: %s", p, debug.Stack())
			}
		}()
		h(dw, r.WithContext(search.WithCommit(ctx, dw.commit)))
	}()
	select {
	case p := <-panicked:
		dw.timer.Stop()
		panic(p)
	case <-finished:
	case <-dw.expired:
	}
	dw.timer.Stop()
	dw.mu.Lock()
	defer dw.mu.Unlock()
	switch dw.state.Load() {
	case timedOut:
		s.log.Warn("request deadline passed", "request_id", info.id, "method", r.Method, "path", r.URL.Path,
			"timeout", d.String())
		msg := fmt.Sprintf("the request took longer than the server's deadline of %s (--request-timeout) and was cancelled", d)
		if openai {
			writeOpenAIError(w, http.StatusGatewayTimeout, "server_error", "timeout", msg)
		} else {
			writeError(w, http.StatusGatewayTimeout, msg)
		}
	case running:
		*info = hinfo
		dw.send()
	case streaming:
		*info = hinfo
	}
}

// deadlineWriter buffers a handler's response until it returns, flushes
// or its deadline passes. Its header map is its own, so that a handler
// still running after the 504 went out races with nothing.
type deadlineWriter struct {
	w           http.ResponseWriter
	h           http.Header
	mu          sync.Mutex
	buf         bytes.Buffer
	code        int
	state       atomic.Int32 // running, streaming or timedOut
	handlerDone bool
	committing  bool          // a write passed its commit point: no 504 any more
	expired     chan struct{} // closed when the deadline passes first
	timer       *time.Timer
}

func (dw *deadlineWriter) Header() http.Header { return dw.h }

// commit is the request's commit point (search.WithCommit): a write may go
// on unless the 504 went out already, and from then on none will.
func (dw *deadlineWriter) commit() bool {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if dw.state.Load() == timedOut {
		return false
	}
	dw.committing = true
	return true
}

func (dw *deadlineWriter) WriteHeader(code int) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if dw.code == 0 && dw.state.Load() == running {
		dw.code = code
	}
}

func (dw *deadlineWriter) Write(b []byte) (int, error) {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	switch dw.state.Load() {
	case timedOut:
		return 0, http.ErrHandlerTimeout
	case streaming:
		return dw.w.Write(b)
	}
	if dw.code == 0 {
		dw.code = http.StatusOK
	}
	return dw.buf.Write(b)
}

// send writes the buffered response (the caller holds mu).
func (dw *deadlineWriter) send() {
	dst := dw.w.Header()
	for k, v := range dw.h {
		dst[k] = v
	}
	if dw.code == 0 {
		dw.code = http.StatusOK
	}
	dw.w.WriteHeader(dw.code)
	dw.w.Write(dw.buf.Bytes())
	dw.buf.Reset()
}

// FlushError sends what is buffered and streams from then on, lifting the
// deadline (http.ResponseController calls it).
func (dw *deadlineWriter) FlushError() error {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	switch dw.state.Load() {
	case timedOut:
		return http.ErrHandlerTimeout
	case running:
		dw.timer.Stop()
		dw.state.Store(streaming)
		dw.send()
	}
	return http.NewResponseController(dw.w).Flush()
}

func (dw *deadlineWriter) Flush() { dw.FlushError() }

// SetWriteDeadline and SetReadDeadline reach the connection only while
// the response is still the handler's (not after a 504 went out, when the
// connection may be serving the next request).
func (dw *deadlineWriter) SetWriteDeadline(t time.Time) error {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if dw.state.Load() == timedOut {
		return http.ErrHandlerTimeout
	}
	return http.NewResponseController(dw.w).SetWriteDeadline(t)
}

func (dw *deadlineWriter) SetReadDeadline(t time.Time) error {
	dw.mu.Lock()
	defer dw.mu.Unlock()
	if dw.state.Load() == timedOut {
		return http.ErrHandlerTimeout
	}
	return http.NewResponseController(dw.w).SetReadDeadline(t)
}

// --- /v1/embed

// tokenCounter is an encoder that tokenises as it will encode
// (*model.Model): its truncated token counts are what encoding costs.
type tokenCounter interface {
	Tokenize(texts []string, prefix string) ([]tokenizer.Encoding, error)
}

// embedTokens counts the tokens of texts as the encoder will read them
// (truncated to its maximum length, prefix left out), or their characters
// when the encoder does not tell.
func embedTokens(enc search.Encoder, texts []string) int {
	if tc, ok := enc.(tokenCounter); ok {
		if encs, err := tc.Tokenize(texts, ""); err == nil {
			n := 0
			for _, e := range encs {
				n += len(e.IDs)
			}
			return n
		}
	}
	n := 0
	for _, t := range texts {
		n += utf8.RuneCountInString(t)
	}
	return n
}

// checkEmbed refuses (413) a /v1/embed request over the text or token
// limit.
func (s *Server) checkEmbed(w http.ResponseWriter, req EmbedRequest) bool {
	if n := len(req.Texts); n > s.opts.MaxEmbedTexts {
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("texts: %d, at most %d per request (--max-embed-texts): send them in several requests", n, s.opts.MaxEmbedTexts))
		return false
	}
	if s.svc.Enc == nil {
		return true // Embed answers 400
	}
	if n := embedTokens(s.svc.Enc, req.Texts); n > s.opts.MaxEmbedTokens {
		writeError(w, http.StatusRequestEntityTooLarge,
			fmt.Sprintf("texts: %d tokens, at most %d per request (--max-embed-tokens): send fewer or shorter texts", n, s.opts.MaxEmbedTokens))
		return false
	}
	return true
}
