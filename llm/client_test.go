package llm

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

// replay is a fake chat server: it checks the request and writes body
// (a golden transcript) byte for byte with the given content type.
func replay(t *testing.T, status int, ctype string, body []byte, hdr map[string]string) (*httptest.Server, *wireRequest) {
	t.Helper()
	got := &wireRequest{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/v1/chat/completions" {
			t.Errorf("%s %s", r.Method, r.URL.Path)
		}
		if a := r.Header.Get("Authorization"); a != "Bearer sk-test" {
			t.Errorf("Authorization %q", a)
		}
		if err := json.NewDecoder(r.Body).Decode(got); err != nil {
			t.Errorf("request body: %v", err)
		}
		for k, v := range hdr {
			w.Header().Set(k, v)
		}
		w.Header().Set("Content-Type", ctype)
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, got
}

func client(url string) *Client {
	c := New(url+"/v1", "qwen2.5:7b")
	c.APIKey = "sk-test"
	return c
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStreamTranscripts(t *testing.T) {
	const want = "타이레놀은 해열진통제입니다 [1]."
	for _, tc := range []struct {
		file, model string
		crlf        bool
		usage       bool
	}{
		{"openai_stream.txt", "gpt-4o-mini-2024-07-18", false, true},
		{"ollama_stream.txt", "qwen2.5:7b", false, false},
		{"llamacpp_stream.txt", "exaone-3.5-2.4b-instruct-q4_k_m.gguf", false, true},
		{"ollama_stream.txt", "qwen2.5:7b", true, false},
	} {
		body := golden(t, tc.file)
		if tc.crlf {
			body = []byte(strings.ReplaceAll(string(body), "\n", "\r\n"))
		}
		srv, got := replay(t, 200, "text/event-stream", body, nil)
		temp := 0.2
		var pieces []string
		res, err := client(srv.URL).Generate(context.Background(), Request{
			Messages:    []Message{{Role: "system", Content: "한국어로 답하세요."}, {Role: "user", Content: "타이레놀은?"}},
			MaxTokens:   64,
			Temperature: &temp,
			Stop:        []string{"\n\n"},
		}, func(p string) error { pieces = append(pieces, p); return nil })
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if res.Text != want || strings.Join(pieces, "") != want || len(pieces) != 4 {
			t.Errorf("%s: text %q pieces %q", tc.file, res.Text, pieces)
		}
		if res.FinishReason != "stop" || res.Model != tc.model || (res.Usage != nil) != tc.usage {
			t.Errorf("%s: %+v", tc.file, res)
		}
		if tc.usage && res.Usage.TotalTokens != 40 {
			t.Errorf("%s: usage %+v", tc.file, res.Usage)
		}
		if !got.Stream || got.Model != "qwen2.5:7b" || got.MaxTokens != 64 || *got.Temperature != 0.2 ||
			got.TopP != nil || len(got.Messages) != 2 || got.Messages[1].Content != "타이레놀은?" || got.Stop[0] != "\n\n" {
			t.Errorf("%s: request %+v", tc.file, got)
		}
	}
}

func TestComplete(t *testing.T) {
	srv, got := replay(t, 200, "application/json", golden(t, "openai_completion.json"), nil)
	res, err := client(srv.URL).Complete(context.Background(), Request{Model: "gpt-4o-mini", Messages: []Message{{Role: "user", Content: "?"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Text != "타이레놀은 해열진통제입니다 [1]." || res.FinishReason != "stop" || res.Usage.TotalTokens != 40 || got.Stream || got.Model != "gpt-4o-mini" {
		t.Errorf("%+v, request %+v", res, got)
	}
	// A server that ignores stream: true and answers JSON is one piece.
	var pieces []string
	res, err = client(srv.URL).Generate(context.Background(), Request{Messages: []Message{{Role: "user", Content: "?"}}},
		func(p string) error { pieces = append(pieces, p); return nil })
	if err != nil || len(pieces) != 1 || pieces[0] != res.Text {
		t.Errorf("%v %q", err, pieces)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	msgs := Request{Messages: []Message{{Role: "user", Content: "?"}}}
	for _, tc := range []struct {
		name   string
		status int
		body   string
		hdr    map[string]string
		want   []string
		retry  time.Duration
	}{
		{"openai 401", 401, `{"error":{"message":"Incorrect API key provided: sk-test. You can find your API key at https://platform.openai.com/account/api-keys.","type":"invalid_request_error","param":null,"code":"invalid_api_key"}}`,
			nil, []string{"refused the request (401 Unauthorized)", "Incorrect API key", "OPENAI_API_KEY"}, 0},
		{"403", 403, `{"error":{"message":"Project does not have access to model","type":"invalid_request_error","param":null,"code":"model_not_found"}}`,
			nil, []string{"403 Forbidden", "check the API key"}, 0},
		{"ollama 404 model", 404, `{"error":{"message":"model \"qwen2.5:7b\" not found, try pulling it first","type":"not_found_error","param":null,"code":null}}`,
			nil, []string{`model "qwen2.5:7b" not found at http://`, "ollama pull qwen2.5:7b", "--llm-model"}, 0},
		{"llama.cpp 404 path", 404, `<html>Not Found</html>`, nil, []string{"404", "is --llm-url the OpenAI-compatible base"}, 0},
		{"openai 429", 429, `{"error":{"message":"Rate limit reached for gpt-4o-mini in organization org-x on requests per min (RPM): Limit 3, Used 3, Requested 1.","type":"requests","param":null,"code":"rate_limit_exceeded"}}`,
			map[string]string{"Retry-After": "20"}, []string{"rate limited", "(429)", "retry after 20s"}, 20 * time.Second},
		{"vllm 500", 500, `{"object":"error","message":"CUDA out of memory","type":"InternalServerError","param":null,"code":500}`,
			nil, []string{"failed (500 Internal Server Error): CUDA out of memory"}, 0},
		{"llama.cpp 503", 503, `{"error":{"code":503,"message":"Loading model","type":"unavailable_error"}}`,
			map[string]string{"Retry-After": "3"}, []string{"503 Service Unavailable", "Loading model", "retry after 3s"}, 3 * time.Second},
		{"proxy 502", 502, "<html><body>Bad Gateway</body></html>", nil, []string{"502 Bad Gateway", "<html>"}, 0},
	} {
		srv, _ := replay(t, tc.status, "application/json", []byte(tc.body), tc.hdr)
		_, err := client(srv.URL).Generate(ctx, msgs, func(string) error { return nil })
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != tc.status || ae.RetryAfter != tc.retry {
			t.Errorf("%s: %#v", tc.name, err)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestStreamCut(t *testing.T) {
	full := string(golden(t, "openai_stream.txt"))
	// Cut after the third content chunk: no finish reason, no [DONE].
	i := strings.Index(full, "진통제입니다")
	cut := full[:i+strings.Index(full[i:], "\n\n")+2]
	srv, _ := replay(t, 200, "text/event-stream", []byte(cut), nil)
	var pieces []string
	res, err := client(srv.URL).Generate(context.Background(), Request{Messages: []Message{{Role: "user", Content: "?"}}},
		func(p string) error { pieces = append(pieces, p); return nil })
	if !errors.Is(err, ErrStreamCut) || !strings.Contains(err.Error(), "before [DONE]") {
		t.Fatalf("err %v", err)
	}
	if res.Text != "타이레놀은 해열진통제입니다" || len(pieces) != 3 {
		t.Errorf("partial %q %q", res.Text, pieces)
	}
	// A finish reason without [DONE] is complete.
	j := strings.Index(full, "data: [DONE]")
	srv, _ = replay(t, 200, "text/event-stream", []byte(full[:j]), nil)
	if _, err := client(srv.URL).Generate(context.Background(), Request{Messages: []Message{{Role: "user", Content: "?"}}}, func(string) error { return nil }); err != nil {
		t.Errorf("finish reason, no [DONE]: %v", err)
	}
}

func TestMidStreamError(t *testing.T) {
	body := `data: {"id":"x","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"부분"},"finish_reason":null}]}` + "\n\n" +
		`data: {"error":{"message":"The server had an error while processing your request.","type":"server_error","param":null,"code":null}}` + "\n\n"
	srv, _ := replay(t, 200, "text/event-stream", []byte(body), nil)
	res, err := client(srv.URL).Generate(context.Background(), Request{Messages: []Message{{Role: "user", Content: "?"}}}, func(string) error { return nil })
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 0 || !strings.Contains(err.Error(), "mid-stream: The server had an error") || res.Text != "부분" {
		t.Errorf("%v %q", err, res.Text)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := New("http://"+addr+"/v1", "m")
	_, err = c.Generate(context.Background(), Request{Messages: []Message{{Role: "user", Content: "?"}}}, func(string) error { return nil })
	var ce *ConnError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no LLM server at http://"+addr+"/v1 — start Ollama") {
		t.Errorf("%v", err)
	}
}

// slow streams one piece, then waits for the client to go away.
func slow(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, `data: {"choices":[{"index":0,"delta":{"content":"첫"},"finish_reason":null}]}`+"\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTimeoutAndCancel(t *testing.T) {
	srv := slow(t)
	c := client(srv.URL)
	c.APIKey = ""
	c.Timeout = 200 * time.Millisecond
	req := Request{Messages: []Message{{Role: "user", Content: "?"}}}
	res, err := c.Generate(context.Background(), req, func(string) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "timed out after 200ms") || res.Text != "첫" {
		t.Errorf("timeout: %v %q", err, res.Text)
	}
	c.Timeout = -1
	ctx, cancel := context.WithCancel(context.Background())
	start := time.Now()
	res, err = c.Generate(ctx, req, func(string) error { cancel(); return nil })
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "cancelled") || res.Text != "첫" || time.Since(start) > 5*time.Second {
		t.Errorf("cancel: %v %q", err, res.Text)
	}
	// emit's error stops the stream and is returned.
	stop := errors.New("enough")
	if _, err = c.Generate(context.Background(), req, func(string) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("emit error: %v", err)
	}
}

func TestNoModel(t *testing.T) {
	_, err := New("http://127.0.0.1:1/v1", "").Generate(context.Background(), Request{}, nil)
	if err == nil || !strings.Contains(err.Error(), "--llm-model") {
		t.Errorf("%v", err)
	}
}

func TestModels(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/models" {
			http.NotFound(w, r)
			return
		}
		io.WriteString(w, `{"object":"list","data":[{"id":"qwen2.5:7b","object":"model","created":1732900000,"owned_by":"library"}]}`)
	}))
	defer srv.Close()
	ms, err := New(srv.URL+"/v1/", "x").Models(context.Background())
	if err != nil || len(ms) != 1 || ms[0].ID != "qwen2.5:7b" || ms[0].OwnedBy != "library" {
		t.Errorf("%v %+v", err, ms)
	}
}

func TestMessageContent(t *testing.T) {
	var ms []Message
	err := json.Unmarshal([]byte(`[{"role":"user","content":"가"},{"role":"user","content":[{"type":"text","text":"나"},{"type":"text","text":"다"}]},{"role":"assistant","content":null}]`), &ms)
	if err != nil || ms[0].Content != "가" || ms[1].Content != "나다" || ms[2].Content != "" || ms[2].Role != "assistant" {
		t.Errorf("%v %+v", err, ms)
	}
	if err := json.Unmarshal([]byte(`{"role":"user","content":[{"type":"image_url","image_url":"x"}]}`), &Message{}); err == nil {
		t.Error("image part accepted")
	}
}

func TestRetryAfter(t *testing.T) {
	if d := retryAfter(time.Now().Add(90 * time.Second).UTC().Format(http.TimeFormat)); d < 85*time.Second || d > 95*time.Second {
		t.Errorf("date: %v", d)
	}
	if retryAfter("soon") != 0 || retryAfter("7") != 7*time.Second {
		t.Error("seconds")
	}
}
