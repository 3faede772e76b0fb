package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Options control how a model id is resolved. The zero value takes every
// setting from the environment, the way huggingface_hub does.
type Options struct {
	Revision string    // branch, tag or commit hash; default "main"
	CacheDir string    // default: $HF_HUB_CACHE, else $HUGGINGFACE_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub
	Offline  bool      // never touch the network; also true when HF_HUB_OFFLINE or TRANSFORMERS_OFFLINE is 1/true/yes/on
	Token    string    // default $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN, else the token file ($HF_TOKEN_PATH or $HF_HOME/token)
	Endpoint string    // default $HF_ENDPOINT, else https://huggingface.co
	Progress io.Writer // progress bars for large files (drawn only on a terminal); nil = none
	Log      io.Writer // one-line notices, e.g. "hub unreachable, using the cached snapshot"; nil = quiet
	Client   *http.Client
}

// DefaultEndpoint is the public Hugging Face Hub.
const DefaultEndpoint = "https://huggingface.co"

// Sentinel errors; test with errors.Is. Every error returned by Resolve
// carries a full sentence of its own.
var (
	ErrInvalidID     = errors.New("invalid model id")
	ErrNotFound      = errors.New("not found on the hub")
	ErrGated         = errors.New("gated model")
	ErrUnauthorized  = errors.New("authentication failed")
	ErrNoSafetensors = errors.New("no safetensors weights")
	ErrChecksum      = errors.New("checksum mismatch")
	ErrNotCached     = errors.New("model not in the cache")
)

type hubError struct {
	kind error
	msg  string
	err  error // underlying cause, may be nil
}

func (e *hubError) Error() string { return e.msg }
func (e *hubError) Unwrap() []error {
	if e.err != nil {
		return []error{e.kind, e.err}
	}
	return []error{e.kind}
}

func errorf(kind error, format string, a ...any) error {
	return &hubError{kind: kind, msg: fmt.Sprintf(format, a...)}
}

// Resolve returns a local folder holding the model named by nameOrPath.
//
// An existing folder is returned as is. Otherwise nameOrPath must be a Hub
// model id ("org/name" or a legacy "name"); the files kormed needs are
// downloaded into the Hugging Face cache (or found there) and the snapshot
// folder is returned. When offline, or when the Hub cannot be reached, a
// complete cached snapshot is used.
func Resolve(ctx context.Context, nameOrPath string, opts Options) (string, error) {
	if nameOrPath == "" {
		return "", errorf(ErrInvalidID, "no model given: pass a Hugging Face model id (org/name) or a folder")
	}
	if st, err := os.Stat(nameOrPath); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("model %s is a file; pass the folder that holds config.json and model.safetensors, or a Hugging Face model id", nameOrPath)
		}
		return nameOrPath, nil
	}
	if looksLikePath(nameOrPath) {
		return "", fmt.Errorf("model folder %s does not exist (a Hugging Face model id looks like org/name)", nameOrPath)
	}
	r, err := newResolver(nameOrPath, opts)
	if err != nil {
		return "", err
	}
	return r.resolve(ctx, false)
}

// Download fetches the files kormed needs for the Hub model id into the
// cache and returns the snapshot folder. Unlike Resolve it never falls back
// to the cache when the Hub fails; when offline it only checks the cache.
// It is what `kormed download` runs.
func Download(ctx context.Context, id string, opts Options) (string, error) {
	if looksLikePath(id) {
		return "", errorf(ErrInvalidID, "download wants a Hugging Face model id (org/name), not a path: %q", id)
	}
	r, err := newResolver(id, opts)
	if err != nil {
		return "", err
	}
	return r.resolve(ctx, true)
}

// CacheDir returns the Hugging Face hub cache folder from the environment.
func CacheDir() string { return defaultCacheDir(os.Getenv) }

// RepoFolder returns the cache folder of a model id, e.g.
// <cache>/models--intfloat--multilingual-e5-small.
func RepoFolder(cacheDir, id string) string {
	return filepath.Join(cacheDir, repoFolderName(modelRepo, id))
}

// looksLikePath reports whether s can only be meant as a file system path.
func looksLikePath(s string) bool {
	return strings.HasPrefix(s, "/") || strings.HasPrefix(s, ".") || strings.HasPrefix(s, "~") ||
		strings.Contains(s, `\`) || strings.Count(s, "/") > 1 || filepath.IsAbs(s)
}

var namePart = regexp.MustCompile(`^[A-Za-z0-9_](?:[A-Za-z0-9_.\-]{0,94}[A-Za-z0-9_])?$`)

// ValidateID checks a Hub model id with huggingface_hub's rules: one or two
// parts split by '/', each of letters, digits, '-', '_' and '.', starting and
// ending with a letter, digit or '_', at most 96 characters, with no "--" or
// "..", and not ending in ".git".
func ValidateID(id string) error {
	bad := func(why string) error {
		return errorf(ErrInvalidID, "invalid model id %q: %s; want a Hugging Face id like intfloat/multilingual-e5-small, or an existing folder", id, why)
	}
	if strings.Contains(id, "://") {
		return bad("pass the id, not a URL")
	}
	parts := strings.Split(id, "/")
	if len(parts) > 2 {
		return bad("too many '/'")
	}
	for _, p := range parts {
		if p == "" {
			return bad("empty part")
		}
		if !namePart.MatchString(p) {
			return bad("each part must be 1-96 letters, digits, '-', '_' or '.', starting and ending with a letter, digit or '_'")
		}
	}
	if strings.Contains(id, "--") || strings.Contains(id, "..") {
		return bad(`"--" and ".." are not allowed`)
	}
	if strings.HasSuffix(id, ".git") {
		return bad(`it cannot end with ".git"`)
	}
	return nil
}

var commitRE = regexp.MustCompile(`^[0-9a-f]{40}$`)

func validRevision(rev string) error {
	if rev == "" || strings.HasPrefix(rev, "/") || strings.Contains(rev, `\`) || strings.ContainsAny(rev, "\x00\n\r") {
		return fmt.Errorf("invalid revision %q", rev)
	}
	for _, p := range strings.Split(rev, "/") {
		if p == "" || p == "." || p == ".." {
			return fmt.Errorf("invalid revision %q", rev)
		}
	}
	return nil
}
