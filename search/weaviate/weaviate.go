package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-openapi/strfmt"
	client "github.com/weaviate/weaviate-go-client/v5/weaviate"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/kormed/kormed/analysis"
	"github.com/kormed/kormed/dur"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// Options configure Open.
type Options struct {
	// Model is the embedding model of the index's vectors. When the class
	// exists, Open refuses it unless it was built with the same model (name,
	// revision, dim, pooling and prefixes); a zero Model (Name "" and Dim 0)
	// is a BM25-only index. Nil accepts whatever the class records.
	Model *search.ModelInfo
	// Create creates the class when it does not exist (with Model; nil
	// Model creates a BM25-only index). Without it Open fails on a missing
	// class.
	Create bool
	// Generated is recorded as Info.Generated when the class is created.
	Generated string
	// Analyzer is the package analysis analyzer whose terms a created class
	// indexes for BM25 ("" is analysis.Default), K1 and B its BM25
	// parameters (0: bm25.DefaultK1, DefaultB): pass the embedded index's
	// to rank as it does. When the class exists, a non-empty Analyzer must
	// be the class's (a legacy kagome_kr class is refused then); "" accepts
	// whatever the class records.
	Analyzer string
	K1, B    float64
	// VectorIndex is the vector index type of a created class: "hnsw" (the
	// default, approximate) or "flat" (exact brute force).
	VectorIndex string
	// ExactParts makes hybrid searches fill every hit's BM25 and Dense
	// parts with exact ranks and scores by also running the two sub-searches
	// on their own (two more queries per search); without it the parts come
	// from Weaviate's explainScore, which gives ranks for rrf and raw scores
	// for relative fusion but not both (see Search).
	ExactParts bool
	// BatchSize is the number of objects per batch request (default 100).
	BatchSize int
	// Timeout bounds each request (default 60s).
	Timeout time.Duration
	// APIKey is sent as a bearer token (Weaviate API-key authentication);
	// "" for anonymous access.
	APIKey string
	// Headers are added to every request.
	Headers map[string]string

	// Shards is the shard count of a created class (0: DefaultShards).
	// Weaviate fixes it at creation.
	Shards int
	// Replicas is the replication factor of a created class (0: the
	// default, min(3, nodes in the cluster): every shard on three nodes,
	// or on every node of a smaller cluster; 1 on a single node).
	Replicas int
	// Consistency is the consistency level of writes, deletes and object
	// reads: "ONE", "QUORUM" (the default) or "ALL"; searches read at ONE
	// (see doc.go).
	Consistency string
	// DialTimeout bounds each connection attempt to a node (default
	// DefaultDialTimeout with several URLs, Go's 30s with one).
	DialTimeout time.Duration
}

// DefaultShards is the shard count of a created class when
// Options.Shards is 0: one, not Weaviate's one per node, because
// Weaviate keeps BM25's statistics (idf, average length) per shard, so a
// corpus split in shards ranks differently from one index (the drug
// benchmark on 3 shards: BM25 NDCG@10 89.53 against 90.54 on 1), as
// Elasticsearch, which made one primary shard its default in 7.0. With
// the default replicas every node holds the whole index; shard when the
// corpus outgrows a node.
const DefaultShards = 1

// Consistency levels of Options.Consistency.
const (
	ConsistencyOne    = "ONE"
	ConsistencyQuorum = "QUORUM"
	ConsistencyAll    = "ALL"
)

// ParseConsistency checks a consistency level, "" giving the default
// (QUORUM); levels are case-insensitive.
func ParseConsistency(s string) (string, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "":
		return ConsistencyQuorum, nil
	case ConsistencyOne:
		return ConsistencyOne, nil
	case ConsistencyQuorum:
		return ConsistencyQuorum, nil
	case ConsistencyAll:
		return ConsistencyAll, nil
	}
	return "", fmt.Errorf("unknown consistency level %q (want ONE, QUORUM or ALL)", s)
}

// Backend is a kormed index in a Weaviate class. It is safe for concurrent
// use.
type Backend struct {
	c       *client.Client
	tr      *failover
	headers map[string]string // sent with every request (API key, Options.Headers)
	class   string
	meta    meta
	opts    Options
	an      analysis.Analyzer // the terms property's analyzer; nil in a legacy class

	// shards and replicas are the class's layout; replicas > 1 makes
	// GraphQL searches carry the consistency level (Weaviate accepts the
	// argument only on replicated classes).
	shards, replicas atomic.Int32

	mu     sync.Mutex
	fields map[string]string // field name -> property name

	cal atomic.Pointer[fusion.Calibration] // meta's, updated by SetCalibration and Reload
}

var _ search.Backend = (*Backend)(nil)

// Open connects to the Weaviate server at rawURL (e.g.
// "http://127.0.0.1:18080"), or to a cluster through several of its nodes
// (comma-separated: "http://127.0.0.1:18880,http://127.0.0.1:18890"),
// and opens the index in class, creating it when opts.Create is set. Class
// names are Weaviate's: a capital letter then letters, digits and
// underscores.
//
// With several URLs every request goes to the current node and moves to
// the next when that node cannot be reached (see failover); Node tells
// which node is current. A created class gets opts.Shards shards and
// opts.Replicas replicas; an existing class is taken with its own layout
// when both are 0 and refused when an explicit one differs.
func Open(ctx context.Context, rawURL, class string, opts Options) (*Backend, error) {
	nodes, err := parseNodes(rawURL)
	if err != nil {
		return nil, err
	}
	if !validClassName(class) {
		return nil, fmt.Errorf("weaviate: bad class name %q (want a capital letter, then letters, digits or _)", class)
	}
	switch opts.VectorIndex {
	case "":
		opts.VectorIndex = "hnsw"
	case "hnsw", "flat":
	default:
		return nil, fmt.Errorf("weaviate: unknown vector index type %q (want hnsw or flat)", opts.VectorIndex)
	}
	if opts.Shards < 0 {
		return nil, fmt.Errorf("weaviate: shard count %d (want 0 for the default, or more)", opts.Shards)
	}
	if opts.Replicas < 0 {
		return nil, fmt.Errorf("weaviate: replication factor %d (want 0 for the default, or more)", opts.Replicas)
	}
	if opts.Consistency, err = ParseConsistency(opts.Consistency); err != nil {
		return nil, fmt.Errorf("weaviate: %w", err)
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 100
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.DialTimeout <= 0 && len(nodes) > 1 {
		opts.DialTimeout = DefaultDialTimeout
	}
	headers := map[string]string{}
	for k, v := range opts.Headers {
		headers[k] = v
	}
	if opts.APIKey != "" {
		headers["Authorization"] = "Bearer " + opts.APIKey
	}
	tr := newFailover(nodes, opts.DialTimeout)
	c, err := client.NewClient(client.Config{
		Scheme:           nodes[0].Scheme,
		Host:             nodes[0].Host + nodes[0].Path,
		Headers:          headers,
		Timeout:          opts.Timeout,
		ConnectionClient: &http.Client{Transport: tr, Timeout: opts.Timeout},
	})
	if err != nil {
		return nil, fmt.Errorf("weaviate: %w", err)
	}
	b := &Backend{c: c, tr: tr, headers: headers, class: class, opts: opts}

	cls, err := c.Schema().ClassGetter().WithClassName(class).Do(ctx)
	switch {
	case statusCode(err) == http.StatusNotFound:
		if !opts.Create {
			return nil, fmt.Errorf("weaviate: class %s does not exist at %s", class, rawURL)
		}
		m, err := newMeta(opts)
		if err != nil {
			return nil, err
		}
		if opts.Model != nil {
			m.Model = *opts.Model
		}
		if m.Model.Dim < 0 || (m.Model.Name != "") != (m.Model.Dim > 0) {
			return nil, fmt.Errorf("weaviate: model %q with dim %d: a model needs a name and a positive dim", m.Model.Name, m.Model.Dim)
		}
		replicas := opts.Replicas
		if replicas == 0 {
			n, err := b.nodeCount(ctx)
			if err != nil {
				return nil, err
			}
			if replicas = min(3, n); replicas == 1 {
				replicas = 0 // one node: Weaviate's default (factor 1, or its REPLICATION_MINIMUM_FACTOR)
			}
		}
		newCls := newClass(class, m, opts.VectorIndex)
		shards := opts.Shards
		if shards == 0 {
			shards = DefaultShards
		}
		setLayout(newCls, shards, replicas)
		if err := c.Schema().ClassCreator().WithClass(newCls).Do(ctx); err != nil {
			// Someone else may have created it meanwhile: read it back.
			cls, err2 := c.Schema().ClassGetter().WithClassName(class).Do(ctx)
			if err2 != nil {
				return nil, fmt.Errorf("weaviate: create class %s: %w", class, err)
			}
			return b.load(cls)
		}
		if b.an, err = m.analyzer(class); err != nil {
			return nil, err
		}
		if err := b.awaitSchema(ctx, nil); err != nil {
			return nil, err
		}
		// Read back the layout Weaviate gave the class.
		cls, err := c.Schema().ClassGetter().WithClassName(class).Do(ctx)
		if err != nil {
			return nil, fmt.Errorf("weaviate: get class %s: %w", class, err)
		}
		b.setLayout(cls)
		b.meta = m
		b.fields = map[string]string{}
		return b, nil
	case err != nil:
		return nil, fmt.Errorf("weaviate: get class %s: %w", class, err)
	}
	return b.load(cls)
}

// nodeCount is the number of nodes in the cluster.
func (b *Backend) nodeCount(ctx context.Context) (int, error) {
	st, err := b.c.Cluster().NodesStatusGetter().WithOutput("minimal").Do(ctx)
	if err != nil {
		return 0, fmt.Errorf("weaviate: list the cluster's nodes: %w", err)
	}
	return max(1, len(st.Nodes)), nil
}

// Node is the URL of the node the backend currently sends its requests
// to: one of Open's URLs.
func (b *Backend) Node() string { return b.tr.node() }

// Shards is the class's shard count.
func (b *Backend) Shards() int { return int(b.shards.Load()) }

// Replicas is the class's replication factor.
func (b *Backend) Replicas() int { return int(b.replicas.Load()) }

// Consistency is the consistency level of the backend's writes and reads.
func (b *Backend) Consistency() string { return b.opts.Consistency }

// setLayout records the class's shard count and replication factor.
func (b *Backend) setLayout(cls *models.Class) {
	shards, replicas := classLayout(cls)
	b.shards.Store(int32(shards))
	b.replicas.Store(int32(replicas))
}

// load checks an existing class and takes its metadata and fields.
func (b *Backend) load(cls *models.Class) (*Backend, error) {
	m, err := parseMeta(b.class, cls.Description)
	if err != nil {
		return nil, err
	}
	if b.opts.Model != nil && !sameModel(*b.opts.Model, m.Model) {
		return nil, fmt.Errorf("weaviate: class %s was built with %s, not %s", b.class, describeModel(m.Model), describeModel(*b.opts.Model))
	}
	if cls.Vectorizer != "" && cls.Vectorizer != "none" {
		return nil, fmt.Errorf("weaviate: class %s has vectorizer %q; kormed supplies its own vectors (vectorizer none)", b.class, cls.Vectorizer)
	}
	if a := b.opts.Analyzer; a != "" && a != m.Analyzer {
		if m.legacy() {
			return nil, fmt.Errorf("weaviate: class %s is a legacy kormed class searched with Weaviate's %s tokenizer, not kormed's %s analyzer: re-run kormed index --backend weaviate into a new class (--class)", b.class, m.Analyzer, a)
		}
		return nil, fmt.Errorf("weaviate: class %s was built with the %s analyzer, not %s", b.class, m.Analyzer, a)
	}
	if !m.legacy() {
		if b.an, err = m.analyzer(b.class); err != nil {
			return nil, err
		}
	}
	fields, err := checkClass(cls, m.legacy())
	if err != nil {
		return nil, err
	}
	shards, replicas := classLayout(cls)
	if (b.opts.Shards > 0 && b.opts.Shards != shards) || (b.opts.Replicas > 0 && b.opts.Replicas != replicas) {
		return nil, fmt.Errorf("weaviate: class %s has %d shards and %d replicas, not the %s asked for "+
			"(the shard count is fixed when a class is created: drop the class to change it, or leave shards and replicas at 0 (kormed index without --shards and --replicas) to take the class as it is)",
			b.class, shards, replicas, describeLayout(b.opts.Shards, b.opts.Replicas))
	}
	b.setLayout(cls)
	b.meta = m
	b.fields = fields
	b.cal.Store(m.Calibration)
	return b, nil
}

// statusCode is the HTTP status of a client error, 0 if none.
func statusCode(err error) int {
	var we *fault.WeaviateClientError
	if errors.As(err, &we) {
		return we.StatusCode
	}
	return 0
}

// Class is the Weaviate class of the index.
func (b *Backend) Class() string { return b.class }

// Model is the embedding model the index was built with.
func (b *Backend) Model() search.ModelInfo { return b.meta.Model }

// Info describes the index; Docs is the class's object count.
func (b *Backend) Info(ctx context.Context) (search.Info, error) {
	// The count and the DUR types present (whether the population rules
	// apply, search.Info.DURTypes) in one request.
	q := fmt.Sprintf("{Aggregate{%s{meta{count} %s{topOccurrences(limit:100){value occurs}}}}}", b.class, propDURTypes)
	var out struct {
		Aggregate map[string][]struct {
			Meta struct {
				Count int `json:"count"`
			} `json:"meta"`
			DUR struct {
				Top []struct {
					Value  string `json:"value"`
					Occurs int    `json:"occurs"`
				} `json:"topOccurrences"`
			} `json:"dur_types"`
		} `json:"Aggregate"`
	}
	if err := b.graphQL(ctx, q, &out); err != nil {
		return search.Info{}, fmt.Errorf("weaviate: count %s: %w", b.class, err)
	}
	n := 0
	var types []string
	if rows := out.Aggregate[b.class]; len(rows) > 0 {
		n = rows[0].Meta.Count
		for _, t := range rows[0].DUR.Top {
			if t.Value != "" && t.Occurs > 0 {
				types = append(types, t.Value)
			}
		}
	}
	sort.Strings(types)
	return search.Info{
		Backend:   "weaviate",
		Docs:      n,
		Model:     b.meta.Model,
		Analyzer:  b.meta.Analyzer,
		Fields:    b.fieldNames(),
		Generated: b.meta.Generated,
		DURTypes:  types,
	}, nil
}

func (b *Backend) fieldNames() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	names := make([]string, 0, len(b.fields))
	for f := range b.fields {
		names = append(names, f)
	}
	sort.Strings(names)
	return names
}

// fieldProps returns a copy of the field -> property map.
func (b *Backend) fieldProps() map[string]string {
	b.mu.Lock()
	defer b.mu.Unlock()
	m := make(map[string]string, len(b.fields))
	for f, p := range b.fields {
		m[f] = p
	}
	return m
}

// ensureFields adds a property for every field the class lacks.
func (b *Backend) ensureFields(ctx context.Context, docs []search.Doc) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	var missing []string
	seen := map[string]bool{}
	for _, d := range docs {
		for f := range d.Fields {
			if _, ok := b.fields[f]; !ok && !seen[f] {
				seen[f] = true
				missing = append(missing, f)
			}
		}
	}
	sort.Strings(missing)
	var added []string
	for _, f := range missing {
		if f == "" {
			return errors.New("weaviate: a field with an empty name")
		}
		p := fieldProperty(f)
		if err := b.c.Schema().PropertyCreator().WithClassName(b.class).WithProperty(p).Do(ctx); err != nil {
			// Another writer may have added it: accept it if the class has it now.
			cls, err2 := b.c.Schema().ClassGetter().WithClassName(b.class).Do(ctx)
			if err2 != nil || !hasProperty(cls, p.Name) {
				return fmt.Errorf("weaviate: add field %q to class %s: %w", f, b.class, err)
			}
		}
		b.fields[f] = p.Name
		added = append(added, p.Name)
	}
	if len(added) == 0 {
		return nil
	}
	if err := b.awaitSchema(ctx, added); err != nil {
		return err
	}
	if b.replicas.Load() > 1 {
		// Objects written to a replica right after it added a property
		// can miss from its BM25 index for good (seen on 1.35.2: in 7 of
		// 8 fresh classes; none with a pause); pause before writing.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(PropertySettle):
		}
	}
	return nil
}

// PropertySettle is the pause after adding keyword-field properties to a
// replicated class before writing objects that carry them (see
// ensureFields). New fields are rare (a field's first upsert), so the
// pause is paid once per new set of fields.
var PropertySettle = 2 * time.Second

func hasProperty(c *models.Class, name string) bool {
	for _, p := range c.Properties {
		if p.Name == name {
			return true
		}
	}
	return false
}

// Upsert adds or replaces documents (the whole object: fields a new version
// lacks are gone), in batches of Options.BatchSize. vecs holds one vector of
// the model's dim per document, nil for a BM25-only index. New keyword
// fields are added to the class first. With vectors, the last batch is
// sent twice, so that a node killed just after keeps its vectors
// (flushVectors).
func (b *Backend) Upsert(ctx context.Context, docs []search.Doc, vecs [][]float32) error {
	dim := b.meta.Model.Dim
	switch {
	case dim == 0 && vecs != nil:
		return fmt.Errorf("weaviate: class %s is a BM25-only index; Upsert got vectors", b.class)
	case dim > 0 && len(vecs) != len(docs):
		return fmt.Errorf("weaviate: Upsert got %d vectors for %d documents", len(vecs), len(docs))
	}
	// The last version of an id wins, as if upserted one by one.
	last := make(map[string]int, len(docs))
	for i, d := range docs {
		if d.ID == "" {
			return fmt.Errorf("weaviate: document %d has no id", i)
		}
		if dim > 0 && len(vecs[i]) != dim {
			return fmt.Errorf("weaviate: document %s: vector of dim %d, the index's model has %d", d.ID, len(vecs[i]), dim)
		}
		last[d.ID] = i
	}
	if err := b.ensureFields(ctx, docs); err != nil {
		return err
	}
	props := b.fieldProps()
	objs := make([]*models.Object, 0, b.opts.BatchSize)
	var sent []*models.Object // the last batch sent
	flush := func() error {
		if len(objs) == 0 {
			return nil
		}
		err := b.putBatch(ctx, objs)
		sent = append(sent[:0], objs...)
		objs = objs[:0]
		return err
	}
	for i, d := range docs {
		if last[d.ID] != i {
			continue
		}
		o, err := b.object(d, props)
		if err != nil {
			return err
		}
		if dim > 0 {
			o.Vector = models.C11yVector(vecs[i])
		}
		objs = append(objs, o)
		if len(objs) == b.opts.BatchSize {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	if dim > 0 && len(sent) > 0 {
		return b.flushVectors(ctx, sent)
	}
	return nil
}

// flushVectors sends Upsert's last batch of objects with vectors a second
// time, a workaround for Weaviate 1.35 (without ASYNC_INDEXING),
// whose shards make a batch durable in the wrong order. A shard's batch
// write (adapters/repos/db/shard_write_batch_objects.go, objectsBatcher)
// stores the objects, hands their vectors to background workers, writes
// every bucket's write-ahead log buffer to disk, and only then waits for the
// workers: the vectors of the batch land in the vector bucket's buffer
// after its log was written, and stay there until the shard's next write
// (or a memtable flush, 60 s later by default). A node SIGKILLed after
// kormed's last batch comes back with those objects but without their
// vectors in its index (measured: 100, 67 and 100 of the last 100 of 1,000
// documents, on a flat index), and nothing repairs it: asynchronous
// replication compares objects, which match. Sending the same objects
// again is that next write: Weaviate finds each unchanged and writes
// nothing, then writes the logs, the previous batch's vectors with them
// (measured: 0 of 1,000 lost in 3 of 3 runs). It covers the shards the
// last batch reaches (with 100 objects a batch, every shard of a class of
// a few shards) on the replicas that had applied the first send, which at
// QUORUM may not include a lagging one. With ASYNC_INDEXING the vectors
// go through a durable queue instead, but the indexing workers never
// write the flat index's log either (lost: 0, 137 and 17 of 1,000).
func (b *Backend) flushVectors(ctx context.Context, last []*models.Object) error {
	if err := b.putBatch(ctx, last); err != nil {
		return fmt.Errorf("%w (sending the last batch again to make its vectors durable)", err)
	}
	return nil
}

// putBatch writes one batch of objects. Objects a node refused for a
// property it has not set up yet (see schemaLag) are sent again, with a
// growing pause, for up to about 15s; any other object error fails.
func (b *Backend) putBatch(ctx context.Context, objs []*models.Object) error {
	pause := 50 * time.Millisecond
	for attempt := 0; ; attempt++ {
		res, err := b.c.Batch().ObjectsBatcher().WithObjects(objs...).WithConsistencyLevel(b.opts.Consistency).Do(ctx)
		if err != nil {
			return fmt.Errorf("weaviate: batch upsert into %s: %w", b.class, err)
		}
		var again []*models.Object
		var lastMsg string
		for i, r := range res {
			if r.Result == nil || r.Result.Errors == nil || len(r.Result.Errors.Error) == 0 {
				continue
			}
			var msgs []string
			lag := true
			for _, e := range r.Result.Errors.Error {
				msgs = append(msgs, e.Message)
				lag = lag && schemaLag(e.Message)
			}
			msg := fmt.Sprintf("weaviate: upsert object %s into %s: %s", r.ID, b.class, strings.Join(msgs, "; "))
			if !lag || attempt >= 14 || i >= len(objs) {
				return errors.New(msg)
			}
			again = append(again, objs[i])
			lastMsg = msg
		}
		if len(again) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s (%w)", lastMsg, ctx.Err())
		case <-time.After(pause):
		}
		pause = min(2*pause, time.Second)
		objs = again
	}
}

// schemaLag reports whether an object error is a replica behind on the
// schema: on a cluster a class created or a property added through one
// node reaches the others' shards a moment later, and Weaviate refuses
// the objects meanwhile ("could not find index for class", "no bucket for
// prop 'f_x' found"). Resending them is safe: upserts are idempotent.
func schemaLag(msg string) bool {
	return strings.Contains(msg, "no bucket for prop") || strings.Contains(msg, "could not find index for class")
}

// object is the Weaviate object of a document.
func (b *Backend) object(d search.Doc, props map[string]string) (*models.Object, error) {
	p := map[string]interface{}{
		propDocID: d.ID,
		propTitle: d.Title,
		propText:  d.Text,
	}
	if b.an != nil {
		p[propTerms] = docTerms(b.an, d.Title, d.Text)
	}
	for f, vals := range d.Fields {
		if len(vals) > 0 {
			p[props[f]] = vals
		}
	}
	if len(d.DUR) > 0 {
		p[propDURTypes] = durTypes(d.DUR)
		js, err := json.Marshal(d.DUR)
		if err != nil {
			return nil, fmt.Errorf("weaviate: document %s: DUR flags: %w", d.ID, err)
		}
		p[propDURJSON] = string(js)
	}
	return &models.Object{
		Class:      b.class,
		ID:         strfmt.UUID(ObjectID(d.ID)),
		Properties: p,
	}, nil
}

// durTypes are the distinct types of flags, in order of appearance.
func durTypes(flags []dur.Flag) []string {
	var types []string
	seen := map[string]bool{}
	for _, f := range flags {
		if !seen[f.Type] {
			seen[f.Type] = true
			types = append(types, f.Type)
		}
	}
	return types
}

// Delete removes documents by id, reporting how many existed.
func (b *Backend) Delete(ctx context.Context, ids []string) (int, error) {
	const chunk = 1000 // well below QUERY_MAXIMUM_RESULTS (default 10000)
	uniq := make([]string, 0, len(ids))
	seen := map[string]bool{}
	for _, id := range ids {
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	n := 0
	for len(uniq) > 0 {
		part := uniq[:min(chunk, len(uniq))]
		uniq = uniq[len(part):]
		where := filters.Where().WithPath([]string{propDocID}).WithOperator(filters.ContainsAny).WithValueText(part...)
		res, err := b.batchDelete(ctx, where, time.Now())
		if err != nil {
			return n, fmt.Errorf("weaviate: delete from %s: %w", b.class, err)
		}
		if res.Results != nil {
			n += int(res.Results.Successful)
			if res.Results.Failed > 0 {
				return n, fmt.Errorf("weaviate: delete from %s: %d of %d objects failed", b.class, res.Results.Failed, res.Results.Matches)
			}
		}
	}
	return n, nil
}

// Get returns one document.
func (b *Backend) Get(ctx context.Context, id string) (search.Doc, bool, error) {
	objs, err := b.c.Data().ObjectsGetter().WithClassName(b.class).WithID(ObjectID(id)).
		WithConsistencyLevel(b.opts.Consistency).Do(ctx)
	if statusCode(err) == http.StatusNotFound {
		return search.Doc{}, false, nil
	}
	if err != nil {
		return search.Doc{}, false, fmt.Errorf("weaviate: get %s from %s: %w", id, b.class, err)
	}
	if len(objs) == 0 || objs[0] == nil {
		return search.Doc{}, false, nil
	}
	props, _ := objs[0].Properties.(map[string]interface{})
	raw := make(map[string]json.RawMessage, len(props))
	for k, v := range props {
		js, err := json.Marshal(v)
		if err != nil {
			return search.Doc{}, false, err
		}
		raw[k] = js
	}
	r, err := parseRow(raw)
	if err != nil {
		return search.Doc{}, false, fmt.Errorf("weaviate: get %s from %s: %w", id, b.class, err)
	}
	if r.docID != id {
		return search.Doc{}, false, nil
	}
	return search.Doc{ID: r.docID, Title: r.title, Text: r.text, Fields: r.fields, DUR: r.dur}, true, nil
}

// Drop deletes the class and everything in it.
func (b *Backend) Drop(ctx context.Context) error {
	if err := b.c.Schema().ClassDeleter().WithClassName(b.class).Do(ctx); err != nil {
		return fmt.Errorf("weaviate: delete class %s: %w", b.class, err)
	}
	return nil
}

// Close releases nothing: the client holds no connection of its own
// beyond Go's HTTP connection pool.
func (b *Backend) Close() error { return nil }

// Facets returns the n most frequent values of a keyword field (all up to
// 1,000 when n <= 0) with their object counts, through Weaviate's
// Aggregate topOccurrences; nil for a field the class does not have.
func (b *Backend) Facets(ctx context.Context, field string, n int) ([]search.Facet, error) {
	prop, ok := b.fieldProps()[field]
	if !ok {
		return nil, nil
	}
	if n <= 0 {
		n = 1000
	}
	q := fmt.Sprintf("{Aggregate{%s{%s{topOccurrences(limit:%d){value occurs}}}}}", b.class, prop, n)
	var out struct {
		Aggregate map[string][]map[string]struct {
			Top []struct {
				Value  string `json:"value"`
				Occurs int    `json:"occurs"`
			} `json:"topOccurrences"`
		} `json:"Aggregate"`
	}
	if err := b.graphQL(ctx, q, &out); err != nil {
		return nil, fmt.Errorf("weaviate: facets of %s: %w", field, err)
	}
	var fs []search.Facet
	if rows := out.Aggregate[b.class]; len(rows) > 0 {
		for _, t := range rows[0][prop].Top {
			fs = append(fs, search.Facet{Value: t.Value, Count: t.Occurs})
		}
	}
	sort.SliceStable(fs, func(i, j int) bool {
		if fs[i].Count != fs[j].Count {
			return fs[i].Count > fs[j].Count
		}
		return fs[i].Value < fs[j].Value
	})
	return fs, nil
}

// IDs returns the document ids of every object in the class, paging
// through them with Weaviate's cursor (after: the last object id).
func (b *Backend) IDs(ctx context.Context) ([]string, error) {
	const page = 1000
	var out []string
	after := ""
	for {
		cursor := ""
		if after != "" {
			cursor = fmt.Sprintf(", after:%q", after)
		}
		q := fmt.Sprintf("{Get{%s(limit:%d%s%s){%s _additional{id}}}}", b.class, page, cursor, b.readArg(), propDocID)
		var res struct {
			Get map[string][]map[string]any `json:"Get"`
		}
		if err := b.graphQL(ctx, q, &res); err != nil {
			return nil, fmt.Errorf("weaviate: list %s: %w", b.class, err)
		}
		rows := res.Get[b.class]
		for _, r := range rows {
			if id, ok := r[propDocID].(string); ok {
				out = append(out, id)
			}
			if add, ok := r["_additional"].(map[string]any); ok {
				after, _ = add["id"].(string)
			}
		}
		if len(rows) < page {
			return out, nil
		}
	}
}
