package weaviate

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// DefaultDialTimeout bounds each connection attempt to a node when Open is
// given several URLs, so that a dead node costs little before the request
// moves on. With one URL Go's default (30s) applies: there is nowhere else
// to go.
const DefaultDialTimeout = 2 * time.Second

// parseNodes parses Open's rawURL: one node URL or several, comma-separated.
func parseNodes(rawURL string) ([]*url.URL, error) {
	var nodes []*url.URL
	seen := map[string]bool{}
	for _, s := range strings.Split(rawURL, ",") {
		s = strings.TrimSpace(s)
		u, err := url.Parse(s)
		if s == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" ||
			u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			if strings.Contains(rawURL, ",") {
				return nil, fmt.Errorf("weaviate: bad server URL %q in %q (want http://host:port, several comma-separated)", s, rawURL)
			}
			return nil, fmt.Errorf("weaviate: bad server URL %q (want http://host:port)", rawURL)
		}
		u.Path = strings.TrimRight(u.Path, "/")
		u.RawPath = ""
		if seen[u.String()] {
			return nil, fmt.Errorf("weaviate: server URL %q given twice in %q", s, rawURL)
		}
		seen[u.String()] = true
		nodes = append(nodes, u)
	}
	return nodes, nil
}

// failover is the http.RoundTripper of a Backend's client: it sends every
// request (REST and GraphQL alike: the client has no other way out) to the
// current node and, when that node cannot be reached, to the next one,
// round-robin, remembering the node that answered.
//
// A request moves on when the attempt fails without an HTTP answer (the
// connection is refused, the dial times out, the connection breaks) while
// the request's own context is still live, and when the node answers 502,
// 503 or 504: the status of a proxy whose node is away, and Weaviate's own
// answer when it cannot serve (a node not ready, or in a read-only,
// write-only or scale-out operational mode). Every other answer, 4xx and
// 5xx included, is the cluster's answer and returned as it is: a
// replication error (a consistency level that the live replicas cannot
// reach) reflects the replicas, not the coordinating node, so another node
// would give the same answer. Each node is tried at most once per
// request; when all fail the last error (or 50x answer) is returned.
//
// Retrying is safe because every request of the backend is idempotent:
// upserts write objects under deterministic ids (ObjectID) with the whole
// object, deletes by id delete what is there, reads read, and schema
// changes that lost their answer are read back (class and property
// creation accept what exists). Request bodies are replayed through
// Request.GetBody (buffered first when a request has none).
type failover struct {
	nodes []*url.URL
	base  http.RoundTripper
	cur   atomic.Int32 // index of the current node
}

// newFailover returns the transport over nodes; dial bounds each
// connection attempt (0: Go's default).
func newFailover(nodes []*url.URL, dial time.Duration) *failover {
	t := http.DefaultTransport.(*http.Transport).Clone()
	if dial > 0 {
		d := &net.Dialer{Timeout: dial, KeepAlive: 30 * time.Second}
		t.DialContext = d.DialContext
	}
	return &failover{nodes: nodes, base: t}
}

// node is the URL of the current node.
func (f *failover) node() string { return f.nodes[f.cur.Load()].String() }

// retryStatus reports whether an answer means that this node cannot serve
// and another may.
func retryStatus(code int) bool {
	return code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout
}

func (f *failover) RoundTrip(req *http.Request) (*http.Response, error) {
	if len(f.nodes) == 1 {
		return f.base.RoundTrip(f.rewrite(req, 0))
	}
	if req.Body != nil && req.Body != http.NoBody && req.GetBody == nil {
		// Buffer the body so that every attempt can send it.
		body, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		req = req.Clone(req.Context())
		req.Body = io.NopCloser(bytes.NewReader(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	}
	start := int(f.cur.Load())
	var lastErr error
	for i := range f.nodes {
		n := (start + i) % len(f.nodes)
		r := f.rewrite(req, n)
		if i > 0 && req.GetBody != nil {
			body, err := req.GetBody()
			if err != nil {
				return nil, err
			}
			if r == req {
				r = req.Clone(req.Context())
			}
			r.Body = body
		}
		resp, err := f.base.RoundTrip(r)
		if err == nil && (!retryStatus(resp.StatusCode) || i == len(f.nodes)-1) {
			f.cur.Store(int32(n))
			return resp, nil
		}
		if err != nil {
			if req.Context().Err() != nil {
				return nil, err // the caller gave up (deadline or cancel): no node is to blame
			}
			lastErr = fmt.Errorf("%s: %w", f.nodes[n].Host, err)
		} else {
			io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
			resp.Body.Close()
			lastErr = fmt.Errorf("%s: %s", f.nodes[n].Host, resp.Status)
		}
		// Move on, unless another request already did.
		f.cur.CompareAndSwap(int32(n), int32((n+1)%len(f.nodes)))
	}
	return nil, fmt.Errorf("weaviate: no node answered (%d tried): %w", len(f.nodes), lastErr)
}

// rewrite is req aimed at node n: the client builds URLs on the first
// node, whose path prefix is swapped for node n's.
func (f *failover) rewrite(req *http.Request, n int) *http.Request {
	if n == 0 {
		return req
	}
	r := req.Clone(req.Context())
	u := f.nodes[n]
	r.URL.Scheme = u.Scheme
	r.URL.Host = u.Host
	r.Host = ""
	if p0 := f.nodes[0].Path; p0 != u.Path {
		r.URL.Path = u.Path + strings.TrimPrefix(r.URL.Path, p0)
		r.URL.RawPath = ""
	}
	return r
}
