//go:build unix

package atomicfile

import (
	"path/filepath"
	"syscall"
	"testing"
)

// The mode is 0644 whatever the umask (os.CreateTemp would give 0600, and
// a plain create under umask 077 would too).
func TestModeIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteBytes(p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	wantFile(t, p, "x")
}
