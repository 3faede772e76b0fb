package weaviate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// closedURL is the URL of a port nothing listens on.
func closedURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// node is a test server that records what it received.
type node struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
	paths  []string
	status int
}

func newNode(t *testing.T, status int) *node {
	n := &node{status: status}
	n.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		n.mu.Lock()
		n.bodies = append(n.bodies, string(b))
		n.paths = append(n.paths, r.URL.Path)
		n.mu.Unlock()
		w.WriteHeader(n.status)
		fmt.Fprintf(w, "%s got %s", r.Host, b)
	}))
	t.Cleanup(n.Close)
	return n
}

func (n *node) got() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]string(nil), n.bodies...)
}

func transport(t *testing.T, urls ...string) *failover {
	t.Helper()
	nodes, err := parseNodes(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	return newFailover(nodes, time.Second)
}

// post sends a POST through f to the first node's URL, as the client does.
func post(t *testing.T, f *failover, path, body string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.nodes[0].String()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: f}).Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), nil
}

func TestFailoverSkipsDeadNode(t *testing.T) {
	live := newNode(t, http.StatusOK)
	dead := closedURL(t)
	f := transport(t, dead, live.URL)
	if f.node() != dead {
		t.Fatalf("first node %s, want %s", f.node(), dead)
	}
	code, body, err := post(t, f, "/v1/batch/objects", `{"objects":[1]}`)
	if err != nil || code != 200 {
		t.Fatalf("post: %d %v", code, err)
	}
	// The body was replayed on the live node, whole.
	if got := live.got(); len(got) != 1 || got[0] != `{"objects":[1]}` {
		t.Fatalf("live node got %q", got)
	}
	if want := strings.TrimPrefix(live.URL, "http://") + ` got {"objects":[1]}`; body != want {
		t.Fatalf("answer %q, want %q", body, want)
	}
	if f.node() != live.URL {
		t.Fatalf("current node %s, want the live %s", f.node(), live.URL)
	}
	// The next request goes straight to the remembered live node.
	if code, _, err := post(t, f, "/v1/graphql", `{"query":"{}"}`); err != nil || code != 200 {
		t.Fatalf("second post: %d %v", code, err)
	}
	if got := live.got(); len(got) != 2 || got[1] != `{"query":"{}"}` {
		t.Fatalf("live node got %q", got)
	}
}

func TestFailoverRoundRobin(t *testing.T) {
	a, b, c := newNode(t, 200), newNode(t, 200), newNode(t, 200)
	f := transport(t, a.URL, b.URL, c.URL)
	// b is current; when it dies, requests move to c, then wrap round to a.
	f.cur.Store(1)
	b.Close()
	if code, _, err := post(t, f, "/v1/objects", "x"); err != nil || code != 200 {
		t.Fatalf("post: %d %v", code, err)
	}
	if f.node() != c.URL || len(c.got()) != 1 || len(a.got()) != 0 {
		t.Fatalf("after b died: current %s, a got %d, c got %d", f.node(), len(a.got()), len(c.got()))
	}
	c.Close()
	if code, _, err := post(t, f, "/v1/objects", "y"); err != nil || code != 200 {
		t.Fatalf("post: %d %v", code, err)
	}
	if f.node() != a.URL || len(a.got()) != 1 || a.got()[0] != "y" {
		t.Fatalf("after c died: current %s, a got %q", f.node(), a.got())
	}
}

func TestFailoverStatusNotRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadRequest, http.StatusNotFound, http.StatusUnprocessableEntity, http.StatusInternalServerError} {
		first, second := newNode(t, code), newNode(t, 200)
		f := transport(t, first.URL, second.URL)
		got, _, err := post(t, f, "/v1/schema", "s")
		if err != nil || got != code {
			t.Fatalf("status %d: got %d %v", code, got, err)
		}
		if len(first.got()) != 1 || len(second.got()) != 0 || f.node() != first.URL {
			t.Fatalf("status %d was retried: first got %d, second %d, current %s", code, len(first.got()), len(second.got()), f.node())
		}
	}
}

func TestFailoverUnavailableRetried(t *testing.T) {
	for _, code := range []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout} {
		first, second := newNode(t, code), newNode(t, 200)
		f := transport(t, first.URL, second.URL)
		got, _, err := post(t, f, "/v1/batch/objects", "b")
		if err != nil || got != 200 {
			t.Fatalf("status %d: got %d %v", code, got, err)
		}
		if g1, g2 := first.got(), second.got(); len(g1) != 1 || len(g2) != 1 || g2[0] != "b" || f.node() != second.URL {
			t.Fatalf("status %d: first got %q, second %q, current %s", code, g1, g2, f.node())
		}
	}
	// Every node unavailable: the last answer comes back as it is.
	a, b := newNode(t, 503), newNode(t, 503)
	f := transport(t, a.URL, b.URL)
	if got, _, err := post(t, f, "/v1/objects", "z"); err != nil || got != 503 {
		t.Fatalf("all unavailable: %d %v", got, err)
	}
	if len(a.got()) != 1 || len(b.got()) != 1 {
		t.Fatalf("all unavailable: a got %d, b %d (want one each)", len(a.got()), len(b.got()))
	}
}

func TestFailoverAllDead(t *testing.T) {
	d1, d2 := closedURL(t), closedURL(t)
	f := transport(t, d1, d2)
	_, _, err := post(t, f, "/v1/objects", "x")
	if err == nil || !strings.Contains(err.Error(), "no node answered (2 tried)") || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("all dead: %v", err)
	}
}

func TestFailoverCallerCancelNotRetried(t *testing.T) {
	var hits sync.WaitGroup
	hits.Add(1)
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Done()
		<-release
	}))
	defer slow.Close()
	defer close(release)
	other := newNode(t, 200)
	f := transport(t, slow.URL, other.URL)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, slow.URL+"/v1/objects", nil)
	_, err := (&http.Client{Transport: f}).Do(req)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v, want the deadline", err)
	}
	hits.Wait()
	if len(other.got()) != 0 || f.node() != slow.URL {
		t.Fatalf("the caller's timeout moved the request: other got %d, current %s", len(other.got()), f.node())
	}
}

// A body without GetBody (not from http.NewRequest's known readers) is
// buffered and replayed too.
func TestFailoverBodyWithoutGetBody(t *testing.T) {
	live := newNode(t, 200)
	f := transport(t, closedURL(t), live.URL)
	req, _ := http.NewRequest(http.MethodPut, f.nodes[0].String()+"/v1/schema/C", io.MultiReader(strings.NewReader("ab"), strings.NewReader("cd")))
	if req.GetBody != nil {
		t.Fatal("test needs a request without GetBody")
	}
	resp, err := (&http.Client{Transport: f}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := live.got(); len(got) != 1 || got[0] != "abcd" {
		t.Fatalf("live node got %q", got)
	}
}

func TestFailoverPathPrefix(t *testing.T) {
	a, b := newNode(t, 503), newNode(t, 200)
	f := transport(t, a.URL+"/w1/", b.URL+"/w2")
	if code, _, err := post(t, f, "/v1/graphql", "q"); err != nil || code != 200 {
		t.Fatalf("post: %d %v", code, err)
	}
	if a.paths[0] != "/w1/v1/graphql" || b.paths[0] != "/w2/v1/graphql" {
		t.Fatalf("paths %q %q", a.paths, b.paths)
	}
}

func TestParseNodes(t *testing.T) {
	nodes, err := parseNodes(" http://127.0.0.1:18880, http://127.0.0.1:18890/ ,https://h:1/p")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range nodes {
		got = append(got, n.String())
	}
	if strings.Join(got, " ") != "http://127.0.0.1:18880 http://127.0.0.1:18890 https://h:1/p" {
		t.Fatalf("nodes %q", got)
	}
	for in, want := range map[string]string{
		"":                             `bad server URL ""`,
		"127.0.0.1:18880":              `bad server URL "127.0.0.1:18880" (want http://host:port)`,
		"http://a:1,":                  `bad server URL "" in "http://a:1,"`,
		"http://a:1,ftp://b:2":         `bad server URL "ftp://b:2" in`,
		"http://a:1,http://a:1/":       `server URL "http://a:1/" given twice`,
		"http://u:p@a:1":               `bad server URL`,
		"http://a:1?x=1":               `bad server URL`,
		"http://127.0.0.1:1,http://:2": `bad server URL "http://:2"`,
	} {
		if _, err := parseNodes(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parseNodes(%q): %v, want %q", in, err, want)
		}
	}
}

func TestParseConsistency(t *testing.T) {
	for in, want := range map[string]string{"": "QUORUM", "one": "ONE", " Quorum ": "QUORUM", "ALL": "ALL"} {
		if got, err := ParseConsistency(in); err != nil || got != want {
			t.Errorf("ParseConsistency(%q) = %q %v, want %q", in, got, err, want)
		}
	}
	if _, err := ParseConsistency("TWO"); err == nil || !strings.Contains(err.Error(), `"TWO" (want ONE, QUORUM or ALL)`) {
		t.Errorf("TWO: %v", err)
	}
}

// Open rejects bad layouts and levels before it sends anything.
func TestOpenBadOptions(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Shards: -1}, "shard count -1"},
		{Options{Replicas: -2}, "replication factor -2"},
		{Options{Consistency: "SOME"}, `unknown consistency level "SOME"`},
	} {
		if _, err := Open(ctx, "http://127.0.0.1:1", "C", c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.opts, err, c.want)
		}
	}
}
