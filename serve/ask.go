package serve

import (
	"context"
	"errors"
	"net/http"

	"github.com/kormed/kormed/rag"
	"github.com/kormed/kormed/search"
)

// --- answers (RAG)

// AskRequest is the body of POST /v1/ask.
type AskRequest struct {
	Question string `json:"question"`
	// K is how many sources to retrieve (default the server's, 5).
	K int `json:"k,omitempty"`
	// Stream sends server-sent events: "event: text" with {"text": piece}
	// as the answer is generated, then "event: answer" with the whole
	// Answer (sources, citations, DUR warnings), or "event: error".
	Stream bool `json:"stream,omitempty"`
	// Mode, Safety and Filters are those of a search request.
	Mode    string              `json:"mode,omitempty"`
	Safety  string              `json:"safety,omitempty"`
	Filters map[string][]string `json:"filters,omitempty"`
}

// AskPiece is the data of an "event: text" of a streamed answer.
type AskPiece struct {
	Text string `json:"text"`
}

func (s *Server) ask(w http.ResponseWriter, r *http.Request) {
	if s.opts.Generator == nil {
		writeError(w, http.StatusNotImplemented, noGenerator)
		return
	}
	if status, msg := s.generationAccess(w, r); status != 0 {
		writeError(w, status, msg)
		return
	}
	var req AskRequest
	if !decode(w, r, s.opts.MaxSearchBytes, &req) {
		return
	}
	opts := s.opts.Ask
	if req.K != 0 {
		opts.K = req.K
	}
	if req.Mode != "" {
		opts.Search.Mode = req.Mode
	}
	if req.Safety != "" {
		opts.Search.Safety = req.Safety
	}
	if req.Filters != nil {
		opts.Search.Filters = req.Filters
	}
	if opts.Model == "" {
		opts.Model = s.opts.GeneratorModel
	}
	opts.MaxTokens = s.answerTokens(opts)
	if !req.Stream {
		a, err := rag.Ask(r.Context(), s.svc, s.opts.Generator, req.Question, opts, nil)
		if err != nil {
			s.askError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, a)
		return
	}
	// Validate and search before the status goes out, so that request
	// errors are still a 400: the stream starts with the first piece.
	var sse *sseWriter
	start := func() {
		if sse == nil {
			sse = s.startSSE(w, r)
		}
	}
	a, err := rag.Ask(r.Context(), s.svc, s.opts.Generator, req.Question, opts, func(p string) error {
		start()
		return sse.write("text", AskPiece{Text: p})
	})
	if err != nil {
		if sse == nil {
			s.askError(w, r, err)
			return
		}
		if sse.err == nil && r.Context().Err() == nil {
			id := reqInfoOf(r).id
			s.log.Error("answer failed mid-stream", "request_id", id, "error", err.Error())
			sse.write("error", errorBody{Error: "upstream error", RequestID: id})
		}
		return
	}
	start()
	sse.write("answer", a)
}

// askError answers a failure of /v1/ask before the stream started.
func (s *Server) askError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case rag.IsRequestError(err):
		writeError(w, http.StatusBadRequest, err.Error())
	case r.Context().Err() != nil || errors.Is(err, context.DeadlineExceeded) || search.IsRequestError(err):
		s.fail(w, r, err)
	default:
		id := reqInfoOf(r).id
		s.log.Error("answer failed", "request_id", id, "error", err.Error())
		writeJSON(w, http.StatusBadGateway, errorBody{Error: "upstream error", RequestID: id})
	}
}

// answerTokens bounds the answer of /v1/ask by Options.MaxTokens: the
// configured rag.Options.MaxTokens when it is within it, else what rag
// would keep for the answer (rag.DefaultAnswerTokens, at most a quarter of
// a known context), within it.
func (s *Server) answerTokens(opts rag.Options) int {
	n := opts.MaxTokens
	if n <= 0 {
		n = rag.DefaultAnswerTokens
		if opts.Context > 0 {
			n = max(1, min(n, opts.Context/4))
		}
	}
	return min(n, s.opts.MaxTokens)
}
