package dataset

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
)

// ReadTriplets reads JSONL training triplets into a Dataset, one object a
// line:
//
//	{"query": "강심제란?", "document": "강심제는 …", "hard_negative": "이뇨제는 …"}
//
// "positive" (or "pos") may stand for "document", and "negative" (or "neg")
// for "hard_negative"; a negative may be one string or a list of strings,
// or be left out. Documents and hard negatives are deduplicated into the
// corpus; each query's documents are relevant (1), its hard negatives judged
// non-relevant (0). A query repeated on several lines gathers all its
// documents. Blank lines are skipped; bad JSON, a missing or empty field,
// or a hard negative equal to the query's own document is an error naming
// file:line and the field.
func ReadTriplets(path string) (*Dataset, *LoadReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 64<<20)
	b := newPairBuilder(path)
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if line == 1 {
			raw = TrimBOM(raw)
		}
		if len(raw) == 0 {
			continue
		}
		b.rep.Rows++
		q, doc, negs, err := parseTriplet(path, line, raw)
		if err != nil {
			return nil, nil, err
		}
		if err := b.add(line, q, doc, 1); err != nil {
			return nil, nil, err
		}
		for _, n := range negs {
			if err := b.add(line, q, n, 0); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("%s:%d: %w", path, line+1, err)
	}
	if b.rep.Rows == 0 {
		return nil, nil, fmt.Errorf("%s: no triplets", path)
	}
	return b.build()
}

// parseTriplet parses one JSONL triplet line (see ReadTriplets) into its
// query, document and hard negatives (none, one or several), untrimmed,
// applying its checks (fields present and non-empty, negatives ≠ document).
func parseTriplet(path string, line int, raw []byte) (string, string, []string, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", "", nil, fmt.Errorf("%s:%d: %v", path, line, err)
	}
	str := func(names ...string) (string, string, error) {
		var val, from string
		for _, n := range names {
			m, ok := obj[n]
			if !ok {
				continue
			}
			var s string
			if err := json.Unmarshal(m, &s); err != nil {
				return "", n, fmt.Errorf("%s:%d: field %s: want a string", path, line, n)
			}
			if from != "" && s != val {
				return "", n, fmt.Errorf("%s:%d: fields %s and %s disagree", path, line, from, n)
			}
			val, from = s, n
		}
		if from == "" {
			return "", names[0], fmt.Errorf("%s:%d: field %s missing", path, line, names[0])
		}
		if isBlank(val) {
			return "", from, fmt.Errorf("%s:%d: field %s is empty", path, line, from)
		}
		return val, from, nil
	}
	q, _, err := str("query")
	if err != nil {
		return "", "", nil, err
	}
	doc, docField, err := str("document", "positive", "pos")
	if err != nil {
		return "", "", nil, err
	}
	var negs []string
	for _, n := range []string{"hard_negative", "negative", "neg"} {
		m, ok := obj[n]
		if !ok || string(m) == "null" {
			continue
		}
		var one string
		var many []string
		switch {
		case json.Unmarshal(m, &one) == nil:
			many = []string{one}
		case json.Unmarshal(m, &many) == nil:
		default:
			return "", "", nil, fmt.Errorf("%s:%d: field %s: want a string or a list of strings", path, line, n)
		}
		for i, s := range many {
			if isBlank(s) {
				return "", "", nil, fmt.Errorf("%s:%d: field %s[%d] is empty", path, line, n, i)
			}
			if trimEq(s, doc) {
				return "", "", nil, fmt.Errorf("%s:%d: field %s equals field %s", path, line, n, docField)
			}
			negs = append(negs, s)
		}
	}
	return q, doc, negs, nil
}

func isBlank(s string) bool { return len(bytes.TrimSpace([]byte(s))) == 0 }

func trimEq(a, b string) bool {
	return string(bytes.TrimSpace([]byte(a))) == string(bytes.TrimSpace([]byte(b)))
}
