package run

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"time"

	"github.com/kormed/kormed/atomicfile"
)

// Log is a training run's JSONL log, OUTPUT/train.jsonl: one record a
// line, each written with one system call, so a killed process loses at
// most the line in flight.
type Log struct {
	path string
	f    *os.File
}

// OpenLog opens path for appending, creating it if needed.
func OpenLog(path string) (*Log, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &Log{path: path, f: f}, nil
}

// Write appends one record with the time.
func (l *Log) Write(rec map[string]any) {
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	l.f.Write(append(b, '\n'))
}

// Path is the file the log appends to.
func (l *Log) Path() string { return l.path }

// Close closes the log.
func (l *Log) Close() error { return l.f.Close() }

// Keep rewrites the log (atomically) with only the lines for which keep
// returns true — what a resumed run will not redo; lines that are not JSON
// (a torn last line) are dropped before keep sees them.
func (l *Log) Keep(keep func(line []byte) bool) error {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return err
	}
	var kept bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	for sc.Scan() {
		if !json.Valid(sc.Bytes()) || !keep(sc.Bytes()) {
			continue
		}
		kept.Write(sc.Bytes())
		kept.WriteByte('\n')
	}
	l.f.Close()
	if err := atomicfile.WriteBytes(l.path, kept.Bytes()); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	l.f = f
	return nil
}

// Truncate drops the records after step (a resumed run redoes them) and
// a torn last line; step −1 drops everything. A record without a step
// counts as step 0.
func (l *Log) Truncate(step int) error {
	return l.Keep(func(line []byte) bool {
		var r struct {
			Step int `json:"step"`
		}
		return step >= 0 && json.Unmarshal(line, &r) == nil && r.Step <= step
	})
}
