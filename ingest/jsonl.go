package ingest

import (
	"encoding/json"
	"fmt"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
)

// jsonlRecord is what a corpus line carries beyond BEIR's _id, title and
// text.
type jsonlRecord struct {
	ID       json.RawMessage     `json:"_id"`
	AltID    json.RawMessage     `json:"id"` // the id when there is no _id
	Metadata map[string]any      `json:"metadata"`
	Fields   map[string][]string `json:"fields"`
	DUR      []dur.Flag          `json:"dur"`
}

// ReadJSONL reads BEIR documents (dataset.ReadCorpusWith) plus kormed's
// metadata: "metadata" (string, number or list values become keyword
// fields; numbers keep their text), "fields" and "dur"; a line without
// "_id" may name its document by "id". fn gets each document with where it
// was read ("file:line").
func ReadJSONL(path string, fn func(where string, d search.Doc) error) error {
	return dataset.ReadCorpusWith(path, func(line int, bd dataset.Doc, rec *jsonlRecord) error {
		where := fmt.Sprintf("%s:%d", path, line)
		id := bd.ID
		if len(rec.ID) == 0 && len(rec.AltID) > 0 {
			var err error
			if id, err = jsonID(rec.AltID); err != nil {
				return fmt.Errorf("%s: field id: %w", where, err)
			}
		}
		d := search.Doc{ID: id, Title: bd.Title, Text: bd.Text, Fields: rec.Fields, DUR: rec.DUR}
		for k, v := range rec.Metadata {
			vals, err := metaValues(v)
			if err != nil {
				return fmt.Errorf("%s: metadata.%s: %w", where, k, err)
			}
			if d.Fields == nil {
				d.Fields = map[string][]string{}
			}
			d.Fields[k] = append(d.Fields[k], vals...)
		}
		return fn(where, d)
	})
}

func jsonID(raw json.RawMessage) (string, error) {
	if len(raw) == 0 {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if json.Unmarshal(raw, &n) == nil {
		return n.String(), nil
	}
	return "", fmt.Errorf("want a string or a number, got %s", raw)
}

func metaValues(v any) ([]string, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []string{x}, nil
	case json.Number:
		return []string{x.String()}, nil
	case bool:
		return []string{fmt.Sprint(x)}, nil
	case []any:
		var out []string
		for _, e := range x {
			s, err := metaValues(e)
			if err != nil {
				return nil, err
			}
			out = append(out, s...)
		}
		return out, nil
	}
	return nil, fmt.Errorf("want a string, number, boolean or list of them")
}
