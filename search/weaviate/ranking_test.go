package weaviate

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
)

// TestSameBM25AsEmbedded checks that Weaviate's BM25 over the terms
// property ranks and scores as package bm25 does (what the embedded index
// runs) on the same documents with the same analyzer and parameters.
func TestSameBM25AsEmbedded(t *testing.T) {
	url := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	docs := corpus()
	queries := []string{"타이레놀", "두통에 먹는 약", "아세트아미노펜 두통 해열", "고혈압 칼슘채널차단제", "정 밀리그램", "500", "장애 장애 불안"}
	for _, name := range []string{"bigram", "union"} {
		t.Run(name, func(t *testing.T) {
			bdocs := make([]bm25.Doc, len(docs))
			for i, d := range docs {
				bdocs[i] = bm25.Doc{ID: d.ID, Text: fusion.DocText(d.Title, d.Text)}
			}
			ix, err := bm25.Build(bdocs, bm25.Options{Analyzer: name})
			if err != nil {
				t.Fatal(err)
			}
			class := fmt.Sprintf("KormedRank%s%d_%d", name, time.Now().UnixNano(), os.Getpid())
			b, err := Open(ctx, url, class, Options{Create: true, Analyzer: name})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Drop(context.Background()) })
			if err := b.Upsert(ctx, docs, nil); err != nil {
				t.Fatal(err)
			}
			for _, q := range queries {
				want := ix.Search(q, 10)
				got, err := b.Search(ctx, query(q, 10, search.ModeBM25))
				if err != nil {
					t.Fatal(err)
				}
				if len(got) != len(want) || len(want) == 0 {
					t.Fatalf("%q: Weaviate %v, embedded %v", q, ids(got), want)
				}
				for i, w := range want {
					g := got[i]
					if math.Abs(g.Score-w.Score) > 1e-5*w.Score {
						t.Errorf("%q hit %d: Weaviate %s %.7f, embedded %s %.7f", q, i, g.ID, g.Score, w.ID, w.Score)
					}
					// Ties may come in another order (package bm25 breaks
					// them by id descending, Weaviate by its doc number).
					if g.ID != w.ID && !tied(want, i, g.ID) {
						t.Errorf("%q hit %d: Weaviate %s, embedded %s (%v)", q, i, g.ID, w.ID, want)
					}
				}
			}
		})
	}
}

// tied reports whether hits holds id with a score within 1e-6 of hit i's.
func tied(hits []bm25.Hit, i int, id string) bool {
	for _, h := range hits {
		if h.ID == id {
			return math.Abs(h.Score-hits[i].Score) <= 1e-6*hits[i].Score
		}
	}
	return false
}

// TestLegacyClass checks that a class created before kormed analysed text
// itself (metadata version 1: Weaviate's kagome_kr on title and text)
// still opens, takes documents and searches as before, and that asking
// for kormed's analyzer on it tells the user to re-index.
func TestLegacyClass(t *testing.T) {
	url := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	class := fmt.Sprintf("KormedLegacy%d_%d", time.Now().UnixNano(), os.Getpid())
	// A backend on another class lends its client to create the legacy one.
	tmp, err := Open(ctx, url, class+"Tmp", Options{Create: true, Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	defer tmp.Drop(context.Background())
	if err := tmp.c.Schema().ClassCreator().WithClass(legacyClass(class)).Do(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(ctx, url, class, Options{Model: &testModel, Analyzer: "union"}); err == nil || !strings.Contains(err.Error(), "re-run kormed index --backend weaviate into a new class") {
		t.Errorf("Open of a legacy class with the union analyzer: %v", err)
	}
	b, err := Open(ctx, url, class, Options{Model: &testModel})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Drop(context.Background()) })
	docs := corpus()
	vecs := make([][]float32, len(docs))
	for i := range docs {
		vecs[i] = vec(i)
	}
	if err := b.Upsert(ctx, docs, vecs); err != nil {
		t.Fatal(err)
	}
	if info, err := b.Info(ctx); err != nil || info.Analyzer != LegacyAnalyzer || info.Docs != 10 {
		t.Errorf("Info = %+v, %v", info, err)
	}
	// kagome_kr finds 타이레놀 in d03's "타이레놀과" as before.
	hits, err := b.Search(ctx, query("타이레놀", 10, search.ModeBM25))
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(hits); len(got) != 3 || !contains(got, "d03") {
		t.Errorf("legacy bm25 타이레놀 = %v, want d01, d02, d03", got)
	}
	q := query("두통", 5, search.ModeHybrid)
	q.Vector, q.Alpha, q.Fusion = vec(100), 0.5, search.FusionRelative
	if hits, err := b.Search(ctx, q); err != nil || len(hits) != 5 {
		t.Errorf("legacy hybrid: %v, %v", ids(hits), err)
	}
}
