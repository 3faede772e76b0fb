package base

import (
	"flag"
	"fmt"

	"github.com/kormed/kormed/search/weaviate"
)

// URLsHelp is the help text tail of a --weaviate-url flag.
const URLsHelp = "; a cluster: several of its nodes' URLs, comma-separated (requests fail over between them)"

// Weaviate holds the flags of a command that talks to a Weaviate server or
// cluster (see WeaviateFlags).
type Weaviate struct {
	fs               *flag.FlagSet
	consistency      *string
	shards, replicas *int
	layout           bool
}

// WeaviateFlags adds --consistency to fs and, with layout (a command that
// creates classes), --shards and --replicas; after fs.Parse, Options
// checks them.
func WeaviateFlags(fs *flag.FlagSet, layout bool) *Weaviate {
	w := &Weaviate{fs: fs, layout: layout}
	w.consistency = fs.String("consistency", "QUORUM", "Weaviate consistency level of writes, deletes and object reads: ONE, QUORUM (a majority of a shard's replicas) or ALL; searches read one replica per shard (ONE); on a class without replicas all three are the same")
	if layout {
		w.shards = fs.Int("shards", 0, "shards of a class created in Weaviate (0: the default, 1 — every node of a replica set holds the whole index and BM25 ranks as one index does; shard when the corpus outgrows a node); fixed once the class exists")
		w.replicas = fs.Int("replicas", 0, "replication factor of a class created in Weaviate (0: min(3, nodes in the cluster), so 1 on a single node)")
	}
	return w
}

// Options checks the flags and returns the weaviate.Options they set;
// use says whether the command talks to Weaviate (the flags given without
// it are refused, naming need, e.g. "--backend weaviate"), and url, when
// not "", is the --weaviate-url value to check.
func (w *Weaviate) Options(use bool, need, url string) (weaviate.Options, error) {
	if !use {
		var err error
		w.fs.Visit(func(f *flag.Flag) {
			if err == nil && (f.Name == "consistency" || f.Name == "shards" || f.Name == "replicas") {
				err = fmt.Errorf("--%s goes with %s", f.Name, need)
			}
		})
		return weaviate.Options{}, err
	}
	var o weaviate.Options
	var err error
	if o.Consistency, err = weaviate.ParseConsistency(*w.consistency); err != nil {
		return o, fmt.Errorf("--consistency: %w", err)
	}
	if w.layout {
		if *w.shards < 0 {
			return o, fmt.Errorf("--shards %d: want 0 (the default: 1) or more", *w.shards)
		}
		if *w.replicas < 0 {
			return o, fmt.Errorf("--replicas %d: want 0 (min(3, nodes)) or more", *w.replicas)
		}
		o.Shards, o.Replicas = *w.shards, *w.replicas
	}
	if url != "" {
		if err := weaviate.CheckURLs(url); err != nil {
			return o, fmt.Errorf("--weaviate-url: %w", err)
		}
	}
	return o, nil
}
