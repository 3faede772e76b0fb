package llm

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultBaseURL is Ollama's OpenAI-compatible endpoint on this machine.
const DefaultBaseURL = "http://localhost:11434/v1"

// DefaultTimeout bounds one request, the whole streamed reply included.
const DefaultTimeout = 5 * time.Minute

// maxLine bounds one server-sent-event line (a chunk or an error).
const maxLine = 4 << 20

// Client is a Generator over an OpenAI-compatible chat completions
// endpoint.
type Client struct {
	// BaseURL is the API base, e.g. https://api.openai.com/v1,
	// http://localhost:8000/v1 (vLLM), http://localhost:8080/v1
	// (llama.cpp) or http://localhost:11434/v1 (Ollama).
	BaseURL string
	// Model is used when a Request names none.
	Model string
	// APIKey is sent as "Authorization: Bearer KEY" when set.
	APIKey string
	// HTTP is the client to use (http.DefaultClient when nil).
	HTTP *http.Client
	// Timeout bounds one request including the whole stream
	// (DefaultTimeout when 0, none when negative).
	Timeout time.Duration
}

// New returns a client for baseURL ("" for DefaultBaseURL) and model,
// with the API key from $OPENAI_API_KEY.
func New(baseURL, model string) *Client {
	if baseURL == "" {
		baseURL = DefaultBaseURL
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), Model: model, APIKey: os.Getenv("OPENAI_API_KEY")}
}

// ErrStreamCut reports a streamed reply that ended without its [DONE]
// line (and without a finish reason): the connection dropped or the
// server died mid-way. The Result holds the text received before.
var ErrStreamCut = errors.New("the LLM stream ended before [DONE]")

// APIError is an error answer of the server: an HTTP status with
// OpenAI's {"error":{"message","type","code"}} body, or such an object
// sent in the middle of a stream (Status 0).
type APIError struct {
	Status  int
	Message string
	Type    string
	Code    string
	// RetryAfter is the server's Retry-After on a 429 or 503 (0 if none).
	RetryAfter time.Duration
	URL        string // the endpoint called
	Model      string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	switch {
	case e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden:
		return fmt.Sprintf("the LLM server at %s refused the request (%d %s): %s — check the API key (OPENAI_API_KEY or --llm-key)",
			e.URL, e.Status, http.StatusText(e.Status), msg)
	case e.Status == http.StatusNotFound && e.modelMissing():
		return fmt.Sprintf("model %q not found at %s: %s — pull it (ollama pull %s) or pick another with --llm-model",
			e.Model, e.URL, msg, e.Model)
	case e.Status == http.StatusNotFound:
		return fmt.Sprintf("%s: 404 %s — is --llm-url the OpenAI-compatible base (e.g. http://localhost:11434/v1)?", e.URL, msg)
	case e.Status == http.StatusTooManyRequests:
		s := fmt.Sprintf("rate limited by the LLM server at %s (429): %s", e.URL, msg)
		if e.RetryAfter > 0 {
			s += fmt.Sprintf(" — retry after %s", e.RetryAfter)
		}
		return s
	case e.Status >= 500:
		s := fmt.Sprintf("the LLM server at %s failed (%d %s): %s", e.URL, e.Status, http.StatusText(e.Status), msg)
		if e.RetryAfter > 0 {
			s += fmt.Sprintf(" — retry after %s", e.RetryAfter)
		}
		return s
	case e.Status == 0:
		return fmt.Sprintf("the LLM server at %s reported an error mid-stream: %s", e.URL, msg)
	}
	return fmt.Sprintf("the LLM server at %s answered %d %s: %s", e.URL, e.Status, http.StatusText(e.Status), msg)
}

func (e *APIError) modelMissing() bool {
	m := strings.ToLower(e.Message + " " + e.Code + " " + e.Type)
	return strings.Contains(m, "model")
}

// ConnError is a server that cannot be reached.
type ConnError struct {
	URL string
	Err error
}

func (e *ConnError) Error() string {
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		return fmt.Sprintf("no LLM server at %s — start Ollama (ollama serve) or set --llm-url", e.URL)
	}
	return fmt.Sprintf("cannot reach the LLM server at %s: %v — check --llm-url", e.URL, e.Err)
}

func (e *ConnError) Unwrap() error { return e.Err }

// wireRequest is the body of POST /chat/completions.
type wireRequest struct {
	Model       string    `json:"model"`
	Messages    []Message `json:"messages"`
	Stream      bool      `json:"stream"`
	MaxTokens   int       `json:"max_tokens,omitempty"`
	Temperature *float64  `json:"temperature,omitempty"`
	TopP        *float64  `json:"top_p,omitempty"`
	Stop        []string  `json:"stop,omitempty"`
}

// wireError is OpenAI's error object; code is a string at OpenAI, an
// integer at llama.cpp, null at Ollama.
type wireError struct {
	Message string          `json:"message"`
	Type    string          `json:"type"`
	Code    json.RawMessage `json:"code"`
}

// wireChunk is a streamed chunk or a whole completion (and carries the
// error forms: {"error":{…}}, and vLLM's {"object":"error","message":…}).
type wireChunk struct {
	Model   string `json:"model"`
	Object  string `json:"object"`
	Choices []struct {
		Delta struct {
			Content string `json:"content"`
		} `json:"delta"`
		Message struct {
			Content string `json:"content"`
		} `json:"message"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage   *Usage          `json:"usage"`
	Error   json.RawMessage `json:"error"`
	Message string          `json:"message"`
	Type    string          `json:"type"`
}

// apiError extracts the error a body or chunk carries (nil if none).
func (c *Client) apiError(status int, body []byte, url, model string) *APIError {
	e := &APIError{Status: status, URL: url, Model: model}
	var w wireChunk
	if json.Unmarshal(body, &w) == nil {
		switch {
		case len(w.Error) > 0 && w.Error[0] == '{':
			var we wireError
			json.Unmarshal(w.Error, &we)
			e.Message, e.Type, e.Code = we.Message, we.Type, codeString(we.Code)
			return e
		case len(w.Error) > 0 && w.Error[0] == '"':
			json.Unmarshal(w.Error, &e.Message)
			return e
		case w.Object == "error":
			e.Message, e.Type = w.Message, w.Type
			return e
		}
	}
	if status == 0 {
		return nil
	}
	e.Message = strings.TrimSpace(string(body))
	if len(e.Message) > 300 {
		e.Message = e.Message[:300] + "…"
	}
	return e
}

func codeString(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	if string(raw) == "null" {
		return ""
	}
	return string(raw)
}

// Generate streams the reply (stream: true).
func (c *Client) Generate(ctx context.Context, req Request, emit func(piece string) error) (Result, error) {
	return c.do(ctx, req, true, emit)
}

// Complete asks for the whole reply at once (stream: false).
func (c *Client) Complete(ctx context.Context, req Request) (Result, error) {
	return c.do(ctx, req, false, nil)
}

func (c *Client) endpoint(path string) string {
	base := strings.TrimRight(c.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	return base + path
}

// send does one request, turning transport failures into clear errors.
func (c *Client) send(ctx context.Context, method, url string, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	hr, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return nil, fmt.Errorf("LLM endpoint %q: %w", url, err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	hr.Header.Set("Accept", "application/json, text/event-stream")
	if c.APIKey != "" {
		hr.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(hr)
	if err != nil {
		return nil, c.transportError(ctx, url, err)
	}
	return resp, nil
}

// transportError words a failure to connect or to read.
func (c *Client) transportError(ctx context.Context, url string, err error) error {
	if ctx.Err() != nil {
		return c.ctxError(ctx, url)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("the LLM server at %s timed out: %w", url, err)
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" || errors.Is(err, syscall.ECONNREFUSED) {
		return &ConnError{URL: c.endpoint(""), Err: err}
	}
	return fmt.Errorf("LLM request to %s: %w", url, err)
}

// ctxError explains why ctx ended: the caller cancelled, or the timeout.
func (c *Client) ctxError(ctx context.Context, url string) error {
	err := context.Cause(ctx)
	if errors.Is(err, errTimeout) {
		return fmt.Errorf("the LLM request to %s timed out after %s: %w", url, c.timeout(), context.DeadlineExceeded)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("the LLM request to %s ran out of time: %w", url, err)
	}
	return fmt.Errorf("the LLM request to %s was cancelled: %w", url, ctx.Err())
}

var errTimeout = errors.New("llm: request timeout")

func (c *Client) timeout() time.Duration {
	if c.Timeout == 0 {
		return DefaultTimeout
	}
	return c.Timeout
}

func (c *Client) do(ctx context.Context, req Request, stream bool, emit func(string) error) (res Result, err error) {
	model := req.Model
	if model == "" {
		model = c.Model
	}
	if model == "" {
		return res, errors.New("no LLM model: set --llm-model (e.g. qwen2.5:7b for Ollama)")
	}
	if t := c.timeout(); t > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeoutCause(ctx, t, errTimeout)
		defer cancel()
	}
	body, err := json.Marshal(wireRequest{Model: model, Messages: req.Messages, Stream: stream,
		MaxTokens: req.MaxTokens, Temperature: req.Temperature, TopP: req.TopP, Stop: req.Stop})
	if err != nil {
		return res, err
	}
	url := c.endpoint("/chat/completions")
	resp, err := c.send(ctx, http.MethodPost, url, body)
	if err != nil {
		return res, err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		e := c.apiError(resp.StatusCode, b, url, model)
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
		return res, e
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if !stream || mt == "application/json" {
		// A server that ignores stream: true answers with the whole
		// completion; pass it on as one piece.
		res, err = c.readWhole(ctx, resp.Body, url, model)
		if err == nil && emit != nil && res.Text != "" {
			err = emit(res.Text)
		}
		return res, err
	}
	return c.readStream(ctx, resp.Body, url, model, emit)
}

func (c *Client) readWhole(ctx context.Context, r io.Reader, url, model string) (Result, error) {
	var res Result
	b, err := io.ReadAll(io.LimitReader(r, 64<<20))
	if err != nil {
		return res, c.transportError(ctx, url, err)
	}
	if e := c.apiError(0, b, url, model); e != nil {
		return res, e
	}
	var w wireChunk
	if err := json.Unmarshal(b, &w); err != nil {
		return res, fmt.Errorf("the LLM server at %s sent invalid JSON: %w", url, err)
	}
	if len(w.Choices) == 0 {
		return res, fmt.Errorf("the LLM server at %s sent a completion without choices", url)
	}
	res.Text, res.Model, res.Usage = w.Choices[0].Message.Content, w.Model, w.Usage
	if fr := w.Choices[0].FinishReason; fr != nil {
		res.FinishReason = *fr
	}
	return res, nil
}

// readStream reads server-sent events: "data: …" lines (the space is
// optional), events separated by a blank line, several data lines of one
// event joined by newlines; comments (":"), event:, id: and retry: lines
// are ignored. The stream ends at "data: [DONE]".
func (c *Client) readStream(ctx context.Context, r io.Reader, url, model string, emit func(string) error) (Result, error) {
	var res Result
	var text strings.Builder
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	var data []string
	done := false
	dispatch := func() error {
		if len(data) == 0 {
			return nil
		}
		payload := strings.Join(data, "\n")
		data = data[:0]
		if strings.TrimSpace(payload) == "[DONE]" {
			done = true
			return nil
		}
		if e := c.apiError(0, []byte(payload), url, model); e != nil {
			return e
		}
		var ch wireChunk
		if err := json.Unmarshal([]byte(payload), &ch); err != nil {
			return fmt.Errorf("the LLM server at %s sent an invalid chunk: %w: %.200s", url, err, payload)
		}
		if ch.Model != "" {
			res.Model = ch.Model
		}
		if ch.Usage != nil {
			res.Usage = ch.Usage
		}
		for _, choice := range ch.Choices {
			if p := choice.Delta.Content; p != "" {
				text.WriteString(p)
				if emit != nil {
					if err := emit(p); err != nil {
						return err
					}
				}
			}
			if choice.FinishReason != nil && *choice.FinishReason != "" {
				res.FinishReason = *choice.FinishReason
			}
		}
		return nil
	}
	for !done && sc.Scan() {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if line == "" {
			if err := dispatch(); err != nil {
				res.Text = text.String()
				return res, err
			}
			continue
		}
		field, value, _ := strings.Cut(line, ":")
		if field != "data" {
			continue // comment, event, id, retry
		}
		data = append(data, strings.TrimPrefix(value, " "))
	}
	if !done {
		if err := dispatch(); err != nil { // a last event without its blank line
			res.Text = text.String()
			return res, err
		}
	}
	res.Text = text.String()
	if done {
		return res, nil
	}
	if ctx.Err() != nil {
		return res, c.ctxError(ctx, url)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return res, fmt.Errorf("the LLM server at %s sent a line over %d bytes", url, maxLine)
		}
		return res, fmt.Errorf("%w (%s, %d characters received): %w", ErrStreamCut, url, len([]rune(res.Text)), err)
	}
	if res.FinishReason != "" {
		// A finish reason and a clean end: complete, only the [DONE]
		// line is missing.
		return res, nil
	}
	return res, fmt.Errorf("%w (%s, %d characters received)", ErrStreamCut, url, len([]rune(res.Text)))
}

// retryAfter parses a Retry-After header: seconds or an HTTP date.
func retryAfter(v string) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t).Round(time.Second); d > 0 {
			return d
		}
	}
	return 0
}

// Models lists the server's models (GET {base}/models).
func (c *Client) Models(ctx context.Context) ([]Model, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	url := c.endpoint("/models")
	resp, err := c.send(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, c.transportError(ctx, url, err)
	}
	if resp.StatusCode/100 != 2 {
		e := c.apiError(resp.StatusCode, b, url, c.Model)
		e.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
		return nil, e
	}
	var list struct {
		Data []Model `json:"data"`
	}
	if err := json.Unmarshal(b, &list); err != nil {
		return nil, fmt.Errorf("the LLM server at %s sent an invalid model list: %w", url, err)
	}
	return list.Data, nil
}
