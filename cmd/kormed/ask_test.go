package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/rag"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/testmodel"
)

// fakeLLM is an OpenAI-compatible server that answers by naming source
// [1] of the prompt, streamed or not; it records the models asked for.
func fakeLLM(t *testing.T) (*httptest.Server, *[]string) {
	var models []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/models" {
			io.WriteString(w, `{"object":"list","data":[{"id":"qwen2.5:7b","object":"model","created":1,"owned_by":"library"}]}`)
			return
		}
		var req struct {
			Model    string        `json:"model"`
			Messages []llm.Message `json:"messages"`
			Stream   bool          `json:"stream"`
		}
		json.NewDecoder(r.Body).Decode(&req)
		models = append(models, req.Model)
		user := req.Messages[len(req.Messages)-1].Content
		title := strings.SplitN(strings.SplitN(user, "[1] ", 2)[1], " — ", 2)[0]
		pieces := []string{title + "은", " 해열진통제입니다", " [1]."}
		if !req.Stream {
			b, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion", "created": 1, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": strings.Join(pieces, "")}, "finish_reason": "stop"}}})
			w.Header().Set("Content-Type", "application/json")
			w.Write(b)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		for _, p := range pieces {
			b, _ := json.Marshal(map[string]any{"id": "c", "object": "chat.completion.chunk", "created": 1, "model": req.Model,
				"choices": []any{map[string]any{"index": 0, "delta": map[string]any{"content": p}, "finish_reason": nil}}})
			io.WriteString(w, "data: "+string(b)+"\n\n")
		}
		io.WriteString(w, "data: {\"id\":\"c\",\"object\":\"chat.completion.chunk\",\"created\":1,\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n")
	}))
	t.Cleanup(srv.Close)
	return srv, &models
}

func TestAskCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	writeIndex(t, dir, serveDocs, nil, search.ModelInfo{})
	up, models := fakeLLM(t)
	for _, stream := range []bool{false, true} {
		args := []string{"타이레놀 해열진통제", "--index", dir, "--llm-url", up.URL + "/v1", "--llm-model", "qwen2.5:7b", "--k", "2"}
		if stream {
			args = append(args, "--stream")
		}
		var out, errb bytes.Buffer
		if err := cmdAsk(&out, &errb).Exec(context.Background(), args); err != nil {
			t.Fatalf("stream %v: %v\n%s", stream, err, errb.String())
		}
		s := out.String()
		if !strings.HasPrefix(s, "타이레놀정500밀리그램은 해열진통제입니다 [1].\n") || !strings.Contains(s, "출처:\n *[1] 타이레놀정500밀리그램 (1, ") {
			t.Errorf("stream %v:\n%s", stream, s)
		}
	}
	if len(*models) != 2 || (*models)[0] != "qwen2.5:7b" {
		t.Errorf("models %v", *models)
	}
	// --json, the question after the flags.
	var out bytes.Buffer
	if err := cmdAsk(&out, io.Discard).Exec(context.Background(), []string{"--index", dir, "--llm-url", up.URL + "/v1", "--llm-model", "m", "--json", "타이레놀"}); err != nil {
		t.Fatal(err)
	}
	var a rag.Answer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil || a.Question != "타이레놀" || len(a.Cited) != 1 || a.Sources[0].ID != "1" {
		t.Errorf("%v %s", err, out.String())
	}
	// Errors: no question, no model, the LLM server down.
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--index", dir, "--llm-model", "m"}, "no question"},
		{[]string{"질문", "--index", dir, "--llm-url", up.URL + "/v1"}, "--llm-model is required"},
		{[]string{"질문", "--llm-model", "m"}, "--index is required"},
		{[]string{"타이레놀", "--index", dir, "--llm-url", "http://127.0.0.1:1/v1", "--llm-model", "m"}, "no LLM server at http://127.0.0.1:1/v1"},
	} {
		err := cmdAsk(io.Discard, io.Discard).Exec(context.Background(), tc.args)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v", tc.args, err)
		}
	}
}

func TestServeAsk(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	writeIndex(t, dir, serveDocs, nil, search.ModelInfo{})
	up, _ := fakeLLM(t)
	t.Setenv("KORMED_CLIENT_KEY", "ck")
	url, stderr, _ := startServe(t, "--index", dir, "--llm-url", up.URL+"/v1", "--llm-model", "qwen2.5:7b")
	var a rag.Answer
	if code := callServe(t, "POST", url+"v1/ask", `{"question":"감기약 콧물","k":2}`, &a, "Authorization", "Bearer ck"); code != 200 || a.Sources[0].Title != "판콜에이내복액" || a.Text != "판콜에이내복액은 해열진통제입니다 [1]." {
		t.Errorf("%d %+v", code, a)
	}
	if code := callServe(t, "POST", url+"v1/ask", `{"question":"감기약 콧물","k":2}`, nil); code != 401 {
		t.Errorf("without the client key: %d", code)
	}
	var list struct {
		Data []llm.Model `json:"data"`
	}
	callServe(t, "GET", url+"v1/models", "", &list)
	if len(list.Data) != 1 || list.Data[0].ID != "qwen2.5:7b" {
		t.Errorf("models %+v", list)
	}
	if !strings.Contains(stderr.String(), "answers (/v1/ask, /v1/chat/completions) by qwen2.5:7b") {
		t.Errorf("stderr: %s", stderr)
	}

	// --public-generation opens them without a key, and says so at start.
	t.Setenv("KORMED_CLIENT_KEY", "")
	url, stderr, _ = startServe(t, "--index", dir, "--llm-url", up.URL+"/v1", "--llm-model", "qwen2.5:7b", "--public-generation")
	if code := callServe(t, "POST", url+"v1/ask", `{"question":"감기약 콧물","k":2}`, nil); code != 200 {
		t.Errorf("--public-generation: %d", code)
	}
	if !strings.Contains(stderr.String(), `"level":"WARN","msg":"--public-generation: anyone`) {
		t.Errorf("stderr: %s", stderr)
	}
}

// TestAskOwnDecoder answers with kormed's own decoder (--generator), a
// tiny random EXAONE given room for the prompt.
func TestAskOwnDecoder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	writeIndex(t, dir, serveDocs, nil, search.ModelInfo{})
	gdir := filepath.Join(t.TempDir(), "exaone")
	if err := testmodel.WriteDecoder(gdir, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Std: 0.2}); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(gdir, "config.json")
	raw, _ := os.ReadFile(cfgPath)
	var cfg map[string]any
	json.Unmarshal(raw, &cfg)
	cfg["max_position_embeddings"] = 4096
	raw, _ = json.Marshal(cfg)
	os.WriteFile(cfgPath, raw, 0o644)
	var out, errb bytes.Buffer
	if err := cmdAsk(&out, &errb).Exec(context.Background(), []string{"--index", dir, "--generator", gdir, "--max-tokens", "6", "--json", "타이레놀 해열진통제"}); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var a rag.Answer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil || len(a.Sources) == 0 || a.Sources[0].ID != "1" || a.Text == "" || a.Model != gdir {
		t.Errorf("%v %s", err, out.String())
	}
}

// TestAskCalibrate measures --min-coverage and --min-dense on a
// three-query benchmark over
// serveDocs indexed with the tiny random model.
func TestAskCalibrate(t *testing.T) {
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "ix")
	m, err := model.Load(tinyModelDir("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	m.SetName(tinyModelDir("tiny-xlmr"))
	writeIndex(t, dir, serveDocs, m, base.ModelInfo(m))
	bench := filepath.Join(tmp, "bench")
	os.MkdirAll(filepath.Join(bench, "qrels"), 0o755)
	var corpus strings.Builder
	for _, d := range serveDocs {
		b, _ := json.Marshal(map[string]string{"_id": d.ID, "title": d.Title, "text": d.Text})
		corpus.Write(append(b, '\n'))
	}
	os.WriteFile(filepath.Join(bench, "corpus.jsonl"), []byte(corpus.String()), 0o644)
	os.WriteFile(filepath.Join(bench, "queries.jsonl"), []byte(`{"_id":"q1","text":"타이레놀 해열진통제"}
{"_id":"q2","text":"콧물 기침에 먹는 감기약"}
{"_id":"q3","text":"혈압을 낮추는 약"}
`), 0o644)
	os.WriteFile(filepath.Join(bench, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\t1\t1\nq2\t2\t1\nq3\t3\t1\n"), 0o644)
	off := filepath.Join(tmp, "off.txt")
	os.WriteFile(off, []byte("내일 날씨 어때요\n\n축구 경기 결과\n"), 0o644)

	var out, errb bytes.Buffer
	if err := cmdAsk(&out, &errb).Exec(context.Background(), []string{"--calibrate", bench, "--index", dir, "--off-topic", off, "--k", "2", "--json"}); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var c rag.Calibration
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	// The random model puts every text near every other (cosines
	// 0.96–0.99): the keyword side finds only the three questions, with
	// coverages 1 (q1), 0.4854 (q2: 침에 and 먹는 are not in its product)
	// and 0.1055 (q3: only 혈압 of 혈압을 낮추는 약); their deleted twins
	// and the off-topic ones are left to the dense cosine, and the
	// off-topic ones score highest (0.9857, 0.9881). At the default
	// coverage (0.30) q3 is answered only by its cosine, so only a MinDense
	// above the off-topic ones (0.99) refuses them all, and q3 with them.
	if c.Answerable != 3 || c.Deleted != 3 || c.OffTopic != 2 || c.KeywordAnswerable != 3 || c.KeywordUnanswerable != 0 || len(c.Scores) != 8 || c.MinCoverage != rag.DefaultMinCoverage || c.MinDense != rag.DefaultMinDense {
		t.Errorf("counts %+v", c)
	}
	for i, w := range []float64{1, 0.4854, 0.1055} {
		if s := c.Scores[i]; !s.Keyword || s.Coverage == nil || math.Abs(*s.Coverage-w) > 5e-5 {
			t.Errorf("%s: %+v", s.ID, s)
		}
	}
	if s := c.Scores[7]; s.ID != "off-topic-02" || s.Keyword || s.Coverage != nil || s.Dense == nil || math.Abs(*s.Dense-0.9881) > 5e-4 {
		t.Errorf("off-topic-02: %+v", s)
	}
	if b := c.Relevant.Best; b.Threshold != 0.99 || b.TP != 2 || b.FP != 0 || b.FN != 1 || b.TN != 5 || math.Abs(b.F1-0.8) > 1e-12 {
		t.Errorf("best %+v", b)
	}
	if a := c.Relevant.At; len(a) != 1 || a[0].Threshold != rag.DefaultMinDense || a[0].TP != 3 || a[0].FP != 5 || a[0].TN != 0 || math.Abs(a[0].F1-6.0/11) > 1e-12 {
		t.Errorf("at the default %+v", a)
	}
	if b := c.DenseOnly.Best; b.Threshold != 0.48 || b.TP != 3 || b.FP != 5 {
		t.Errorf("dense only %+v", b)
	}
	// Coverage alone (--min-dense -1): every MinCoverage up to q3's
	// 0.1055 separates perfectly (0.01…0.10, middle 0.05); the default
	// loses q3, so does the asked 0.20.
	out.Reset()
	if err := cmdAsk(&out, &errb).Exec(context.Background(), []string{"--calibrate", bench, "--index", dir, "--off-topic", off, "--k", "2", "--json", "--min-dense", "-1", "--min-coverage", "0.2"}); err != nil {
		t.Fatal(err)
	}
	c = rag.Calibration{}
	if err := json.Unmarshal(out.Bytes(), &c); err != nil {
		t.Fatal(err)
	}
	if b := c.Coverage.Best; b.Threshold != 0.05 || b.TP != 3 || b.FP != 0 || b.FN != 0 || b.TN != 5 || b.F1 != 1 {
		t.Errorf("coverage best %+v", b)
	}
	if a := c.Coverage.At; len(a) != 3 || a[0].Threshold != 0 || a[0].TP != 3 || a[0].TN != 5 ||
		a[1].Threshold != rag.DefaultMinCoverage || a[1].TP != 2 || a[1].FN != 1 || a[2].Threshold != 0.2 || a[2].TP != 2 || a[2].FN != 1 {
		t.Errorf("coverage at %+v", a)
	}
	out.Reset()
	if err := cmdAsk(&out, &errb).Exec(context.Background(), []string{"--calibrate", bench, "--index", dir, "--off-topic", off, "--k", "2", "--min-dense", "0.9"}); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"questions: 3 answerable, 3 with their sources deleted, 2 off-topic\n",
		"     0.00     0.3750  1.0000  0.5455      3     5     0     0  no coverage bound (any keyword hit)\n",
		"     0.99     1.0000  0.6667  0.8000      2     0     1     5  best F1\n",
		"     0.80     0.3750  1.0000  0.5455      3     5     0     0  default\n",
		"     0.90     0.3750  1.0000  0.5455      3     5     0     0  asked\n"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("output lacks %q:\n%s", w, out.String())
		}
	}
	// Errors: a question as well, a benchmark of another corpus.
	if err := cmdAsk(io.Discard, io.Discard).Exec(context.Background(), []string{"질문", "--calibrate", bench, "--index", dir}); err == nil || !strings.Contains(err.Error(), "drop the question") {
		t.Errorf("question with --calibrate: %v", err)
	}
	os.WriteFile(filepath.Join(bench, "qrels", "test.tsv"), []byte("query-id\tcorpus-id\tscore\nq1\t9\t1\n"), 0o644)
	os.WriteFile(filepath.Join(bench, "corpus.jsonl"), []byte(`{"_id":"9","text":"다른 문서"}`+"\n"), 0o644)
	if err := cmdAsk(io.Discard, io.Discard).Exec(context.Background(), []string{"--calibrate", bench, "--index", dir}); err == nil || !strings.Contains(err.Error(), "none of the 1 test queries has its relevant documents in") {
		t.Errorf("foreign benchmark: %v", err)
	}
}

// TestAskTokenBudget: --budget counts the --generator model's tokens and
// the prompt is bounded by its context (max_position_embeddings);
// --tokenizer does the same for an LLM server; without either it counts
// characters and says so.
func TestAskTokenBudget(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ix")
	writeIndex(t, dir, serveDocs, nil, search.ModelInfo{})
	gdir := filepath.Join(t.TempDir(), "exaone")
	if err := testmodel.WriteDecoder(gdir, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Std: 0.2}); err != nil {
		t.Fatal(err)
	}
	setMaxPos := func(n int) {
		cfgPath := filepath.Join(gdir, "config.json")
		raw, _ := os.ReadFile(cfgPath)
		var cfg map[string]any
		json.Unmarshal(raw, &cfg)
		cfg["max_position_embeddings"] = n
		raw, _ = json.Marshal(cfg)
		os.WriteFile(cfgPath, raw, 0o644)
	}
	// The tiny model's 256 positions cannot hold the instructions.
	err := cmdAsk(io.Discard, io.Discard).Exec(context.Background(), []string{"--index", dir, "--generator", gdir, "--max-tokens", "6", "타이레놀 해열진통제"})
	if err == nil || !strings.Contains(err.Error(), "more than the model's context of 256 tokens") {
		t.Errorf("256 positions: %v", err)
	}
	// 1,100 positions: the answer gets its 6, the chat-templated prompt
	// without sources 875 (one byte a token with this tokenizer), the
	// sources the 219 left.
	setMaxPos(1100)
	var out, errb bytes.Buffer
	if err := cmdAsk(&out, &errb).Exec(context.Background(), []string{"--index", dir, "--generator", gdir, "--max-tokens", "6", "--k", "3", "--json", "타이레놀 해열진통제"}); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var a rag.Answer
	if err := json.Unmarshal(out.Bytes(), &a); err != nil {
		t.Fatal(err)
	}
	notes := strings.Join(a.Notes, "\n")
	if !strings.Contains(notes, "the source budget was lowered from 4000 to 219 tokens") || !strings.Contains(notes, "so that the prompt and the answer's 6 tokens fit the model's context of 1100") || strings.Contains(errb.String(), "counts characters") {
		t.Errorf("notes %q\nstderr %s", a.Notes, errb.String())
	}
	// An LLM server: characters, said on stderr; with --tokenizer, tokens.
	up, _ := fakeLLM(t)
	errb.Reset()
	if err := cmdAsk(&out, &errb).Exec(context.Background(), []string{"--index", dir, "--llm-url", up.URL + "/v1", "--llm-model", "m", "--budget", "45", "--json", "해열진통제 감기약"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "kormed ask: no tokenizer for m: --budget counts characters") {
		t.Errorf("stderr: %s", errb.String())
	}
	out.Reset()
	errb.Reset()
	if err := cmdAsk(&out, &errb).Exec(context.Background(), []string{"--index", dir, "--llm-url", up.URL + "/v1", "--llm-model", "m", "--tokenizer", gdir, "--max-tokens", "50", "--budget", "60", "--json", "해열진통제 감기약"}); err != nil {
		t.Fatal(err)
	}
	a = rag.Answer{}
	json.Unmarshal(out.Bytes(), &a)
	if errb.Len() != 0 || !strings.Contains(strings.Join(a.Notes, "\n"), "sources fit the context budget of 60 tokens") {
		t.Errorf("--tokenizer: notes %q stderr %s", a.Notes, errb.String())
	}
	if err := cmdAsk(io.Discard, io.Discard).Exec(context.Background(), []string{"--index", dir, "--generator", gdir, "--tokenizer", gdir, "q"}); err == nil || !strings.Contains(err.Error(), "--tokenizer goes with --llm-url") {
		t.Errorf("--tokenizer with --generator: %v", err)
	}
}
