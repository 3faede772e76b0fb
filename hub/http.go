package hub

import (
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/progress"
)

const (
	maxAttempts   = 5       // per file, resuming after each interruption
	progressLimit = 8 << 20 // draw a bar for files at least this big
	userAgent     = "kormed-hub/1 (go)"
)

// repoInfo is the part of GET /api/models/{id}/revision/{rev} kormed reads.
type repoInfo struct {
	ID       string `json:"id"`
	Sha      string `json:"sha"`
	Siblings []struct {
		RFilename string `json:"rfilename"`
	} `json:"siblings"`
}

// fileMeta is what a HEAD on /resolve/ tells (huggingface_hub's
// HfFileMetadata).
type fileMeta struct {
	commit string
	etag   string
	size   int64 // -1 when unknown
}

func (r *resolver) setHeaders(req *http.Request, auth bool) {
	req.Header.Set("User-Agent", userAgent)
	if auth && r.token != "" {
		req.Header.Set("Authorization", "Bearer "+r.token)
	}
}

func (r *resolver) apiURL() string {
	return r.endpoint + "/api/" + string(r.typ) + "s/" + r.id + "/revision/" + url.PathEscape(r.rev)
}

// repoPath is the repository's path on the Hub: "org/name" for a model,
// "datasets/org/name" for a dataset.
func (r *resolver) repoPath() string {
	if r.typ == datasetRepo {
		return "datasets/" + r.id
	}
	return r.id
}

func (r *resolver) resolveURL(commit, file string) string {
	parts := strings.Split(file, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return r.endpoint + "/" + r.repoPath() + "/resolve/" + url.PathEscape(commit) + "/" + strings.Join(parts, "/")
}

// listRevision asks the Hub which commit the revision is at and which files
// it holds.
func (r *resolver) listRevision(ctx context.Context) (*repoInfo, error) {
	ctx, cancel := context.WithTimeout(ctx, r.metaTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.apiURL(), nil)
	if err != nil {
		return nil, err
	}
	r.setHeaders(req, true)
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, r.netError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, r.statusError(resp, "")
	}
	var info repoInfo
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(&info); err != nil {
		return nil, fmt.Errorf("hub %s: reading the file list of %s: %w", r.endpoint, r.id, err)
	}
	if !commitRE.MatchString(info.Sha) {
		return nil, fmt.Errorf("hub %s: the file list of %s at %s has no commit hash (sha %q)", r.endpoint, r.id, r.rev, info.Sha)
	}
	return &info, nil
}

// headFile is huggingface_hub's get_hf_file_metadata: a HEAD on the resolve
// URL that follows only relative redirects (a renamed repo) and not the
// redirect of an LFS file to its CDN, whose headers carry the LFS sha256 in
// X-Linked-Etag and the real size in X-Linked-Size.
func (r *resolver) headFile(ctx context.Context, commit, file string) (*fileMeta, error) {
	ctx, cancel := context.WithTimeout(ctx, r.metaTimeout)
	defer cancel()
	u := r.resolveURL(commit, file)
	for hops := 0; ; hops++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodHead, u, nil)
		if err != nil {
			return nil, err
		}
		r.setHeaders(req, true)
		req.Header.Set("Accept-Encoding", "identity")
		resp, err := r.noRedirect.Do(req)
		if err != nil {
			return nil, r.netError(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, err := url.Parse(resp.Header.Get("Location"))
			if err == nil && loc.Host == "" && loc.Path != "" && hops < 5 {
				base, _ := url.Parse(u)
				u = base.ResolveReference(loc).String()
				continue
			}
		} else if resp.StatusCode != http.StatusOK {
			return nil, r.statusError(resp, file)
		}
		m := &fileMeta{commit: resp.Header.Get("X-Repo-Commit"), size: -1}
		m.etag = normalizeEtag(resp.Header.Get("X-Linked-Etag"))
		if m.etag == "" {
			m.etag = normalizeEtag(resp.Header.Get("ETag"))
		}
		sz := resp.Header.Get("X-Linked-Size")
		if sz == "" {
			sz = resp.Header.Get("Content-Length")
		}
		if n, err := strconv.ParseInt(sz, 10, 64); err == nil && n >= 0 {
			m.size = n
		}
		if m.etag == "" {
			return nil, fmt.Errorf("hub %s: no ETag for %s in %s; cannot cache it (is HF_ENDPOINT a Hugging Face Hub?)", r.endpoint, file, r.id)
		}
		if !etagRE.MatchString(m.etag) {
			return nil, fmt.Errorf("hub %s: unusable ETag %q for %s in %s", r.endpoint, m.etag, file, r.id)
		}
		return m, nil
	}
}

// fetch makes snapshots/<commit>/<file> exist, downloading its blob when
// the cache lacks it.
func (r *resolver) fetch(ctx context.Context, commit, file string) error {
	if fileExists(r.pointerPath(commit, file)) {
		return nil
	}
	meta, err := r.headFile(ctx, commit, file)
	if err != nil {
		return err
	}
	blob := r.blobPath(meta.etag)
	if !fileExists(blob) {
		if err := r.downloadBlob(ctx, commit, file, meta); err != nil {
			return err
		}
	}
	return r.linkPointer(commit, file, meta.etag)
}

// downloadBlob downloads into blobs/<etag>.incomplete under the blob's lock,
// resuming what an earlier run left there, verifies it and renames it into
// place.
func (r *resolver) downloadBlob(ctx context.Context, commit, file string, meta *fileMeta) error {
	blob := r.blobPath(meta.etag)
	if err := os.MkdirAll(r.storage+"/blobs", 0o755); err != nil {
		return err
	}
	unlock, err := atomicfile.Lock(ctx, r.lockPath(meta.etag), func() {
		r.logf("waiting for another process downloading %s (lock %s)", file, r.lockPath(meta.etag))
	})
	if err != nil {
		return fmt.Errorf("locking %s: %w", r.lockPath(meta.etag), err)
	}
	defer unlock()
	if fileExists(blob) { // another process finished it while we waited
		return nil
	}
	part := blob + ".incomplete"
	var bar *progress.Bar
	if r.progress != nil && meta.size >= progressLimit {
		bar = progress.New(r.progress, file, meta.size)
		defer bar.Finish()
	}
	var lastErr error
	ok := false
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		before := fileSize(part)
		err := r.getRange(ctx, commit, file, part, meta.size, bar)
		if err == nil {
			ok = true
			break
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var he *hubError
		if errors.As(err, &he) && he.kind != errServer { // 401/403/404: retrying will not help
			return err
		}
		lastErr = err
		if fileSize(part) <= before && attempt >= 2 {
			break // no progress twice in a row
		}
		r.logf("download of %s interrupted at %d bytes (%v); resuming", file, fileSize(part), err)
	}
	if !ok {
		return fmt.Errorf("downloading %s of %s: %w (the partial file %s is kept; run again to resume)", file, r.id, lastErr, part)
	}
	if err := verifyBlob(part, meta); err != nil {
		os.Remove(part)
		return &hubError{kind: ErrChecksum, msg: fmt.Sprintf("%s of %s from %s: %v; the download was deleted, run again to retry", file, r.id, r.endpoint, err)}
	}
	if err := os.Chmod(part, 0o644); err != nil {
		return err
	}
	return os.Rename(part, blob)
}

func fileSize(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return 0
	}
	return st.Size()
}

// getRange GETs the file (following redirects to the CDN; Go drops the
// Authorization header when the host changes), asking only for the bytes
// past what part already holds.
func (r *resolver) getRange(ctx context.Context, commit, file, part string, size int64, bar *progress.Bar) error {
	have := fileSize(part)
	if size >= 0 && have > size {
		os.Remove(part)
		have = 0
	}
	if size >= 0 && have == size && size > 0 {
		return nil // complete already; verification decides
	}
	// A stalled transfer (no byte for r.stallTimeout) is cancelled and
	// counts as an interruption, so the caller resumes it.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stalled atomic.Bool
	watchdog := time.AfterFunc(r.stallTimeout, func() { stalled.Store(true); cancel() })
	defer watchdog.Stop()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.resolveURL(commit, file), nil)
	if err != nil {
		return err
	}
	r.setHeaders(req, true)
	req.Header.Set("Accept-Encoding", "identity")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := r.client.Do(req)
	if err != nil {
		if watchdog.Stop(); stalled.Load() {
			return fmt.Errorf("no answer for %v", r.stallTimeout)
		}
		return r.netError(err)
	}
	defer resp.Body.Close()
	flags := os.O_WRONLY | os.O_CREATE
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, ok := contentRangeStart(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return fmt.Errorf("server answered range %q to a request from byte %d", resp.Header.Get("Content-Range"), have)
		}
		flags |= os.O_APPEND
	case resp.StatusCode == http.StatusOK:
		flags |= os.O_TRUNC // server ignored the range: start over
		have = 0
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		os.Remove(part) // our partial file is no prefix of this file
		return errors.New("server refused to resume; restarting")
	default:
		return r.statusError(resp, file)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	if bar != nil && have > 0 {
		bar.Add(have)
	}
	var w io.Writer = f
	if bar != nil {
		w = io.MultiWriter(f, barWriter{bar})
	}
	_, err = io.Copy(w, &stallReader{r: resp.Body, t: watchdog, d: r.stallTimeout})
	if watchdog.Stop(); stalled.Load() {
		err = fmt.Errorf("no data for %v", r.stallTimeout)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if size >= 0 && fileSize(part) < size {
		return fmt.Errorf("connection closed at %d of %d bytes", fileSize(part), size)
	}
	return nil
}

// stallReader re-arms the watchdog after every read that got data.
type stallReader struct {
	r io.Reader
	t *time.Timer
	d time.Duration
}

func (s *stallReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if n > 0 {
		s.t.Reset(s.d)
	}
	return n, err
}

type barWriter struct{ b *progress.Bar }

func (w barWriter) Write(p []byte) (int, error) { w.b.Add(int64(len(p))); return len(p), nil }

func contentRangeStart(cr string) (int64, bool) {
	// "bytes 100-999/1000"
	cr = strings.TrimSpace(cr)
	if !strings.HasPrefix(cr, "bytes ") {
		return 0, false
	}
	dash := strings.IndexByte(cr, '-')
	if dash < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(cr[len("bytes "):dash]), 10, 64)
	return n, err == nil
}

// verifyBlob checks size and content hash: an etag of 64 hex digits is the
// sha256 of an LFS file, one of 40 is the git blob sha1 of a regular file.
func verifyBlob(path string, meta *fileMeta) error {
	n := fileSize(path)
	if meta.size >= 0 && n != meta.size {
		return fmt.Errorf("size %d, want %d", n, meta.size)
	}
	hexRE := func(s string, l int) bool {
		if len(s) != l {
			return false
		}
		_, err := hex.DecodeString(s)
		return err == nil
	}
	etag := strings.ToLower(meta.etag)
	switch {
	case hexRE(etag, 64):
		got, err := hashFile(path, sha256.New(), "")
		if err != nil {
			return err
		}
		if got != etag {
			return fmt.Errorf("checksum mismatch: sha256 %s, want %s", got, etag)
		}
	case hexRE(etag, 40):
		got, err := hashFile(path, sha1.New(), fmt.Sprintf("blob %d\x00", n))
		if err != nil {
			return err
		}
		if got != etag {
			return fmt.Errorf("checksum mismatch: git blob sha1 %s, want %s", got, etag)
		}
	}
	return nil
}

func hashFile(path string, h interface {
	io.Writer
	Sum([]byte) []byte
}, prefix string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	io.WriteString(h, prefix)
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// netError wraps a transport failure (DNS, refused connection, timeout).
type netErr struct{ err error }

func (e *netErr) Error() string { return e.err.Error() }
func (e *netErr) Unwrap() error { return e.err }

func (r *resolver) netError(err error) error {
	return &netErr{err: fmt.Errorf("cannot reach %s: %w", r.endpoint, err)}
}

// statusError turns an HTTP error status into a sentence, reading the Hub's
// X-Error-Code / X-Error-Message headers (RepoNotFound, GatedRepo,
// RevisionNotFound, EntryNotFound) as huggingface_hub's hf_raise_for_status
// does. file is "" for the API listing.
func (r *resolver) statusError(resp *http.Response, file string) error {
	code := resp.Header.Get("X-Error-Code")
	msg := resp.Header.Get("X-Error-Message")
	if msg == "" {
		var body struct {
			Error string `json:"error"`
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		if json.Unmarshal(b, &body) == nil {
			msg = body.Error
		}
	}
	page := r.endpoint + "/" + r.repoPath()
	detail := ""
	if msg != "" {
		detail = ": " + msg
	}
	st := resp.StatusCode
	switch {
	case code == "GatedRepo" || (st == http.StatusForbidden && strings.Contains(strings.ToLower(msg), "gated")):
		if r.token == "" {
			return errorf(ErrGated, "%s %s is gated: log in at %s, accept its conditions, then set HF_TOKEN to a read token (or run `huggingface-cli login`)", r.typ, r.id, page)
		}
		return errorf(ErrGated, "%s %s is gated and this token has no access to it (HTTP %d%s): request access at %s and check the token's read scope", r.typ, r.id, st, detail, page)
	case code == "RepoNotFound" || (file == "" && st == http.StatusNotFound && code == ""):
		if r.token == "" {
			return errorf(ErrNotFound, "%s %s not found at %s: check the id; if it is private, set HF_TOKEN", r.typ, r.id, r.endpoint)
		}
		return errorf(ErrNotFound, "%s %s not found at %s, or the token cannot see it: check the id and the token's access", r.typ, r.id, r.endpoint)
	case code == "RevisionNotFound":
		return errorf(ErrNotFound, "revision %q not found in %s %s at %s", r.rev, r.typ, r.id, r.endpoint)
	case code == "EntryNotFound" || st == http.StatusNotFound:
		return errorf(ErrNotFound, "file %s not found in %s %s at %s (HTTP %d%s)", file, r.typ, r.id, r.endpoint, st, detail)
	case st == http.StatusUnauthorized:
		if r.token != "" {
			return errorf(ErrUnauthorized, "the Hugging Face token was rejected by %s (HTTP 401%s): check HF_TOKEN, HUGGING_FACE_HUB_TOKEN or the token file %s", r.endpoint, detail, tokenPath(os.Getenv))
		}
		return errorf(ErrUnauthorized, "%s %s needs authentication (HTTP 401%s): it may be private or gated; set HF_TOKEN", r.typ, r.id, detail)
	case st == http.StatusForbidden:
		return errorf(ErrUnauthorized, "access to %s %s was denied (HTTP 403%s): the token may lack read permission", r.typ, r.id, detail)
	}
	what := "the file list"
	if file != "" {
		what = file
	}
	return &hubError{kind: errServer, msg: fmt.Sprintf("hub %s answered HTTP %d for %s of %s %s%s", r.endpoint, st, what, r.typ, r.id, detail)}
}

// errServer marks 5xx and other unexpected statuses; it is not exported:
// callers see the message.
var errServer = errors.New("hub server error")
