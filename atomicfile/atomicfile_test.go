package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// entries lists the names in dir, so a test can check that no temporary
// file was left behind.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func wantOnly(t *testing.T, dir string, names ...string) {
	t.Helper()
	got := entries(t, dir)
	if strings.Join(got, ",") != strings.Join(names, ",") {
		t.Errorf("%s holds %q, want %q", dir, got, names)
	}
}

func wantFile(t *testing.T, path, content string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != content {
		t.Errorf("%s = %q, want %q", path, b, content)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("%s mode %v, want -rw-r--r--", path, st.Mode().Perm())
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	err := WriteFile(p, func(w io.Writer) error {
		_, err := io.WriteString(w, "hello\n")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	wantFile(t, p, "hello\n")
	wantOnly(t, dir, "out.txt")

	// Replacing an existing file (even a 0600 one) gives the new content
	// and mode 0644.
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("0123456789", 300000) // larger than the 1 MiB buffer
	if err := WriteFile(p, func(w io.Writer) error { _, err := io.WriteString(w, big); return err }); err != nil {
		t.Fatal(err)
	}
	wantFile(t, p, big)
	wantOnly(t, dir, "out.txt")
}

func TestWriteFileFillError(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.txt")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFile(p, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("x", 3<<20)) // some of it reaches the temp file
		return boom
	})
	if err != boom {
		t.Fatalf("error %v, want fill's error unchanged", err)
	}
	wantFile(t, p, "old")
	wantOnly(t, dir, "out.txt")

	// A target that does not exist yet stays absent.
	q := filepath.Join(dir, "new.txt")
	if err := WriteFile(q, func(io.Writer) error { return boom }); err != boom {
		t.Fatalf("error %v, want boom", err)
	}
	if _, err := os.Stat(q); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stat %s after failed write: %v, want not exist", q, err)
	}
	wantOnly(t, dir, "out.txt")
}

func TestWriteBytes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "empty")
	if err := WriteBytes(p, nil); err != nil {
		t.Fatal(err)
	}
	wantFile(t, p, "")
	if err := WriteBytes(p, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	wantFile(t, p, "abc")
	wantOnly(t, dir, "empty")
}

func TestCreateCommit(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "data.bin")
	if err := WriteBytes(p, []byte("old content")); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if f.Path() != p {
		t.Errorf("Path() = %q, want %q", f.Path(), p)
	}
	if _, err := f.Write([]byte("HDR0body")); err != nil {
		t.Fatal(err)
	}
	// Until Commit the target keeps its old content and the temp file
	// sits beside it.
	wantFile(t, p, "old content")
	if n := len(entries(t, dir)); n != 2 {
		t.Errorf("%d entries during the write, want 2 (target + temp)", n)
	}
	// Patch the header in place, then append after a seek to the end.
	if _, err := f.WriteAt([]byte("HDR9"), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekEnd); err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, strings.NewReader("+tail")); err != nil {
		t.Fatal(err)
	}
	if err := f.Commit(); err != nil {
		t.Fatal(err)
	}
	wantFile(t, p, "HDR9body+tail")
	wantOnly(t, dir, "data.bin")

	// Abort after Commit (the deferred call) must not remove anything.
	f.Abort()
	wantFile(t, p, "HDR9body+tail")
	wantOnly(t, dir, "data.bin")

	if err := f.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("second Commit: %v, want ErrClosed", err)
	}
	wantFile(t, p, "HDR9body+tail")
}

func TestAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keep.txt")
	if err := WriteBytes(p, []byte("old")); err != nil {
		t.Fatal(err)
	}
	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half-written"))
	f.Abort()
	f.Abort() // twice is fine
	wantFile(t, p, "old")
	wantOnly(t, dir, "keep.txt")
	if err := f.Commit(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Commit after Abort: %v, want ErrClosed", err)
	}
	wantFile(t, p, "old")
	wantOnly(t, dir, "keep.txt")
}

func TestCommitRenameError(t *testing.T) {
	// The target is a non-empty directory: the rename fails, the temp
	// file goes, and the directory is untouched.
	dir := t.TempDir()
	p := filepath.Join(dir, "sub")
	if err := os.MkdirAll(filepath.Join(p, "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	err := WriteBytes(p, []byte("data"))
	var le *os.LinkError
	if !errors.As(err, &le) {
		t.Fatalf("error %v, want a rename error", err)
	}
	wantOnly(t, dir, "sub")
	wantOnly(t, p, "x")
}

func TestCreateMissingDir(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no", "such", "file")
	if _, err := Create(p); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Create in a missing folder: %v, want not exist", err)
	}
	if err := WriteFile(p, func(io.Writer) error { t.Error("fill called"); return nil }); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("WriteFile in a missing folder: %v, want not exist", err)
	}
}
