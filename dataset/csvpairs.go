package dataset

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// LoadReport says what ReadCSVPairs or ReadTriplets read and kept, so that
// nothing is dropped silently.
type LoadReport struct {
	Path                string
	Rows                int // data rows (CSV) or non-blank lines (JSONL)
	Positives           int // (query, document) judgements with label 1
	Negatives           int // judgements with label 0 (hard negatives)
	DuplicatePairs      int // a (query, document, label) seen again: counted once
	NegativeOnlyQueries int // queries with no positive document: left out of Queries
	Queries             int
	Docs                int
	Skipped             int // rows without a query or document (Hub pairs): left out
}

// String is a one-line summary.
func (r *LoadReport) String() string {
	s := fmt.Sprintf("%s: %d rows, %d positive and %d negative pairs → %d queries, %d documents",
		filepath.Base(r.Path), r.Rows, r.Positives, r.Negatives, r.Queries, r.Docs)
	if r.DuplicatePairs > 0 {
		s += fmt.Sprintf("; %d duplicate pairs counted once", r.DuplicatePairs)
	}
	if r.NegativeOnlyQueries > 0 {
		s += fmt.Sprintf("; %d queries with no positive left out", r.NegativeOnlyQueries)
	}
	if r.Skipped > 0 {
		s += fmt.Sprintf("; %d rows without a query or document skipped", r.Skipped)
	}
	return s
}

// pairBuilder turns (query, document, label) judgements into a Dataset:
// texts are deduplicated exactly (after trimming surrounding space), ids are
// assigned in order of first appearance ("q1", "q2", …; "d1", "d2", …), so
// the same file always gives the same ids.
type pairBuilder struct {
	path    string
	rep     LoadReport
	docs    []Doc
	docID   map[string]string // text → id
	qTexts  []string          // in first-appearance order
	qIndex  map[string]int    // text → index into qTexts
	judged  []map[string]int  // per query: doc id → label
	judgeAt []map[string]int  // per query: doc id → line of first judgement
}

func newPairBuilder(path string) *pairBuilder {
	return &pairBuilder{path: path, rep: LoadReport{Path: path}, docID: map[string]string{}, qIndex: map[string]int{}}
}

// add records one judgement read at line. label is 0 or 1.
func (b *pairBuilder) add(line int, query, doc string, label int) error {
	query, doc = strings.TrimSpace(query), strings.TrimSpace(doc)
	did, ok := b.docID[doc]
	if !ok {
		did = fmt.Sprintf("d%d", len(b.docs)+1)
		b.docID[doc] = did
		b.docs = append(b.docs, Doc{ID: did, Text: doc})
	}
	qi, ok := b.qIndex[query]
	if !ok {
		qi = len(b.qTexts)
		b.qIndex[query] = qi
		b.qTexts = append(b.qTexts, query)
		b.judged = append(b.judged, map[string]int{})
		b.judgeAt = append(b.judgeAt, map[string]int{})
	}
	if prev, seen := b.judged[qi][did]; seen {
		if prev != label {
			return fmt.Errorf("%s:%d: label %d contradicts label %d for the same query and document at line %d (query %q)",
				b.path, line, label, prev, b.judgeAt[qi][did], shorten(query, 40))
		}
		b.rep.DuplicatePairs++
		return nil
	}
	b.judged[qi][did] = label
	b.judgeAt[qi][did] = line
	if label == 1 {
		b.rep.Positives++
	} else {
		b.rep.Negatives++
	}
	return nil
}

func (b *pairBuilder) build() (*Dataset, *LoadReport, error) {
	name := strings.TrimSuffix(filepath.Base(b.path), filepath.Ext(b.path))
	d := &Dataset{Name: name, Corpus: b.docs, Qrels: Qrels{}}
	for qi, text := range b.qTexts {
		pos := 0
		for _, l := range b.judged[qi] {
			pos += l
		}
		if pos == 0 {
			b.rep.NegativeOnlyQueries++
			continue
		}
		id := fmt.Sprintf("q%d", len(d.Queries)+1)
		d.Queries = append(d.Queries, Query{ID: id, Text: text})
		d.Qrels[id] = b.judged[qi]
	}
	b.rep.Queries, b.rep.Docs = len(d.Queries), len(d.Corpus)
	if len(d.Queries) == 0 {
		return nil, nil, fmt.Errorf("%s: no query has a positive document (%d rows)", b.path, b.rep.Rows)
	}
	return d, &b.rep, nil
}

// ReadCSVPairs reads the seed projects' CSV pairs into a Dataset: a header
// row naming the columns query,context,label (or the DUR file's
// dur_type,description,label; order free, names case-insensitive, other
// columns ignored), then one judgement per row. Every query's positive
// contexts are its gold documents; all contexts, negatives included, form
// the corpus. Labels are 1, 0, 1.0 or 0.0. Blank lines are skipped; a
// malformed row is an error naming file:line and the field.
//
// Example: the rows
//
//	query,context,label
//	강심제,강심제는 심장의 수축력을 …,1.0
//	강심제,이뇨제는 …,0.0
//
// give query q1 "강심제", documents d1 and d2, and qrels {q1: {d1: 1, d2: 0}}.
func ReadCSVPairs(path string) (*Dataset, *LoadReport, error) {
	r, err := OpenCSV(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	header, col := r.Header, r.Col
	qi, qname := pickColumn(col, "query", "dur_type")
	ci, cname := pickColumn(col, "context", "description")
	li, lname := pickColumn(col, "label")
	if qi < 0 || ci < 0 || li < 0 {
		return nil, nil, fmt.Errorf("%s:1: header %q: want columns query,context,label (or dur_type,description,label)", path, strings.Join(header, ","))
	}
	need := max(qi, ci, li) + 1
	b := newPairBuilder(path)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", path, err) // csv.ParseError carries the line
		}
		line, _ := r.FieldPos(0)
		b.rep.Rows++
		if len(rec) < need {
			return nil, nil, fmt.Errorf("%s:%d: %d fields, want at least %d (%s,%s,%s)", path, line, len(rec), need, qname, cname, lname)
		}
		q, c, l := rec[qi], rec[ci], strings.TrimSpace(rec[li])
		for _, fv := range [...]struct{ name, v string }{{qname, q}, {cname, c}} {
			if t := strings.TrimSpace(fv.v); t == "" || t == "NULL" {
				return nil, nil, fmt.Errorf("%s:%d: field %s is empty", path, line, fv.name)
			}
		}
		label, ok := parseLabel(l)
		if !ok {
			return nil, nil, fmt.Errorf("%s:%d: field %s: %q is not 1, 0, 1.0 or 0.0", path, line, lname, l)
		}
		if err := b.add(line, q, c, label); err != nil {
			return nil, nil, err
		}
	}
	return b.build()
}

// csvHeader maps each CSV header name, trimmed and lower-cased (a UTF-8
// BOM removed), to its first column: "\ufeffQuery, Context" gives
// {"query": 0, "context": 1}.
func csvHeader(header []string) map[string]int {
	col := map[string]int{}
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(TrimBOM(h)))
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	return col
}

// pickColumn returns the column and name of the first of names that col
// has, or -1 and "".
func pickColumn(col map[string]int, names ...string) (int, string) {
	for _, n := range names {
		if i, ok := col[n]; ok {
			return i, n
		}
	}
	return -1, ""
}

// parseLabel accepts 1, 0, 1.0, 0.0 (any number of trailing zeros).
func parseLabel(s string) (int, bool) {
	if s == "" {
		return 0, false
	}
	if i := strings.IndexByte(s, '.'); i >= 0 {
		if strings.Trim(s[i+1:], "0") != "" {
			return 0, false
		}
		s = s[:i]
	}
	switch s {
	case "1":
		return 1, true
	case "0":
		return 0, true
	}
	return 0, false
}

// shorten cuts s to at most n runes for an error message.
func shorten(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
