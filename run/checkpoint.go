package run

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// CheckpointDir is the folder of a run's checkpoints, OUTPUT/checkpoints.
const CheckpointDir = "checkpoints"

// WriteCheckpoint writes checkpoint folder root/name, which is complete
// when it holds a trainer.json: unless it is complete already (written by
// an earlier attempt: training is deterministic, so it holds this very
// state), write fills a temporary folder in root, which then replaces
// whatever incomplete root/name an earlier attempt left. A kill at any
// moment leaves the earlier checkpoints intact.
func WriteCheckpoint(root, name string, write func(dir string) error) error {
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "trainer.json")); err == nil {
		return nil
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := write(tmp); err != nil {
		return err
	}
	os.RemoveAll(dir)
	return os.Rename(tmp, dir)
}

// PruneCheckpoints deletes, of the checkpoint folders in root whose names
// start with prefix (and end in a zero-padded step, so that names sort in
// step order), all but current and the keep−1 newest before it; with
// current "" all but the keep newest. A missing root is no error.
func PruneCheckpoints(root, prefix string, keep int, current string) error {
	ents, err := os.ReadDir(root)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	var mine []string
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), prefix) {
			mine = append(mine, e.Name())
		}
	}
	sort.Strings(mine)
	kept := 0
	for i := len(mine) - 1; i >= 0; i-- {
		n := mine[i]
		keepIt := false
		switch {
		case current == "":
			keepIt = kept < keep
		case n == current:
			keepIt = true
		case n < current:
			keepIt = kept < keep-1
		}
		if keepIt {
			if n != current {
				kept++
			}
			continue
		}
		if err := os.RemoveAll(filepath.Join(root, n)); err != nil {
			return err
		}
	}
	return nil
}
