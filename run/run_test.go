package run

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

type testState struct {
	Fingerprint string `json:"fingerprint"`
	Step        int    `json:"step"`
	Engine
}

func (st *testState) Stamp() (string, Engine) { return st.Fingerprint, st.Engine }

// TestOpen: a fresh folder, a second run without resume, a resume, a
// changed recipe, another engine, a resume with nothing to resume.
func TestOpen(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var w bytes.Buffer
	var st testState
	if found, err := Open(dir, "fp", false, &st, "changed", &w); err != nil || found || w.Len() > 0 {
		t.Fatalf("fresh: %v %v %q", found, err, w.String())
	}
	if _, err := os.Stat(dir); err != nil {
		t.Fatal("the folder was not created")
	}
	st = testState{Fingerprint: "fp", Step: 3, Engine: CurrentEngine()}
	if err := WriteState(dir, &st); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(filepath.Join(dir, StateFile))
	if !strings.Contains(string(b), `"step": 3,`) || !strings.HasSuffix(strings.TrimSpace(string(b)), `"precision": "`+st.Precision+`"
}`) {
		t.Errorf("state.json:\n%s", b)
	}
	if _, err := Open(dir, "fp", false, &testState{}, "changed", &w); err == nil || !strings.Contains(err.Error(), "pass --resume") {
		t.Errorf("second run without resume: %v", err)
	}
	var got testState
	if found, err := Open(dir, "fp", true, &got, "changed", &w); err != nil || !found || !reflect.DeepEqual(got, st) || w.Len() > 0 {
		t.Errorf("resume: %v %v %+v %q", found, err, got, w.String())
	}
	if _, err := Open(dir, "other", true, &testState{}, "the recipe changed", &w); err == nil || err.Error() != dir+": the recipe changed — start a new --output" {
		t.Errorf("changed recipe: %v", err)
	}
	st.Threads++
	WriteState(dir, &st)
	if _, err := Open(dir, "fp", true, &testState{}, "changed", &w); err != nil || !strings.Contains(w.String(), "not be bit-identical") {
		t.Errorf("other engine: %v %q", err, w.String())
	}
	w.Reset()
	if found, err := Open(filepath.Join(t.TempDir(), "new"), "fp", true, &testState{}, "changed", &w); err != nil || found || !strings.Contains(w.String(), "has no run yet") {
		t.Errorf("resume of nothing: %v %v %q", found, err, w.String())
	}
}

func TestFingerprint(t *testing.T) {
	a, _ := Fingerprint(struct{ LR float64 }{1e-3})
	b, _ := Fingerprint(struct{ LR float64 }{1e-3})
	c, _ := Fingerprint(struct{ LR float64 }{2e-3})
	if a != b || a == c || len(a) != 16 {
		t.Errorf("%s %s %s", a, b, c)
	}
}

// TestPruneCheckpoints keeps current and the keep−1 newest before it,
// and drops newer ones (an attempt killed before naming them).
func TestPruneCheckpoints(t *testing.T) {
	root := t.TempDir()
	names := []string{"01-a-step-000005", "01-a-step-000010", "01-a-step-000015", "01-a-step-000020", "02-b-step-000005"}
	mk := func() {
		for _, n := range names {
			os.MkdirAll(filepath.Join(root, n), 0o755)
		}
	}
	left := func() (l []string) {
		ents, _ := os.ReadDir(root)
		for _, e := range ents {
			l = append(l, e.Name())
		}
		return l
	}
	mk()
	if err := PruneCheckpoints(root, "01-a-step-", 2, "01-a-step-000015"); err != nil {
		t.Fatal(err)
	}
	if want := []string{"01-a-step-000010", "01-a-step-000015", "02-b-step-000005"}; !reflect.DeepEqual(left(), want) {
		t.Errorf("keep 2 at 15: %v, want %v", left(), want)
	}
	mk()
	PruneCheckpoints(root, "01-a-step-", 1, "")
	if want := []string{"01-a-step-000020", "02-b-step-000005"}; !reflect.DeepEqual(left(), want) {
		t.Errorf("keep 1: %v, want %v", left(), want)
	}
	if err := PruneCheckpoints(filepath.Join(root, "none"), "x", 1, ""); err != nil {
		t.Errorf("a missing root: %v", err)
	}
}

// TestWriteCheckpoint: built aside and renamed; a complete one is kept, an
// incomplete one replaced.
func TestWriteCheckpoint(t *testing.T) {
	root := filepath.Join(t.TempDir(), CheckpointDir)
	write := func(content string) func(string) error {
		return func(dir string) error {
			return os.WriteFile(filepath.Join(dir, "trainer.json"), []byte(content), 0o644)
		}
	}
	os.MkdirAll(filepath.Join(root, "step-1"), 0o755) // incomplete
	if err := WriteCheckpoint(root, "step-1", write("a")); err != nil {
		t.Fatal(err)
	}
	if err := WriteCheckpoint(root, "step-1", write("b")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(root, "step-1", "trainer.json")); string(b) != "a" {
		t.Errorf("trainer.json %q, want the first write's", b)
	}
	if ents, _ := os.ReadDir(root); len(ents) != 1 {
		t.Errorf("%d entries left in %s, want 1", len(ents), root)
	}
}

// TestLogTruncate drops the records after a step and a torn last line.
func TestLogTruncate(t *testing.T) {
	p := filepath.Join(t.TempDir(), "train.jsonl")
	l, err := OpenLog(p)
	if err != nil {
		t.Fatal(err)
	}
	for s := 0; s <= 3; s++ {
		l.Write(map[string]any{"step": s})
	}
	l.Close()
	f, _ := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"step": 4, "lo`)
	f.Close()
	if l, err = OpenLog(p); err != nil {
		t.Fatal(err)
	}
	if err := l.Truncate(2); err != nil {
		t.Fatal(err)
	}
	l.Write(map[string]any{"step": 3})
	l.Close()
	b, _ := os.ReadFile(p)
	if n := strings.Count(string(b), "\n"); n != 4 || !strings.Contains(string(b), `{"step":2,`) || strings.Contains(string(b), `"lo`) {
		t.Errorf("log after truncating to step 2 and writing step 3:\n%s", b)
	}
	if l, err = OpenLog(p); err != nil {
		t.Fatal(err)
	}
	l.Truncate(-1)
	l.Close()
	if b, _ := os.ReadFile(p); len(b) != 0 {
		t.Errorf("step -1 left %q", b)
	}
}

func TestOverride(t *testing.T) {
	var s struct {
		LR      float64           `toml:"lr"`
		Name    string            `toml:"name"`
		Cols    map[string]string `toml:"columns"`
		Shuffle *bool             `toml:"shuffle"`
	}
	for _, kv := range [][2]string{{"lr", "1e-3"}, {"name", "bare"}, {"columns", `{query = "Q"}`}, {"shuffle", "false"}} {
		if err := Override(&s, kv[0], kv[1]); err != nil {
			t.Fatalf("%s=%s: %v", kv[0], kv[1], err)
		}
	}
	if s.LR != 1e-3 || s.Name != "bare" || s.Cols["query"] != "Q" || s.Shuffle == nil || *s.Shuffle {
		t.Errorf("%+v", s)
	}
	if err := Override(&s, "bogus", "1"); err == nil || err.Error() != "unknown key bogus" {
		t.Errorf("unknown key: %v", err)
	}
	if err := Override(&s, "lr", "fast"); err == nil {
		t.Error("a string into a float was accepted")
	}
}

func TestExpandEnv(t *testing.T) {
	t.Setenv("KORMED_RUN_TEST", "x")
	if v, err := ExpandEnv("${KORMED_RUN_TEST}/a ${KORMED_RUN_UNSET:-d}", "data"); err != nil || v != "x/a d" {
		t.Errorf("%q %v", v, err)
	}
	if _, err := ExpandEnv("${KORMED_RUN_UNSET}", "data"); err == nil || !strings.Contains(err.Error(), "data: environment variable KORMED_RUN_UNSET is not set") {
		t.Errorf("unset: %v", err)
	}
}
