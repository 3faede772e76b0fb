package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
)

// Load is kormed bench load.
var Load = &base.Command{
	Name:      "bench load",
	UsageLine: "bench load --queries FILE [--url URL] [flags]",
	Short:     "load-test a running 'kormed serve': concurrent clients per mode, QPS, p50/p99, errors, server RSS; malformed-request sweep",
	Required:  []string{"queries"},
	Flags:     benchLoad,
}

func benchLoad(fs *flag.FlagSet) base.Func {
	url := fs.String("url", "http://127.0.0.1:8080", "server base URL")
	queriesPath := fs.String("queries", "", "query texts: a text file (one a line) or a BEIR queries.jsonl / folder")
	clients := fs.Int("clients", 16, "concurrent clients")
	duration := fs.Duration("duration", 15*time.Second, "time per mode (the run stops at whichever of --duration and --requests comes first)")
	requests := fs.Int("requests", 20000, "most requests per mode")
	modes := fs.String("modes", "bm25,dense,hybrid", "comma-separated modes to load")
	k := fs.Int("k", 10, "results per search")
	sweep := fs.Bool("sweep", true, "also send malformed requests: each must get a 4xx and the server must keep serving")
	asJSON := fs.Bool("json", false, "print one JSON record per mode instead of a table")
	return func(ctx context.Context, args []string) error {
		qs, err := readQueryTexts(*queriesPath)
		if err != nil {
			return err
		}
		if len(qs) == 0 {
			return fmt.Errorf("%s: no queries", *queriesPath)
		}
		server := strings.TrimRight(*url, "/")
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: *clients * 2}}
		var health struct {
			Dense bool `json:"dense"`
			Docs  int  `json:"docs"`
		}
		if err := getJSON(ctx, client, server+"/healthz", &health); err != nil {
			return fmt.Errorf("server at %s: %w", server, err)
		}
		failed := false
		if !*asJSON {
			fmt.Printf("%d clients, %d documents, up to %s or %d requests per mode\n\n", *clients, health.Docs, *duration, *requests)
			fmt.Println("| mode | requests | QPS | p50 ms | p99 ms | max ms | errors | server RSS MB start → end (max) |")
			fmt.Println("|---|---:|---:|---:|---:|---:|---:|---|")
		}
		for _, mode := range base.SplitList(*modes) {
			if mode != "bm25" && !health.Dense {
				fmt.Fprintf(os.Stderr, "skipping %s: the server runs BM25 only\n", mode)
				continue
			}
			r, err := loadMode(ctx, client, server, mode, qs, *clients, *k, *duration, *requests)
			if err != nil {
				return err
			}
			if r.Errors > 0 {
				failed = true
			}
			if *asJSON {
				b, _ := json.Marshal(r)
				fmt.Println(string(b))
			} else {
				fmt.Printf("| %s | %d | %.0f | %.2f | %.2f | %.2f | %d | %.0f → %.0f (%.0f) |\n", r.Mode, r.Requests, r.QPS, r.P50, r.P99, r.Max, r.Errors, r.RSSStart, r.RSSEnd, r.RSSMax)
			}
		}
		if *sweep {
			bad, err := malformedSweep(ctx, client, server)
			if err != nil {
				return err
			}
			if len(bad) > 0 {
				failed = true
				for _, b := range bad {
					fmt.Fprintln(os.Stderr, "sweep:", b)
				}
			} else if !*asJSON {
				fmt.Println("\nmalformed-request sweep: every request got a 4xx and the server kept serving")
			}
		}
		if failed {
			return errors.New("errors under load or in the sweep (see above)")
		}
		return nil
	}
}

type loadResult struct {
	Bench    string  `json:"bench"`
	Mode     string  `json:"mode"`
	Clients  int     `json:"clients"`
	Requests int     `json:"requests"`
	Errors   int     `json:"errors"`
	Seconds  float64 `json:"seconds"`
	QPS      float64 `json:"qps"`
	P50      float64 `json:"p50_ms"`
	P99      float64 `json:"p99_ms"`
	Max      float64 `json:"max_ms"`
	RSSStart float64 `json:"rss_start_mb"`
	RSSEnd   float64 `json:"rss_end_mb"`
	RSSMax   float64 `json:"rss_max_mb"`
}

func loadMode(ctx context.Context, client *http.Client, base, mode string, qs []string, clients, k int, dur time.Duration, maxReq int) (*loadResult, error) {
	r := &loadResult{Bench: "serve-load", Mode: mode, Clients: clients}
	rss0, _ := serverRSS(ctx, client, base)
	r.RSSStart, r.RSSMax = rss0, rss0
	var next atomic.Int64
	var errs atomic.Int64
	lat := make([][]float64, clients)
	deadline := time.Now().Add(dur)
	stop := make(chan struct{})
	var mon sync.WaitGroup
	mon.Add(1)
	go func() { // sample the server's RSS
		defer mon.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v, err := serverRSS(ctx, client, base); err == nil && v > r.RSSMax {
					r.RSSMax = v
				}
			}
		}
	}()
	start := time.Now()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(deadline) {
				i := next.Add(1) - 1
				if i >= int64(maxReq) {
					return
				}
				body, _ := json.Marshal(map[string]any{"query": qs[int(i)%len(qs)], "k": k, "mode": mode})
				t0 := time.Now()
				resp, err := client.Post(base+"/v1/search", "application/json", bytes.NewReader(body))
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("HTTP %d", resp.StatusCode)
					}
				}
				if err != nil {
					errs.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
					continue
				}
				lat[c] = append(lat[c], float64(time.Since(t0).Microseconds())/1000)
			}
		}(c)
	}
	wg.Wait()
	r.Seconds = time.Since(start).Seconds()
	close(stop)
	mon.Wait()
	var all []float64
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Float64s(all)
	r.Requests = len(all) + int(errs.Load())
	r.Errors = int(errs.Load())
	if e := firstErr.Load(); e != nil {
		fmt.Fprintf(os.Stderr, "%s: %d errors, first: %s\n", mode, r.Errors, e)
	}
	if len(all) > 0 {
		r.QPS = float64(len(all)) / r.Seconds
		r.P50 = all[len(all)/2]
		r.P99 = all[min(len(all)-1, len(all)*99/100)]
		r.Max = all[len(all)-1]
	}
	r.RSSEnd, _ = serverRSS(ctx, client, base)
	return r, ctx.Err()
}

// serverRSS reads process_resident_memory_bytes from /metrics, in MB.
func serverRSS(ctx context.Context, client *http.Client, base string) (float64, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == "process_resident_memory_bytes" {
			v, err := strconv.ParseFloat(f[1], 64)
			return v / 1e6, err
		}
	}
	return 0, errors.New("no process_resident_memory_bytes in /metrics")
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// malformedSweep sends bad requests; each must get a 4xx, and a good
// search must still succeed after each. It returns what went wrong.
func malformedSweep(ctx context.Context, client *http.Client, base string) ([]string, error) {
	huge := bytes.Repeat([]byte("가"), 40<<20/3)
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	cases := []struct {
		name, method, path, ctype string
		body                      []byte
	}{
		{"bad JSON", "POST", "/v1/search", "application/json", []byte(`{"query": "두통`)},
		{"not an object", "POST", "/v1/search", "application/json", []byte(`["두통"]`)},
		{"huge body (40 MB)", "POST", "/v1/search", "application/json", append(append([]byte(`{"query":"`), huge...), '"', '}')},
		{"unknown field", "POST", "/v1/search", "application/json", []byte(`{"query":"두통","kk":3}`)},
		{"k = 10^9", "POST", "/v1/search", "application/json", []byte(`{"query":"두통","k":1000000000}`)},
		{"negative k", "POST", "/v1/search", "application/json", []byte(`{"query":"두통","k":-5}`)},
		{"invalid UTF-8", "POST", "/v1/search", "application/json", []byte("{\"query\":\"\xff\xfe두통\"}")},
		{"empty body", "POST", "/v1/search", "application/json", nil},
		{"empty query", "POST", "/v1/search", "application/json", []byte(`{"query":"   "}`)},
		{"alpha 7", "POST", "/v1/search", "application/json", []byte(`{"query":"두통","alpha":7}`)},
		{"unknown mode", "POST", "/v1/search", "application/json", []byte(`{"query":"두통","mode":"magic"}`)},
		{"deeply nested", "POST", "/v1/search", "application/json", []byte(deep)},
		{"wrong type", "POST", "/v1/search", "application/json", []byte(`{"query":5}`)},
		{"write without key", "POST", "/v1/documents", "application/json", []byte(`{"documents":[{"id":"x","text":"y"}]}`)},
		{"delete without key", "DELETE", "/v1/documents/x", "", nil},
		{"unknown path", "GET", "/v1/nothing", "", nil},
	}
	var bad []string
	good, _ := json.Marshal(map[string]any{"query": "두통", "k": 3, "mode": "bm25"})
	for _, c := range cases {
		req, _ := http.NewRequestWithContext(ctx, c.method, base+c.path, bytes.NewReader(c.body))
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		resp, err := client.Do(req)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s: %v", c.name, err))
		} else {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 400 || resp.StatusCode >= 500 {
				bad = append(bad, fmt.Sprintf("%s: HTTP %d, want 4xx", c.name, resp.StatusCode))
			}
		}
		resp, err = client.Post(base+"/v1/search", "application/json", bytes.NewReader(good))
		if err != nil {
			bad = append(bad, fmt.Sprintf("after %s: the server stopped answering: %v", c.name, err))
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			bad = append(bad, fmt.Sprintf("after %s: a good search got HTTP %d", c.name, resp.StatusCode))
		}
	}
	return bad, ctx.Err()
}

// readQueryTexts reads query texts from a text file, a BEIR queries.jsonl
// or a BEIR folder.
func readQueryTexts(path string) ([]string, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = path + "/queries.jsonl"
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if strings.HasSuffix(path, ".jsonl") {
			var q struct {
				Text string `json:"text"`
			}
			if err := json.Unmarshal([]byte(line), &q); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", path, i+1, err)
			}
			line = q.Text
		}
		out = append(out, line)
	}
	return out, nil
}
