package weaviate

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate/entities/models"
)

// batchDelete deletes the objects of the class that where matches
// (DELETE /v1/batch/objects at the backend's consistency level), stamping
// their tombstones with the deletion time now.
//
// The time matters on a replicated class. Weaviate's REST batch delete
// writes tombstones without a time unless the request carries
// deletionTimeUnixMilli (which the Go client never sends), and time-based
// resolution (setLayout) takes a tombstone without a time for older than
// any write: when a replica that missed the delete comes back,
// asynchronous replication offers its copy of each deleted object to the
// others, whose timeless tombstones lose, and the documents come back on
// every node. With the time, the tombstone is newer than the copy, the
// others refuse it and the returning replica deletes its copy.
// (Weaviate's own deletes by id and over gRPC stamp the server's time.)
//
// now is the client's clock: time-based resolution compares it with the
// nodes' clocks (a delete wins over a write made before it by the clock of
// the node that took the write), so the clocks must agree to better than
// the time between a write and a delete of the same document.
func (b *Backend) batchDelete(ctx context.Context, where *filters.WhereBuilder, now time.Time) (*models.BatchDeleteResponse, error) {
	output := "minimal"
	body := &models.BatchDelete{
		Output: &output,
		Match:  &models.BatchDeleteMatch{Class: b.class, Where: where.Build()},
	}
	if !now.IsZero() {
		ms := now.UnixMilli()
		body.DeletionTimeUnixMilli = &ms
	}
	js, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	u := *b.tr.nodes[0] // the failover transport aims it at the current node
	u.Path += "/v1/batch/objects"
	if b.opts.Consistency != "" {
		u.RawQuery = url.Values{"consistency_level": {b.opts.Consistency}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, u.String(), bytes.NewReader(js))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range b.headers {
		req.Header.Set(k, v)
	}
	hc := &http.Client{Transport: b.tr, Timeout: b.opts.Timeout}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		// The error the Go client returns for an unexpected status, so
		// that statusCode reads it alike.
		return nil, &fault.WeaviateClientError{IsUnexpectedStatusCode: true, StatusCode: resp.StatusCode,
			Msg: fmt.Sprintf("status code: %d, error: %s", resp.StatusCode, bytes.TrimSpace(data))}
	}
	var out models.BatchDeleteResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, fmt.Errorf("decode the batch delete's answer: %w", err)
	}
	return &out, nil
}
