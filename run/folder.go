package run

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/blas"
)

// StateFile is the name of a run folder's state file.
const StateFile = "state.json"

// ErrInterrupted is returned when the context is cancelled mid-run; a
// checkpoint was written and a resume continues from it.
var ErrInterrupted = errors.New("training interrupted; a checkpoint was saved: run again with --resume to continue")

// Engine is the engine a run started with, recorded in its state file: a
// resume with other settings continues, but its weights are no longer bit
// for bit those of an uninterrupted run. A trainer's state struct embeds
// it last, so state.json ends with "threads" and "precision".
type Engine struct {
	Threads   int    `json:"threads"`
	Precision string `json:"precision"`
}

// CurrentEngine is the engine as set now (blas.Threads and
// blas.CurrentPrecision).
func CurrentEngine() Engine {
	return Engine{Threads: blas.Threads(), Precision: blas.CurrentPrecision().String()}
}

// State is a trainer's state file contents (a pointer to its own struct,
// which records its progress as it likes).
type State interface {
	// Stamp returns the recipe fingerprint and the engine the run
	// started with.
	Stamp() (fingerprint string, e Engine)
}

// Open readies run folder dir for a run of the recipe whose fingerprint
// is fp (see Fingerprint), and creates the folder. When dir holds a run
// (a state file), resume must be set: Open reads the state into st,
// refuses a different fingerprint (changed says what that means, as in
// "the settings changed since this run started"), and warns on w when the
// run started with other threads or precision; it returns true. Otherwise
// it returns false, st untouched, for the caller to start afresh (with
// resume, after a note on w that there was nothing to resume).
func Open(dir, fp string, resume bool, st State, changed string, w io.Writer) (bool, error) {
	path := filepath.Join(dir, StateFile)
	found := false
	switch b, err := os.ReadFile(path); {
	case err == nil && !resume:
		return false, fmt.Errorf("%s already holds a run (state.json): pass --resume to continue it, or choose another --output", dir)
	case err == nil:
		if err := json.Unmarshal(b, st); err != nil {
			return false, fmt.Errorf("%s: %w", path, err)
		}
		was, e := st.Stamp()
		if was != fp {
			return false, fmt.Errorf("%s: %s — start a new --output", dir, changed)
		}
		if now := CurrentEngine(); e != now {
			fmt.Fprintf(w, "warning: the run started with --threads %d --precision %s, this resume runs %d threads in %s: it continues, but the weights will not be bit-identical to an uninterrupted run\n",
				e.Threads, e.Precision, now.Threads, now.Precision)
		}
		found = true
	case errors.Is(err, os.ErrNotExist):
		if resume {
			fmt.Fprintf(w, "resume: %s has no run yet; starting from the beginning\n", dir)
		}
	default:
		return false, err
	}
	return found, os.MkdirAll(dir, 0o755)
}

// WriteState replaces dir's state file with st, atomically.
func WriteState(dir string, st State) error {
	return atomicfile.WriteJSON(filepath.Join(dir, StateFile), st)
}

// Fingerprint identifies a recipe by its JSON form (the first 8 bytes of
// its SHA-256, in hex), so that a resume refuses a changed one.
func Fingerprint(recipe any) (string, error) {
	b, err := json.Marshal(recipe)
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8]), nil
}
