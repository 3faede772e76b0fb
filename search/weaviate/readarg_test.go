package weaviate

import "testing"

// kormed's GraphQL reads ask for ONE on a replicated class whatever the
// configured level (read repair at QUORUM or ALL truncates replicas), and
// nothing on a class without replicas (Weaviate refuses the argument).
func TestReadArg(t *testing.T) {
	for _, c := range []struct {
		replicas    int32
		consistency string
		want        string
	}{
		{3, ConsistencyQuorum, ", consistencyLevel:ONE"},
		{3, ConsistencyAll, ", consistencyLevel:ONE"},
		{2, ConsistencyOne, ", consistencyLevel:ONE"},
		{1, ConsistencyQuorum, ""},
		{0, ConsistencyAll, ""},
	} {
		b := &Backend{opts: Options{Consistency: c.consistency}}
		b.replicas.Store(c.replicas)
		if got := b.readArg(); got != c.want {
			t.Errorf("%d replicas, %s: %q, want %q", c.replicas, c.consistency, got, c.want)
		}
	}
}
