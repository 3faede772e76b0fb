package dataset

import (
	"path/filepath"
)

// ReadLabelled reads labelled queries from a qrels file on its own,
// outside a BEIR folder: qrelsPath in the BEIR qrels format (a header
// "query-id corpus-id score", then one tab-separated judgement a line, as
// qrels/<split>.tsv) and queriesPath, a queries.jsonl ({"_id","text"} a
// line) holding the judged queries' texts. Every judgement must name a
// query of queriesPath and a document hasDoc knows; docsIn says where
// those are, for the error ("the index").
//
// A malformed line fails with its file and line. Empty, duplicate and
// unknown ids are collected and reported together in one error, with
// their counts and the file and line of the first examples. Queries holds
// the judged queries in queriesPath's order; Corpus is empty.
func ReadLabelled(qrelsPath, queriesPath string, hasDoc func(id string) bool, docsIn string) (*Dataset, error) {
	var probs problems
	queries, queryLine, err := readQueries(queriesPath, &probs)
	if err != nil {
		return nil, err
	}
	qrels, err := readQrels(qrelsPath, inMap(queriesPath, queryLine), idSet{docsIn, hasDoc}, &probs)
	if err != nil {
		return nil, err
	}
	if err := probs.errAs("invalid qrels file " + qrelsPath + " (queries " + queriesPath + ")"); err != nil {
		return nil, err
	}
	d := &Dataset{Name: filepath.Base(qrelsPath), Qrels: qrels}
	for _, q := range queries {
		if _, ok := qrels[q.ID]; ok {
			d.Queries = append(d.Queries, q)
		}
	}
	return d, nil
}
