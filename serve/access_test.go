package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/search"
)

const chatBody = `{"messages":[{"role":"user","content":"?"}]}`

// TestGenerationAccess: the generation endpoints are refused without a
// client key (or --public-generation), take the client key or the write
// key, and /v1/embed joins them with ProtectEmbed.
func TestGenerationAccess(t *testing.T) {
	svc := newService(t, true, nil)
	gen := &fakeGen{tokens: []string{"답"}}

	// Neither key nor --public-generation: 403 naming the flags.
	_, closed := newTestServer(t, svc, Options{Generator: gen, GeneratorModel: "fake"})
	r := call(t, closed, "POST", "/v1/chat/completions", chatBody)
	if e := openAIErr(t, r); r.status != 403 || !strings.Contains(e.Message, "--client-key") || !strings.Contains(e.Message, "--public-generation") {
		t.Errorf("chat: %d %s", r.status, r.body)
	}
	r = call(t, closed, "POST", "/v1/ask", `{"question":"임산부 부루펜 복용"}`)
	if r.status != 403 || !strings.Contains(r.errMsg(t), "--client-key") {
		t.Errorf("ask: %d %s", r.status, r.body)
	}
	if r := call(t, closed, "POST", "/v1/embed", `{"texts":["두통"]}`); r.status != 200 {
		t.Errorf("embed without ProtectEmbed: %d %s", r.status, r.body)
	}
	if r := call(t, closed, "GET", "/v1/search?q=두통", nil); r.status != 200 {
		t.Errorf("search: %d %s", r.status, r.body)
	}

	// A client key (and the write key) open them.
	_, keyed := newTestServer(t, svc, Options{Generator: gen, GeneratorModel: "fake", ClientKey: "client-secret", APIKey: "write-secret", ProtectEmbed: true})
	for _, c := range []struct {
		hdr    []string
		status int
	}{
		{nil, 401},
		{[]string{"Authorization", "Bearer wrong"}, 401},
		{[]string{"X-API-Key", "client-secret-"}, 401},
		{[]string{"Authorization", "Bearer client-secret"}, 200},
		{[]string{"X-API-Key", "client-secret"}, 200},
		{[]string{"Authorization", "Bearer write-secret"}, 200},
	} {
		r := call(t, keyed, "POST", "/v1/chat/completions", chatBody, c.hdr...)
		if r.status != c.status {
			t.Errorf("chat %v: %d %s", c.hdr, r.status, r.body)
		}
		if c.status == 401 && (!strings.HasPrefix(r.header.Get("WWW-Authenticate"), "Bearer") || openAIErr(t, r).Message == "") {
			t.Errorf("chat %v: %v %s", c.hdr, r.header, r.body)
		}
		r = call(t, keyed, "POST", "/v1/ask", `{"question":"임산부 부루펜 복용"}`, c.hdr...)
		if r.status != c.status {
			t.Errorf("ask %v: %d %s", c.hdr, r.status, r.body)
		}
		r = call(t, keyed, "POST", "/v1/embed", `{"texts":["두통"]}`, c.hdr...)
		if r.status != c.status {
			t.Errorf("embed %v: %d %s", c.hdr, r.status, r.body)
		}
	}
	// The client key does not authorise writes.
	if r := call(t, keyed, "DELETE", "/v1/documents/200000001", nil, "X-API-Key", "client-secret"); r.status != 401 || r.errMsg(t) != "wrong API key" {
		t.Errorf("write with the client key: %d %s", r.status, r.body)
	}

	// --public-generation: open to anyone.
	_, public := newTestServer(t, svc, Options{Generator: gen, GeneratorModel: "fake", PublicGeneration: true})
	if r := call(t, public, "POST", "/v1/chat/completions", chatBody); r.status != 200 {
		t.Errorf("public: %d %s", r.status, r.body)
	}
}

// TestChatPinsModelAndTokens: the request goes upstream with an allowed
// model and at most MaxTokens; anything else is a 400 that names the
// allowed values, and the generator is not called.
func TestChatPinsModelAndTokens(t *testing.T) {
	gen := &fakeGen{tokens: []string{"답"}, got: make(chan llm.Request, 10)}
	_, ts := newTestServer(t, newService(t, false, nil), Options{Generator: gen, GeneratorModel: "qwen2.5:7b",
		GeneratorModels: []string{"exaone3.5:2.4b"}, PublicGeneration: true})
	for body, want := range map[string]string{
		`{"model":"gpt-4-32k-expensive","messages":[{"role":"user","content":"?"}]}`: `model: "gpt-4-32k-expensive" is not served here (allowed: "qwen2.5:7b", "exaone3.5:2.4b")`,
		`{"max_tokens":1000000,"messages":[{"role":"user","content":"?"}]}`:          "max_tokens: 1000000, at most 1024 on this server",
		`{"max_completion_tokens":1025,"messages":[{"role":"user","content":"?"}]}`:  "max_completion_tokens: 1025, at most 1024 on this server",
		`{"max_tokens":0,"messages":[{"role":"user","content":"?"}]}`:                "max_tokens: want at least 1",
	} {
		r := call(t, ts, "POST", "/v1/chat/completions", body)
		if e := openAIErr(t, r); r.status != 400 || e.Message != want {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	select {
	case req := <-gen.got:
		t.Fatalf("the generator was called for a refused request: %+v", req)
	default:
	}
	for _, c := range []struct {
		body      string
		model     string
		maxTokens int
	}{
		{`{"messages":[{"role":"user","content":"?"}]}`, "qwen2.5:7b", 1024},
		{`{"model":"exaone3.5:2.4b","max_tokens":1024,"messages":[{"role":"user","content":"?"}]}`, "exaone3.5:2.4b", 1024},
		{`{"model":"qwen2.5:7b","max_completion_tokens":7,"messages":[{"role":"user","content":"?"}]}`, "qwen2.5:7b", 7},
	} {
		r := call(t, ts, "POST", "/v1/chat/completions", c.body)
		var resp ChatResponse
		r.json(t, &resp)
		req := <-gen.got
		if r.status != 200 || resp.Model != c.model || req.Model != c.model || req.MaxTokens != c.maxTokens {
			t.Errorf("%s: %d %s; upstream got model %q max_tokens %d", c.body, r.status, r.body, req.Model, req.MaxTokens)
		}
	}
}

// TestAskCapsTokens: /v1/ask's answer is bounded by MaxTokens too.
func TestAskCapsTokens(t *testing.T) {
	gen := &fakeGen{tokens: []string{"답 [1]"}, got: make(chan llm.Request, 1)}
	_, ts := newTestServer(t, newService(t, true, nil), Options{Generator: gen, GeneratorModel: "qwen2.5:7b", PublicGeneration: true, MaxTokens: 100})
	r := call(t, ts, "POST", "/v1/ask", `{"question":"임산부 부루펜 복용"}`)
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if req := <-gen.got; req.MaxTokens != 100 || req.Model != "qwen2.5:7b" {
		t.Errorf("upstream got model %q max_tokens %d", req.Model, req.MaxTokens)
	}
}

func TestDisplayModel(t *testing.T) {
	for in, want := range map[string]string{
		"":                                 "",
		"intfloat/multilingual-e5-small":   "intfloat/multilingual-e5-small",
		"e5-small":                         "e5-small",
		"qwen2.5:7b":                       "qwen2.5:7b",
		"/srv/kormed/models/e5-small":      "e5-small",
		"/srv/kormed/models/e5-small/":     "e5-small",
		"./models/e5-ko":                   "e5-ko",
		"../e5-ko":                         "e5-ko",
		"~/models/e5-ko":                   "e5-ko",
		"data/models/e5-ko":                "e5-ko",
		`C:\models\e5-ko`:                  "e5-ko",
		"C:/models/e5-ko":                  "e5-ko",
		"/":                                "local model",
		".":                                "local model",
		"/home/op/.cache/kormed/hf/m/snap": "snap",
	} {
		if got := displayModel(in); got != want {
			t.Errorf("displayModel(%q) = %q, want %q", in, got, want)
		}
	}
}

// failing fails Get (with a message holding a path) and Info, panics on
// Get("panic"), and returns the context's error when it is done.
type failing struct{ search.Backend }

func (f failing) Get(ctx context.Context, id string) (search.Doc, bool, error) {
	if err := ctx.Err(); err != nil {
		return search.Doc{}, false, err
	}
	if id == "panic" {
		panic("open /srv/secret/index/x: boom")
	}
	return search.Doc{}, false, errors.New("open /srv/secret/index/docs.bin: permission denied")
}

func (f failing) Info(ctx context.Context) (search.Info, error) {
	if err := ctx.Err(); err != nil {
		return search.Info{}, err
	}
	return search.Info{}, errors.New("open /srv/secret/index/meta.json: permission denied")
}

// TestNoDisclosure: the model is shown by its name, never its path, and a
// server fault answers a generic body with the request id, the details
// only in the log.
func TestNoDisclosure(t *testing.T) {
	svc := newService(t, true, nil)
	svc.Model.Name = "/srv/secret/models/e5-small"
	_, ts := newTestServer(t, svc, Options{})
	r := call(t, ts, "GET", "/healthz", nil)
	var h Health
	r.json(t, &h)
	if r.status != 200 || h.Model != "e5-small" || strings.Contains(string(r.body), "/srv/secret") {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
	r = call(t, ts, "GET", "/metrics", nil)
	if !strings.Contains(string(r.body), `model="e5-small"} 1`) || strings.Contains(string(r.body), "/srv/secret") {
		t.Errorf("metrics: %s", r.body)
	}
	r = call(t, ts, "POST", "/v1/embed", `{"texts":["두통"]}`)
	var er EmbedResponse
	r.json(t, &er)
	if r.status != 200 || er.Model != "e5-small" {
		t.Errorf("embed: %d model %q", r.status, er.Model)
	}

	var logs syncBuffer
	svc = newService(t, false, nil)
	svc.Backend = failing{svc.Backend}
	_, ts = newTestServer(t, svc, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	for id, want := range map[string]string{"200000001": "permission denied", "panic": "boom"} {
		r = call(t, ts, "GET", "/v1/documents/"+id, nil, "X-Request-Id", "rid-"+id)
		if r.status != 500 || string(r.body) != `{"error":"internal error","request_id":"rid-`+id+`"}`+"\n" {
			t.Errorf("%s: %d %s", id, r.status, r.body)
		}
		if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), `"request_id":"rid-`+id+`"`) {
			t.Errorf("%s: the details are not in the log:\n%s", id, logs.String())
		}
	}
	r = call(t, ts, "GET", "/healthz", nil, "X-Request-Id", "rid-h")
	if r.status != 503 || strings.Contains(string(r.body), "/srv/secret") || !strings.Contains(string(r.body), "rid-h") {
		t.Errorf("healthz: %d %s", r.status, r.body)
	}
}

// TestClientGone: a request whose client went away is logged at info
// level and counted as 499, not as a server error.
func TestClientGone(t *testing.T) {
	var logs syncBuffer
	svc := newService(t, false, nil)
	svc.Backend = failing{svc.Backend}
	gen := llm.Func(func(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
		return llm.Result{}, ctx.Err()
	})
	s := New(svc, Options{Logger: slog.New(slog.NewJSONHandler(&logs, nil)), Generator: gen, PublicGeneration: true})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, c := range []struct{ method, path, body string }{
		{"GET", "/v1/documents/200000001", ""},     // fail
		{"POST", "/v1/chat/completions", chatBody}, // generatorError
		{"GET", "/healthz", ""},                    // a 503 for a client that is gone
	} {
		req := httptest.NewRequestWithContext(ctx, c.method, c.path, strings.NewReader(c.body))
		req.Header.Set("Content-Type", "application/json")
		s.Handler().ServeHTTP(httptest.NewRecorder(), req)
	}
	var b bytes.Buffer
	s.metrics.write(&b, gauges{rss: -1})
	for _, want := range []string{
		`kormed_http_requests_total{path="/v1/documents/{id}",status="499"} 1`,
		`kormed_http_requests_total{path="/v1/chat/completions",status="499"} 1`,
		`kormed_http_requests_total{path="/healthz",status="499"} 1`,
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %s:\n%s", want, b.String())
		}
	}
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var l struct {
			Level  string `json:"level"`
			Msg    string `json:"msg"`
			Status int    `json:"status"`
		}
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatal(err)
		}
		if l.Level == "ERROR" {
			t.Errorf("logged as an error: %s", line)
		}
		if l.Msg == "request" {
			n++
			if l.Status != StatusClientClosed || l.Level != "INFO" {
				t.Errorf("request line %s", line)
			}
		}
	}
	if n != 3 {
		t.Errorf("%d request lines:\n%s", n, logs.String())
	}
	// A server fault stays a 5xx.
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/documents/200000001", nil))
	if rec.Code != http.StatusInternalServerError {
		t.Errorf("fault: %d %s", rec.Code, rec.Body)
	}
}
