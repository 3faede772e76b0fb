package serve

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/rag"
)

// fakeOpenAI answers chat completions in OpenAI's format (streamed or
// not), citing source [1] of the prompt by title.
func fakeOpenAI(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			Model    string        `json:"model"`
			Messages []llm.Message `json:"messages"`
			Stream   bool          `json:"stream"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil || len(req.Messages) != 2 {
			http.Error(w, `{"error":{"message":"bad request","type":"invalid_request_error","param":null,"code":null}}`, 400)
			return
		}
		user := req.Messages[1].Content
		title := strings.TrimSpace(strings.SplitN(strings.SplitN(user, "[1] ", 2)[1], " — ", 2)[0])
		pieces := []string{title + "은", " 관련 제품입니다", " [1]."}
		if !req.Stream {
			b, _ := json.Marshal(map[string]any{"id": "chatcmpl-1", "object": "chat.completion", "created": 1, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": strings.Join(pieces, "")}, "finish_reason": "stop"}}})
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range pieces {
			b, _ := json.Marshal(map[string]any{"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": p}, "finish_reason": nil}}})
			io.WriteString(w, "data: "+string(b)+"\n\n")
		}
		io.WriteString(w, `data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"`+req.Model+`","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}`+"\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestAskJSON(t *testing.T) {
	up := fakeOpenAI(t)
	_, ts := newTestServer(t, newService(t, true, nil), Options{Generator: llm.New(up.URL+"/v1", "qwen2.5:7b"), GeneratorModel: "qwen2.5:7b", PublicGeneration: true})
	r := call(t, ts, "POST", "/v1/ask", map[string]any{"question": "임산부 부루펜 복용", "k": 3})
	if r.status != 200 {
		t.Fatalf("%d %s", r.status, r.body)
	}
	var a rag.Answer
	r.json(t, &a)
	if a.Sources[0].Title != "부루펜정200밀리그램" || a.Text != "부루펜정200밀리그램은 관련 제품입니다 [1]." || len(a.Cited) != 1 || !a.Sources[0].Cited || a.Model != "qwen2.5:7b" {
		t.Errorf("%+v", a)
	}
	if len(a.Rules) == 0 || len(a.Warnings) != 1 || a.Warnings[0].Type != "임부금기" || a.Warnings[0].ID != "200000003" {
		t.Errorf("rules %+v warnings %+v", a.Rules, a.Warnings)
	}
	// Request errors stay 400s.
	for body, want := range map[string]string{`{"question":""}`: "empty", `{"question":"x","k":99}`: "k: 99", `{"question":"x","bogus":1}`: "unknown field"} {
		if r := call(t, ts, "POST", "/v1/ask", body); r.status != 400 || !strings.Contains(r.errMsg(t), want) {
			t.Errorf("%s: %d %s", body, r.status, r.body)
		}
	}
}

func TestAskStream(t *testing.T) {
	up := fakeOpenAI(t)
	_, ts := newTestServer(t, newService(t, true, nil), Options{Generator: llm.New(up.URL+"/v1", "qwen2.5:7b"), PublicGeneration: true})
	r := call(t, ts, "POST", "/v1/ask", `{"question":"타이레놀 두통","k":2,"stream":true}`)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("%d %s", r.status, r.body)
	}
	events := strings.Split(strings.TrimSuffix(string(r.body), "\n\n"), "\n\n")
	wantText := []string{`{"text":"타이레놀정500밀리그램은"}`, `{"text":" 관련 제품입니다"}`, `{"text":" [1]."}`}
	if len(events) != 4 {
		t.Fatalf("events %q", events)
	}
	for i, w := range wantText {
		if events[i] != "event: text\ndata: "+w {
			t.Errorf("event %d: %q", i, events[i])
		}
	}
	last, ok := strings.CutPrefix(events[3], "event: answer\ndata: ")
	var a rag.Answer
	if !ok || json.Unmarshal([]byte(last), &a) != nil || a.Text != "타이레놀정500밀리그램은 관련 제품입니다 [1]." || len(a.Sources) == 0 || a.Cited[0] != 1 {
		t.Errorf("answer event %q", events[3])
	}
	// No relevant source: the refusal, without calling the generator.
	up.Close()
	r = call(t, ts, "POST", "/v1/ask", `{"question":"zzzz qqqq","stream":true,"mode":"bm25"}`)
	if r.status != 200 || !strings.Contains(string(r.body), "event: text\ndata: {\"text\":\""+rag.NoSourceText+"\"}") || !strings.Contains(string(r.body), `"no_source":true`) {
		t.Errorf("%d %s", r.status, r.body)
	}
	// The generator down: before the stream starts, a generic 502 (the
	// reason and the upstream's URL are in the log).
	r = call(t, ts, "POST", "/v1/ask", `{"question":"타이레놀","stream":true}`, "X-Request-Id", "req-502")
	if r.status != 502 || string(r.body) != `{"error":"upstream error","request_id":"req-502"}`+"\n" {
		t.Errorf("%d %s", r.status, r.body)
	}
}
