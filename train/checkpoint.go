package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/safetensors"
)

// A checkpoint is a folder OUTPUT/checkpoints/NN-name-step-SSSSSS holding
//
//	model/                  the model(s) as Save writes them
//	optimizer.safetensors   AdamW's moments: m.<slot> and v.<slot>, F32
//	trainer.json            step, optimiser step, best evaluation, counters
//
// built in a temporary folder and renamed into place, then named in
// OUTPUT/state.json; older checkpoints of the stage beyond keep_checkpoints
// are removed after that (keep_checkpoints 0 keeps the one named). When
// the stage ends, its keep_checkpoints newest checkpoints stay (none for
// 0): they are not needed to resume, but are what the recipe asked to
// keep. A kill at any moment leaves the previous checkpoint and
// state.json intact.

func checkpointPrefix(idx int, name string) string { return fmt.Sprintf("%02d-%s-step-", idx+1, name) }

func (sr *stageRun) checkpoint() error {
	name := fmt.Sprintf("%s%06d", checkpointPrefix(sr.idx, sr.s.Name), sr.ts.Step)
	root := filepath.Join(sr.out, "checkpoints")
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return err
	}
	if _, err := os.Stat(filepath.Join(dir, "trainer.json")); err == nil {
		// Written before (a resume interrupted at once): training is
		// deterministic, so it holds this very state.
		return sr.pointState(name)
	}
	tmp, err := os.MkdirTemp(root, ".tmp-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if err := sr.save(filepath.Join(tmp, "model"), sr.cardOptions(nil)); err != nil {
		return err
	}
	var ts []safetensors.Tensor
	for i, sl := range sr.slots {
		if sl.Grad == nil {
			continue
		}
		ts = append(ts, safetensors.Float32s("m."+sl.Name, []int{len(sr.opt.M[i])}, sr.opt.M[i]),
			safetensors.Float32s("v."+sl.Name, []int{len(sr.opt.V[i])}, sr.opt.V[i]))
	}
	if err := safetensors.Write(filepath.Join(tmp, "optimizer.safetensors"), ts, map[string]string{"kormed": "adamw"}); err != nil {
		return err
	}
	if err := atomicfile.WriteJSON(filepath.Join(tmp, "trainer.json"), &sr.ts); err != nil {
		return err
	}
	os.RemoveAll(dir) // an incomplete one (no trainer.json) from an earlier attempt
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	return sr.pointState(name)
}

// pointState names checkpoint name in state.json, logs it and prunes older ones.
func (sr *stageRun) pointState(name string) error {
	rel := filepath.Join("checkpoints", name)
	if sr.state.Checkpoint == rel {
		return nil // already named (an interrupt right after a regular checkpoint)
	}
	sr.state.Checkpoint = rel
	if err := atomicfile.WriteJSON(sr.statePath, sr.state); err != nil {
		return err
	}
	sr.log.Write(map[string]any{"event": "checkpoint", "stage": sr.s.Name, "stage_index": sr.idx, "step": sr.ts.Step, "path": rel})
	return removeCheckpoints(sr.out, sr.idx, sr.s.Name, sr.s.KeepCheckpoints, name)
}

// loadCheckpoint restores the optimiser and trainer state (the model was
// loaded from the checkpoint's model folder).
func (sr *stageRun) loadCheckpoint(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "trainer.json"))
	if err != nil {
		return err
	}
	var ts trainerState
	if err := json.Unmarshal(b, &ts); err != nil {
		return fmt.Errorf("%s: %v", filepath.Join(dir, "trainer.json"), err)
	}
	if ts.Stage != sr.idx || ts.Name != sr.s.Name || ts.Step > len(sr.plan.steps) {
		return fmt.Errorf("%s: checkpoint of stage %d (%s) step %d does not fit stage %d (%s) of %d steps",
			dir, ts.Stage+1, ts.Name, ts.Step, sr.idx+1, sr.s.Name, len(sr.plan.steps))
	}
	r, err := safetensors.Open(filepath.Join(dir, "optimizer.safetensors"))
	if err != nil {
		return err
	}
	defer r.Close()
	for i, sl := range sr.slots {
		if sl.Grad == nil {
			continue
		}
		for _, mv := range []struct {
			key string
			dst []float32
		}{{"m.", sr.opt.M[i]}, {"v.", sr.opt.V[i]}} {
			if err := r.ReadFloat32(mv.key+sl.Name, []int{len(mv.dst)}, mv.dst); err != nil {
				return fmt.Errorf("%s: %v (was the freezing changed?)", filepath.Join(dir, "optimizer.safetensors"), err)
			}
		}
	}
	sr.opt.Step = ts.OptStep
	sr.ts = ts
	return nil
}

// removeCheckpoints keeps, of a stage's checkpoints, current (the one
// state.json names) and the keep−1 newest before it; newer ones — left by
// an attempt that was killed before naming them — go too (the resumed run
// writes them again, identically). current "" removes them all but keep.
func removeCheckpoints(out string, idx int, name string, keep int, current string) error {
	return PruneCheckpoints(filepath.Join(out, "checkpoints"), checkpointPrefix(idx, name), keep, current)
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
