package dataset

import (
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/kormed/kormed/atomicfile"
)

// Synonym file formats written by WriteSynonyms (ReadExamples reads both
// as FormatSynonyms).
const (
	SynonymsSapBERT = "sapbert" // "CODE || term" lines
	SynonymsCSV     = "csv"     // CSV with the header code,term
)

// synonymColumns finds the term and code columns of a synonyms CSV header.
func synonymColumns(col map[string]int) (ti, ci int, codeName string) {
	ti, _ = pickColumn(col, "term")
	ci, codeName = pickColumn(col, "code", "cui")
	if ti < 0 || ci < 0 {
		return -1, -1, ""
	}
	return ti, ci, codeName
}

// synonymSet collects synonym rows, keeping each (code, term) once.
type synonymSet struct {
	ex   *Examples
	seen map[[2]string]bool
}

func newSynonymSet(path string) *synonymSet {
	return &synonymSet{ex: &Examples{Path: path, Format: FormatSynonyms, Columns: []string{"term"}}, seen: map[[2]string]bool{}}
}

func (s *synonymSet) add(line int, code, term string) {
	k := [2]string{code, term}
	if s.seen[k] {
		s.ex.Duplicates++
		return
	}
	s.seen[k] = true
	s.ex.Rows = append(s.ex.Rows, Example{Texts: []string{term}, Group: code, Line: line})
}

func (s *synonymSet) result() (*Examples, error) {
	if len(s.ex.Rows) == 0 {
		return nil, fmt.Errorf("%s: no synonyms", s.ex.Path)
	}
	return s.ex, nil
}

func readSynonymLines(path string) (*Examples, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	s := newSynonymSet(path)
	line := 0
	err = eachLine(f, func(b []byte) error {
		line++
		t := string(b)
		if line == 1 {
			t = TrimBOM(t)
		}
		t = strings.TrimSpace(t)
		if t == "" || t[0] == '#' {
			return nil
		}
		code, rest, ok := strings.Cut(t, "||")
		if !ok {
			return fmt.Errorf("%s:%d: want \"CODE || term\", got %q", path, line, shorten(t, 60))
		}
		code = strings.TrimSpace(code)
		if isNullText(code) {
			return fmt.Errorf("%s:%d: field code is empty", path, line)
		}
		terms := strings.Split(rest, "||")
		for i, term := range terms {
			term = strings.TrimSpace(term)
			if isNullText(term) {
				if len(terms) > 1 {
					return fmt.Errorf("%s:%d: field term %d is empty", path, line, i+1)
				}
				return fmt.Errorf("%s:%d: field term is empty", path, line)
			}
			s.add(line, code, term)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.result()
}

func readSynonymCSV(path string) (*Examples, error) {
	r, err := OpenCSV(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	header := r.Header
	ti, ci, cname := synonymColumns(r.Col)
	if ti < 0 {
		return nil, fmt.Errorf("%s:1: header %q: want columns code,term (or cui,term)", path, shorten(strings.Join(header, ","), 80))
	}
	need := max(ti, ci) + 1
	s := newSynonymSet(path)
	for {
		rec, line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < need {
			return nil, fmt.Errorf("%s:%d: %d fields, want at least %d (%s,term)", path, line, len(rec), need, cname)
		}
		code, term := strings.TrimSpace(rec[ci]), strings.TrimSpace(rec[ti])
		if isNullText(code) {
			return nil, fmt.Errorf("%s:%d: field %s is empty", path, line, cname)
		}
		if isNullText(term) {
			return nil, fmt.Errorf("%s:%d: field term is empty", path, line)
		}
		s.add(line, code, term)
	}
	return s.result()
}

// Clusters groups the rows by Group (the synonym code), in order of first
// appearance, each with its first text column in row order.
//
// Example: rows (D1, "고혈압"), (D2, "당뇨병"), (D1, "Hypertension") give
// codes [D1 D2] and terms [[고혈압 Hypertension] [당뇨병]].
func (e *Examples) Clusters() (codes []string, terms [][]string) {
	at := map[string]int{}
	for _, r := range e.Rows {
		if len(r.Texts) == 0 {
			continue
		}
		i, ok := at[r.Group]
		if !ok {
			i = len(codes)
			at[r.Group] = i
			codes = append(codes, r.Group)
			terms = append(terms, nil)
		}
		terms[i] = append(terms[i], r.Texts[0])
	}
	return codes, terms
}

// WriteSynonyms writes synonym clusters — codes[i] with its terms[i], in
// the given order — to path atomically, as "CODE || term" lines
// (SynonymsSapBERT) or as CSV code,term (SynonymsCSV), one line per term;
// ReadExamples reads the file back as the same clusters. Codes and terms
// must be non-empty, not "NULL", without surrounding space or line
// breaks, and (for SapBERT lines) without "||".
//
// Example: codes [M040353], terms [[아세트아미노펜 Acetaminophen]] give
//
//	M040353 || 아세트아미노펜
//	M040353 || Acetaminophen
func WriteSynonyms(path, format string, codes []string, terms [][]string) error {
	if format != SynonymsSapBERT && format != SynonymsCSV {
		return fmt.Errorf("unknown synonyms format %q (want %s or %s)", format, SynonymsSapBERT, SynonymsCSV)
	}
	if len(codes) != len(terms) {
		return fmt.Errorf("WriteSynonyms: %d codes but %d term lists", len(codes), len(terms))
	}
	check := func(what, s string) error {
		switch {
		case isNullText(strings.TrimSpace(s)):
			return fmt.Errorf("%s %q is empty", what, s)
		case strings.TrimSpace(s) != s:
			return fmt.Errorf("%s %q has surrounding space", what, s)
		case strings.ContainsAny(s, "\r\n"):
			return fmt.Errorf("%s %q has a line break", what, s)
		case format == SynonymsSapBERT && strings.Contains(s, "||"):
			return fmt.Errorf("%s %q contains \"||\"", what, s)
		case format == SynonymsSapBERT && what == "code" && s[0] == '#':
			return fmt.Errorf("code %q starts with # (a comment line)", s)
		}
		return nil
	}
	for i, c := range codes {
		if err := check("code", c); err != nil {
			return err
		}
		for _, t := range terms[i] {
			if err := check("term of "+c+":", t); err != nil {
				return err
			}
		}
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		if format == SynonymsCSV {
			cw := csv.NewWriter(w)
			cw.Write([]string{"code", "term"})
			for i, c := range codes {
				for _, t := range terms[i] {
					cw.Write([]string{c, t})
				}
			}
			cw.Flush()
			return cw.Error()
		}
		for i, c := range codes {
			for _, t := range terms[i] {
				if _, err := fmt.Fprintf(w, "%s || %s\n", c, t); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
