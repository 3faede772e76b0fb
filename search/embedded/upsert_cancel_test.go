package embedded

import (
	"context"
	"errors"
	"testing"

	"github.com/kormed/kormed/search"
)

// A write whose context ended (its request's deadline passed while it was
// encoded or waited for the write lock) is not committed.
func TestUpsertCancelled(t *testing.T) {
	ix, err := New(Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = ix.Upsert(ctx, []search.Doc{{ID: "1", Text: "두통약"}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Upsert with a cancelled context: %v", err)
	}
	if _, ok, _ := ix.Get(context.Background(), "1"); ok {
		t.Error("the cancelled write was committed")
	}
	if err := ix.Upsert(context.Background(), []search.Doc{{ID: "1", Text: "두통약"}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := ix.Get(context.Background(), "1"); !ok {
		t.Error("the write was not committed")
	}
}

// A write whose deadline passes while its texts are analysed (most of a
// large write's time) is not committed either, and nothing is logged.
func TestUpsertCancelledDuringAnalysis(t *testing.T) {
	dir := t.TempDir()
	ix, err := New(Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Save(dir); err != nil {
		t.Fatal(err)
	}
	ix.Close()
	if ix, err = Open(dir); err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer func(f func()) { afterAnalyse = f }(afterAnalyse)
	afterAnalyse = cancel
	err = ix.Upsert(ctx, []search.Doc{{ID: "1", Text: "두통약"}}, nil)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Upsert cancelled during the analysis: %v", err)
	}
	if _, ok, _ := ix.Get(context.Background(), "1"); ok {
		t.Error("the cancelled write was committed")
	}
	if ix.Len() != 0 {
		t.Errorf("Len %d after a cancelled write, want 0", ix.Len())
	}
	afterAnalyse = func() {}
	ix.Close()
	re, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	if re.Len() != 0 {
		t.Errorf("reopened index holds %d documents: the cancelled write was logged", re.Len())
	}
}

// A delete whose request ended (while it waited for the write lock) is not
// committed either.
func TestDeleteCancelled(t *testing.T) {
	ix, err := New(Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	if err := ix.Upsert(context.Background(), []search.Doc{{ID: "1", Text: "두통약"}}, nil); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if n, err := ix.Delete(ctx, []string{"1"}); !errors.Is(err, context.Canceled) || n != 0 {
		t.Errorf("Delete with a cancelled context: %d, %v", n, err)
	}
	if _, ok, _ := ix.Get(context.Background(), "1"); !ok {
		t.Error("the cancelled delete was committed")
	}
}
