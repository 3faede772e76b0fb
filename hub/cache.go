package hub

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/kormed/kormed/atomicfile"
)

// repoFolderName is huggingface_hub's repo_folder_name: "models--" (or
// "datasets--") + id with "/" replaced by "--".
func repoFolderName(typ repoType, id string) string {
	return string(typ) + "s--" + strings.ReplaceAll(id, "/", "--")
}

func (r *resolver) refPath(rev string) string {
	return filepath.Join(r.storage, "refs", filepath.FromSlash(rev))
}

func (r *resolver) snapshotDir(commit string) string {
	return filepath.Join(r.storage, "snapshots", commit)
}

func (r *resolver) pointerPath(commit, file string) string {
	return filepath.Join(r.snapshotDir(commit), filepath.FromSlash(file))
}

func (r *resolver) blobPath(etag string) string {
	return filepath.Join(r.storage, "blobs", etag)
}

func (r *resolver) lockPath(etag string) string {
	return filepath.Join(r.cacheDir, ".locks", repoFolderName(r.typ, r.id), etag+".lock")
}

func (r *resolver) noExistPath(commit, file string) string {
	return filepath.Join(r.storage, ".no_exist", commit, filepath.FromSlash(file))
}

// cachedCommit returns the commit the revision points to in the cache, or ""
// when the cache knows nothing of it.
func (r *resolver) cachedCommit() string {
	if commitRE.MatchString(r.rev) {
		if st, err := os.Stat(r.snapshotDir(r.rev)); err == nil && st.IsDir() {
			return r.rev
		}
		return ""
	}
	b, err := os.ReadFile(r.refPath(r.rev))
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(b))
	if !commitRE.MatchString(c) {
		return ""
	}
	return c
}

// writeRef records rev -> commit like huggingface_hub: the bare hash, no
// newline, written only when it changed (the cache may be read-only).
func (r *resolver) writeRef(commit string) error {
	if r.rev == commit {
		return nil
	}
	p := r.refPath(r.rev)
	if b, err := os.ReadFile(p); err == nil && string(b) == commit {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return atomicfile.WriteBytes(p, []byte(commit))
}

// linkPointer makes snapshots/<commit>/<file> a relative symlink to
// blobs/<etag> (../../blobs/<etag> for a top-level file), replacing whatever
// was there atomically. Where symlinks are not supported the blob is copied.
func (r *resolver) linkPointer(commit, file, etag string) error {
	ptr := r.pointerPath(commit, file)
	blob := r.blobPath(etag)
	if err := os.MkdirAll(filepath.Dir(ptr), 0o755); err != nil {
		return err
	}
	rel, err := filepath.Rel(filepath.Dir(ptr), blob)
	if err != nil {
		rel = blob
	}
	if cur, err := os.Readlink(ptr); err == nil && cur == rel {
		return nil
	}
	tmp := fmt.Sprintf("%s.tmp%d-%d", ptr, os.Getpid(), rand.Int64())
	os.Remove(tmp)
	if err := os.Symlink(rel, tmp); err == nil {
		if err := os.Rename(tmp, ptr); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
	// No symlinks here (e.g. Windows without developer mode): copy.
	return copyFile(blob, ptr)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	f, err := atomicfile.Create(dst)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := io.Copy(f, in); err != nil {
		return err
	}
	return f.Commit()
}

// markNoExist records that file does not exist at commit, as huggingface_hub
// does after a 404 (an empty file under .no_exist/<commit>/).
func (r *resolver) markNoExist(commit, file string) {
	p := r.noExistPath(commit, file)
	if _, err := os.Stat(p); err == nil {
		return
	}
	if os.MkdirAll(filepath.Dir(p), 0o755) == nil {
		_ = atomicfile.WriteBytes(p, nil)
	}
}

var etagRE = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,128}$`)

// normalizeEtag strips a weak marker and quotes: W/"abc" -> abc.
func normalizeEtag(e string) string {
	e = strings.TrimSpace(e)
	e = strings.TrimPrefix(e, "W/")
	return strings.Trim(e, `"`)
}

// isLocalFile reports whether a repo file name is safe to join under a
// snapshot folder (no absolute paths, no "..").
func isLocalFile(name string) bool {
	if name == "" || strings.HasPrefix(name, "/") || strings.Contains(name, `\`) || strings.ContainsRune(name, 0) {
		return false
	}
	for _, p := range strings.Split(name, "/") {
		if p == "" || p == "." || p == ".." {
			return false
		}
	}
	return filepath.IsLocal(filepath.FromSlash(name))
}

// fileExists follows symlinks: a dangling pointer counts as missing.
func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
