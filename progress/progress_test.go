package progress

import (
	"bytes"
	"strings"
	"testing"
)

func TestBarSilentOnNonTerminal(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "embed", 10)
	b.Add(5)
	b.Finish()
	if buf.Len() != 0 {
		t.Fatalf("bar wrote %q to a non-terminal", buf.String())
	}
}

func TestBarForced(t *testing.T) {
	var buf bytes.Buffer
	b := New(&buf, "embed", 4).Force(true)
	b.Add(1) // first draw is immediate
	b.Add(3) // throttled: no draw
	b.Finish()
	out := buf.String()
	if !strings.Contains(out, "embed [=======") || !strings.Contains(out, "1/4  25.0%") {
		t.Fatalf("first draw missing: %q", out)
	}
	if !strings.Contains(out, "4/4 100.0%") || !strings.HasSuffix(out, "s\n") {
		t.Fatalf("final draw missing: %q", out)
	}
}
