package model_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/kormed/kormed/model"
)

// TestSaveCopiesTokenizerFiles: the source's tokenizer files besides
// tokenizer.json (a sentencepiece model, a WordPiece vocabulary, added
// tokens) come back byte for byte in the saved folder, through a second
// save too; other files of the source (a stray .bin, a notes file) do not,
// and a *.model folder is not a file to copy.
func TestSaveCopiesTokenizerFiles(t *testing.T) {
	src := copyDir(t, tiny("tiny-xlmr"), "tiny-xlmr")
	want := map[string][]byte{
		"sentencepiece.bpe.model": {0x0a, 0x0b, 0x00, 0xff, 's', 'p'},
		"spiece.model":            []byte("another sentencepiece model\n"),
		"vocab.txt":               []byte("[PAD]\n[UNK]\n해열제\n"),
		"added_tokens.json":       []byte(`{"<extra>": 250002}` + "\n"),
		"merges.txt":              []byte("#version: 0.2\nh e\n"),
	}
	for n, b := range want {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for n, b := range map[string][]byte{"pytorch_model.bin": {1, 2, 3}, "notes.txt": []byte("not a tokenizer file")} {
		if err := os.WriteFile(filepath.Join(src, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(src, "dir.model"), 0o755); err != nil {
		t.Fatal(err)
	}
	dir := src
	for i, out := range []string{filepath.Join(t.TempDir(), "saved"), filepath.Join(t.TempDir(), "saved-again")} {
		m, err := model.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Save(out, model.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		for n, b := range want {
			got, err := os.ReadFile(filepath.Join(out, n))
			if err != nil {
				t.Errorf("save %d: %v", i+1, err)
				continue
			}
			if !bytes.Equal(got, b) {
				t.Errorf("save %d: %s = %q, want %q", i+1, n, got, b)
			}
		}
		for _, n := range []string{"pytorch_model.bin", "notes.txt", "dir.model"} {
			if _, err := os.Stat(filepath.Join(out, n)); err == nil {
				t.Errorf("save %d: %s copied", i+1, n)
			}
		}
		// The source's tokenizer.json and tokenizer_config.json, as before.
		for _, n := range []string{"tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"} {
			if !bytes.Equal(readFile(t, filepath.Join(src, n)), readFile(t, filepath.Join(out, n))) {
				t.Errorf("save %d: %s differs from the source's", i+1, n)
			}
		}
		dir = out
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
