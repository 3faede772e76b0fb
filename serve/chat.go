package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"time"

	"github.com/kormed/kormed/llm"
)

// --- OpenAI-compatible chat completions

// ChatRequest is the body of POST /v1/chat/completions (OpenAI's shape;
// other OpenAI fields are accepted and ignored).
type ChatRequest struct {
	Model       string        `json:"model"`
	Messages    []llm.Message `json:"messages"`
	MaxTokens   *int          `json:"max_tokens,omitempty"`
	Temperature *float64      `json:"temperature,omitempty"`
	TopP        *float64      `json:"top_p,omitempty"`
	// Stop is a string or an array of up to 4 strings.
	Stop   StopList `json:"stop,omitempty"`
	Stream bool     `json:"stream,omitempty"`
	// MaxCompletionTokens is OpenAI's newer name for MaxTokens.
	MaxCompletionTokens *int `json:"max_completion_tokens,omitempty"`
}

// StopList is OpenAI's stop: a string or an array of strings.
type StopList []string

// UnmarshalJSON accepts a string, an array of strings or null.
func (s *StopList) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case string(b) == "null":
		*s = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var one string
		if err := json.Unmarshal(b, &one); err != nil {
			return err
		}
		*s = StopList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New("stop: want a string or an array of strings")
	}
	*s = many
	return nil
}

// ChatMessage is a message of a reply.
type ChatMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// ChatChoice is one choice of a reply.
type ChatChoice struct {
	Index        int         `json:"index"`
	Message      ChatMessage `json:"message"`
	FinishReason string      `json:"finish_reason"`
}

// ChatResponse answers a non-streamed request (object "chat.completion").
type ChatResponse struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []ChatChoice `json:"choices"`
	Usage   *llm.Usage   `json:"usage,omitempty"`
}

// ChatDelta is the increment of a streamed chunk.
type ChatDelta struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
}

// ChatChunkChoice is one choice of a streamed chunk; FinishReason is null
// until the last chunk.
type ChatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        ChatDelta `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

// ChatChunk is one event of a streamed reply (object
// "chat.completion.chunk").
type ChatChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []ChatChunkChoice `json:"choices"`
}

// OpenAIError is the error body of the OpenAI-compatible routes:
// {"error":{"message","type","code"}}, so OpenAI clients report it.
type OpenAIError struct {
	Error OpenAIErrorDetail `json:"error"`
}

// OpenAIErrorDetail is the error object.
type OpenAIErrorDetail struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

// ModelList answers GET /v1/models.
type ModelList struct {
	Object string      `json:"object"`
	Data   []llm.Model `json:"data"`
}

// noGenerator is the message of the generator routes on a server without
// one.
const noGenerator = "this server has no generator: start kormed serve with --llm-url URL --llm-model NAME (an OpenAI-compatible server such as Ollama, vLLM or llama.cpp)"

func writeOpenAIError(w http.ResponseWriter, status int, typ, code, msg string) {
	e := OpenAIError{Error: OpenAIErrorDetail{Message: msg, Type: typ}}
	if code != "" {
		e.Error.Code = &code
	}
	writeJSON(w, status, e)
}

// generatorError answers a generator failure before anything was sent.
// The upstream's answer (its URL, its message) goes to the log only: the
// client gets 429 (with Retry-After) for an upstream rate limit, 502
// "upstream error" for any other upstream failure, 504 for a timeout, 500
// otherwise, each with the request id; 499 is logged when the client went
// away.
func (s *Server) generatorError(w http.ResponseWriter, r *http.Request, err error) {
	id := reqInfoOf(r).id
	var ae *llm.APIError
	var ce *llm.ConnError
	switch {
	case r.Context().Err() != nil && !errors.Is(r.Context().Err(), context.DeadlineExceeded):
		writeOpenAIError(w, StatusClientClosed, "server_error", "cancelled", "request cancelled")
	case errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests:
		s.log.Warn("generator rate-limited", "request_id", id, "error", err.Error())
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", fmt.Sprint(int(ae.RetryAfter.Seconds())))
		}
		writeOpenAIError(w, http.StatusTooManyRequests, "rate_limit_error", "rate_limit_exceeded", "upstream rate limit, retry later (request "+id+")")
	case errors.As(err, &ce), errors.As(err, &ae):
		s.log.Error("generator failed", "request_id", id, "error", err.Error())
		writeOpenAIError(w, http.StatusBadGateway, "server_error", "upstream_error", upstreamError(id))
	case errors.Is(err, context.DeadlineExceeded):
		s.log.Error("generator timed out", "request_id", id, "error", err.Error())
		writeOpenAIError(w, http.StatusGatewayTimeout, "server_error", "timeout", "timed out (request "+id+")")
	default:
		s.log.Error("generator failed", "request_id", id, "error", err.Error())
		writeOpenAIError(w, http.StatusInternalServerError, "server_error", "", "internal error (request "+id+")")
	}
}

// upstreamError is the message of a failure of the generator: the details
// are in the log under the request id.
func upstreamError(id string) string { return "upstream error (request " + id + ")" }

// decodeLoose reads a JSON body like decode but ignores unknown fields
// (OpenAI clients send many) and the Content-Type's charset parameter;
// keys that differ from a field only in case are refused all the same.
func decodeLoose(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	body, err := readJSON(w, r, limit, false)
	if err != nil {
		return err
	}
	if err := checkKeys(body, reflect.TypeOf(dst), ""); err != nil {
		return &httpError{http.StatusBadRequest, err.Error()}
	}
	if err := json.Unmarshal(body, dst); err != nil {
		return &httpError{http.StatusBadRequest, jsonError(err).Error()}
	}
	return nil
}

// completionID and nowUnix make a reply's id and created (variables for
// tests).
var nowUnix = func() int64 { return time.Now().Unix() }

var completionID = func() string {
	var b [12]byte
	rand.Read(b[:])
	return "chatcmpl-" + hex.EncodeToString(b[:])
}

// maxMessages bounds the messages of one chat request.
const maxMessages = 256

func (s *Server) chatCompletions(w http.ResponseWriter, r *http.Request) {
	if s.opts.Generator == nil {
		writeOpenAIError(w, http.StatusNotImplemented, "invalid_request_error", "no_generator", noGenerator)
		return
	}
	if status, msg := s.generationAccess(w, r); status != 0 {
		code := "invalid_api_key"
		if status == http.StatusForbidden {
			code = "generation_disabled"
		}
		writeOpenAIError(w, status, "invalid_request_error", code, msg)
		return
	}
	var req ChatRequest
	if err := decodeLoose(w, r, s.opts.MaxSearchBytes, &req); err != nil {
		var he *httpError
		errors.As(err, &he)
		writeOpenAIError(w, he.status, "invalid_request_error", "", he.msg)
		return
	}
	bad := func(msg string) { writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "", msg) }
	switch {
	case len(req.Messages) == 0:
		bad("messages: send at least one message")
		return
	case len(req.Messages) > maxMessages:
		bad(fmt.Sprintf("messages: %d, at most %d", len(req.Messages), maxMessages))
		return
	case len(req.Stop) > 4:
		bad("stop: at most 4 sequences")
		return
	case req.Temperature != nil && (*req.Temperature < 0 || *req.Temperature > 2):
		bad("temperature: want 0 to 2")
		return
	case req.TopP != nil && (*req.TopP <= 0 || *req.TopP > 1):
		bad("top_p: want a number in (0, 1]")
		return
	}
	for i, m := range req.Messages {
		switch m.Role {
		case "system", "user", "assistant", "developer":
		default:
			bad(fmt.Sprintf("messages[%d].role: %q, want system, user or assistant", i, m.Role))
			return
		}
	}
	for _, c := range []struct {
		name string
		n    *int
	}{{"max_tokens", req.MaxTokens}, {"max_completion_tokens", req.MaxCompletionTokens}} {
		if err := s.capTokens(c.name, c.n); err != nil {
			bad(err.Error())
			return
		}
	}
	upstream, err := s.pinModel(req.Model)
	if err != nil {
		writeOpenAIError(w, http.StatusBadRequest, "invalid_request_error", "model_not_found", err.Error())
		return
	}
	// The request goes upstream with an allowed model and at most
	// MaxTokens, whatever the client sent.
	greq := llm.Request{Messages: req.Messages, Model: upstream, MaxTokens: s.opts.MaxTokens,
		Temperature: req.Temperature, TopP: req.TopP, Stop: req.Stop}
	if req.MaxTokens != nil {
		greq.MaxTokens = *req.MaxTokens
	} else if req.MaxCompletionTokens != nil {
		greq.MaxTokens = *req.MaxCompletionTokens
	}
	model := displayModel(upstream)
	id, created := completionID(), nowUnix()
	if !req.Stream {
		res, err := s.opts.Generator.Generate(r.Context(), greq, func(string) error { return nil })
		if err != nil {
			s.generatorError(w, r, err)
			return
		}
		if res.Model != "" {
			model = displayModel(res.Model)
		}
		fr := res.FinishReason
		if fr == "" {
			fr = "stop"
		}
		writeJSON(w, http.StatusOK, ChatResponse{ID: id, Object: "chat.completion", Created: created, Model: model,
			Choices: []ChatChoice{{Message: ChatMessage{Role: "assistant", Content: res.Text}, FinishReason: fr}}, Usage: res.Usage})
		return
	}
	sse := s.startSSE(w, r)
	chunk := func(d ChatDelta, finish *string) error {
		return sse.data(ChatChunk{ID: id, Object: "chat.completion.chunk", Created: created, Model: model,
			Choices: []ChatChunkChoice{{Delta: d, FinishReason: finish}}})
	}
	empty := ""
	if err := chunk(ChatDelta{Role: "assistant", Content: &empty}, nil); err != nil {
		return
	}
	res, err := s.opts.Generator.Generate(r.Context(), greq, func(p string) error {
		return chunk(ChatDelta{Content: &p}, nil)
	})
	if err != nil {
		if sse.err == nil && r.Context().Err() == nil {
			// The status is sent; an error event tells the client (and
			// no [DONE] follows, so it knows the reply is cut).
			id := reqInfoOf(r).id
			s.log.Error("generation failed mid-stream", "request_id", id, "error", err.Error())
			sse.data(OpenAIError{Error: OpenAIErrorDetail{Message: upstreamError(id), Type: "server_error"}})
		}
		return
	}
	fr := res.FinishReason
	if fr == "" {
		fr = "stop"
	}
	if chunk(ChatDelta{}, &fr) == nil {
		sse.done()
	}
}

// sseWriter writes server-sent events: "data: JSON\n\n" (or with an
// "event: NAME" line first), flushing each, and keeps the connection's
// write deadline ahead of the stream.
type sseWriter struct {
	w       http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	err     error // the first write error (the client went away)
}

func (s *Server) startSSE(w http.ResponseWriter, r *http.Request) *sseWriter {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	sw := &sseWriter{w: w, rc: http.NewResponseController(w), timeout: s.opts.WriteTimeout}
	sw.flush()
	return sw
}

func (sw *sseWriter) flush() {
	if sw.timeout > 0 {
		sw.rc.SetWriteDeadline(time.Now().Add(sw.timeout))
	}
	if err := sw.rc.Flush(); err != nil && !errors.Is(err, http.ErrNotSupported) && sw.err == nil {
		sw.err = err
	}
}

func (sw *sseWriter) write(event string, v any) error {
	if sw.err != nil {
		return sw.err
	}
	var buf bytes.Buffer
	if event != "" {
		buf.WriteString("event: " + event + "\n")
	}
	buf.WriteString("data: ")
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil { // Encode ends the line
		return err
	}
	buf.WriteString("\n")
	if _, err := sw.w.Write(buf.Bytes()); err != nil {
		sw.err = err
		return err
	}
	sw.flush()
	return sw.err
}

func (sw *sseWriter) data(v any) error { return sw.write("", v) }

func (sw *sseWriter) done() {
	if sw.err == nil {
		if _, err := io.WriteString(sw.w, "data: [DONE]\n\n"); err != nil {
			sw.err = err
			return
		}
		sw.flush()
	}
}

// models lists the models a client may name (GeneratorModel and
// GeneratorModels, by their display names), not what the upstream server
// has: nothing else would be served.
func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	if s.opts.Generator == nil {
		writeOpenAIError(w, http.StatusNotImplemented, "invalid_request_error", "no_generator", noGenerator)
		return
	}
	list := ModelList{Object: "list", Data: []llm.Model{}}
	for _, name := range s.allowedModels() {
		list.Data = append(list.Data, llm.Model{ID: displayModel(name), Object: "model", Created: s.started.Unix(), OwnedBy: "kormed"})
	}
	writeJSON(w, http.StatusOK, list)
}
