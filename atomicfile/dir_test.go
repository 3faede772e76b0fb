package atomicfile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestWriteJSON(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.json")
	if err := WriteJSON(p, map[string]int{"b": 2, "a": 1}); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if string(got) != "{\n  \"a\": 1,\n  \"b\": 2\n}\n" {
		t.Fatalf("got %q", got)
	}
	if err := WriteJSON(p, func() {}); err == nil || !strings.Contains(err.Error(), p) {
		t.Fatalf("unmarshalable value: %v", err)
	}
}

func TestReplaceDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	guard := Holding("a model folder", "config.json", "modules.json")
	write := func(name string) func(string) error {
		return func(tmp string) error { return os.WriteFile(filepath.Join(tmp, name), []byte("x"), 0o644) }
	}
	if err := ReplaceDir(dir, guard, write("config.json")); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(dir, guard, write("modules.json")); err != nil {
		t.Fatal(err)
	}
	names, _ := readNames(dir)
	if len(names) != 1 || names[0] != "modules.json" {
		t.Fatalf("replaced folder holds %v", names)
	}
	// A failing fill leaves the folder as it was and no temporary sibling.
	boom := errors.New("boom")
	err := ReplaceDir(dir, guard, func(string) error { return boom })
	if !errors.Is(err, boom) {
		t.Fatalf("fill error not wrapped: %v", err)
	}
	sib, _ := readNames(filepath.Dir(dir))
	if len(sib) != 1 {
		t.Fatalf("left behind: %v", sib)
	}
	// The guard refuses a folder that is not a model folder, naming it.
	other := filepath.Join(t.TempDir(), "notes")
	os.MkdirAll(other, 0o755)
	os.WriteFile(filepath.Join(other, "todo.txt"), nil, 0o644)
	err = ReplaceDir(other, guard, write("config.json"))
	if err == nil || !strings.Contains(err.Error(), "not a model folder (no config.json or modules.json)") {
		t.Fatalf("guard: %v", err)
	}
	if err := ReplaceDir(other, nil, write("config.json")); err == nil {
		t.Fatal("nil guard replaced a non-empty folder")
	}
	if _, err := os.Stat(filepath.Join(other, "todo.txt")); err != nil {
		t.Fatal("refused folder was touched")
	}
}

func TestLock(t *testing.T) {
	p := filepath.Join(t.TempDir(), "sub", ".lock")
	unlock, err := Lock(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	if flockAvailable {
		if _, err := TryLock(p); !errors.Is(err, ErrLocked) {
			t.Fatalf("TryLock on a held lock: %v", err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 120*time.Millisecond)
		defer cancel()
		if _, err := Lock(ctx, p, nil); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Lock past its deadline: %v", err)
		}
	}
	unlock()
	u2, err := TryLock(p)
	if err != nil {
		t.Fatalf("TryLock after unlock: %v", err)
	}
	u2()
}

// A holder that removes the lock file as it lets go hands the lock on
// safely: the waiter relocks the path afresh.
func TestLockRemovedByHolder(t *testing.T) {
	if !flockAvailable {
		t.Skip("no flock here")
	}
	p := filepath.Join(t.TempDir(), ".lock")
	unlock, err := Lock(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan func(), 1)
	go func() {
		u, err := Lock(context.Background(), p, nil)
		if err != nil {
			t.Error(err)
		}
		got <- u
	}()
	time.Sleep(100 * time.Millisecond)
	os.Remove(p)
	unlock()
	u := <-got
	// The waiter holds the lock on the file now at p, so a third taker is refused.
	if _, err := TryLock(p); !errors.Is(err, ErrLocked) {
		t.Fatalf("third taker: %v", err)
	}
	u()
}
