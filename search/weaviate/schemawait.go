package weaviate

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// schemaWait bounds how long a write waits for the nodes to apply a schema
// change (a created class, added properties).
const schemaWait = 30 * time.Second

// awaitSchema waits until every node of Open's URLs that answers holds the
// class, with the properties props, in its own copy of the schema (GET
// /v1/schema/{class}?consistency=false): a no-op with one URL.
//
// Why: a schema change returns once the cluster's leader applied it; the
// other nodes apply it a moment later. Weaviate makes a replica wait for
// the schema version a write needs only when auto-schema is on (the
// version comes from auto-schema; with AUTOSCHEMA_ENABLED=false writes
// carry version 0), so otherwise a replica behind on the schema refuses
// the objects ("could not find index for class", "no bucket for prop") or,
// worse, stores them without indexing a property it does not know yet,
// and filters on that field then miss those objects on that replica for
// good. Waiting here closes the gap on the nodes kormed was given; list
// every node of a cluster (or keep Weaviate's auto-schema on, its
// default). A node that cannot be reached is skipped: it catches up on
// the schema before it serves again.
func (b *Backend) awaitSchema(ctx context.Context, props []string) error {
	if len(b.tr.nodes) < 2 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, schemaWait)
	defer cancel()
	for _, n := range b.tr.nodes {
		u := n.String() + "/v1/schema/" + url.PathEscape(b.class) + "?consistency=false"
		for pause := 10 * time.Millisecond; ; pause = min(2*pause, 200*time.Millisecond) {
			has, err := b.nodeHas(ctx, u, props)
			if err != nil {
				if ctx.Err() != nil {
					return fmt.Errorf("weaviate: node %s has not applied the schema of class %s after %s: %w", n.Host, b.class, schemaWait, err)
				}
				break // unreachable: skip it
			}
			if has {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("weaviate: node %s has not applied the schema of class %s (properties %v) after %s", n.Host, b.class, props, schemaWait)
			case <-time.After(pause):
			}
		}
	}
	return nil
}

// nodeHas reports whether the class at u (one node's schema endpoint)
// exists with props; an error means the node did not answer.
func (b *Backend) nodeHas(ctx context.Context, u string, props []string) (bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return false, err
	}
	for k, v := range b.headers {
		req.Header.Set(k, v)
	}
	resp, err := b.tr.base.RoundTrip(req) // this node only, no failover
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return false, nil // 404 until the node has the class
	}
	var cls struct {
		Properties []struct {
			Name string `json:"name"`
		} `json:"properties"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&cls); err != nil {
		return false, nil
	}
	have := make(map[string]bool, len(cls.Properties))
	for _, p := range cls.Properties {
		have[p.Name] = true
	}
	for _, p := range props {
		if !have[p] {
			return false, nil
		}
	}
	return true, nil
}
