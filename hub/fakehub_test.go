package hub

import (
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeHub mimics the Hugging Face Hub endpoints kormed uses:
//
//	GET  /api/models/{id}/revision/{rev}   JSON {id, sha, siblings}
//	HEAD /{id}/resolve/{rev}/{file}        200 + ETag (git sha1) for regular files,
//	GET                                    302 to the CDN + X-Linked-Etag (sha256) for LFS
//	GET  /cdn/{sha256}                     on another host name (localhost vs 127.0.0.1), Range support
//
// with the Hub's X-Error-Code headers for unknown repos, gated repos,
// unknown revisions and files, and knobs to cut or corrupt a transfer.
type fakeHub struct {
	t    *testing.T
	srv  *httptest.Server
	cdn  string // base URL of the CDN, a different host name than srv.URL
	mu   sync.Mutex
	reqs []string // "METHOD path [range]"

	repos   map[string]*fakeRepo
	renamed map[string]string // old id -> new id
	tokens  map[string]bool   // valid tokens
	access  map[string]bool   // tokens with access to gated repos

	cutOnce   map[string]int  // sha256 -> cut the next transfer after n bytes
	hangOnce  map[string]int  // sha256 -> stall the next transfer after n bytes
	corrupt   map[string]bool // sha256 -> flip a byte
	cdnBytes  int64           // body bytes the CDN sent
	cdnAuthed int             // CDN requests that carried an Authorization header
	failAll   bool            // answer everything with 503
}

type fakeFile struct {
	data []byte
	lfs  bool
}

type fakeRepo struct {
	commit  string
	refs    map[string]string // other revisions (tags, refs/pr/N) -> commit
	files   map[string]fakeFile
	private bool
	gated   bool
}

func gitBlobSHA1(b []byte) string {
	h := sha1.New()
	fmt.Fprintf(h, "blob %d\x00", len(b))
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func sha256hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (f fakeFile) etag() string {
	if f.lfs {
		return sha256hex(f.data)
	}
	return gitBlobSHA1(f.data)
}

func randBytes(seed int64, n int) []byte {
	b := make([]byte, n)
	rand.New(rand.NewSource(seed)).Read(b)
	return b
}

func newFakeHub(t *testing.T) *fakeHub {
	h := &fakeHub{t: t, repos: map[string]*fakeRepo{}, renamed: map[string]string{},
		tokens: map[string]bool{"hf_good": true, "hf_access": true}, access: map[string]bool{"hf_access": true},
		cutOnce: map[string]int{}, hangOnce: map[string]int{}, corrupt: map[string]bool{}}
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	u, _ := url.Parse(h.srv.URL)
	h.cdn = "http://localhost:" + u.Port()
	return h
}

func (h *fakeHub) count(n int) {
	h.mu.Lock()
	h.cdnBytes += int64(n)
	h.mu.Unlock()
}

func (h *fakeHub) sent() int64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cdnBytes
}

func (h *fakeHub) authedCDN() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.cdnAuthed
}

func (h *fakeHub) add(id string, r *fakeRepo) { h.repos[id] = r }

func (h *fakeHub) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reqs...)
}

func (h *fakeHub) resetRequests() {
	h.mu.Lock()
	h.reqs = nil
	h.mu.Unlock()
}

func (h *fakeHub) serve(w http.ResponseWriter, req *http.Request) {
	p := req.URL.Path
	h.mu.Lock()
	line := req.Method + " " + req.URL.EscapedPath()
	if rg := req.Header.Get("Range"); rg != "" {
		line += " " + rg
	}
	h.reqs = append(h.reqs, line)
	fail := h.failAll
	h.mu.Unlock()
	if fail {
		http.Error(w, "unavailable", http.StatusServiceUnavailable)
		return
	}
	switch {
	case strings.HasPrefix(p, "/cdn/"):
		h.serveCDN(w, req, strings.TrimPrefix(p, "/cdn/"))
	case strings.HasPrefix(p, "/api/models/") || strings.HasPrefix(p, "/api/datasets/"):
		prefix := "/api/models/"
		if strings.HasPrefix(p, "/api/datasets/") {
			prefix = "/api/datasets/"
		}
		rest := strings.TrimPrefix(p, prefix)
		i := strings.Index(rest, "/revision/")
		if i < 0 {
			http.NotFound(w, req)
			return
		}
		id, rev := rest[:i], rest[i+len("/revision/"):]
		if nid, ok := h.renamed[id]; ok {
			http.Redirect(w, req, "/api/models/"+nid+"/revision/"+url.PathEscape(rev), http.StatusTemporaryRedirect)
			return
		}
		key := id
		if prefix == "/api/datasets/" {
			key = "datasets/" + id
		}
		repo, ok := h.check(w, req, key, rev)
		if !ok {
			return
		}
		type sib struct {
			R string `json:"rfilename"`
		}
		var sibs []sib
		for name := range repo.files {
			sibs = append(sibs, sib{name})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"id": id, "sha": repo.commit, "siblings": sibs, "private": repo.private, "gated": repo.gated})
	default:
		i := strings.Index(p, "/resolve/")
		if i < 0 {
			http.NotFound(w, req)
			return
		}
		id, rest := strings.TrimPrefix(p[:i], "/"), p[i+len("/resolve/"):]
		key := id // a dataset's path is datasets/owner/name, which is also its key
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			http.NotFound(w, req)
			return
		}
		rev, file := rest[:j], rest[j+1:]
		if nid, ok := h.renamed[id]; ok { // relative redirect, as the Hub does for renamed repos
			w.Header().Set("Location", "/"+nid+"/resolve/"+rev+"/"+file)
			w.WriteHeader(http.StatusTemporaryRedirect)
			return
		}
		repo, ok := h.check(w, req, key, rev)
		if !ok {
			return
		}
		f, ok := repo.files[file]
		if !ok {
			w.Header().Set("X-Error-Code", "EntryNotFound")
			w.Header().Set("X-Error-Message", "Entry not found")
			w.WriteHeader(http.StatusNotFound)
			return
		}
		w.Header().Set("X-Repo-Commit", repo.commit)
		if f.lfs {
			pointer := fmt.Sprintf("version https://git-lfs.github.com/spec/v1\noid sha256:%s\nsize %d\n", f.etag(), len(f.data))
			w.Header().Set("ETag", `"`+gitBlobSHA1([]byte(pointer))+`"`)
			w.Header().Set("X-Linked-Etag", `"`+f.etag()+`"`)
			w.Header().Set("X-Linked-Size", strconv.Itoa(len(f.data)))
			w.Header().Set("Location", h.cdn+"/cdn/"+f.etag()+"?X-Amz-Signature=abc")
			w.WriteHeader(http.StatusFound)
			return
		}
		w.Header().Set("ETag", `W/"`+f.etag()+`"`)
		w.Header().Set("Content-Length", strconv.Itoa(len(f.data)))
		w.WriteHeader(http.StatusOK)
		if req.Method == http.MethodGet {
			w.Write(f.data)
		}
	}
}

// check applies the Hub's auth and revision rules.
func (h *fakeHub) check(w http.ResponseWriter, req *http.Request, id, rev string) (*fakeRepo, bool) {
	fail := func(status int, code, msg string) (*fakeRepo, bool) {
		if code != "" {
			w.Header().Set("X-Error-Code", code)
		}
		w.Header().Set("X-Error-Message", msg)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(map[string]string{"error": msg})
		return nil, false
	}
	auth := req.Header.Get("Authorization")
	tok := strings.TrimPrefix(auth, "Bearer ")
	if auth != "" && !h.tokens[tok] {
		return fail(http.StatusUnauthorized, "", "Invalid credentials in Authorization header")
	}
	repo, ok := h.repos[id]
	// A dataset's parquet conversion is a branch with its own files and
	// commit, registered as "datasets/owner/name@refs/convert/parquet".
	if conv, cok := h.repos[id+"@refs/convert/parquet"]; cok && (rev == "refs/convert/parquet" || rev == conv.commit) {
		repo, ok = conv, true
		rev = conv.commit
	}
	if !ok || (repo.private && auth == "") {
		return fail(http.StatusUnauthorized, "RepoNotFound", "Repository not found")
	}
	if repo.gated {
		if auth == "" {
			return fail(http.StatusUnauthorized, "GatedRepo", "Access to model "+id+" is restricted. You must have access to it and be authenticated to access it. Please log in.")
		}
		if !h.access[tok] {
			return fail(http.StatusForbidden, "GatedRepo", "Access to model "+id+" is restricted and you are not in the authorized list.")
		}
	}
	if c, ok := repo.refs[rev]; ok && c == repo.commit {
		return repo, true
	}
	if rev != "main" && rev != repo.commit {
		return fail(http.StatusNotFound, "RevisionNotFound", "Invalid rev id: "+rev)
	}
	return repo, true
}

func (h *fakeHub) serveCDN(w http.ResponseWriter, req *http.Request, sha string) {
	var data []byte
	for _, r := range h.repos {
		for _, f := range r.files {
			if f.lfs && f.etag() == sha {
				data = f.data
			}
		}
	}
	if data == nil {
		http.NotFound(w, req)
		return
	}
	h.mu.Lock()
	if req.Header.Get("Authorization") != "" {
		h.cdnAuthed++
	}
	cut, doCut := h.cutOnce[sha]
	delete(h.cutOnce, sha)
	hang, doHang := h.hangOnce[sha]
	delete(h.hangOnce, sha)
	bad := h.corrupt[sha]
	h.mu.Unlock()
	if bad {
		data = append([]byte(nil), data...)
		data[len(data)/2] ^= 0xff
	}
	start := 0
	if rg := req.Header.Get("Range"); rg != "" {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || n >= len(data) {
			w.WriteHeader(http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = n
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", n, len(data)-1, len(data)))
	}
	body := data[start:]
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Header().Set("Accept-Ranges", "bytes")
	if start > 0 {
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.WriteHeader(http.StatusOK)
	}
	if doCut && cut < len(body) {
		h.count(cut) // before writing: the client may finish before we return
		w.Write(body[:cut])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drop the connection mid-body
	}
	if doHang && hang < len(body) {
		h.count(hang)
		w.Write(body[:hang])
		w.(http.Flusher).Flush()
		<-req.Context().Done() // until the client gives up
		return
	}
	h.count(len(body))
	w.Write(body)
}
