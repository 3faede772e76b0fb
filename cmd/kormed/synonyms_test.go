package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/drugbench"
)

// smallProducts exercises each alignment rule; its extra column names the
// rule and pass that pairs each code (shared with package drugbench's tests).
func smallProducts(t testing.TB) string {
	b, err := os.ReadFile(filepath.FromSlash("../../testdata/drugs/synonym_products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeProducts(t testing.TB, content string) (dir, path string) {
	dir = t.TempDir()
	path = filepath.Join(dir, drugbench.ProductsFile)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// TestDataSynonymsCommand writes both formats and reads them back.
func TestDataSynonymsCommand(t *testing.T) {
	dir, path := writeProducts(t, smallProducts(t))
	s, err := drugbench.BuildSynonyms(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct{ file, format, first string }{
		{"syn.txt", "", "M040006 || 감초\nM040006 || Licorice\n"},
		{"syn.csv", "", "code,term\nM040006,감초\n"},
		{"syn.tsv", "csv", "code,term\n"},
	} {
		out := filepath.Join(dir, c.file)
		args := []string{"--input", dir, "--output", out}
		if c.format != "" {
			args = append(args, "--format", c.format)
		}
		if err := cmdSynonyms.Exec(ctx, args); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(out)
		if !strings.HasPrefix(string(raw), c.first) {
			t.Errorf("%s starts %q", c.file, raw[:min(len(raw), 80)])
		}
		if c.format != "" {
			continue // a .tsv is read as lines: this one holds CSV
		}
		ex, err := dataset.ReadExamples(out, "")
		if err != nil {
			t.Fatal(err)
		}
		codes, terms := ex.Clusters()
		if !reflect.DeepEqual(codes, s.Codes) || !reflect.DeepEqual(terms, s.Terms) || ex.Duplicates != 0 {
			t.Errorf("%s read back as %v %v", c.file, codes, terms)
		}
	}
	if err := cmdSynonyms.Exec(ctx, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", dir}, "--output is required"},
		{[]string{"--input", dir, "--output", filepath.Join(dir, "x.csv"), "--format", "sapbert"}, "ends in .csv"},
		{[]string{"--input", dir, "--output", filepath.Join(dir, "x.txt"), "--format", "json"}, "--format \"json\""},
		{[]string{"--input", t.TempDir(), "--output", filepath.Join(dir, "x.txt")}, drugbench.ProductsFile},
		{[]string{"--input", dir, "--output", filepath.Join(dir, "x.txt"), "extra"}, "unexpected arguments"},
	} {
		if err := cmdSynonyms.Exec(ctx, c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.args, err, c.want)
		}
	}
}
