package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kormed/kormed/atomicfile"
)

// BEIR file names inside a dataset directory.
const (
	CorpusFile  = "corpus.jsonl"
	QueriesFile = "queries.jsonl"
	QrelsDir    = "qrels"
)

// CorpusPath is a BEIR folder's corpus.jsonl, or path itself.
func CorpusPath(path string) string {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return filepath.Join(path, CorpusFile)
	}
	return path
}

// maxExamples is how many offending lines an aggregated error quotes.
const maxExamples = 3

// ReadBEIR reads a BEIR / MTEB retrieval dataset from dir:
//
//	corpus.jsonl          one {"_id","title","text",...} object per line
//	queries.jsonl         one {"_id","text",...} object per line
//	qrels/<split>.tsv     header "query-id corpus-id score", then one judgement per line
//
// Extra JSON fields are ignored; numeric _id values are accepted and kept
// as their decimal text. As in the BEIR reference loader, only the queries
// that have at least one judgement in the split are kept in Queries (in
// queries.jsonl order). split defaults to "test".
//
// Malformed lines fail with file:line and the field. Empty ids, duplicate
// ids, duplicate judgements and judgements naming unknown queries or
// documents are collected and reported together as one error with their
// counts and first examples; nothing is silently dropped.
func ReadBEIR(dir, split string) (*Dataset, error) {
	if split == "" {
		split = "test"
	}
	if err := checkSplit(split); err != nil {
		return nil, err
	}
	d := &Dataset{Name: filepath.Base(filepath.Clean(dir)), Qrels: Qrels{}}
	corpusPath := filepath.Join(dir, CorpusFile)
	docLine := map[string]int{}
	var probs problems
	err := ReadCorpus(corpusPath, func(line int, doc Doc) error {
		if doc.ID == "" {
			probs.add("empty _id", fmt.Sprintf("%s:%d", corpusPath, line))
			return nil
		}
		if prev, dup := docLine[doc.ID]; dup {
			probs.add("duplicate document _id", fmt.Sprintf("%s:%d %q (first at line %d)", corpusPath, line, doc.ID, prev))
			return nil
		}
		docLine[doc.ID] = line
		d.Corpus = append(d.Corpus, doc)
		return nil
	})
	if err != nil {
		return nil, err
	}

	queries, queryLine, err := readQueries(filepath.Join(dir, QueriesFile), &probs)
	if err != nil {
		return nil, err
	}

	qrelsPath := filepath.Join(dir, QrelsDir, split+".tsv")
	qrels, err := readQrels(qrelsPath, inMap(QueriesFile, queryLine), inMap(CorpusFile, docLine), &probs)
	if err != nil {
		return nil, err
	}
	if err := probs.err(dir); err != nil {
		return nil, err
	}
	d.Qrels = qrels
	for _, q := range queries {
		if _, ok := qrels[q.ID]; ok {
			d.Queries = append(d.Queries, q)
		}
	}
	return d, nil
}

// ReadCorpus streams a BEIR corpus file (corpus.jsonl: one JSON object a
// line with "_id" — a string or a number — and optional "title" and
// "text"), calling fn with each document and its 1-based line number, so a
// corpus of any size can be indexed without holding it. Malformed lines are
// errors naming the file and line; an empty _id is passed on as "" for the
// caller to report; fn's error stops the reading and is returned as is.
func ReadCorpus(path string, fn func(line int, d Doc) error) error {
	return readCorpus(path, func(line int, d Doc, _ []byte) error { return fn(line, d) })
}

// ReadCorpusWith is ReadCorpus for a corpus whose lines carry more than
// the BEIR fields (kormed index's metadata, say): each line is also
// decoded into a fresh X, with JSON numbers as json.Number so that they
// keep their text, and passed to fn beside its document. A line that X
// cannot hold is malformed: the error names the file, line and field.
func ReadCorpusWith[X any](path string, fn func(line int, d Doc, x *X) error) error {
	return readCorpus(path, func(line int, d Doc, raw []byte) error {
		x := new(X)
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(x); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, jsonErr(err))
		}
		return fn(line, d, x)
	})
}

// readCorpus is ReadCorpus passing each line's text on too.
func readCorpus(path string, fn func(line int, d Doc, raw []byte) error) error {
	return readJSONL(path, func(line int, raw []byte) error {
		var r struct {
			ID    json.RawMessage `json:"_id"`
			Title *string         `json:"title"`
			Text  *string         `json:"text"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, jsonErr(err))
		}
		id, err := rawID(r.ID)
		if err != nil {
			return fmt.Errorf("%s:%d: field _id: %w", path, line, err)
		}
		doc := Doc{ID: id}
		if r.Title != nil {
			doc.Title = *r.Title
		}
		if r.Text != nil {
			doc.Text = *r.Text
		}
		return fn(line, doc, raw)
	})
}

// readQueries reads a BEIR queries file (one {"_id","text"} object a
// line) in file order, with each id's line; empty and duplicate ids go
// to probs.
func readQueries(path string, probs *problems) ([]Query, map[string]int, error) {
	queryLine := map[string]int{}
	var queries []Query
	err := readJSONL(path, func(line int, raw []byte) error {
		var r struct {
			ID   json.RawMessage `json:"_id"`
			Text *string         `json:"text"`
		}
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Errorf("%s:%d: %w", path, line, jsonErr(err))
		}
		id, err := rawID(r.ID)
		if err != nil {
			return fmt.Errorf("%s:%d: field _id: %w", path, line, err)
		}
		if id == "" {
			probs.add("empty _id", fmt.Sprintf("%s:%d", path, line))
			return nil
		}
		if r.Text == nil {
			return fmt.Errorf("%s:%d: query %q: missing field text", path, line, id)
		}
		if prev, dup := queryLine[id]; dup {
			probs.add("duplicate query _id", fmt.Sprintf("%s:%d %q (first at line %d)", path, line, id, prev))
			return nil
		}
		queryLine[id] = line
		queries = append(queries, Query{ID: id, Text: *r.Text})
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return queries, queryLine, nil
}

// idSet is the ids a qrels file may name and what holds them, for the
// errors.
type idSet struct {
	in  string
	has func(id string) bool
}

// inMap is the ids of m, held in in.
func inMap(in string, m map[string]int) idSet {
	return idSet{in, func(id string) bool { _, ok := m[id]; return ok }}
}

// readQrels parses one BEIR qrels TSV, checking ids against the known
// queries and documents.
func readQrels(path string, queries, docs idSet, probs *problems) (Qrels, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	qrels := Qrels{}
	pairLine := map[[2]string]int{}
	line := 0
	err = eachLine(f, func(b []byte) error {
		line++
		s := strings.TrimSuffix(string(b), "\r")
		if line == 1 {
			s = TrimBOM(s)
			cols := strings.Split(s, "\t")
			if len(cols) != 3 || cols[0] != "query-id" || cols[1] != "corpus-id" || cols[2] != "score" {
				return fmt.Errorf("%s:1: want header \"query-id\\tcorpus-id\\tscore\", got %q", path, s)
			}
			return nil
		}
		if strings.TrimSpace(s) == "" {
			return nil
		}
		cols := strings.Split(s, "\t")
		if len(cols) != 3 {
			return fmt.Errorf("%s:%d: want 3 tab-separated fields (query-id, corpus-id, score), got %d", path, line, len(cols))
		}
		qid, did := cols[0], cols[1]
		score, err := parseScore(cols[2])
		if err != nil {
			return fmt.Errorf("%s:%d: field score: %w", path, line, err)
		}
		where := fmt.Sprintf("%s:%d", path, line)
		bad := false
		if qid == "" {
			probs.add("empty query-id", where)
			bad = true
		} else if !queries.has(qid) {
			probs.add("qrels query-id not in "+queries.in, fmt.Sprintf("%s %q", where, qid))
			bad = true
		}
		if did == "" {
			probs.add("empty corpus-id", where)
			bad = true
		} else if !docs.has(did) {
			probs.add("qrels corpus-id not in "+docs.in, fmt.Sprintf("%s %q", where, did))
			bad = true
		}
		if bad {
			return nil
		}
		key := [2]string{qid, did}
		if prev, dup := pairLine[key]; dup {
			probs.add("duplicate judgement", fmt.Sprintf("%s %q→%q (first at line %d)", where, qid, did, prev))
			return nil
		}
		pairLine[key] = line
		m := qrels[qid]
		if m == nil {
			m = map[string]int{}
			qrels[qid] = m
		}
		m[did] = score
		return nil
	})
	if err != nil {
		return nil, err
	}
	if line == 0 {
		return nil, fmt.Errorf("%s: empty file (want a header line)", path)
	}
	return qrels, nil
}

func parseScore(s string) (int, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	// Some exporters write "1.0"; accept integral floats only.
	if f, err := strconv.ParseFloat(s, 64); err == nil && f == float64(int(f)) {
		return int(f), nil
	}
	return 0, fmt.Errorf("%q is not an integer", s)
}

// rawID turns a JSON _id (string or number) into its string form.
func rawID(raw json.RawMessage) (string, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return string(raw), nil
	}
	return "", fmt.Errorf("want a string or number, got %s", truncate(string(raw), 40))
}

func jsonErr(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return fmt.Errorf("field %s: want %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	return fmt.Errorf("invalid JSON: %w", err)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

// readJSONL calls fn for each non-blank line of path with its 1-based
// line number. Lines may be arbitrarily long.
func readJSONL(path string, fn func(line int, raw []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	line := 0
	return eachLine(f, func(b []byte) error {
		line++
		b = bytes.TrimSuffix(b, []byte("\r"))
		if line == 1 {
			b = TrimBOM(b)
		}
		if len(bytes.TrimSpace(b)) == 0 {
			return nil
		}
		return fn(line, b)
	})
}

// eachLine calls fn for every line of r without its trailing newline,
// with no limit on line length.
func eachLine(r io.Reader, fn func([]byte) error) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		b, err := br.ReadBytes('\n')
		if len(b) > 0 {
			if ferr := fn(bytes.TrimSuffix(b, []byte("\n"))); ferr != nil {
				return ferr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// problems collects per-kind counts and first examples of data errors.
type problems struct {
	kinds    []string
	count    map[string]int
	examples map[string][]string
}

func (p *problems) add(kind, example string) {
	if p.count == nil {
		p.count = map[string]int{}
		p.examples = map[string][]string{}
	}
	if p.count[kind] == 0 {
		p.kinds = append(p.kinds, kind)
	}
	p.count[kind]++
	if len(p.examples[kind]) < maxExamples {
		p.examples[kind] = append(p.examples[kind], example)
	}
}

func (p *problems) err(dir string) error {
	return p.errAs("invalid BEIR dataset " + dir)
}

// errAs is err with its first line's head, e.g. "invalid qrels file F".
func (p *problems) errAs(head string) error {
	if len(p.kinds) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s:", head)
	for _, k := range p.kinds {
		fmt.Fprintf(&b, "\n  %d× %s, e.g. %s", p.count[k], k, strings.Join(p.examples[k], "; "))
	}
	return errors.New(b.String())
}

func checkSplit(split string) error {
	if split == "." || split == ".." || strings.ContainsAny(split, `/\`) {
		return fmt.Errorf("invalid split name %q", split)
	}
	return nil
}

// WriteBEIR writes d to dir in the BEIR layout read by ReadBEIR:
// corpus.jsonl and queries.jsonl in d's slice order, and
// qrels/<split>.tsv ordered by the queries' order in d.Queries and then
// by corpus order. JSON is UTF-8 without HTML escaping, so Korean and
// <>& stay readable. Each file is written to a temporary file in the
// same directory and renamed into place. Ids must be non-empty and
// unique, and every judgement must name a query and a document of d.
// split defaults to "test".
func WriteBEIR(dir string, d *Dataset, split string) error {
	qids, docPos, err := checkForWrite(dir, d, split)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, QrelsDir), 0o755); err != nil {
		return err
	}
	err = atomicfile.WriteFile(filepath.Join(dir, CorpusFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, doc := range d.Corpus {
			if err := enc.Encode(doc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = atomicfile.WriteFile(filepath.Join(dir, QueriesFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, q := range d.Queries {
			if err := enc.Encode(q); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return writeQrels(dir, d, split, qids, docPos)
}

// WriteQrels writes only qrels/<split>.tsv of d (same checks and order
// as WriteBEIR), for adding a split to a dataset whose corpus.jsonl and
// queries.jsonl already hold d's documents and queries.
func WriteQrels(dir string, d *Dataset, split string) error {
	qids, docPos, err := checkForWrite(dir, d, split)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Join(dir, QrelsDir), 0o755); err != nil {
		return err
	}
	return writeQrels(dir, d, split, qids, docPos)
}

// checkForWrite validates d and returns the judged query ids in query
// order and the corpus positions.
func checkForWrite(dir string, d *Dataset, split string) ([]string, map[string]int, error) {
	if split == "" {
		split = "test"
	}
	if err := checkSplit(split); err != nil {
		return nil, nil, err
	}
	var probs problems
	docPos := make(map[string]int, len(d.Corpus))
	for i, doc := range d.Corpus {
		if doc.ID == "" {
			probs.add("empty document id", fmt.Sprintf("Corpus[%d]", i))
		} else if j, dup := docPos[doc.ID]; dup {
			probs.add("duplicate document id", fmt.Sprintf("Corpus[%d] %q (also Corpus[%d])", i, doc.ID, j))
		} else {
			docPos[doc.ID] = i
		}
	}
	queryPos := make(map[string]int, len(d.Queries))
	for i, q := range d.Queries {
		if q.ID == "" {
			probs.add("empty query id", fmt.Sprintf("Queries[%d]", i))
		} else if j, dup := queryPos[q.ID]; dup {
			probs.add("duplicate query id", fmt.Sprintf("Queries[%d] %q (also Queries[%d])", i, q.ID, j))
		} else {
			queryPos[q.ID] = i
		}
	}
	qids := make([]string, 0, len(d.Qrels))
	for qid, m := range d.Qrels {
		if _, ok := queryPos[qid]; !ok {
			probs.add("qrels query id not in Queries", fmt.Sprintf("%q", qid))
			continue
		}
		for did := range m {
			if _, ok := docPos[did]; !ok {
				probs.add("qrels document id not in Corpus", fmt.Sprintf("%q→%q", qid, did))
			}
		}
		qids = append(qids, qid)
	}
	if err := probs.err(dir); err != nil {
		return nil, nil, err
	}
	sort.Slice(qids, func(a, b int) bool { return queryPos[qids[a]] < queryPos[qids[b]] })
	return qids, docPos, nil
}

func writeQrels(dir string, d *Dataset, split string, qids []string, docPos map[string]int) error {
	if split == "" {
		split = "test"
	}
	return atomicfile.WriteFile(filepath.Join(dir, QrelsDir, split+".tsv"), func(w io.Writer) error {
		if _, err := io.WriteString(w, "query-id\tcorpus-id\tscore\n"); err != nil {
			return err
		}
		for _, qid := range qids {
			m := d.Qrels[qid]
			dids := make([]string, 0, len(m))
			for did := range m {
				dids = append(dids, did)
			}
			sort.Slice(dids, func(a, b int) bool { return docPos[dids[a]] < docPos[dids[b]] })
			for _, did := range dids {
				if _, err := fmt.Fprintf(w, "%s\t%s\t%d\n", qid, did, m[did]); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
