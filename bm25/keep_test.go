package bm25

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// Keep must give the index Build makes from the kept documents, byte for
// byte in its saved form.
func TestKeepEqualsBuild(t *testing.T) {
	docs := []Doc{
		{ID: "a", Text: "두통 해열 진통제"},
		{ID: "b", Text: "두통, 두통! 감기"},
		{ID: "c", Text: "감기 기침 해열"},
		{ID: "d", Text: "위염 소화불량"},
		{ID: "e", Text: "기침 가래 감기약"},
	}
	for _, an := range []string{"bigram", "union"} {
		all, err := Build(docs, Options{Analyzer: an})
		if err != nil {
			t.Fatal(err)
		}
		for _, keep := range [][]int{{0, 1, 2, 3, 4}, {1, 3}, {0, 2, 4}, {4}, {}} {
			var kept []Doc
			for _, d := range keep {
				kept = append(kept, docs[d])
			}
			want, err := Build(kept, Options{Analyzer: an})
			if err != nil {
				t.Fatal(err)
			}
			got, err := all.Keep(keep)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			if err := want.Save(filepath.Join(dir, "want")); err != nil {
				t.Fatal(err)
			}
			if err := got.Save(filepath.Join(dir, "got")); err != nil {
				t.Fatal(err)
			}
			w, _ := os.ReadFile(filepath.Join(dir, "want"))
			g, _ := os.ReadFile(filepath.Join(dir, "got"))
			if !bytes.Equal(w, g) {
				t.Errorf("%s: Keep(%v) saves %d bytes unlike Build's %d", an, keep, len(g), len(w))
			}
			checkHits(t, got.Search("감기 두통 해열", 10), want.Search("감기 두통 해열", 10))
		}
		if _, err := all.Keep([]int{2, 1}); err == nil {
			t.Error("Keep accepted documents out of order")
		}
	}
}
