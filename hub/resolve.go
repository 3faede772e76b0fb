package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// repoType is the kind of Hub repository: models and datasets share the
// API, the download path and the cache layout, under different prefixes.
type repoType string

const (
	modelRepo   repoType = "model"
	datasetRepo repoType = "dataset"
)

type resolver struct {
	typ        repoType
	id, rev    string
	cacheDir   string
	storage    string // <cache>/models--org--name
	endpoint   string
	token      string
	offline    bool
	offWhy     string
	progress   io.Writer
	log        io.Writer
	client     *http.Client
	noRedirect *http.Client

	metaTimeout  time.Duration // API listing and HEAD: $HF_HUB_ETAG_TIMEOUT s, default 30 s
	stallTimeout time.Duration // a download with no byte this long is resumed: $HF_HUB_DOWNLOAD_TIMEOUT s, default 60 s
}

func newResolver(id string, opts Options) (*resolver, error) {
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	return newRepoResolver(modelRepo, id, opts)
}

// newRepoResolver is newResolver for a repository of either type; id is
// already valid.
func newRepoResolver(typ repoType, id string, opts Options) (*resolver, error) {
	get := os.Getenv
	r := &resolver{typ: typ, id: id, rev: opts.Revision, cacheDir: opts.CacheDir, endpoint: strings.TrimRight(opts.Endpoint, "/"),
		token: opts.Token, progress: opts.Progress, log: opts.Log, client: opts.Client}
	if r.rev == "" {
		r.rev = "main"
	}
	if err := validRevision(r.rev); err != nil {
		return nil, err
	}
	if r.cacheDir == "" {
		r.cacheDir = defaultCacheDir(get)
	}
	if r.endpoint == "" {
		r.endpoint = defaultEndpoint(get)
	}
	if r.token == "" {
		r.token = defaultToken(get)
	}
	r.offline = opts.Offline || defaultOffline(get)
	if r.offline {
		r.offWhy = offlineReason(get, opts.Offline)
	}
	if r.client == nil {
		r.client = &http.Client{}
	}
	nr := *r.client
	nr.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	r.noRedirect = &nr
	r.storage = filepath.Join(r.cacheDir, repoFolderName(typ, id))
	r.metaTimeout = envSeconds(get, "HF_HUB_ETAG_TIMEOUT", 30*time.Second)
	r.stallTimeout = envSeconds(get, "HF_HUB_DOWNLOAD_TIMEOUT", 60*time.Second)
	return r, nil
}

func (r *resolver) logf(format string, a ...any) {
	if r.log != nil {
		fmt.Fprintf(r.log, "hub: "+format+"\n", a...)
	}
}

// resolve finds or downloads the snapshot. strict (Download) never falls
// back to the cache when the Hub fails.
func (r *resolver) resolve(ctx context.Context, strict bool) (string, error) {
	if r.offline {
		dir, err := r.fromCache(nil)
		if err != nil && strict {
			return "", errorf(ErrNotCached, "model %s is not (completely) in the Hugging Face cache at %s and %s: unset it to download", r.id, r.cacheDir, r.offWhy)
		}
		return dir, err
	}
	prior := r.cachedCommit() // what the cache had before we touch refs
	dir, err := r.online(ctx)
	if err == nil {
		return dir, nil
	}
	if strict || ctx.Err() != nil {
		return "", err
	}
	var he *hubError
	if errors.As(err, &he) && (he.kind == ErrNoSafetensors || he.kind == ErrInvalidID) {
		return "", err // the cache cannot do better
	}
	if prior != "" {
		if dir, cerr := r.snapshotIfComplete(prior); cerr == nil {
			r.logf("%v; using the cached snapshot %s", err, dir)
			return dir, nil
		}
	}
	var ne *netErr
	if errors.As(err, &ne) {
		return r.fromCache(err)
	}
	return "", err
}

// online lists the revision, writes refs/<rev>, fetches every needed file
// and returns the snapshot folder.
func (r *resolver) online(ctx context.Context) (string, error) {
	info, err := r.listRevision(ctx)
	if err != nil {
		return "", err
	}
	commit := info.Sha
	if err := os.MkdirAll(r.storage, 0o755); err != nil {
		return "", fmt.Errorf("hub cache %s: %w", r.cacheDir, err)
	}
	if err := r.writeRef(commit); err != nil {
		return "", fmt.Errorf("hub cache: writing %s: %w", r.refPath(r.rev), err)
	}
	names := make(map[string]bool, len(info.Siblings))
	for _, s := range info.Siblings {
		if isLocalFile(s.RFilename) {
			names[s.RFilename] = true
		}
	}
	src := &onlineSource{r: r, ctx: ctx, commit: commit, names: names}
	files, err := plan(src, r.id)
	if err != nil {
		return "", err
	}
	for _, f := range files {
		if err := r.fetch(ctx, commit, f); err != nil {
			return "", err
		}
	}
	if !names["tokenizer.json"] {
		r.markNoExist(commit, "tokenizer.json")
	}
	return r.snapshotDir(commit), nil
}

// fromCache resolves without the network. cause is the network error that
// sent us here, nil when offline mode is on.
func (r *resolver) fromCache(cause error) (string, error) {
	commit := r.cachedCommit()
	if commit != "" {
		dir, err := r.snapshotIfComplete(commit)
		if err == nil {
			return dir, nil
		}
		return "", r.missError(cause, err.Error())
	}
	return "", r.missError(cause, "")
}

func (r *resolver) snapshotIfComplete(commit string) (string, error) {
	src := &cacheSource{r: r, commit: commit}
	files, err := plan(src, r.id)
	if err != nil {
		return "", err
	}
	var missing []string
	for _, f := range files {
		if !fileExists(r.pointerPath(commit, f)) {
			missing = append(missing, f)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("missing %s", strings.Join(missing, ", "))
	}
	return r.snapshotDir(commit), nil
}

// missError is the one error for "not usable from the cache": it says what
// to download and where to put it.
func (r *resolver) missError(cause error, incomplete string) error {
	rev := ""
	if r.rev != "main" {
		rev = " --revision " + r.rev
	}
	var why string
	if cause != nil {
		why = cause.Error()
	} else {
		why = r.offWhy
	}
	state := "is not in the Hugging Face cache at " + r.cacheDir
	if incomplete != "" {
		state = fmt.Sprintf("is only partly in the Hugging Face cache at %s (%s)", r.cacheDir, incomplete)
	}
	msg := fmt.Sprintf("model %s %s and %s; download it on a connected machine with `huggingface-cli download %s%s` (or `kormed download --model %s%s`) and copy the cache folder here, or pass --model /path/to/folder",
		r.id, state, why, r.id, rev, r.id, rev)
	return &hubError{kind: ErrNotCached, msg: msg, err: cause}
}

// fileSource is what plan needs to know about a repo at one commit.
type fileSource interface {
	has(name string) bool
	// read returns a file's bytes, downloading it first when online.
	read(name string) ([]byte, error)
	// listed reports whether has knows the repo's full file list (online).
	listed() bool
}

type onlineSource struct {
	r      *resolver
	ctx    context.Context
	commit string
	names  map[string]bool
}

func (s *onlineSource) has(name string) bool { return s.names[name] }
func (s *onlineSource) listed() bool         { return true }
func (s *onlineSource) read(name string) ([]byte, error) {
	if err := s.r.fetch(s.ctx, s.commit, name); err != nil {
		return nil, err
	}
	return os.ReadFile(s.r.pointerPath(s.commit, name))
}

type cacheSource struct {
	r      *resolver
	commit string
}

func (s *cacheSource) has(name string) bool {
	if fileExists(s.r.pointerPath(s.commit, name)) {
		return true
	}
	// Offline we cannot list the repo. Treat the files plan insists on as
	// present so that their absence is reported as missing, except a
	// tokenizer.json the Hub said does not exist (.no_exist marker).
	if name == "model.safetensors" || strings.HasSuffix(name, "/model.safetensors") {
		// Required unless the snapshot shows another layout (an index,
		// or only weights kormed cannot read, reported as such).
		pre := strings.TrimSuffix(name, "model.safetensors")
		if fileExists(s.r.pointerPath(s.commit, pre+"model.safetensors.index.json")) {
			return false
		}
		for _, o := range otherWeights {
			if fileExists(s.r.pointerPath(s.commit, pre+o)) {
				return false
			}
		}
		return true
	}
	switch name {
	case "config.json":
		_, err := os.Stat(s.r.noExistPath(s.commit, name))
		return err != nil
	case "tokenizer.json":
		_, err := os.Stat(s.r.noExistPath(s.commit, name))
		return err != nil && !fileExists(s.r.pointerPath(s.commit, "vocab.txt"))
	}
	return false
}

func (s *cacheSource) listed() bool { return false }

func (s *cacheSource) read(name string) ([]byte, error) {
	return os.ReadFile(s.r.pointerPath(s.commit, name))
}
