//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package hub

import (
	"context"
	"os"
	"path/filepath"
)

// lockFile is a no-op where flock is unavailable: downloads still go to a
// .incomplete file and are renamed into place atomically, so a racing
// process can at worst repeat a download, never leave a torn blob.
func lockFile(ctx context.Context, path string, notify func()) (unlock func(), err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return func() {}, nil
}
