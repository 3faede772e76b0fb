package dataset

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// BEIRTables names the files of a retrieval set stored as tables (the
// MTEB layout on the Hugging Face Hub: corpus, queries and qrels as
// configs, each one or more parquet/JSONL/CSV/TSV shards).
type BEIRTables struct {
	Name    string   // the dataset, as named in errors (e.g. hf://taeminlee/Ko-StrategyQA)
	Corpus  []string // rows with _id (or id), text, optional title
	Queries []string // rows with _id (or id), text
	Qrels   []string // rows with query-id, corpus-id, score (optional, default 1)
	Columns Columns  // explicit mapping: id, title, document (corpus text), query (query text)
}

// ReadBEIRTables reads a retrieval set from tables with the checks of
// ReadBEIR: empty or duplicate ids, duplicate judgements and judgements
// naming unknown queries or documents are reported together; only the
// queries with a judgement are kept.
func ReadBEIRTables(src BEIRTables) (*Dataset, error) {
	d := &Dataset{Name: src.Name, Qrels: Qrels{}}
	var probs problems
	docs := map[string]string{}
	err := eachTable(src.Corpus, func(t *Table) error {
		cols, err := t.Bind(src.Name, src.Columns,
			Want{Role: RoleID, Required: true},
			Want{Role: RoleDocument, Names: []string{"text", "document", "contents", "content", "context", "passage"}, Required: true},
			Want{Role: RoleTitle})
		if err != nil {
			return err
		}
		return keyedRows(t, cols, RoleDocument, "document", docs, &probs, func(where string, row map[string]any, id, text string) error {
			var title string
			if _, ok := cols[RoleTitle]; ok {
				var err error
				if title, err = cellText(where, row, cols, RoleTitle); err != nil {
					return err
				}
			}
			d.Corpus = append(d.Corpus, Doc{ID: id, Title: title, Text: text})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	queries := map[string]string{}
	var qs []Query
	err = eachTable(src.Queries, func(t *Table) error {
		cols, err := t.Bind(src.Name, src.Columns,
			Want{Role: RoleID, Required: true},
			Want{Role: RoleQuery, Names: []string{"text", "query", "question"}, Required: true})
		if err != nil {
			return err
		}
		return keyedRows(t, cols, RoleQuery, "query", queries, &probs, func(_ string, _ map[string]any, id, text string) error {
			qs = append(qs, Query{ID: id, Text: text})
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	seen := map[[2]string]string{}
	err = eachTable(src.Qrels, func(t *Table) error {
		cols, err := t.Bind(src.Name, nil,
			Want{Role: "query-id", Names: []string{"query-id", "query_id", "qid"}, Required: true},
			Want{Role: "corpus-id", Names: []string{"corpus-id", "corpus_id", "doc_id", "docid", "doc-id"}, Required: true},
			Want{Role: "score", Names: []string{"score", "label", "relevance"}})
		if err != nil {
			return err
		}
		return t.Each(func(row map[string]any) error {
			where := fmt.Sprintf("%s row %d", t.Path, t.Row)
			qid, err := cellText(where, row, cols, "query-id")
			if err != nil {
				return err
			}
			did, err := cellText(where, row, cols, "corpus-id")
			if err != nil {
				return err
			}
			score := 1
			if c, ok := cols["score"]; ok {
				f, err := Number(row[c])
				if err != nil || f != math.Trunc(f) || math.Abs(f) > 1e9 {
					return fmt.Errorf("%s: column %s: want an integer relevance, got %v", where, c, row[c])
				}
				score = int(f)
			}
			bad := false
			if _, ok := queries[qid]; !ok {
				probs.add("qrels query-id not in the queries", fmt.Sprintf("%s %q", where, qid))
				bad = true
			}
			if _, ok := docs[did]; !ok {
				probs.add("qrels corpus-id not in the corpus", fmt.Sprintf("%s %q", where, did))
				bad = true
			}
			if bad {
				return nil
			}
			key := [2]string{qid, did}
			if prev, dup := seen[key]; dup {
				probs.add("duplicate judgement", fmt.Sprintf("%s %q→%q (first at %s)", where, qid, did, prev))
				return nil
			}
			seen[key] = where
			m := d.Qrels[qid]
			if m == nil {
				m = map[string]int{}
				d.Qrels[qid] = m
			}
			m[did] = score
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if err := probs.err(src.Name); err != nil {
		return nil, err
	}
	for _, q := range qs {
		if _, ok := d.Qrels[q.ID]; ok {
			d.Queries = append(d.Queries, q)
		}
	}
	return d, nil
}

// eachTable opens each file in turn.
func eachTable(paths []string, fn func(*Table) error) error {
	for _, p := range paths {
		t, err := OpenTable(p)
		if err != nil {
			return err
		}
		err = fn(t)
		t.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// ReadExampleTables reads training examples from tables (a Hub dataset's
// split, one or more files): a query and a document column, then either a
// label (or score) column or hard negatives (one column, or a list column
// with the same number of negatives in every row), found by
// DefaultColumnNames or the explicit mapping cols. A list in the query or
// document column (PubMedQA's CONTEXTS) is joined with newlines. Empty or
// "NULL" texts, a negative equal to its document and non-finite labels are
// errors naming the file and row. source names the dataset in errors.
func ReadExampleTables(source string, paths []string, cols Columns) (*Examples, error) {
	ex := &Examples{Path: source, Format: FormatPairs}
	negs := -1
	err := eachTable(paths, func(t *Table) error {
		b, err := t.Bind(source, cols, Want{Role: RoleQuery, Required: true}, Want{Role: RoleDocument, Required: true},
			Want{Role: RoleLabel}, Want{Role: RoleNegative})
		if err != nil {
			return err
		}
		_, hasLabel := b[RoleLabel]
		_, hasNeg := b[RoleNegative]
		if hasLabel && hasNeg {
			if _, explicit := cols[RoleLabel]; !explicit {
				hasLabel = false // a triplets set with a score column: train on the negatives
				delete(b, RoleLabel)
			} else if _, explicit := cols[RoleNegative]; !explicit {
				hasNeg = false
				delete(b, RoleNegative)
			} else {
				return fmt.Errorf("%s: file %s: map either a label or negatives, not both", source, t.Path)
			}
		}
		if ex.Columns == nil {
			ex.HasLabels = hasLabel
		} else if ex.HasLabels != hasLabel {
			return fmt.Errorf("%s: file %s: some files have a label column and some not", source, t.Path)
		}
		return t.Each(func(row map[string]any) error {
			where := fmt.Sprintf("%s row %d", t.Path, t.Row)
			text := func(role string) (string, error) {
				v := row[b[role]]
				if l, ok := v.([]any); ok {
					parts, err := Texts(l)
					if err != nil {
						return "", fmt.Errorf("%s: column %s: %w", where, b[role], err)
					}
					v = strings.Join(parts, "\n")
				}
				s, err := Text(v)
				if err != nil {
					return "", fmt.Errorf("%s: column %s: %w", where, b[role], err)
				}
				s = strings.TrimSpace(s)
				if isNullText(s) {
					return "", fmt.Errorf("%s: column %s is empty", where, b[role])
				}
				return s, nil
			}
			q, err := text(RoleQuery)
			if err != nil {
				return err
			}
			d, err := text(RoleDocument)
			if err != nil {
				return err
			}
			e := Example{Texts: []string{q, d}, Line: t.Row}
			if hasNeg {
				ns, err := Texts(row[b[RoleNegative]])
				if err != nil {
					return fmt.Errorf("%s: column %s: %w", where, b[RoleNegative], err)
				}
				if negs < 0 {
					negs = len(ns)
				}
				if len(ns) != negs || negs == 0 {
					return fmt.Errorf("%s: column %s: %d negatives, but earlier rows have %d (every row needs the same number, at least one)", where, b[RoleNegative], len(ns), negs)
				}
				for _, n := range ns {
					n = strings.TrimSpace(n)
					if isNullText(n) {
						return fmt.Errorf("%s: column %s: an empty negative", where, b[RoleNegative])
					}
					if n == d {
						return fmt.Errorf("%s: column %s: a negative equals the document", where, b[RoleNegative])
					}
					e.Texts = append(e.Texts, n)
				}
			}
			if hasLabel {
				f, err := Number(row[b[RoleLabel]])
				if err != nil || math.IsInf(float64(float32(f)), 0) {
					return fmt.Errorf("%s: column %s: %v", where, b[RoleLabel], row[b[RoleLabel]])
				}
				e.Label = float32(f)
			}
			ex.Columns = []string{RoleQuery, RoleDocument}
			ex.Rows = append(ex.Rows, e)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if len(ex.Rows) == 0 {
		return nil, fmt.Errorf("%s: no rows", source)
	}
	switch {
	case negs == 1:
		ex.Columns = append(ex.Columns, "hard_negative")
		ex.Format = FormatTriplets
	case negs > 1:
		for i := 1; i <= negs; i++ {
			ex.Columns = append(ex.Columns, fmt.Sprintf("hard_negative_%d", i))
		}
		ex.Format = FormatTriplets
	}
	return ex, nil
}

// EachDoc streams corpus documents from tables (id, text, optional title;
// the names of ReadBEIRTables, or cols), one row group at a time for
// parquet, calling fn with where each comes from ("file row N"). An empty
// id or a value that is not text is an error naming the file and row.
func EachDoc(source string, paths []string, cols Columns, fn func(where string, d Doc) error) error {
	return eachTable(paths, func(t *Table) error {
		b, err := t.Bind(source, cols,
			Want{Role: RoleID, Required: true},
			Want{Role: RoleDocument, Names: []string{"text", "document", "contents", "content", "context", "passage"}, Required: true},
			Want{Role: RoleTitle})
		if err != nil {
			return err
		}
		return t.Each(func(row map[string]any) error {
			where := fmt.Sprintf("%s row %d", t.Path, t.Row)
			var d Doc
			var err error
			if d.ID, err = Text(row[b[RoleID]]); err != nil {
				return fmt.Errorf("%s: column %s: %w", where, b[RoleID], err)
			}
			if d.ID == "" {
				return fmt.Errorf("%s: column %s is empty", where, b[RoleID])
			}
			if d.Text, err = Text(row[b[RoleDocument]]); err != nil {
				return fmt.Errorf("%s: column %s: %w", where, b[RoleDocument], err)
			}
			if c, ok := b[RoleTitle]; ok {
				if d.Title, err = Text(row[c]); err != nil {
					return fmt.Errorf("%s: column %s: %w", where, c, err)
				}
			}
			return fn(where, d)
		})
	})
}

// ReadPairTables builds a retrieval set from question–answer pairs in
// tables (a query and a document column, an optional 0/1 label), the way
// ReadCSVPairs does: identical texts are one query or document, ids are
// given in order of first appearance. Rows whose query or document is
// null are skipped, as MTEB's PublicHealthQA loader skips them; they are
// counted in the note. The document column is found by the default names,
// else "answer" (a question–answer set's answer is its document).
func ReadPairTables(source string, paths []string, cols Columns) (*Dataset, *LoadReport, error) {
	b := newPairBuilder(source)
	skipped := 0
	docNames := append(slices.Clone(DefaultColumnNames[RoleDocument]), "answer")
	err := eachTable(paths, func(t *Table) error {
		bind, err := t.Bind(source, cols, Want{Role: RoleQuery, Required: true}, Want{Role: RoleDocument, Names: docNames, Required: true}, Want{Role: RoleLabel})
		if err != nil {
			return err
		}
		return t.Each(func(row map[string]any) error {
			where := fmt.Sprintf("%s row %d", t.Path, t.Row)
			qv, dv := row[bind[RoleQuery]], row[bind[RoleDocument]]
			if qv == nil || dv == nil {
				skipped++
				return nil
			}
			q, err := Text(qv)
			if err != nil {
				return fmt.Errorf("%s: column %s: %w", where, bind[RoleQuery], err)
			}
			d, err := Text(dv)
			if err != nil {
				return fmt.Errorf("%s: column %s: %w", where, bind[RoleDocument], err)
			}
			if strings.TrimSpace(q) == "" || strings.TrimSpace(d) == "" {
				skipped++
				return nil
			}
			label := 1
			if c, ok := bind[RoleLabel]; ok {
				f, err := Number(row[c])
				if err != nil || (f != 0 && f != 1) {
					return fmt.Errorf("%s: column %s: want 0 or 1, got %v", where, c, row[c])
				}
				label = int(f)
			}
			b.rep.Rows++
			return b.add(t.Row, q, d, label)
		})
	})
	if err != nil {
		return nil, nil, err
	}
	d, rep, err := b.build()
	if err != nil {
		return nil, nil, err
	}
	if skipped > 0 {
		rep.Skipped = skipped
	}
	return d, rep, nil
}

// cellText is the text of row's column bound to role (cols from
// Table.Bind), an error naming where and the column.
func cellText(where string, row map[string]any, cols map[string]string, role string) (string, error) {
	c := cols[role]
	s, err := Text(row[c])
	if err != nil {
		return "", fmt.Errorf("%s: column %s: %w", where, c, err)
	}
	return s, nil
}

// keyedRows reads every row's id and text (the columns cols binds to
// RoleID and textRole) and passes them to add with the row; a row with an
// empty id, or an id seen before (seen maps each id to where it was
// first), is a problem of kind ("empty document id", "duplicate query
// id", …) and is skipped.
func keyedRows(t *Table, cols map[string]string, textRole, kind string, seen map[string]string, probs *problems,
	add func(where string, row map[string]any, id, text string) error) error {
	return t.Each(func(row map[string]any) error {
		where := fmt.Sprintf("%s row %d", t.Path, t.Row)
		id, err := cellText(where, row, cols, RoleID)
		if err != nil {
			return err
		}
		text, err := cellText(where, row, cols, textRole)
		if err != nil {
			return err
		}
		if id == "" {
			probs.add("empty "+kind+" id", where)
			return nil
		}
		if prev, dup := seen[id]; dup {
			probs.add("duplicate "+kind+" id", fmt.Sprintf("%s %q (first at %s)", where, id, prev))
			return nil
		}
		seen[id] = where
		return add(where, row, id, text)
	})
}
