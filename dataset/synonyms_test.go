package dataset

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestReadSynonymLines(t *testing.T) {
	p := writeTemp(t, "syn.txt", "\ufeff# SapBERT-style dictionary\r\n"+
		"D001 || 고혈압\r\n"+
		"\n"+
		"D002||당뇨병\n"+
		"  D001 ||  Hypertension  \n"+
		"   # indented comment\n"+
		"D001 || 고혈압\n"+ // duplicate
		"D003 || 두통 || Headache || 두통\n") // pairwise line; 두통 again is a duplicate
	ex, err := ReadExamples(p, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Examples{Path: p, Format: FormatSynonyms, Columns: []string{"term"}, Duplicates: 2, Rows: []Example{
		{Texts: []string{"고혈압"}, Group: "D001", Line: 2},
		{Texts: []string{"당뇨병"}, Group: "D002", Line: 4},
		{Texts: []string{"Hypertension"}, Group: "D001", Line: 5},
		{Texts: []string{"두통"}, Group: "D003", Line: 8},
		{Texts: []string{"Headache"}, Group: "D003", Line: 8},
	}}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("got  %+v\nwant %+v", ex, want)
	}
	codes, terms := ex.Clusters()
	if !reflect.DeepEqual(codes, []string{"D001", "D002", "D003"}) ||
		!reflect.DeepEqual(terms, [][]string{{"고혈압", "Hypertension"}, {"당뇨병"}, {"두통", "Headache"}}) {
		t.Errorf("clusters %v %v", codes, terms)
	}
	if s := ex.String(); s != "syn.txt (synonyms): 5 rows [term], 3 groups; 2 duplicate (code, term) pairs kept once" {
		t.Errorf("String() = %q", s)
	}
}

func TestReadSynonymCSV(t *testing.T) {
	p := writeTemp(t, "syn.csv", "\ufeffTerm,source,CUI\n고혈압,ko,C0020538\n\"Hypertension, NOS\",en,C0020538\n당뇨병,ko,C0011849\n고혈압,ko2,C0020538\n")
	ex, err := ReadExamples(p, "")
	if err != nil {
		t.Fatal(err)
	}
	want := &Examples{Path: p, Format: FormatSynonyms, Columns: []string{"term"}, Duplicates: 1, Rows: []Example{
		{Texts: []string{"고혈압"}, Group: "C0020538", Line: 2},
		{Texts: []string{"Hypertension, NOS"}, Group: "C0020538", Line: 3},
		{Texts: []string{"당뇨병"}, Group: "C0011849", Line: 4},
	}}
	if !reflect.DeepEqual(ex, want) {
		t.Errorf("got  %+v\nwant %+v", ex, want)
	}
}

func TestReadSynonymErrors(t *testing.T) {
	for _, c := range []struct{ name, content, want string }{
		{"s.txt", "D1 || a\nD2 | b\n", "s.txt:2: want \"CODE || term\", got \"D2 | b\""},
		{"s.txt", "D1 || a\n || b\n", "s.txt:2: field code is empty"},
		{"s.txt", "D1 ||  \n", "s.txt:1: field term is empty"},
		{"s.txt", "D1 || NULL\n", "s.txt:1: field term is empty"},
		{"s.txt", "D1 || a ||\n", "s.txt:1: field term 2 is empty"},
		{"s.txt", "# only a comment\n\n", "s.txt: no synonyms"},
		{"s.csv", "code,term\nD1,a\nNULL,b\n", "s.csv:3: field code is empty"},
		{"s.csv", "cui,term\nC1,\n", "s.csv:2: field term is empty"},
		{"s.csv", "code,term\nD1\n", "s.csv:2: 1 fields, want at least 2 (code,term)"},
		{"s.csv", "code,name\nD1,a\n", "s.csv:1: header \"code,name\": want columns query,context"}, // not code,term: read as pairs
		{"s.csv", "code,term\n", "s.csv: no synonyms"},
	} {
		_, err := ReadExamples(writeTemp(t, c.name, c.content), "")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want it to contain %q", c.content, err, c.want)
		}
	}
	// Named explicitly, a CSV without code,term is a synonyms error.
	_, err := ReadExamples(writeTemp(t, "s.csv", "code,name\nD1,a\n"), FormatSynonyms)
	if err == nil || !strings.Contains(err.Error(), "s.csv:1: header \"code,name\": want columns code,term (or cui,term)") {
		t.Errorf("explicit synonyms: %v", err)
	}
}

func TestWriteSynonymsRoundTrip(t *testing.T) {
	codes := []string{"M040353", "M040580", "M999999"}
	terms := [][]string{{"아세트아미노펜", "Acetaminophen"}, {"무수카페인", "Anhydrous Caffeine, \"quoted\""}, {"미분화 성분"}}
	dir := t.TempDir()
	for _, c := range []struct{ format, file, first string }{
		{SynonymsSapBERT, "syn.txt", "M040353 || 아세트아미노펜\n"},
		{SynonymsCSV, "syn.csv", "code,term\nM040353,아세트아미노펜\n"},
	} {
		p := filepath.Join(dir, c.file)
		if err := WriteSynonyms(p, c.format, codes, terms); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(p)
		if !strings.HasPrefix(string(raw), c.first) {
			t.Errorf("%s starts %q", c.format, raw)
		}
		ex, err := ReadExamples(p, "")
		if err != nil {
			t.Fatal(err)
		}
		gc, gt := ex.Clusters()
		if !reflect.DeepEqual(gc, codes) || !reflect.DeepEqual(gt, terms) || ex.Duplicates != 0 {
			t.Errorf("%s: read back %v %v", c.format, gc, gt)
		}
	}
	for _, c := range []struct {
		format string
		codes  []string
		terms  [][]string
		want   string
	}{
		{SynonymsSapBERT, []string{"D1"}, [][]string{{"a || b"}}, "contains \"||\""},
		{SynonymsCSV, []string{"D1"}, [][]string{{"a\nb"}}, "has a line break"},
		{SynonymsCSV, []string{"D1"}, [][]string{{" a"}}, "has surrounding space"},
		{SynonymsCSV, []string{""}, [][]string{{"a"}}, "code \"\" is empty"},
		{SynonymsSapBERT, []string{"#D1"}, [][]string{{"a"}}, "starts with #"},
		{SynonymsSapBERT, []string{"D1", "D2"}, [][]string{{"a"}}, "2 codes but 1 term lists"},
		{"tsv", []string{"D1"}, [][]string{{"a"}}, "unknown synonyms format"},
	} {
		err := WriteSynonyms(filepath.Join(dir, "bad.txt"), c.format, c.codes, c.terms)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v %v: err = %v, want %q", c.codes, c.terms, err, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.txt")); !os.IsNotExist(err) {
		t.Errorf("a rejected write left a file: %v", err)
	}
}

// FuzzReadExamplesSynonyms: no synonyms input, as lines or as CSV,
// panics; accepted files have one term per row, a code for each, and no
// (code, term) pair twice.
func FuzzReadExamplesSynonyms(f *testing.F) {
	f.Add("D001 || 고혈압\n# c\n\nD001||Hypertension\nD002 || a || b\n", false)
	f.Add("\ufeffD1 || x\r\nD1 || x\r\n", false)
	f.Add("code,term\nD1,고혈압\nD1,\"a, b\"\n", true)
	f.Add("cui,term\nC1,NULL\n", true)
	f.Fuzz(func(t *testing.T, content string, asCSV bool) {
		name := "f.txt"
		if asCSV {
			name = "f.csv"
		}
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		ex, err := ReadExamples(p, FormatSynonyms)
		if err != nil {
			return
		}
		checkExamples(t, ex)
		seen := map[[2]string]bool{}
		for _, r := range ex.Rows {
			k := [2]string{r.Group, r.Texts[0]}
			if r.Group == "" || strings.TrimSpace(r.Group) != r.Group || seen[k] {
				t.Fatalf("line %d: code %q term %q", r.Line, r.Group, r.Texts[0])
			}
			seen[k] = true
		}
		codes, terms := ex.Clusters()
		n := 0
		for i := range codes {
			n += len(terms[i])
		}
		if n != len(ex.Rows) {
			t.Fatalf("clusters hold %d terms, rows %d", n, len(ex.Rows))
		}
	})
}
