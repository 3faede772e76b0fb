package weaviate

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/searchtest"
)

// The tests against a cluster need KORMED_WEAVIATE_CLUSTER_URLS, its node
// URLs comma-separated:
//
//	export KORMED_WEAVIATE_CLUSTER_URLS=$(scripts/weaviate.sh cluster start)
//	go test ./search/weaviate/
//	scripts/weaviate.sh cluster stop
func clusterURLs(t *testing.T) string {
	t.Helper()
	u := os.Getenv("KORMED_WEAVIATE_CLUSTER_URLS")
	if u == "" {
		t.Skip("KORMED_WEAVIATE_CLUSTER_URLS is not set: no Weaviate cluster to test against " +
			"(start one with `export KORMED_WEAVIATE_CLUSTER_URLS=$(scripts/weaviate.sh cluster start)`)")
	}
	return u
}

// settled is a Backend whose writes return only once every replica holds
// them: a QUORUM write returns when two of three replicas acknowledged it,
// and a search reads one replica per shard, so without the wait a search
// right after a write may land on the replica that has not applied it yet.
// It also waits until each node's BM25 finds every upserted document by
// its title: Weaviate 1.35 answers BM25 from an incomplete index for a
// while after a write, differently on each replica (see doc.go).
type settled struct {
	*Backend
	t       *testing.T
	nodes   []string   // node names
	perNode []*Backend // the class through each node's URL alone
}

// wait polls every node's replica of each id (the object GET's node_name)
// until it holds the document (present) or not.
func (s settled) wait(ctx context.Context, ids []string, present bool) error {
	deadline := time.Now().Add(30 * time.Second)
	for _, id := range ids {
		for _, n := range s.nodes {
			for {
				objs, err := s.c.Data().ObjectsGetter().WithClassName(s.class).WithID(ObjectID(id)).WithNodeName(n).Do(ctx)
				has := err == nil && len(objs) > 0
				if err != nil && statusCode(err) != http.StatusNotFound {
					return fmt.Errorf("read %s on %s: %w", id, n, err)
				}
				if has == present {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("%s on %s: present %v after 30s, want %v", id, n, has, present)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	return nil
}

func (s settled) Upsert(ctx context.Context, docs []search.Doc, vecs [][]float32) error {
	if err := s.Backend.Upsert(ctx, docs, vecs); err != nil {
		return err
	}
	ids := make([]string, len(docs))
	for i, d := range docs {
		ids[i] = d.ID
	}
	if err := s.wait(ctx, ids, true); err != nil {
		return err
	}
	return s.waitBM25(ctx, docs)
}

// waitBM25 waits until a BM25 query for each document's title, filtered
// to its id, finds it through every node (each node searches its local
// replicas).
func (s settled) waitBM25(ctx context.Context, docs []search.Doc) error {
	const limit = 60 * time.Second
	deadline := time.Now().Add(limit)
	for _, d := range docs {
		if strings.TrimSpace(d.Title) == "" {
			continue
		}
		for _, nb := range s.perNode {
			// The title as the class's BM25 sees it: analysed into the
			// terms property (title and text in a legacy class).
			q := fmt.Sprintf("{Get{%s(bm25:{query:%s, properties:%s}, where:{path:[%q], operator:Equal, valueText:%s}%s){%s}}}",
				s.class, gqlString(nb.bm25Query(d.Title)), nb.bm25Props(), propDocID, gqlString(d.ID), nb.readArg(), propDocID)
			for {
				var out struct {
					Get map[string][]map[string]any `json:"Get"`
				}
				if err := nb.graphQL(ctx, q, &out); err != nil {
					return fmt.Errorf("bm25 probe of %s on %s: %w", d.ID, nb.Node(), err)
				}
				if len(out.Get[s.class]) == 1 {
					break
				}
				if time.Now().After(deadline) {
					return fmt.Errorf("BM25 on %s does not find %s by its title %q %s after the upsert", nb.Node(), d.ID, d.Title, limit)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
	return nil
}

func (s settled) Delete(ctx context.Context, ids []string) (int, error) {
	n, err := s.Backend.Delete(ctx, ids)
	if err != nil {
		return n, err
	}
	return n, s.wait(ctx, ids, false)
}

// TestConformanceCluster runs the backend suite on a three-node cluster,
// the class split in 3 shards, each on 3 replicas, written and read at
// QUORUM, through all the nodes' URLs.
func TestConformanceCluster(t *testing.T) {
	urls := clusterURLs(t)
	for _, vi := range []string{"flat", "hnsw"} {
		t.Run(vi, func(t *testing.T) {
			searchtest.Run(t, func(t *testing.T) search.Backend {
				class := fmt.Sprintf("KormedCluster%s%d_%d", vi, time.Now().UnixNano(), os.Getpid())
				m := searchtest.Model
				b, err := Open(context.Background(), urls, class, Options{Model: &m, Create: true, VectorIndex: vi, ExactParts: true,
					Shards: 3, Replicas: 3, Consistency: "QUORUM"})
				if err != nil {
					t.Fatal(err)
				}
				if b.Shards() != 3 || b.Replicas() != 3 || b.Consistency() != "QUORUM" {
					t.Fatalf("layout: %d shards, %d replicas, %s", b.Shards(), b.Replicas(), b.Consistency())
				}
				st, err := b.c.Cluster().NodesStatusGetter().WithOutput("minimal").Do(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				var nodes []string
				for _, n := range st.Nodes {
					nodes = append(nodes, n.Name)
				}
				if len(nodes) != 3 {
					t.Fatalf("the cluster has nodes %v, want 3", nodes)
				}
				t.Cleanup(func() {
					if ids, err := b.IDs(context.Background()); err != nil || len(ids) != 9 {
						t.Errorf("IDs: %d %v", len(ids), err)
					}
					if err := b.Drop(context.Background()); err != nil {
						t.Errorf("drop %s: %v", class, err)
					}
				})
				var perNode []*Backend
				for _, u := range strings.Split(urls, ",") {
					nb, err := Open(context.Background(), u, class, Options{Consistency: "QUORUM"})
					if err != nil {
						t.Fatal(err)
					}
					perNode = append(perNode, nb)
				}
				return settled{Backend: b, t: t, nodes: nodes, perNode: perNode}
			})
		})
	}
}

// TestClusterLayout checks the class Open creates by default on a cluster
// (one shard per node, min(3, nodes) replicas), that reopening with
// default options takes it as it is, and that an explicit different
// layout is refused.
func TestClusterLayout(t *testing.T) {
	urls := clusterURLs(t)
	ctx := context.Background()
	class := fmt.Sprintf("KormedLayout%d_%d", time.Now().UnixNano(), os.Getpid())
	b, err := Open(ctx, urls, class, Options{Create: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Drop(ctx)
	n, err := b.nodeCount(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b.Shards() != DefaultShards || b.Replicas() != min(3, n) || b.Consistency() != "QUORUM" {
		t.Fatalf("default layout on %d nodes: %d shards, %d replicas, %s", n, b.Shards(), b.Replicas(), b.Consistency())
	}
	cls, err := b.c.Schema().ClassGetter().WithClassName(class).Do(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rc := cls.ReplicationConfig; rc == nil || !rc.AsyncEnabled || rc.DeletionStrategy != "TimeBasedResolution" {
		t.Fatalf("replication config %+v", rc)
	}
	// Reopen with the default layout, through a dead node first: the
	// backend moves on to the first live one and stays there.
	dead := closedURL(t)
	b2, err := Open(ctx, dead+","+urls, class, Options{Create: true})
	if err != nil {
		t.Fatalf("reopen with the default layout: %v", err)
	}
	if first := strings.Split(urls, ",")[0]; b2.Node() != strings.TrimRight(first, "/") {
		t.Fatalf("current node %s, want %s", b2.Node(), first)
	}
	if info, err := b2.Info(ctx); err != nil || info.Docs != 0 {
		t.Fatalf("info through the live node: %+v %v", info, err)
	}
	if _, err := Open(ctx, urls, class, Options{Create: true, Shards: DefaultShards, Replicas: min(3, n)}); err != nil {
		t.Fatalf("reopen with the same explicit layout: %v", err)
	}
	_, err = Open(ctx, urls, class, Options{Shards: n + 1})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("has %d shards and %d replicas, not the %d shards asked for", DefaultShards, min(3, n), n+1)) {
		t.Fatalf("reopen with another shard count: %v", err)
	}
}
