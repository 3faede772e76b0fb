package embedfile

import (
	"context"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/npy"
)

// lenEncoder embeds a text as [its length in bytes, 1].
type lenEncoder struct{ prefix string }

func (e *lenEncoder) EncodePrefixed(_ context.Context, texts []string, prefix string) ([][]float32, error) {
	e.prefix = prefix
	out := make([][]float32, len(texts))
	for i, t := range texts {
		out[i] = []float32{float32(len(prefix + t)), 1}
	}
	return out, nil
}
func (e *lenEncoder) Dim() int     { return 2 }
func (e *lenEncoder) Name() string { return "len" }

// TestRun writes JSONL records with ids or line numbers and a .npy of as
// many rows as texts, across chunks.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.jsonl")
	os.WriteFile(in, []byte(`{"_id":"a","text":"xy"}`+"\n\n"+`{"text":"abc"}`+"\n"), 0o644)
	out := filepath.Join(dir, "out.jsonl")
	enc := &lenEncoder{}
	job := Job{Input: in, Output: out, JSONL: true, Field: "text", Prefix: "q: ", WithText: true, Log: io.Discard}
	if err := Run(context.Background(), enc, job); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(out)
	want := `{"id":"a","text":"xy","embedding":[5,1]}` + "\n" + `{"line":3,"text":"abc","embedding":[6,1]}` + "\n"
	if string(got) != want || enc.prefix != "q: " {
		t.Errorf("got %q (prefix %q), want %q", got, enc.prefix, want)
	}

	lines := strings.Repeat("t\n", Chunk+3)
	out = filepath.Join(dir, "out.npy")
	job = Job{Input: "-", Stdin: strings.NewReader(lines), Output: out, NPY: true, Log: io.Discard}
	if err := Run(context.Background(), enc, job); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(out)
	if string(b[:npy.HeaderLen]) != string(npy.Header(Chunk+3, 2)) || len(b) != npy.HeaderLen+(Chunk+3)*8 {
		t.Fatalf("npy of %d bytes, header %q", len(b), b[:npy.HeaderLen])
	}
	if binary.LittleEndian.Uint32(b[npy.HeaderLen:]) != 0x3f800000 { // 1.0: len("t")
		t.Errorf("first value %x", b[npy.HeaderLen:npy.HeaderLen+4])
	}
}

func TestCountRecords(t *testing.T) {
	for in, want := range map[string]int64{"": 0, "a": 1, "a\n": 1, "a\nb": 2, "a\n\nb\n": 3} {
		if n, err := countRecords(strings.NewReader(in)); err != nil || n != want {
			t.Errorf("countRecords(%q) = %d, %v; want %d", in, n, err, want)
		}
	}
}
