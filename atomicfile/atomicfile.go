package atomicfile

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Mode is the permission of every file this package writes.
const Mode os.FileMode = 0o644

// WriteFile writes path by calling fill with a buffered writer on a
// temporary file in the same folder, then flushing, syncing and renaming it
// over path. If fill or any later step fails, path is left untouched, the
// temporary file is removed and the error is returned (fill's own error
// unchanged).
func WriteFile(path string, fill func(w io.Writer) error) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err := fill(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return f.Commit()
}

// WriteBytes writes data to path atomically, like WriteFile.
func WriteBytes(path string, data []byte) error {
	f, err := Create(path)
	if err != nil {
		return err
	}
	defer f.Abort()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Commit()
}

// File is a streaming atomic write of one path. Write to it (it is not
// buffered; wrap it in a bufio.Writer for small writes), then call Commit
// to publish it or Abort to drop it. A deferred Abort after Commit does
// nothing, so the usual pattern is
//
//	f, err := atomicfile.Create(path)
//	if err != nil { return err }
//	defer f.Abort()
//	... write ...
//	return f.Commit()
type File struct {
	f    *os.File
	path string
	done bool
}

// Create starts an atomic write of path: it creates the temporary file
// (mode Mode) in path's folder. path itself is not touched until Commit.
func Create(path string) (*File, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(Mode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, err
	}
	return &File{f: f, path: path}, nil
}

// Path returns the target path (not the temporary file's).
func (f *File) Path() string { return f.path }

// Write writes to the temporary file.
func (f *File) Write(p []byte) (int, error) { return f.f.Write(p) }

// WriteAt writes at an offset of the temporary file (to patch a header
// after the body is written).
func (f *File) WriteAt(p []byte, off int64) (int, error) { return f.f.WriteAt(p, off) }

// Seek sets the offset of the next Write.
func (f *File) Seek(offset int64, whence int) (int64, error) { return f.f.Seek(offset, whence) }

// ReadFrom copies r into the file, letting io.Copy use the operating
// system's file-to-file copy where it can.
func (f *File) ReadFrom(r io.Reader) (int64, error) { return f.f.ReadFrom(r) }

// Commit syncs and closes the temporary file and renames it over the
// target. On error the temporary file is removed and the target is left as
// it was. Commit may be called once; Abort afterwards is a no-op.
func (f *File) Commit() error {
	if f.done {
		return fmt.Errorf("writing %s: %w", f.path, os.ErrClosed)
	}
	f.done = true
	err := f.f.Sync()
	if cerr := f.f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.f.Name())
		return fmt.Errorf("writing %s: %w", f.path, err)
	}
	if err := os.Rename(f.f.Name(), f.path); err != nil {
		os.Remove(f.f.Name())
		return err // a LinkError naming both paths
	}
	return nil
}

// Abort closes and removes the temporary file, leaving the target as it
// was. It does nothing after Commit or a previous Abort.
func (f *File) Abort() {
	if f.done {
		return
	}
	f.done = true
	f.f.Close()
	os.Remove(f.f.Name())
}
