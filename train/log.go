package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"time"

	"github.com/kormed/kormed/atomicfile"
)

// jsonLog is the run's JSONL log, one record a line, each written with
// one system call, so a killed process loses at most the line in flight.
type jsonLog struct {
	path string
	f    *os.File
}

func openLog(path string) (*jsonLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, err
	}
	return &jsonLog{path: path, f: f}, nil
}

// write appends one record with the time.
func (l *jsonLog) write(rec map[string]any) {
	rec["time"] = time.Now().UTC().Format(time.RFC3339)
	b, err := json.Marshal(rec)
	if err != nil {
		return
	}
	l.f.Write(append(b, '\n'))
}

func (l *jsonLog) close() error { return l.f.Close() }

// truncate drops what a resumed stage will redo: records of stage idx
// after step, of later stages, and a torn last line.
func (l *jsonLog) truncate(idx, step int) error {
	b, err := os.ReadFile(l.path)
	if err != nil {
		return err
	}
	var keep bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	for sc.Scan() {
		var r struct {
			Stage *int `json:"stage_index"`
			Step  int  `json:"step"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil {
			continue
		}
		if r.Stage != nil && (*r.Stage > idx || *r.Stage == idx && r.Step > step) {
			continue
		}
		keep.Write(sc.Bytes())
		keep.WriteByte('\n')
	}
	l.f.Close()
	if err := atomicfile.WriteBytes(l.path, keep.Bytes()); err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	l.f = f
	return nil
}
