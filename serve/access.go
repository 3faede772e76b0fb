package serve

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
)

// Access to the endpoints that spend the operator's money or CPU on
// generation (POST /v1/chat/completions, POST /v1/ask, and POST /v1/embed
// with Options.ProtectEmbed), and what a client may ask of them.

// DefaultMaxTokens bounds the tokens of one generated answer.
const DefaultMaxTokens = 1024

// StatusClientClosed is the status logged and counted for a request whose
// client went away before it was answered (nginx's 499): not a server
// fault.
const StatusClientClosed = 499

// keyOf is the key a request carries: X-API-Key, else the token of
// "Authorization: Bearer TOKEN".
func keyOf(r *http.Request) string {
	key := r.Header.Get("X-API-Key")
	if a := r.Header.Get("Authorization"); key == "" && a != "" {
		if scheme, tok, ok := strings.Cut(a, " "); ok && strings.EqualFold(scheme, "Bearer") {
			key = strings.TrimSpace(tok)
		}
	}
	return key
}

// checkKey checks the request's key against the SHA-256 hashes of the
// keys it may be (at least one): it answers 0 when it is one of them, else
// 401 and the message, with a WWW-Authenticate header set. The hashes are
// compared in constant time, all of them, so that the time taken says
// nothing about the key's length or content, nor which key matched.
func checkKey(w http.ResponseWriter, r *http.Request, name string, hashes ...[sha256.Size]byte) (int, string) {
	key := keyOf(r)
	if key == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kormed"`)
		return http.StatusUnauthorized, "this endpoint needs the " + name + ": send 'Authorization: Bearer KEY' or 'X-API-Key: KEY'"
	}
	got := sha256.Sum256([]byte(key))
	ok := 0
	for _, h := range hashes {
		ok |= subtle.ConstantTimeCompare(got[:], h[:])
	}
	if ok != 1 {
		w.Header().Set("WWW-Authenticate", `Bearer realm="kormed", error="invalid_token"`)
		return http.StatusUnauthorized, "wrong " + name
	}
	return 0, ""
}

// generationDisabled is the refusal of a generation endpoint on a server
// with neither a client key nor --public-generation.
const generationDisabled = "generation is disabled on this server: start kormed serve with --client-key KEY (or KORMED_CLIENT_KEY=KEY) and send the key as 'Authorization: Bearer KEY' or 'X-API-Key: KEY', or with --public-generation to let anyone use it"

// generationAccess checks the key of a request to a generation endpoint:
// it answers 0 when the server is public (Options.PublicGeneration) or the
// key is the client key or the write key, else the status (403 when no
// key is configured, 401 for a missing or wrong key) and the message.
func (s *Server) generationAccess(w http.ResponseWriter, r *http.Request) (int, string) {
	if s.opts.PublicGeneration {
		return 0, ""
	}
	var hashes [][sha256.Size]byte
	if s.opts.ClientKey != "" {
		hashes = append(hashes, s.clientKeyHash)
	}
	if s.opts.APIKey != "" {
		hashes = append(hashes, s.keyHash)
	}
	if len(hashes) == 0 {
		return http.StatusForbidden, generationDisabled
	}
	return checkKey(w, r, "client key", hashes...)
}

// allowedModels are the generator models a client may name: GeneratorModel
// and GeneratorModels.
func (s *Server) allowedModels() []string {
	var out []string
	for _, m := range append([]string{s.opts.GeneratorModel}, s.opts.GeneratorModels...) {
		if m != "" && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// pinModel is the model a generation request goes upstream with: the
// client's when it is allowed (by its configured name or the name
// /v1/models shows), GeneratorModel when it names none, else an error
// naming the allowed ones.
func (s *Server) pinModel(model string) (string, error) {
	allowed := s.allowedModels()
	if model == "" {
		return s.opts.GeneratorModel, nil
	}
	for _, m := range allowed {
		if model == m || model == displayModel(m) {
			return m, nil
		}
	}
	if len(allowed) == 0 {
		return "", fmt.Errorf("model: %q is not served here; leave model out", model)
	}
	names := make([]string, len(allowed))
	for i, m := range allowed {
		names[i] = fmt.Sprintf("%q", displayModel(m))
	}
	return "", fmt.Errorf("model: %q is not served here (allowed: %s)", model, strings.Join(names, ", "))
}

// capTokens checks a client's max_tokens (name is the field) against the
// server's bound.
func (s *Server) capTokens(name string, n *int) error {
	switch {
	case n == nil:
		return nil
	case *n < 1:
		return fmt.Errorf("%s: want at least 1", name)
	case *n > s.opts.MaxTokens:
		return fmt.Errorf("%s: %d, at most %d on this server", name, *n, s.opts.MaxTokens)
	}
	return nil
}

// displayModel is the name a model is shown by to clients (/healthz,
// kormed_build_info, /v1/embed, /v1/models): a Hugging Face id or other
// name as it is, a folder's path by the folder's base name, so that the
// server's file layout is not published.
func displayModel(name string) string {
	if name == "" || !isPath(name) {
		return name
	}
	name = strings.TrimRight(strings.ReplaceAll(name, `\`, "/"), "/")
	if i := strings.LastIndex(name, "/"); i >= 0 {
		name = name[i+1:]
	}
	if name == "" || name == "." || name == ".." || name == "~" {
		return "local model"
	}
	return name
}

// isPath reports whether a model name is a file path rather than a
// Hugging Face id (OWNER/NAME or NAME): absolute, relative to ., .. or
// ~, on a Windows drive, or of more than two elements.
func isPath(name string) bool {
	if filepath.IsAbs(name) || strings.ContainsRune(name, '\\') || strings.HasPrefix(name, "~") || strings.HasPrefix(name, ".") {
		return true
	}
	if len(name) >= 3 && name[1] == ':' && name[2] == '/' {
		return true // C:/models/e5 (C:\ is caught above)
	}
	return strings.Count(strings.TrimRight(name, "/"), "/") > 1
}

// internalError answers a server fault: the details go to the log under
// the request id, the client gets {"error":"internal error","request_id"}.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	id := reqInfoOf(r).id
	s.log.Error(msg, "request_id", id, "method", r.Method, "path", r.URL.Path, "error", err.Error())
	writeJSON(w, http.StatusInternalServerError, errorBody{Error: "internal error", RequestID: id})
}
