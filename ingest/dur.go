package ingest

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
)

// AttachDUR attaches DUR records to documents as they are indexed: by
// item sequence (the document id), ingredient code or ingredient name
// (the "ingredient_code" and "ingredient" fields).
func AttachDUR(records []dur.Record, docs []search.Doc) {
	ps := make([]dur.Product, len(docs))
	for i, d := range docs {
		ps[i] = dur.Product{Seq: d.ID, Name: d.Title, Ingredients: d.Fields["ingredient"], IngredientCodes: d.Fields["ingredient_code"]}
	}
	flags := dur.Attach(records, ps)
	for i := range docs {
		docs[i].DUR = append(docs[i].DUR, flags[docs[i].ID]...)
	}
}

// DURCount is how many of an index's documents carry DUR flags, and the
// flags by DUR type.
type DURCount struct {
	Flagged int
	Types   map[string]int
}

// CountDUR counts the DUR flags the index holds, read from its live
// documents, so that a resumed or skipped build reports the index's real
// numbers rather than those of the documents one run attached.
func CountDUR(ix *embedded.Index) DURCount {
	c := DURCount{Types: map[string]int{}}
	ix.Docs(func(d search.Doc, _ []float32) error {
		if len(d.DUR) > 0 {
			c.Flagged++
		}
		for _, f := range d.DUR {
			c.Types[f.Type]++
		}
		return nil
	})
	return c
}

// String is kormed index's DUR line: "DUR: 2 products flagged (노인주의
// 3, 임부금기 12)".
func (c DURCount) String() string {
	return fmt.Sprintf("DUR: %d products flagged (%s)", c.Flagged, durSummary(c.Types))
}

// durSummary renders flag counts by DUR type ("노인주의 3, 임부금기 12").
func durSummary(types map[string]int) string {
	ts := make([]string, 0, len(types))
	for t := range types {
		ts = append(ts, t)
	}
	sort.Strings(ts)
	for i, t := range ts {
		ts[i] = fmt.Sprintf("%s %d", t, types[t])
	}
	return strings.Join(ts, ", ")
}
