package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// WriteJSON writes v as indented JSON (two spaces, a final newline) to
// path, atomically.
func WriteJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return WriteBytes(path, append(data, '\n'))
}

// SyncDir makes the creations, renames and removals in dir durable where
// the system allows it (fsync of the folder; a no-op error is returned
// where folders cannot be opened for syncing).
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReplaceDir builds a folder with fill in a temporary sibling of dir and
// then renames it to dir. An existing dir must be a folder that guard
// accepts (guard nil accepts only an empty folder); it is renamed aside
// just before the new folder takes its place and then removed. If fill or
// a rename fails, the temporary folder is removed and dir is as it was.
// fill's error comes back wrapped as "save DIR: …".
func ReplaceDir(dir string, guard func(dir string, names []string) error, fill func(tmp string) error) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	exists := false
	if fi, err := os.Lstat(dir); err == nil {
		if !fi.IsDir() {
			return fmt.Errorf("save %s: exists and is not a folder (nor may it be a symbolic link)", dir)
		}
		names, err := readNames(dir)
		if err != nil {
			return err
		}
		if len(names) > 0 {
			if guard == nil {
				return fmt.Errorf("save %s: refusing to replace a folder that is not empty", dir)
			}
			if err := guard(dir, names); err != nil {
				return err
			}
		}
		exists = true
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	} else if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp")
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			os.RemoveAll(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil { // MkdirTemp makes 0700
		return err
	}
	if err := fill(tmp); err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	old := tmp + ".old"
	if exists {
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("save %s: %w", dir, err)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		if exists {
			os.Rename(old, dir)
		}
		return fmt.Errorf("save %s: %w", dir, err)
	}
	committed = true
	SyncDir(parent)
	if exists {
		if err := os.RemoveAll(old); err != nil {
			return fmt.Errorf("save %s: saved, but the replaced folder %s could not be removed: %w", dir, old, err)
		}
	}
	return nil
}

// Holding returns a ReplaceDir guard that accepts a folder holding at
// least one of the named files, and otherwise refuses naming them and
// what (kind, e.g. "a model folder") the folder is not.
func Holding(kind string, files ...string) func(dir string, names []string) error {
	return func(dir string, names []string) error {
		for _, n := range names {
			for _, f := range files {
				if n == f {
					return nil
				}
			}
		}
		list := ""
		for i, f := range files {
			switch {
			case i == 0:
			case i == len(files)-1:
				list += " or "
			default:
				list += ", "
			}
			list += f
		}
		return fmt.Errorf("save %s: refusing to replace a folder that is not %s (no %s)", dir, kind, list)
	}
}

func readNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && err != io.EOF {
		return nil, err
	}
	return names, nil
}
