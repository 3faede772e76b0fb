package dataset

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Training file formats read by ReadExamples.
const (
	FormatPairs    = "pairs"    // CSV: two text columns and an optional label, or anchor,positive,negative
	FormatTriplets = "triplets" // JSONL: query, document and a uniform number of hard negatives
	FormatSynonyms = "synonyms" // "CODE || term" lines, or CSV code,term
)

// Example is one training example.
type Example struct {
	Texts []string // its text columns, in Examples.Columns order
	Label float32  // the label/score column (when Examples.HasLabels)
	Group string   // the concept code (synonym clusters)
	Line  int      // 1-based line of the source file where the example starts
}

// Examples is a training file read into memory.
type Examples struct {
	Path       string
	Format     string   // FormatPairs, FormatTriplets or FormatSynonyms
	Columns    []string // e.g. ["query","context"], ["query","document","hard_negative"], ["term"]
	HasLabels  bool
	Rows       []Example
	Duplicates int // synonyms: (code, term) pairs seen again, kept once
}

// pairForms are the text column pairs a pairs CSV may name, in order of
// preference: the seed projects' query,context and dur_type,description,
// sentence-transformers' STS sentence1,sentence2 and anchor,positive.
var pairForms = [...][2]string{
	{"query", "context"},
	{"dur_type", "description"},
	{"sentence1", "sentence2"},
	{"anchor", "positive"},
}

// ReadExamples reads a training file. format "" picks by extension and
// header: .jsonl/.json → triplets; .csv → pairs, or synonyms when the
// header names code,term (or cui,term); .txt/.tsv → synonyms
// ("CODE || term" lines).
//
// pairs is a CSV file with a header (names case-insensitive, a BOM
// allowed, order free, other columns ignored) naming two text columns —
// query,context; dur_type,description; sentence1,sentence2 or
// anchor,positive — and then either a label (or score) column, any finite
// number, so graded CoSENT scores such as 0–5 are fine, or, without a
// label, an optional third text column negative (or hard_negative).
//
// triplets is JSONL as ReadTriplets reads it; every line must have the
// same number of hard negatives, which become the columns hard_negative
// (one) or hard_negative_1 … hard_negative_n (several).
//
// synonyms is either lines "CODE || term" (split at the first "||"; a
// further "||" starts another term of the same code, as in SapBERT's
// pairwise training files; blank lines and lines starting with # are
// skipped) read from any file not ending in .csv, or a .csv file with the
// header code,term (or cui,term). Each term is a row with Columns ["term"]
// and Group its code; a (code, term) pair seen again is kept once and
// counted in Duplicates.
//
// Texts are trimmed of surrounding space. Blank lines are skipped. An
// empty or "NULL" text, a bad label, a negative equal to its positive or
// a malformed line is an error naming file:line and the field.
//
// Example: the pairs file
//
//	sentence1,sentence2,score
//	고혈압,Hypertension,5
//	고혈압,당뇨병,0.4
//
// gives Columns ["sentence1","sentence2"], HasLabels true and the rows
// {["고혈압","Hypertension"], 5, line 2} and {["고혈압","당뇨병"], 0.4, line 3}.
func ReadExamples(path, format string) (*Examples, error) {
	if format == "" {
		var err error
		if format, err = guessFormat(path); err != nil {
			return nil, err
		}
	}
	switch format {
	case FormatPairs:
		return readPairExamples(path)
	case FormatTriplets:
		return readTripletExamples(path)
	case FormatSynonyms:
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			return readSynonymCSV(path)
		}
		return readSynonymLines(path)
	}
	return nil, fmt.Errorf("%s: unknown training data format %q (want %s, %s or %s)", path, format, FormatPairs, FormatTriplets, FormatSynonyms)
}

// guessFormat picks a format from path's extension and, for .csv, its header.
func guessFormat(path string) (string, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".jsonl", ".json":
		return FormatTriplets, nil
	case ".txt", ".tsv":
		return FormatSynonyms, nil
	case ".csv":
		f, err := os.Open(path)
		if err != nil {
			return "", err
		}
		defer f.Close()
		r := csv.NewReader(f)
		r.FieldsPerRecord = -1
		header, err := r.Read()
		if err != nil {
			return FormatPairs, nil // the pairs reader reports it
		}
		if _, _, code := synonymColumns(csvHeader(header)); code != "" {
			return FormatSynonyms, nil
		}
		return FormatPairs, nil
	}
	return "", fmt.Errorf("%s: cannot tell the training data format from the extension (want .csv, .jsonl, .json, .txt or .tsv, or name the format: %s, %s or %s)",
		path, FormatPairs, FormatTriplets, FormatSynonyms)
}

// csvError turns a csv.ParseError into "FILE:LINE: …", naming the line
// where the bad record starts (an unterminated quote swallows the lines
// after it).
func csvError(path string, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return fmt.Errorf("%s: %w", path, err)
	}
	if pe.StartLine != pe.Line {
		return fmt.Errorf("%s:%d: %w (the record starting on this line runs on to line %d, column %d: an unterminated quote?)",
			path, pe.StartLine, pe.Err, pe.Line, pe.Column)
	}
	return fmt.Errorf("%s:%d: column %d: %w", path, pe.Line, pe.Column, pe.Err)
}

// isNullText reports whether a trimmed text is missing: empty or NULL.
func isNullText(s string) bool { return s == "" || s == "NULL" }

// blankRecord reports whether a CSV record is a line of spaces.
func blankRecord(rec []string) bool {
	return len(rec) == 1 && strings.TrimSpace(rec[0]) == ""
}

func readPairExamples(path string) (*Examples, error) {
	r, err := OpenCSV(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	header, col := r.Header, r.Col
	var idx []int
	var names []string
	for _, form := range pairForms {
		a, aok := col[form[0]]
		b, bok := col[form[1]]
		if aok && bok {
			idx, names = []int{a, b}, []string{form[0], form[1]}
			break
		}
	}
	if idx == nil {
		return nil, fmt.Errorf("%s:1: header %q: want columns query,context[,label], dur_type,description[,label], sentence1,sentence2[,score] or anchor,positive[,negative]",
			path, shorten(strings.Join(header, ","), 80))
	}
	li, lname := pickColumn(col, "label", "score")
	ni, nname := pickColumn(col, "negative", "hard_negative")
	if li >= 0 && ni >= 0 {
		return nil, fmt.Errorf("%s:1: header has both %s and %s: a labelled pairs file has two text columns, a triplets file no label", path, lname, nname)
	}
	if ni >= 0 {
		idx, names = append(idx, ni), append(names, nname)
	}
	need := max(li, ni)
	for _, i := range idx {
		need = max(need, i)
	}
	need++
	ex := &Examples{Path: path, Format: FormatPairs, Columns: names, HasLabels: li >= 0}
	for {
		rec, line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < need {
			return nil, fmt.Errorf("%s:%d: %d fields, want at least %d (columns %s)", path, line, len(rec), need, strings.Join(header, ","))
		}
		e := Example{Texts: make([]string, len(idx)), Line: line}
		for j, i := range idx {
			t := strings.TrimSpace(rec[i])
			if isNullText(t) {
				return nil, fmt.Errorf("%s:%d: field %s is empty", path, line, names[j])
			}
			e.Texts[j] = t
		}
		if ni >= 0 && e.Texts[2] == e.Texts[1] {
			return nil, fmt.Errorf("%s:%d: field %s equals field %s", path, line, nname, names[1])
		}
		if li >= 0 {
			v, err := parseFiniteLabel(rec[li])
			if err != nil {
				return nil, fmt.Errorf("%s:%d: field %s: %w", path, line, lname, err)
			}
			e.Label = v
		}
		ex.Rows = append(ex.Rows, e)
	}
	if len(ex.Rows) == 0 {
		return nil, fmt.Errorf("%s: no rows after the header", path)
	}
	return ex, nil
}

// parseFiniteLabel parses a label or score: any number that is finite as
// a float32 ("1", "0.0", "4.5", "-1e-3"); NaN, ±Inf, overflow and empty
// fields are errors.
func parseFiniteLabel(s string) (float32, error) {
	s = strings.TrimSpace(s)
	v, err := strconv.ParseFloat(s, 64)
	f := float32(v)
	if err != nil || math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
		return 0, fmt.Errorf("%q is not a finite number", shorten(s, 40))
	}
	return f, nil
}

func readTripletExamples(path string) (*Examples, error) {
	ex := &Examples{Path: path, Format: FormatTriplets}
	nneg, firstLine := -1, 0
	err := readJSONL(path, func(line int, raw []byte) error {
		q, doc, negs, err := parseTriplet(path, line, raw)
		if err != nil {
			return err
		}
		if nneg < 0 {
			nneg, firstLine = len(negs), line
		} else if len(negs) != nneg {
			return fmt.Errorf("%s:%d: %d hard negatives, but line %d has %d: every row needs the same number (a training batch has uniform columns)",
				path, line, len(negs), firstLine, nneg)
		}
		texts := make([]string, 0, 2+len(negs))
		texts = append(texts, strings.TrimSpace(q), strings.TrimSpace(doc))
		for _, n := range negs {
			texts = append(texts, strings.TrimSpace(n))
		}
		ex.Rows = append(ex.Rows, Example{Texts: texts, Line: line})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(ex.Rows) == 0 {
		return nil, fmt.Errorf("%s: no triplets", path)
	}
	ex.Columns = []string{"query", "document"}
	switch {
	case nneg == 1:
		ex.Columns = append(ex.Columns, "hard_negative")
	case nneg > 1:
		for i := 1; i <= nneg; i++ {
			ex.Columns = append(ex.Columns, fmt.Sprintf("hard_negative_%d", i))
		}
	}
	return ex, nil
}

// String is a one-line summary, e.g.
// "pairs.csv (pairs): 12752 rows [query context], labels 0–1 (mean 0.5)".
func (e *Examples) String() string {
	s := fmt.Sprintf("%s (%s): %d rows [%s]", filepath.Base(e.Path), e.Format, len(e.Rows), strings.Join(e.Columns, " "))
	if e.HasLabels && len(e.Rows) > 0 {
		lo, hi, sum := e.Rows[0].Label, e.Rows[0].Label, 0.0
		for _, r := range e.Rows {
			lo, hi, sum = min(lo, r.Label), max(hi, r.Label), sum+float64(r.Label)
		}
		s += fmt.Sprintf(", labels %g–%g (mean %.3g)", lo, hi, sum/float64(len(e.Rows)))
	} else if !e.HasLabels && e.Format != FormatSynonyms {
		s += ", no labels"
	}
	groups := map[string]bool{}
	for _, r := range e.Rows {
		if r.Group != "" {
			groups[r.Group] = true
		}
	}
	if len(groups) > 0 {
		s += fmt.Sprintf(", %d groups", len(groups))
	}
	if e.Duplicates > 0 {
		s += fmt.Sprintf("; %d duplicate (code, term) pairs kept once", e.Duplicates)
	}
	return s
}
