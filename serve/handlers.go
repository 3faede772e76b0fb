package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// errorBody is every error response.
type errorBody struct {
	Error string `json:"error"`
	// RequestID is set on server faults (500, 502), whose details are
	// only in the log under this id.
	RequestID string `json:"request_id,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		fmt.Fprintf(&buf, "{\"error\":%q}\n", "encoding the response: "+err.Error())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

func writeError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, errorBody{Error: msg})
}

// fail answers err: 400 for the caller's mistakes (search.IsRequestError),
// 499 (StatusClientClosed, not a server fault) for a request whose client
// went away, 503 for work that ran past a deadline of its own (the
// request's own deadline is answered 504 by the timeout wrapper before
// this runs), 500 otherwise (a generic body; the details are logged).
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case search.IsRequestError(err):
		writeError(w, http.StatusBadRequest, err.Error())
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		writeError(w, StatusClientClosed, "request cancelled")
	case errors.Is(err, context.DeadlineExceeded):
		writeError(w, http.StatusServiceUnavailable, "timed out: "+err.Error())
	default:
		s.internalError(w, r, "request failed", err)
	}
}

// httpError is a decoding failure with its status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// decode reads a JSON request body of at most limit bytes into dst,
// refusing other content types (415), oversized bodies (413), invalid
// UTF-8, empty bodies, keys that differ from a field only in case (see
// checkKeys), unknown fields, wrong types and trailing data (400).
func decode(w http.ResponseWriter, r *http.Request, limit int64, dst any) bool {
	if err := decodeBody(w, r, limit, dst); err != nil {
		var he *httpError
		if errors.As(err, &he) {
			writeError(w, he.status, he.msg)
		} else {
			writeError(w, http.StatusBadRequest, err.Error())
		}
		return false
	}
	return true
}

func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, dst any) error {
	body, err := readJSON(w, r, limit, true)
	if err != nil {
		return err
	}
	if err := checkKeys(body, reflect.TypeOf(dst), ""); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("invalid JSON: data after the object")
	}
	return nil
}

// readJSON reads a JSON request body of at most limit bytes: a
// Content-Type other than application/json is refused (415; with
// utf8Charset a charset other than UTF-8 too), an oversized body (413), an
// empty body or invalid UTF-8 (400, as encoding/json would quietly turn
// invalid UTF-8 into U+FFFD).
func readJSON(w http.ResponseWriter, r *http.Request, limit int64, utf8Charset bool) ([]byte, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: send application/json", ct)}
		}
		if cs, ok := params["charset"]; ok && utf8Charset && !strings.EqualFold(cs, "utf-8") {
			return nil, &httpError{http.StatusUnsupportedMediaType, fmt.Sprintf("charset %q: send UTF-8", cs)}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &httpError{http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", limit)}
		}
		return nil, &httpError{http.StatusBadRequest, "reading the request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, &httpError{http.StatusBadRequest, "empty request body: send a JSON object"}
	}
	if !utf8.Valid(body) {
		return nil, &httpError{http.StatusBadRequest, "request body is not valid UTF-8"}
	}
	return body, nil
}

// jsonError rewords encoding/json's errors for API callers.
func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Errorf("invalid JSON at byte %d: %w", se.Offset, err)
	case errors.As(err, &te):
		if te.Field == "" {
			return fmt.Errorf("invalid JSON: got %s, want an object", te.Value)
		}
		return fmt.Errorf("%s: got JSON %s, want %s", te.Field, te.Value, jsonKind(te.Type.Kind().String()))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("invalid JSON: unexpected end of the body")
	}
	msg := err.Error()
	if f, ok := strings.CutPrefix(msg, "json: unknown field "); ok {
		return fmt.Errorf("unknown field %s", f)
	}
	return fmt.Errorf("invalid JSON: %s", strings.TrimPrefix(msg, "json: "))
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "an integer"
	case strings.HasPrefix(k, "float"):
		return "a number"
	case k == "string":
		return "a string"
	case k == "slice" || k == "array":
		return "an array"
	case k == "map" || k == "struct":
		return "an object"
	case k == "bool":
		return "true or false"
	}
	return k
}

// --- search

func (s *Server) searchPost(w http.ResponseWriter, r *http.Request) {
	var req search.Request
	if !decode(w, r, s.opts.MaxSearchBytes, &req) {
		return
	}
	s.search(w, r, req)
}

// searchParams are the query parameters of GET /v1/search besides the
// filter.FIELD ones.
var searchParams = map[string]bool{"q": true, "query": true, "k": true, "mode": true, "alpha": true,
	"fusion": true, "safety": true, "exclude_dur": true, "flag_dur": true}

func (s *Server) searchGet(w http.ResponseWriter, r *http.Request) {
	if len(r.URL.RawQuery) > int(s.opts.MaxSearchBytes) {
		writeError(w, http.StatusRequestURITooLong, "query string too long")
		return
	}
	vals, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		writeError(w, http.StatusBadRequest, "query string: "+err.Error())
		return
	}
	req, err := requestFromQuery(vals)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.search(w, r, req)
}

// requestFromQuery reads a search.Request from GET parameters.
func requestFromQuery(vals url.Values) (search.Request, error) {
	var req search.Request
	one := func(name string) (string, error) {
		v := vals[name]
		if len(v) > 1 {
			return "", fmt.Errorf("parameter %s given %d times", name, len(v))
		}
		if len(v) == 0 {
			return "", nil
		}
		return v[0], nil
	}
	names := make([]string, 0, len(vals))
	for n := range vals {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if field, ok := strings.CutPrefix(n, "filter."); ok {
			if field == "" {
				return req, errors.New("parameter filter.: name a field (filter.type=…)")
			}
			if req.Filters == nil {
				req.Filters = map[string][]string{}
			}
			req.Filters[field] = append(req.Filters[field], vals[n]...)
			continue
		}
		if !searchParams[n] {
			return req, fmt.Errorf("unknown parameter %q (want q, k, mode, alpha, fusion, safety, exclude_dur, flag_dur or filter.FIELD)", n)
		}
	}
	var err error
	q, err := one("q")
	if err != nil {
		return req, err
	}
	if q == "" {
		if q, err = one("query"); err != nil {
			return req, err
		}
	}
	req.Query = q
	if k, err := one("k"); err != nil {
		return req, err
	} else if k != "" {
		n, err := strconv.Atoi(k)
		if err != nil {
			return req, fmt.Errorf("k: %q is not an integer", k)
		}
		if n < 1 || n > search.MaxK { // explicit 0 is out of range, not "the default"
			return req, fmt.Errorf("k: %d, want 1 to %d", n, search.MaxK)
		}
		req.K = n
	}
	if a, err := one("alpha"); err != nil {
		return req, err
	} else if a != "" {
		f, err := strconv.ParseFloat(a, 64)
		if err != nil {
			return req, fmt.Errorf("alpha: %q is not a number", a)
		}
		req.Alpha = &f
	}
	for _, p := range []struct {
		name string
		dst  *string
	}{{"mode", &req.Mode}, {"fusion", &req.Fusion}, {"safety", &req.Safety}} {
		if *p.dst, err = one(p.name); err != nil {
			return req, err
		}
	}
	list := func(name string) []string {
		var out []string
		for _, v := range vals[name] {
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					out = append(out, x)
				}
			}
		}
		return out
	}
	req.ExcludeDUR = list("exclude_dur")
	req.FlagDUR = list("flag_dur")
	return req, nil
}

func (s *Server) search(w http.ResponseWriter, r *http.Request, req search.Request) {
	info := reqInfoOf(r)
	resp, err := s.svc.Search(r.Context(), req)
	if err != nil {
		s.log.Debug("search failed", "request_id", info.id, "query", req.Query, "error", err.Error())
		s.fail(w, r, err)
		return
	}
	info.mode = resp.Mode
	if s.log.Enabled(r.Context(), slog.LevelDebug) {
		s.log.Debug("search", "request_id", info.id, "query", req.Query, "mode", resp.Mode,
			"hits", len(resp.Hits), "took_ms", resp.TookMS)
	}
	writeJSON(w, http.StatusOK, resp)
}

// --- embed

// EmbedRequest is the body of POST /v1/embed.
type EmbedRequest struct {
	Texts []string `json:"texts"`
	// As is "query" or "passage" (the default): which of the model's
	// prefixes to add.
	As string `json:"as,omitempty"`
}

// EmbedResponse answers it.
type EmbedResponse struct {
	Vectors [][]float32 `json:"vectors"`
	Dim     int         `json:"dim"`
	Model   string      `json:"model"`
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request) {
	if s.opts.ProtectEmbed {
		if status, msg := s.generationAccess(w, r); status != 0 {
			writeError(w, status, msg)
			return
		}
	}
	var req EmbedRequest
	if !decode(w, r, s.opts.MaxSearchBytes, &req) || !s.checkEmbed(w, req) {
		return
	}
	vecs, err := s.svc.Embed(r.Context(), req.Texts, req.As)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	dim := 0
	if len(vecs) > 0 {
		dim = len(vecs[0])
	}
	writeJSON(w, http.StatusOK, EmbedResponse{Vectors: vecs, Dim: dim, Model: displayModel(s.svc.Model.Name)})
}

// --- documents

// UpsertRequest is the body of POST /v1/documents.
type UpsertRequest struct {
	Documents []search.Doc `json:"documents"`
}

func (s *Server) upsert(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	async, err := asyncParam(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	var req UpsertRequest
	if !decode(w, r, s.opts.MaxDocumentBytes, &req) || s.writeLater(w, r, req.Documents, async) {
		return
	}
	if err := s.svc.Upsert(r.Context(), req.Documents); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.Info("documents upserted", "request_id", reqInfoOf(r).id, "count", len(req.Documents))
	writeJSON(w, http.StatusOK, map[string]int{"upserted": len(req.Documents)})
}

func (s *Server) getDoc(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	d, ok, err := s.svc.Backend.Get(r.Context(), id)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !ok {
		noDocument(w, id)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) deleteDoc(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(w, r) {
		return
	}
	id := r.PathValue("id")
	n, err := s.svc.Backend.Delete(r.Context(), []string{id})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if n == 0 {
		noDocument(w, id)
		return
	}
	s.log.Info("document deleted", "request_id", reqInfoOf(r).id, "id", id)
	writeJSON(w, http.StatusOK, map[string]int{"deleted": n})
}

// --- facets

// FacetsResponse answers GET /v1/facets.
type FacetsResponse struct {
	Fields map[string][]search.Facet `json:"fields"`
}

// Facet counting: a search.Faceter (the embedded index, Weaviate) counts
// itself; a backend that can only list its documents is counted here.
type docLister interface {
	Docs(fn func(d search.Doc, vec []float32) error) error
}

// maxFacetValues bounds the n parameter of /v1/facets.
const maxFacetValues = 1000

func (s *Server) facets(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for name := range q {
		if name != "field" && name != "n" {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("unknown parameter %q (want field, n)", name))
			return
		}
	}
	n := 20
	if v := q.Get("n"); v != "" {
		k, err := strconv.Atoi(v)
		if err != nil || k < 1 || k > maxFacetValues {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("n: %q, want 1 to %d", v, maxFacetValues))
			return
		}
		n = k
	}
	info, err := s.svc.Info(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	known := map[string]bool{}
	for _, f := range info.Fields {
		known[f] = true
	}
	var fields []string
	for _, v := range q["field"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "" {
				continue
			}
			if !known[f] {
				writeError(w, http.StatusBadRequest, fmt.Sprintf("field: unknown field %q (fields: %s)", f, strings.Join(info.Fields, ", ")))
				return
			}
			fields = append(fields, f)
		}
	}
	if len(fields) == 0 {
		fields = info.Fields
	}
	out := FacetsResponse{Fields: map[string][]search.Facet{}}
	switch b := s.svc.Backend.(type) {
	case search.Faceter:
		for _, f := range fields {
			vals, err := b.Facets(r.Context(), f, n)
			if err != nil {
				s.fail(w, r, err)
				return
			}
			if vals == nil {
				vals = []search.Facet{}
			}
			out.Fields[f] = vals
		}
	case docLister:
		counts := make(map[string]map[string]int, len(fields))
		for _, f := range fields {
			counts[f] = map[string]int{}
		}
		err := b.Docs(func(d search.Doc, _ []float32) error {
			for f, c := range counts {
				for _, v := range dedup(d.Fields[f]) {
					c[v]++
				}
			}
			return r.Context().Err()
		})
		if err != nil {
			s.fail(w, r, err)
			return
		}
		for f, c := range counts {
			out.Fields[f] = topValues(c, n)
		}
	default:
		writeError(w, http.StatusNotImplemented, fmt.Sprintf("facets: the %s backend does not count field values", info.Backend))
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func dedup(xs []string) []string {
	if len(xs) < 2 {
		return xs
	}
	seen := make(map[string]bool, len(xs))
	out := xs[:0:0]
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
}

// topValues are the n most frequent values, ties by value.
func topValues(c map[string]int, n int) []search.Facet {
	out := make([]search.Facet, 0, len(c))
	for v, k := range c {
		out = append(out, search.Facet{Value: v, Count: k})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Value < out[j].Value
	})
	if len(out) > n {
		out = out[:n]
	}
	return out
}

// --- health

// Health answers GET /healthz.
type Health struct {
	Status     string   `json:"status"`
	Docs       int      `json:"docs"`
	Backend    string   `json:"backend"`
	Model      string   `json:"model"`
	Dense      bool     `json:"dense"`
	Fields     []string `json:"fields"`
	Analyzer   string   `json:"analyzer,omitempty"`
	Generation string   `json:"generation,omitempty"`
	Safety     string   `json:"safety"`
	Alpha      float64  `json:"alpha"`
	Fusion     string   `json:"fusion"`
	RRFK       float64  `json:"rrf_k,omitempty"` // with fusion rrf
	Writable   bool     `json:"writable"`
	Version    string   `json:"version"`
	Error      string   `json:"error,omitempty"`
	// Calibration is how kormed index chose the hybrid default for this
	// index (alpha, fusion) and what it measured; absent when the
	// defaults are the built-in ones.
	Calibration *fusion.Calibration `json:"calibration,omitempty"`
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	h := Health{Status: "ok", Model: displayModel(s.svc.Model.Name), Dense: s.svc.Dense(), Safety: s.svc.Safety,
		Writable: s.opts.APIKey != "", Version: s.opts.Version, Fields: []string{}}
	var rrfk float64
	h.Alpha, h.Fusion, rrfk, h.Calibration = s.svc.Defaults()
	if h.Fusion == search.FusionRRF {
		h.RRFK = rrfk
	}
	if h.Safety == "" {
		h.Safety = search.SafetyFlag
	}
	info, err := s.svc.Info(r.Context())
	if err != nil {
		// The reason (a path, a backend's URL) goes to the log only.
		id := reqInfoOf(r).id
		if r.Context().Err() == nil {
			s.log.Error("health check failed", "request_id", id, "error", err.Error())
		}
		h.Status, h.Error = "error", "the backend did not answer (request "+id+")"
		writeJSON(w, http.StatusServiceUnavailable, h)
		return
	}
	h.Docs, h.Backend, h.Analyzer, h.Generation = info.Docs, info.Backend, info.Analyzer, info.Generated
	if info.Fields != nil {
		h.Fields = info.Fields
	}
	writeJSON(w, http.StatusOK, h)
}

// --- metrics

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request) {
	docs := -1
	if info, err := s.svc.Info(r.Context()); err == nil {
		docs = info.Docs
	}
	var buf bytes.Buffer
	s.metrics.write(&buf, gauges{
		docs:       docs,
		dense:      s.svc.Dense(),
		version:    s.opts.Version,
		goVersion:  runtime.Version(),
		model:      displayModel(s.svc.Model.Name),
		goroutines: runtime.NumGoroutine(),
		rss:        residentBytes(),
		start:      s.started,
		reloads:    s.reloads.Load(),
	})
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	w.Write(buf.Bytes())
}
