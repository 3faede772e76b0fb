package ingest

import (
	"context"
	"fmt"

	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/search"
)

// Add adds or replaces the documents of the JSONL file path (ReadJSONL's
// format) in svc's index, as POST /v1/documents does, attaching records
// (nil: none) first. It returns how many documents it upserted; an error
// says how many were added before it.
func Add(ctx context.Context, svc *search.Service, path string, records []dur.Record) (int, error) {
	var batch []search.Doc
	n := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if records != nil {
			AttachDUR(records, batch)
		}
		if err := svc.Upsert(ctx, batch); err != nil {
			return err
		}
		n += len(batch)
		batch = batch[:0]
		return nil
	}
	err := ReadJSONL(path, func(where string, d search.Doc) error {
		if d.ID == "" {
			return fmt.Errorf("%s: empty document id", where)
		}
		for _, b := range batch {
			if b.ID == d.ID {
				if err := flush(); err != nil {
					return err
				}
				break
			}
		}
		batch = append(batch, d)
		if len(batch) == 256 {
			return flush()
		}
		return ctx.Err()
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return n, fmt.Errorf("after adding %d documents: %w", n, err)
	}
	return n, nil
}
