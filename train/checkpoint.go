package train

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/run"
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
	err := run.WriteCheckpoint(filepath.Join(sr.out, run.CheckpointDir), name, func(dir string) error {
		if err := sr.save(filepath.Join(dir, "model"), sr.cardOptions(nil)); err != nil {
			return err
		}
		if err := safetensors.Write(filepath.Join(dir, "optimizer.safetensors"), sr.opt.Moments(sr.slots), map[string]string{"kormed": "adamw"}); err != nil {
			return err
		}
		return atomicfile.WriteJSON(filepath.Join(dir, "trainer.json"), &sr.ts)
	})
	if err != nil {
		return err
	}
	return sr.pointState(name)
}

// pointState names checkpoint name in state.json, logs it and prunes older ones.
func (sr *stageRun) pointState(name string) error {
	rel := filepath.Join(run.CheckpointDir, name)
	if sr.state.Checkpoint == rel {
		return nil // already named (an interrupt right after a regular checkpoint)
	}
	sr.state.Checkpoint = rel
	if err := run.WriteState(sr.out, sr.state); err != nil {
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
		return fmt.Errorf("%s: %w", filepath.Join(dir, "trainer.json"), err)
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
	if err := sr.opt.ReadMoments(r, sr.slots); err != nil {
		return fmt.Errorf("%s: %w (was the freezing changed?)", filepath.Join(dir, "optimizer.safetensors"), err)
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
	return run.PruneCheckpoints(filepath.Join(out, run.CheckpointDir), checkpointPrefix(idx, name), keep, current)
}

// truncateLog drops what a resumed stage will redo: records of stage idx
// after step, of later stages, and a torn last line.
func truncateLog(l *run.Log, idx, step int) error {
	return l.Keep(func(line []byte) bool {
		var r struct {
			Stage *int `json:"stage_index"`
			Step  int  `json:"step"`
		}
		if json.Unmarshal(line, &r) != nil {
			return false
		}
		return r.Stage == nil || *r.Stage < idx || *r.Stage == idx && r.Step <= step
	})
}
