package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"
)

// ErrLocked is TryLock's error when another process holds the lock.
var ErrLocked = errors.New("locked by another process")

// Lock takes an exclusive lock on the file path (created, with its
// folder, if missing), waiting until it is free or ctx is done; notify,
// if not nil, is called once when the wait passes two seconds. It is an
// advisory flock(2) lock — the same lock Python's filelock takes, so
// kormed and Python processes exclude each other — released by unlock or
// when the process ends (a crash leaves no stale lock). The lock file
// stays on disk unless the holder removes it before calling unlock: a
// waiter that then gets the lock on the removed file notices and locks the
// path afresh, so removing is safe and leaves no file behind. Where flock is unavailable (see lock_other.go) the lock
// is a no-op and writers rely on atomic renames alone.
func Lock(ctx context.Context, path string, notify func()) (unlock func(), err error) {
	f, err := openLockFile(path)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	told := false
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if ok {
			if current(f, path) {
				return func() { unlockFile(f); f.Close() }, nil
			}
			// The holder removed the file as it let go: lock the path anew.
			f.Close()
			if f, err = openLockFile(path); err != nil {
				return nil, err
			}
			continue
		}
		if !told && notify != nil && time.Since(start) > 2*time.Second {
			notify()
			told = true
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TryLock takes the lock on path like Lock if it is free at once, and
// returns ErrLocked if another process holds it.
func TryLock(path string) (unlock func(), err error) {
	for {
		f, err := openLockFile(path)
		if err != nil {
			return nil, err
		}
		ok, err := tryLock(f)
		if err != nil || !ok {
			f.Close()
			if err == nil {
				err = ErrLocked
			}
			return nil, err
		}
		if current(f, path) {
			return func() { unlockFile(f); f.Close() }, nil
		}
		f.Close()
	}
}

// current reports whether the locked file f is still the file at path.
func current(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}

func openLockFile(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, Mode)
}
