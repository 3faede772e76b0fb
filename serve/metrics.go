package serve

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Metrics in the Prometheus text exposition format (version 0.0.4),
// written by hand: counters and histograms kept under one mutex, which
// costs nothing next to a search.

// latencyBuckets are the histogram's upper bounds in seconds.
var latencyBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

type histogram struct {
	counts []uint64 // per bucket, not cumulative; one extra for +Inf
	sum    float64
	n      uint64
}

type reqKey struct {
	path   string
	status int
}

type metrics struct {
	mu       sync.Mutex
	requests map[reqKey]uint64
	latency  map[string]*histogram
	searches map[string]uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[reqKey]uint64{}, latency: map[string]*histogram{}, searches: map[string]uint64{}}
}

// observe counts one request; path is the route pattern (not the URL, so
// the label set stays bounded), mode the search mode when it was a
// successful search.
func (m *metrics) observe(path string, status int, d time.Duration, mode string) {
	sec := d.Seconds()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.requests[reqKey{path, status}]++
	h := m.latency[path]
	if h == nil {
		h = &histogram{counts: make([]uint64, len(latencyBuckets)+1)}
		m.latency[path] = h
	}
	i := sort.SearchFloat64s(latencyBuckets, sec) // first bound >= sec
	h.counts[i]++
	h.sum += sec
	h.n++
	if mode != "" {
		m.searches[mode]++
	}
}

// gauges are the values read at scrape time.
type gauges struct {
	docs       int // -1 when the backend did not answer
	dense      bool
	version    string
	goVersion  string
	model      string
	goroutines int
	rss        int64 // -1 when unknown
	start      time.Time
	reloads    int64
}

func (m *metrics) write(b *bytes.Buffer, g gauges) {
	m.mu.Lock()
	defer m.mu.Unlock()

	header(b, "kormed_http_requests_total", "counter", "HTTP requests by route and status code.")
	keys := make([]reqKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].path != keys[j].path {
			return keys[i].path < keys[j].path
		}
		return keys[i].status < keys[j].status
	})
	for _, k := range keys {
		fmt.Fprintf(b, "kormed_http_requests_total{path=%s,status=\"%d\"} %d\n", label(k.path), k.status, m.requests[k])
	}

	header(b, "kormed_http_request_duration_seconds", "histogram", "HTTP request latency by route.")
	paths := make([]string, 0, len(m.latency))
	for p := range m.latency {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		h := m.latency[p]
		var cum uint64
		for i, le := range latencyBuckets {
			cum += h.counts[i]
			fmt.Fprintf(b, "kormed_http_request_duration_seconds_bucket{path=%s,le=\"%s\"} %d\n", label(p), num(le), cum)
		}
		fmt.Fprintf(b, "kormed_http_request_duration_seconds_bucket{path=%s,le=\"+Inf\"} %d\n", label(p), h.n)
		fmt.Fprintf(b, "kormed_http_request_duration_seconds_sum{path=%s} %s\n", label(p), num(h.sum))
		fmt.Fprintf(b, "kormed_http_request_duration_seconds_count{path=%s} %d\n", label(p), h.n)
	}

	header(b, "kormed_searches_total", "counter", "Searches answered, by mode.")
	modes := make([]string, 0, len(m.searches))
	for mode := range m.searches {
		modes = append(modes, mode)
	}
	sort.Strings(modes)
	for _, mode := range modes {
		fmt.Fprintf(b, "kormed_searches_total{mode=%s} %d\n", label(mode), m.searches[mode])
	}

	if g.docs >= 0 {
		header(b, "kormed_documents", "gauge", "Live documents in the index.")
		fmt.Fprintf(b, "kormed_documents %d\n", g.docs)
	}
	dense := 0
	if g.dense {
		dense = 1
	}
	header(b, "kormed_dense_enabled", "gauge", "1 when the service has a dense model, 0 for BM25 only.")
	fmt.Fprintf(b, "kormed_dense_enabled %d\n", dense)
	header(b, "kormed_index_reloads_total", "counter", "Times a new index generation was swapped in.")
	fmt.Fprintf(b, "kormed_index_reloads_total %d\n", g.reloads)
	header(b, "kormed_build_info", "gauge", "Build information; the value is always 1.")
	fmt.Fprintf(b, "kormed_build_info{version=%s,goversion=%s,model=%s} 1\n", label(g.version), label(g.goVersion), label(g.model))
	header(b, "go_goroutines", "gauge", "Number of goroutines that currently exist.")
	fmt.Fprintf(b, "go_goroutines %d\n", g.goroutines)
	if g.rss >= 0 {
		header(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.")
		fmt.Fprintf(b, "process_resident_memory_bytes %d\n", g.rss)
	}
	header(b, "process_start_time_seconds", "gauge", "Start time of the server since unix epoch in seconds.")
	fmt.Fprintf(b, "process_start_time_seconds %s\n", num(float64(g.start.UnixMilli())/1000))
}

func header(b *bytes.Buffer, name, typ, help string) {
	fmt.Fprintf(b, "# HELP %s %s\n# TYPE %s %s\n", name, escapeHelp(help), name, typ)
}

// label quotes a label value: backslash, double quote and line feed
// escaped, as the text format requires.
func label(v string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(v) + `"`
}

// escapeHelp escapes a HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// residentBytes reads the resident set size from /proc/self/statm (the
// second field, in pages); -1 where there is no /proc.
func residentBytes() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		return -1
	}
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		return -1
	}
	return pages * int64(os.Getpagesize())
}
