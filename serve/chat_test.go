package serve

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/rag"
)

// fakeGen is a deterministic generator: it emits its tokens in order and
// records the request.
type fakeGen struct {
	tokens []string
	got    chan llm.Request
}

func (f *fakeGen) Generate(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	if f.got != nil {
		f.got <- req
	}
	var sb strings.Builder
	for _, t := range f.tokens {
		if err := ctx.Err(); err != nil {
			return llm.Result{Text: sb.String()}, err
		}
		if err := emit(t); err != nil {
			return llm.Result{Text: sb.String()}, err
		}
		sb.WriteString(t)
	}
	return llm.Result{Text: sb.String(), FinishReason: "stop", Usage: &llm.Usage{PromptTokens: 5, CompletionTokens: len(f.tokens), TotalTokens: 5 + len(f.tokens)}}, nil
}

func fixedIDs(t *testing.T) {
	oldID, oldNow := completionID, nowUnix
	completionID = func() string { return "chatcmpl-test" }
	nowUnix = func() int64 { return 1700000000 }
	t.Cleanup(func() { completionID, nowUnix = oldID, oldNow })
}

func TestChatStreamFraming(t *testing.T) {
	fixedIDs(t)
	gen := &fakeGen{tokens: []string{"안녕", "하세요", "!"}, got: make(chan llm.Request, 1)}
	_, ts := newTestServer(t, newService(t, false, nil), Options{Generator: gen, GeneratorModel: "fake", PublicGeneration: true})
	r := call(t, ts, "POST", "/v1/chat/completions", `{"model":"","messages":[{"role":"system","content":"짧게"},{"role":"user","content":"인사"}],
		"stream":true,"max_tokens":16,"temperature":0.5,"top_p":0.9,"stop":"\n","user":"ignored","n":1}`)
	if r.status != 200 || r.header.Get("Content-Type") != "text/event-stream; charset=utf-8" || r.header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("%d %v %s", r.status, r.header, r.body)
	}
	head := `data: {"id":"chatcmpl-test","object":"chat.completion.chunk","created":1700000000,"model":"fake","choices":[{"index":0,"delta":`
	want := head + `{"role":"assistant","content":""},"finish_reason":null}]}` + "\n\n" +
		head + `{"content":"안녕"},"finish_reason":null}]}` + "\n\n" +
		head + `{"content":"하세요"},"finish_reason":null}]}` + "\n\n" +
		head + `{"content":"!"},"finish_reason":null}]}` + "\n\n" +
		head + `{},"finish_reason":"stop"}]}` + "\n\n" +
		"data: [DONE]\n\n"
	if string(r.body) != want {
		t.Errorf("stream:\n%s\nwant:\n%s", r.body, want)
	}
	req := <-gen.got
	if len(req.Messages) != 2 || req.Messages[1].Content != "인사" || req.MaxTokens != 16 || *req.Temperature != 0.5 ||
		*req.TopP != 0.9 || !slices.Equal(req.Stop, []string{"\n"}) || req.Model != "fake" {
		t.Errorf("generator request %+v", req)
	}
	// kormed's own client reads kormed's stream.
	c := llm.New(ts.URL+"/v1", "fake")
	var pieces []string
	res, err := c.Generate(context.Background(), llm.Request{Messages: []llm.Message{{Role: "user", Content: "?"}}},
		func(p string) error { pieces = append(pieces, p); return nil })
	<-gen.got
	if err != nil || res.Text != "안녕하세요!" || len(pieces) != 3 || res.FinishReason != "stop" || res.Model != "fake" {
		t.Errorf("%v %+v %q", err, res, pieces)
	}
}

func TestChatNonStreaming(t *testing.T) {
	fixedIDs(t)
	gen := &fakeGen{tokens: []string{"안녕", "하세요"}}
	_, ts := newTestServer(t, newService(t, false, nil), Options{Generator: gen, GeneratorModel: "fake", GeneratorModels: []string{"m1"}, PublicGeneration: true})
	r := call(t, ts, "POST", "/v1/chat/completions", map[string]any{"model": "m1",
		"messages": []map[string]any{{"role": "user", "content": []map[string]string{{"type": "text", "text": "인사"}}}}})
	want := `{"id":"chatcmpl-test","object":"chat.completion","created":1700000000,"model":"m1","choices":[{"index":0,"message":{"role":"assistant","content":"안녕하세요"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":2,"total_tokens":7}}` + "\n"
	if r.status != 200 || string(r.body) != want || r.header.Get("Content-Type") != "application/json" {
		t.Errorf("%d %s", r.status, r.body)
	}
	res, err := llm.New(ts.URL+"/v1", "fake").Complete(context.Background(), llm.Request{Messages: []llm.Message{{Role: "user", Content: "?"}}})
	if err != nil || res.Text != "안녕하세요" || res.Usage.TotalTokens != 7 {
		t.Errorf("%v %+v", err, res)
	}
}

func openAIErr(t *testing.T, r reply) OpenAIErrorDetail {
	t.Helper()
	var e OpenAIError
	if err := json.Unmarshal(r.body, &e); err != nil || e.Error.Message == "" {
		t.Fatalf("want an OpenAI error, got %d %s", r.status, r.body)
	}
	return e.Error
}

func TestChatErrors(t *testing.T) {
	svc := newService(t, false, nil)
	_, none := newTestServer(t, svc, Options{})
	for _, p := range []struct{ method, path, body string }{
		{"POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"?"}]}`},
		{"GET", "/v1/models", ""},
	} {
		var body any
		if p.body != "" {
			body = p.body
		}
		r := call(t, none, p.method, p.path, body)
		if e := openAIErr(t, r); r.status != 501 || !strings.Contains(e.Message, "this server has no generator") || !strings.Contains(e.Message, "--llm-url") || *e.Code != "no_generator" {
			t.Errorf("%s: %d %s", p.path, r.status, r.body)
		}
	}
	r := call(t, none, "POST", "/v1/ask", `{"question":"타이레놀"}`)
	if r.status != 501 || !strings.Contains(r.errMsg(t), "this server has no generator") {
		t.Errorf("ask: %d %s", r.status, r.body)
	}
	_, ts := newTestServer(t, svc, Options{Generator: &fakeGen{}, GeneratorModel: "fake", PublicGeneration: true})
	for body, want := range map[string]string{
		`{"messages":[]}`: "at least one message",
		`{"messages":[{"role":"robot","content":"?"}]}`:                             "role",
		`{"messages":[{"role":"user","content":"?"}],"temperature":3}`:              "temperature",
		`{"messages":[{"role":"user","content":"?"}],"top_p":0}`:                    "top_p",
		`{"messages":[{"role":"user","content":"?"}],"max_tokens":0}`:               "max_tokens",
		`{"messages":[{"role":"user","content":"?"}],"stop":[1]}`:                   "stop",
		`{"messages":[{"role":"user","content":"?"}],"stop":["a","b","c","d","e"]}`: "at most 4",
		`{"messages":`: "invalid JSON",
	} {
		r := call(t, ts, "POST", "/v1/chat/completions", body)
		if e := openAIErr(t, r); r.status != 400 || !strings.Contains(e.Message, want) || e.Type != "invalid_request_error" {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
	if r := call(t, ts, "POST", "/v1/chat/completions", `{}`, "Content-Type", "text/plain"); r.status != 415 {
		t.Errorf("text/plain: %d", r.status)
	}
}

// TestChatDisconnect: a client that goes away cancels the generation.
func TestChatDisconnect(t *testing.T) {
	cancelled := make(chan struct{})
	started := make(chan struct{})
	gen := llm.Func(func(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
		emit("첫")
		close(started)
		select {
		case <-ctx.Done():
			close(cancelled)
			return llm.Result{Text: "첫"}, ctx.Err()
		case <-time.After(10 * time.Second):
			return llm.Result{Text: "첫"}, nil
		}
	})
	_, ts := newTestServer(t, newService(t, false, nil), Options{Generator: gen, GeneratorModel: "x", PublicGeneration: true})
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/v1/chat/completions",
		strings.NewReader(`{"model":"x","stream":true,"messages":[{"role":"user","content":"?"}]}`))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("%q %v", line, err)
	}
	<-started
	cancel()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the generation was not cancelled")
	}
}

func TestChatMidStreamError(t *testing.T) {
	fixedIDs(t)
	gen := llm.Func(func(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
		emit("부분")
		return llm.Result{Text: "부분"}, &llm.APIError{Status: 0, Message: "boom", URL: "http://up/v1/chat/completions"}
	})
	_, ts := newTestServer(t, newService(t, false, nil), Options{Generator: gen, GeneratorModel: "fake", PublicGeneration: true})
	r := call(t, ts, "POST", "/v1/chat/completions", `{"stream":true,"messages":[{"role":"user","content":"?"}]}`, "X-Request-Id", "req-1")
	body := string(r.body)
	// The upstream's URL and message stay in the log.
	if !strings.HasSuffix(body, `data: {"error":{"message":"upstream error (request req-1)","type":"server_error","param":null,"code":null}}`+"\n\n") ||
		strings.Contains(body, "[DONE]") {
		t.Errorf("%s", body)
	}
	// The client sees the error and keeps the partial text.
	res, err := llm.New(ts.URL+"/v1", "fake").Generate(context.Background(), llm.Request{Messages: []llm.Message{{Role: "user", Content: "?"}}}, func(string) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "upstream error") || res.Text != "부분" {
		t.Errorf("%v %q", err, res.Text)
	}
}

// TestChatProxy: with an llm.Client as the generator, kormed proxies an
// OpenAI-compatible server (here a replay of Ollama's bytes); its errors
// reach the client as a generic 502 in OpenAI's shape, without the
// upstream's URL or message.
func TestChatProxy(t *testing.T) {
	fixedIDs(t)
	transcript, err := os.ReadFile("../llm/testdata/ollama_stream.txt")
	if err != nil {
		t.Fatal(err)
	}
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1/models":
			w.Write([]byte(`{"object":"list","data":[{"id":"qwen2.5:7b","object":"model","created":1732900000,"owned_by":"library"},{"id":"exaone3.5:2.4b","object":"model","created":1732900000,"owned_by":"library"}]}`))
		case strings.Contains(readAll(r), `"model":"missing"`):
			w.WriteHeader(404)
			w.Write([]byte(`{"error":{"message":"model \"missing\" not found, try pulling it first","type":"not_found_error","param":null,"code":null}}`))
		default:
			w.Header().Set("Content-Type", "text/event-stream")
			w.Write(transcript)
		}
	}))
	defer up.Close()
	_, ts := newTestServer(t, newService(t, false, nil), Options{Generator: llm.New(up.URL+"/v1", "qwen2.5:7b"), GeneratorModel: "qwen2.5:7b",
		GeneratorModels: []string{"missing"}, PublicGeneration: true})
	r := call(t, ts, "POST", "/v1/chat/completions", `{"stream":true,"messages":[{"role":"user","content":"타이레놀은?"}]}`)
	if r.status != 200 || !strings.Contains(string(r.body), `"delta":{"content":"진통제입니다"}`) || !strings.HasSuffix(string(r.body), "data: [DONE]\n\n") {
		t.Errorf("%d %s", r.status, r.body)
	}
	// An upstream 404 (an allowed model the upstream lacks) is a 502.
	r = call(t, ts, "POST", "/v1/chat/completions", `{"model":"missing","messages":[{"role":"user","content":"?"}]}`, "X-Request-Id", "req-404")
	if e := openAIErr(t, r); r.status != 502 || e.Message != "upstream error (request req-404)" || *e.Code != "upstream_error" ||
		strings.Contains(string(r.body), up.URL) || strings.Contains(string(r.body), "not found") {
		t.Errorf("%d %s", r.status, r.body)
	}
	// /v1/models lists the allowed models, not the upstream's.
	r = call(t, ts, "GET", "/v1/models", nil)
	var list ModelList
	r.json(t, &list)
	if r.status != 200 || list.Object != "list" || len(list.Data) != 2 || list.Data[0].ID != "qwen2.5:7b" || list.Data[1].ID != "missing" {
		t.Errorf("%d %s", r.status, r.body)
	}
	// An upstream that is down is a 502 too.
	up.Close()
	r = call(t, ts, "POST", "/v1/chat/completions", `{"messages":[{"role":"user","content":"?"}]}`, "X-Request-Id", "req-down")
	if e := openAIErr(t, r); r.status != 502 || e.Message != "upstream error (request req-down)" || strings.Contains(string(r.body), up.URL) {
		t.Errorf("%d %s", r.status, r.body)
	}
}

func readAll(r *http.Request) string {
	var sb strings.Builder
	b := make([]byte, 4096)
	for {
		n, err := r.Body.Read(b)
		sb.Write(b[:n])
		if err != nil {
			return sb.String()
		}
	}
}

func TestModelsWithoutLister(t *testing.T) {
	_, ts := newTestServer(t, newService(t, false, nil), Options{Generator: &fakeGen{}, GeneratorModel: "kormed-exaone"})
	r := call(t, ts, "GET", "/v1/models", nil)
	var list ModelList
	r.json(t, &list)
	if r.status != 200 || len(list.Data) != 1 || list.Data[0].ID != "kormed-exaone" || list.Data[0].Object != "model" || list.Data[0].OwnedBy != "kormed" {
		t.Errorf("%d %s", r.status, r.body)
	}
}

// TestAnswerSchemas: the OpenAPI schemas of the answer routes have the
// JSON fields of their Go types.
func TestAnswerSchemas(t *testing.T) {
	var doc struct {
		Comp struct {
			Schemas map[string]struct {
				Properties map[string]json.RawMessage `json:"properties"`
				Required   []string                   `json:"required"`
			} `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(openAPI, &doc); err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]reflect.Type{
		"Message":           reflect.TypeFor[llm.Message](),
		"ChatRequest":       reflect.TypeFor[ChatRequest](),
		"ChatMessage":       reflect.TypeFor[ChatMessage](),
		"ChatChoice":        reflect.TypeFor[ChatChoice](),
		"ChatResponse":      reflect.TypeFor[ChatResponse](),
		"ChatDelta":         reflect.TypeFor[ChatDelta](),
		"ChatChunkChoice":   reflect.TypeFor[ChatChunkChoice](),
		"ChatChunk":         reflect.TypeFor[ChatChunk](),
		"Usage":             reflect.TypeFor[llm.Usage](),
		"OpenAIError":       reflect.TypeFor[OpenAIError](),
		"OpenAIErrorDetail": reflect.TypeFor[OpenAIErrorDetail](),
		"Model":             reflect.TypeFor[llm.Model](),
		"ModelList":         reflect.TypeFor[ModelList](),
		"AskRequest":        reflect.TypeFor[AskRequest](),
		"AskPiece":          reflect.TypeFor[AskPiece](),
		"Answer":            reflect.TypeFor[rag.Answer](),
		"Source":            reflect.TypeFor[rag.Source](),
		"Warning":           reflect.TypeFor[rag.Warning](),
	} {
		sc, ok := doc.Comp.Schemas[name]
		if !ok {
			t.Errorf("no schema %s", name)
			continue
		}
		var want, got []string
		for i := 0; i < typ.NumField(); i++ {
			n, _, _ := strings.Cut(typ.Field(i).Tag.Get("json"), ",")
			if n != "-" && typ.Field(i).IsExported() {
				want = append(want, n)
			}
		}
		for p := range sc.Properties {
			got = append(got, p)
		}
		sort.Strings(want)
		sort.Strings(got)
		if !slices.Equal(want, got) {
			t.Errorf("schema %s has %v, the Go type %s has %v", name, got, typ, want)
		}
		for _, r := range sc.Required {
			if !slices.Contains(want, r) {
				t.Errorf("schema %s requires unknown %s", name, r)
			}
		}
	}
}
