package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kormed/kormed/llm"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/tokenizer"
)

// wordEncoder is hashEncoder with a tokenizer: one token per word.
type wordEncoder struct{ hashEncoder }

func (wordEncoder) Tokenize(texts []string, prefix string) ([]tokenizer.Encoding, error) {
	out := make([]tokenizer.Encoding, len(texts))
	for i, t := range texts {
		out[i].IDs = make([]int32, len(strings.Fields(prefix+t)))
	}
	return out, nil
}

func TestEmbedLimits(t *testing.T) {
	svc := newService(t, true, nil)
	_, ts := newTestServer(t, svc, Options{MaxEmbedTexts: 3, MaxEmbedTokens: 20})
	r := call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{"a", "b", "c", "d"}})
	if msg := r.errMsg(t); r.status != 413 || !strings.Contains(msg, "texts: 4, at most 3") || !strings.Contains(msg, "--max-embed-texts") {
		t.Errorf("4 texts: %d %s", r.status, r.body)
	}
	// hashEncoder has no tokenizer: characters stand for tokens.
	r = call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{"가나다라마바사아자차", "가나다라마바사아자차카"}})
	if msg := r.errMsg(t); r.status != 413 || !strings.Contains(msg, "21 tokens, at most 20") || !strings.Contains(msg, "--max-embed-tokens") {
		t.Errorf("21 characters: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{"가나다라마바사아자차", "가나다라마바사아자차"}}); r.status != 200 {
		t.Errorf("20 characters: %d %s", r.status, r.body)
	}
	// An encoder that tokenises is asked for its token counts.
	svc.Enc = wordEncoder{hashEncoder{dim: testModel.Dim}}
	_, ts = newTestServer(t, svc, Options{MaxEmbedTokens: 5})
	long := "가나다라마바사아자차카타파하 가나다라마바사아자차카타파하"
	if r := call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{long, long}}); r.status != 200 {
		t.Errorf("4 tokens of 58 characters: %d %s", r.status, r.body)
	}
	r = call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{long, long, long}})
	if msg := r.errMsg(t); r.status != 413 || !strings.Contains(msg, "6 tokens, at most 5") {
		t.Errorf("6 tokens: %d %s", r.status, r.body)
	}
}

// stalling blocks the search 멈춤 until its context ends and reports the
// context's error on errs.
type stalling struct {
	search.Backend
	errs chan error
}

func (b *stalling) Search(ctx context.Context, q search.Query) ([]search.Hit, error) {
	if q.Query == "멈춤" {
		<-ctx.Done()
		b.errs <- ctx.Err()
		return nil, ctx.Err()
	}
	return b.Backend.Search(ctx, q)
}

func TestRequestDeadline(t *testing.T) {
	var logs syncBuffer
	errs := make(chan error, 1)
	svc := newService(t, false, func(b search.Backend) search.Backend { return &stalling{Backend: b, errs: errs} })
	_, ts := newTestServer(t, svc, Options{RequestTimeout: 50 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(&logs, nil))})
	start := time.Now()
	r := call(t, ts, "POST", "/v1/search", `{"query":"멈춤"}`, "X-Request-Id", "slow-1")
	if msg := r.errMsg(t); r.status != 504 || !strings.Contains(msg, "deadline of 50ms") {
		t.Errorf("past the deadline: %d %s", r.status, r.body)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("answered after %s", d)
	}
	if err := <-errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the search's context ended with %v, want context.DeadlineExceeded", err)
	}
	if !strings.Contains(logs.String(), `"status":504`) || !strings.Contains(logs.String(), `"msg":"request deadline passed"`) {
		t.Errorf("the 504 is not logged:\n%s", logs.String())
	}
	// Other requests are unaffected; the default deadline is the write
	// timeout less 10 s.
	if r := call(t, ts, "GET", "/v1/documents/200000001", nil); r.status != 200 {
		t.Errorf("a request after a 504: %d %s", r.status, r.body)
	}
	if d := New(svc, Options{}).opts.RequestTimeout; d != 50*time.Second {
		t.Errorf("default request timeout %s", d)
	}
	if o := New(svc, Options{RequestTimeout: 90 * time.Second}).opts; o.WriteTimeout != 100*time.Second {
		t.Errorf("a 90 s deadline leaves the write timeout at %s", o.WriteTimeout)
	}
}

// slowGen emits "a", waits, then emits "b"; it reports on errs when its
// context ends first.
type slowGen struct {
	wait time.Duration
	errs chan error
}

func (g *slowGen) Generate(ctx context.Context, req llm.Request, emit func(string) error) (llm.Result, error) {
	if err := emit("a"); err != nil {
		return llm.Result{}, err
	}
	select {
	case <-time.After(g.wait):
	case <-ctx.Done():
		g.errs <- ctx.Err()
		return llm.Result{}, ctx.Err()
	}
	if err := emit("b"); err != nil {
		return llm.Result{}, err
	}
	return llm.Result{Text: "ab", FinishReason: "stop"}, nil
}

func TestRequestDeadlineGeneration(t *testing.T) {
	gen := &slowGen{wait: 10 * time.Second, errs: make(chan error, 1)}
	opts := Options{Generator: gen, GeneratorModel: "fake", PublicGeneration: true, RequestTimeout: 50 * time.Millisecond}
	_, ts := newTestServer(t, newService(t, false, nil), opts)
	body := `{"messages":[{"role":"user","content":"?"}]}`
	r := call(t, ts, "POST", "/v1/chat/completions", body)
	var oe OpenAIError
	r.json(t, &oe)
	if r.status != 504 || oe.Error.Code == nil || *oe.Error.Code != "timeout" || !strings.Contains(oe.Error.Message, "--request-timeout") {
		t.Errorf("generation past the deadline: %d %s", r.status, r.body)
	}
	if err := <-gen.errs; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("the generation's context ended with %v", err)
	}
	// A stream that started before the deadline runs on past it.
	gen.wait = 200 * time.Millisecond
	r = call(t, ts, "POST", "/v1/chat/completions", strings.Replace(body, "{", `{"stream":true,`, 1))
	if r.status != 200 || !strings.Contains(string(r.body), `"content":"b"`) || !strings.HasSuffix(string(r.body), "data: [DONE]\n\n") {
		t.Errorf("stream past the deadline: %d %s", r.status, r.body)
	}
}

// gate holds the embedding of "wait" until release is closed.
type gate struct {
	hashEncoder
	started chan struct{}
	release chan struct{}
}

func (g gate) EncodePassages(ctx context.Context, texts []string) ([][]float32, error) {
	if len(texts) > 0 && texts[0] == "wait" {
		close(g.started)
		<-g.release
	}
	return g.hashEncoder.EncodePassages(ctx, texts)
}

func TestMaxInflight(t *testing.T) {
	g := gate{hashEncoder{dim: testModel.Dim}, make(chan struct{}), make(chan struct{})}
	svc := newService(t, true, nil)
	svc.Enc = g
	_, ts := newTestServer(t, svc, Options{APIKey: "k", MaxInflight: 1, RequestTimeout: 10 * time.Minute})
	first := make(chan reply, 1)
	go func() { first <- call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{"wait"}}) }()
	<-g.started
	r := call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{"두통"}})
	if msg := r.errMsg(t); r.status != 429 || r.header.Get("Retry-After") != "1" || !strings.Contains(msg, "--max-inflight") {
		t.Errorf("second embed: %d %v %s", r.status, r.header, r.body)
	}
	if r := call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: []search.Doc{{ID: "x", Text: "x"}}}, "X-API-Key", "k"); r.status != 429 {
		t.Errorf("a write while an embed runs: %d %s", r.status, r.body)
	}
	// Searches have a limit of their own (4 × MaxInflight).
	if resp := search_(t, ts, search.Request{Query: "두통"}); len(resp.Hits) == 0 {
		t.Error("no hits")
	}
	close(g.release)
	if r := <-first; r.status != 200 {
		t.Errorf("first embed: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "POST", "/v1/embed", EmbedRequest{Texts: []string{"두통"}}); r.status != 200 {
		t.Errorf("embed after the first finished: %d %s", r.status, r.body)
	}
}

func TestMaxInflightSearch(t *testing.T) {
	started, release := make(chan struct{}), make(chan struct{})
	svc := newService(t, false, func(b search.Backend) search.Backend {
		return &blocking{Backend: b, started: started, release: release}
	})
	_, ts := newTestServer(t, svc, Options{MaxInflightSearch: 1, RequestTimeout: 10 * time.Minute})
	first := make(chan reply, 1)
	go func() { first <- call(t, ts, "POST", "/v1/search", `{"query":"느린질문"}`) }()
	<-started
	if r := call(t, ts, "GET", "/v1/search?q="+urlq("두통"), nil); r.status != 429 || r.header.Get("Retry-After") == "" ||
		!strings.Contains(r.errMsg(t), "--max-inflight-search") {
		t.Errorf("second search: %d %v %s", r.status, r.header, r.body)
	}
	if r := call(t, ts, "GET", "/healthz", nil); r.status != 200 {
		t.Errorf("healthz while a search runs: %d %s", r.status, r.body)
	}
	close(release)
	if r := <-first; r.status != 200 {
		t.Errorf("first search: %d %s", r.status, r.body)
	}
}

// counting counts the backend's upserts; it holds one whose first
// document is "hold" until release is closed, and fails one whose first
// document is "fail".
type counting struct {
	search.Backend
	upserts atomic.Int64
	release chan struct{}
}

func (c *counting) Upsert(ctx context.Context, docs []search.Doc, vecs [][]float32) error {
	c.upserts.Add(1)
	switch docs[0].ID {
	case "hold":
		<-c.release
	case "fail":
		return errors.New("disk on fire at /secret/path")
	}
	return c.Backend.Upsert(ctx, docs, vecs)
}

func jobDocs(prefix string, n int) []search.Doc {
	docs := make([]search.Doc, n)
	for i := range docs {
		// 50 characters each.
		docs[i] = search.Doc{ID: fmt.Sprintf("%s%d", prefix, i), Title: "작업문서", Text: strings.Repeat("비동기쓰기", 9) + "끝"}
	}
	return docs
}

func waitJob(t *testing.T, s *Server, id string) {
	t.Helper()
	_, done, ok := s.jobs.get(id)
	if !ok {
		t.Fatalf("no job %s", id)
	}
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("job %s did not finish", id)
	}
}

func TestDocumentJobs(t *testing.T) {
	cb := &counting{release: make(chan struct{})}
	svc := newService(t, false, func(b search.Backend) search.Backend { cb.Backend = b; return cb })
	s, ts := newTestServer(t, svc, Options{APIKey: "k", SyncWriteChars: 100, MaxJobs: 1})
	key := []string{"X-API-Key", "k"}
	docs := jobDocs("job", 5)
	if n := docChars(docs[0]); n != 50 {
		t.Fatalf("test document of %d characters", n)
	}

	// Over the synchronous bound: a job, written in batches of at most
	// 100 characters.
	cb.upserts.Store(0)
	r := call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: docs}, key...)
	var j Job
	r.json(t, &j)
	if r.status != 202 || !strings.HasPrefix(j.ID, "job-") || j.Documents != 5 || r.header.Get("Location") != "/v1/jobs/"+j.ID {
		t.Fatalf("large write: %d %v %s", r.status, r.header, r.body)
	}
	waitJob(t, s, j.ID)
	r = call(t, ts, "GET", "/v1/jobs/"+j.ID, nil, key...)
	var got Job
	r.json(t, &got)
	if r.status != 200 || got.Status != JobDone || got.Done != 5 || got.Upserted != 5 || got.Error != "" || got.Finished == nil {
		t.Errorf("finished job: %d %s", r.status, r.body)
	}
	if n := cb.upserts.Load(); n != 3 {
		t.Errorf("%d batches, want 3 (2+2+1 documents of 50 characters)", n)
	}
	if r := call(t, ts, "GET", "/v1/documents/job4", nil); r.status != 200 {
		t.Errorf("a document the job wrote: %d %s", r.status, r.body)
	}
	// The job route needs the write key.
	if r := call(t, ts, "GET", "/v1/jobs/"+j.ID, nil); r.status != 401 {
		t.Errorf("job without the key: %d %s", r.status, r.body)
	}
	if r := call(t, ts, "GET", "/v1/jobs/job-nope", nil, key...); r.status != 404 {
		t.Errorf("unknown job: %d %s", r.status, r.body)
	}

	// async=false refuses a large write; a small one is written at once;
	// async=true makes a job of any write.
	r = call(t, ts, "POST", "/v1/documents?async=false", UpsertRequest{Documents: docs}, key...)
	if msg := r.errMsg(t); r.status != 413 || !strings.Contains(msg, "250 characters, at most 100") || !strings.Contains(msg, "--max-sync-write-chars") {
		t.Errorf("large write with async=false: %d %s", r.status, r.body)
	}
	r = call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: docs[:2]}, key...)
	if r.status != 200 || strings.TrimSpace(string(r.body)) != `{"upserted":2}` {
		t.Errorf("small write: %d %s", r.status, r.body)
	}
	r = call(t, ts, "POST", "/v1/documents?async=true", UpsertRequest{Documents: docs[:1]}, key...)
	r.json(t, &j)
	if r.status != 202 {
		t.Fatalf("small write with async=true: %d %s", r.status, r.body)
	}
	waitJob(t, s, j.ID)
	for _, q := range []string{"?async=maybe", "?sync=1", "?async=1&async=0"} {
		if r := call(t, ts, "POST", "/v1/documents"+q, UpsertRequest{Documents: docs[:1]}, key...); r.status != 400 {
			t.Errorf("%s: %d %s", q, r.status, r.body)
		}
	}
	// A job's documents are checked before the 202.
	bad := append(jobDocs("bad", 3), search.Doc{ID: " ", Text: "x"})
	if r := call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: bad}, key...); r.status != 400 {
		t.Errorf("invalid documents: %d %s", r.status, r.body)
	}

	// MaxJobs queued or running: the next is a 429.
	hold := append([]search.Doc{{ID: "hold", Text: "잠시 대기"}}, jobDocs("held", 3)...)
	r = call(t, ts, "POST", "/v1/documents?async=true", UpsertRequest{Documents: hold}, key...)
	r.json(t, &j)
	if r.status != 202 {
		t.Fatalf("held job: %d %s", r.status, r.body)
	}
	r = call(t, ts, "POST", "/v1/documents?async=true", UpsertRequest{Documents: docs}, key...)
	if r.status != 429 || r.header.Get("Retry-After") == "" || !strings.Contains(r.errMsg(t), "--max-jobs") {
		t.Errorf("a job over MaxJobs: %d %v %s", r.status, r.header, r.body)
	}
	r = call(t, ts, "GET", "/v1/jobs/"+j.ID, nil, key...)
	r.json(t, &got)
	if got.Status != JobRunning || got.Done != 0 || got.Started == nil {
		t.Errorf("held job while held: %s", r.body)
	}
	close(cb.release)
	waitJob(t, s, j.ID)

	// A failing batch fails the job: what was written before stays, the
	// reason is in the log, not in the report.
	fail := append(jobDocs("ok", 2), append([]search.Doc{{ID: "fail", Text: strings.Repeat("가", 60)}}, jobDocs("never", 2)...)...)
	r = call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: fail}, key...)
	r.json(t, &j)
	if r.status != 202 {
		t.Fatalf("failing job: %d %s", r.status, r.body)
	}
	waitJob(t, s, j.ID)
	r = call(t, ts, "GET", "/v1/jobs/"+j.ID, nil, key...)
	got = Job{}
	r.json(t, &got)
	if got.Status != JobFailed || got.Done != 2 || got.Upserted != 0 || !strings.Contains(got.Error, "internal error") || strings.Contains(got.Error, "secret") {
		t.Errorf("failed job: %s", r.body)
	}
}

func TestJobRetention(t *testing.T) {
	js := newJobs(1)
	var first string
	for i := 0; i < maxFinishedJobs+5; i++ {
		j, ok := js.submit([]search.Doc{{ID: "a", Text: "a"}}, func(j *job) { js.finish(j, "") })
		if !ok {
			t.Fatalf("job %d refused", i)
		}
		if i == 0 {
			first = j.ID
		}
		_, done, _ := js.get(j.ID)
		<-done
	}
	if _, _, ok := js.get(first); ok {
		t.Error("the oldest finished job is still kept")
	}
	js.mu.Lock()
	n := len(js.byID)
	js.mu.Unlock()
	if n != maxFinishedJobs {
		t.Errorf("%d jobs kept, want %d", n, maxFinishedJobs)
	}
}

func TestBatches(t *testing.T) {
	d := func(n int) search.Doc { return search.Doc{Text: strings.Repeat("가", n)} }
	sizes := func(bs [][]search.Doc) (out []int) {
		for _, b := range bs {
			out = append(out, len(b))
		}
		return out
	}
	for _, c := range []struct {
		docs  []search.Doc
		limit int
		want  string
	}{
		{[]search.Doc{d(10), d(10), d(10)}, 20, "[2 1]"},
		{[]search.Doc{d(30), d(10), d(10)}, 20, "[1 2]"},
		{[]search.Doc{d(5)}, 20, "[1]"},
		{[]search.Doc{d(10), d(30), d(30), d(1)}, 20, "[1 1 1 1]"},
		{[]search.Doc{d(10), d(10), d(10), d(10), d(1)}, 25, "[2 3]"},
	} {
		if got := fmt.Sprint(sizes(batches(c.docs, c.limit))); got != c.want {
			t.Errorf("batches of %d: %s, want %s", c.limit, got, c.want)
		}
	}
}

// A client that trickles its body holds no concurrency slot: the body is
// read before the slot is taken, so an authenticated write still runs.
func TestSlowBodyHoldsNoSlot(t *testing.T) {
	svc := newService(t, true, nil)
	_, ts := newTestServer(t, svc, Options{APIKey: "k", MaxInflight: 1})
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/embed HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"texts\":[\"")
	time.Sleep(200 * time.Millisecond)
	r := call(t, ts, "POST", "/v1/documents", UpsertRequest{Documents: []search.Doc{{ID: "x", Text: "x"}}}, "X-API-Key", "k")
	if r.status != 200 {
		t.Errorf("an authenticated write while another client trickles a body: %d %s", r.status, r.body)
	}
}

// slowCommit's writes pass their commit point (search.Commit) either
// before or after waiting past the request's deadline; committed reports
// each write that went through.
type slowCommit struct {
	search.Backend
	commitFirst bool
	wait        time.Duration
	committed   chan string
}

func (b *slowCommit) Upsert(ctx context.Context, docs []search.Doc, vecs [][]float32) error {
	if !b.commitFirst {
		time.Sleep(b.wait)
	}
	if err := search.Commit(ctx); err != nil {
		return err
	}
	if b.commitFirst {
		time.Sleep(b.wait) // an fsync and an install after the commit point
	}
	if err := b.Backend.Upsert(context.Background(), docs, vecs); err != nil {
		return err
	}
	b.committed <- docs[0].ID
	return nil
}

// A write is answered as it ends: one that passes its commit point before
// the deadline is a 200 however long it then takes, never a 504 for a
// committed write; one that reaches it after the 504 went out is not made.
func TestWriteCommitPoint(t *testing.T) {
	for _, first := range []bool{true, false} {
		committed := make(chan string, 1)
		svc := newService(t, false, func(b search.Backend) search.Backend {
			return &slowCommit{Backend: b, commitFirst: first, wait: 300 * time.Millisecond, committed: committed}
		})
		committed = make(chan string, 1) // newService's own upsert went through the first one
		svc.Backend.(*slowCommit).committed = committed
		_, ts := newTestServer(t, svc, Options{APIKey: "k", RequestTimeout: 100 * time.Millisecond})
		r := call(t, ts, "POST", "/v1/documents?async=false", UpsertRequest{Documents: []search.Doc{{ID: "c1", Text: "커밋"}}}, "X-API-Key", "k")
		if first {
			if r.status != 200 {
				t.Errorf("a write past its commit point before the deadline: %d %s", r.status, r.body)
			}
			if id := <-committed; id != "c1" {
				t.Errorf("committed %q", id)
			}
			continue
		}
		if r.status != 504 {
			t.Errorf("a write reaching its commit point after the deadline: %d %s", r.status, r.body)
		}
		time.Sleep(400 * time.Millisecond) // the handler reaches its commit point meanwhile
		select {
		case id := <-committed:
			t.Errorf("%s was committed after its request was answered 504", id)
		default:
		}
		if g := call(t, ts, "GET", "/v1/documents/c1", nil); g.status != 404 {
			t.Errorf("GET after the 504: %d %s", g.status, g.body)
		}
	}
}
