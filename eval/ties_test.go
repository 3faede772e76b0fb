package eval

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/metrics"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/searchtest"
)

// TestTiesSameAsService ranks a corpus full of exact ties (identical
// texts: equal BM25 scores and equal vectors) with kormed eval's
// retrievers, ordered as metrics scores them, and with the search service
// over the embedded index: BM25, dense and both fusions give the same ids
// in the same order, including which tied documents make the top k.
func TestTiesSameAsService(t *testing.T) {
	ctx := context.Background()
	var corpus []dataset.Doc
	// Insertion order is neither id order nor its reverse.
	for _, i := range []int{7, 2, 11, 4, 9, 1, 12, 5, 3, 10, 8, 6} {
		text := "두통 해열제 복용"
		if i%3 == 0 {
			text = "두통 해열제 복용 안내" // a second tie group
		}
		corpus = append(corpus, dataset.Doc{ID: fmt.Sprintf("d%02d", i), Text: text})
	}
	corpus = append(corpus, dataset.Doc{ID: "x1", Text: "기침 감기약"}, dataset.Doc{ID: "x2", Text: "해열제 기침"})
	queries := []dataset.Query{{ID: "q1", Text: "두통 해열제"}, {ID: "q2", Text: "해열제 기침"}, {ID: "q3", Text: "복용 안내"}}
	const k = 5
	opts := bm25.Options{Analyzer: "bigram"}

	ix, err := embedded.New(embedded.Options{Analyzer: "bigram", Model: searchtest.Model})
	if err != nil {
		t.Fatal(err)
	}
	docs := make([]search.Doc, len(corpus))
	vecs := make([][]float32, len(corpus))
	enc := searchtest.Encoder{}
	for i, d := range corpus {
		docs[i] = search.Doc{ID: d.ID, Text: d.Text}
		vecs[i] = search.Normalized(enc.Vec(fusion.DocText(d.Title, d.Text)))
	}
	if err := ix.Upsert(ctx, docs, vecs); err != nil {
		t.Fatal(err)
	}
	svc, err := search.NewService(ctx, ix, enc, searchtest.Model)
	if err != nil {
		t.Fatal(err)
	}
	base := &HybridBase{BM25: &BM25{Options: opts}, Dense: &Dense{Enc: enc}}
	alpha := 0.5
	for _, c := range []struct {
		name, mode, fusion string
		r                  Retriever
	}{
		{"bm25", search.ModeBM25, "", &BM25{Options: opts}},
		{"dense", search.ModeDense, "", &Dense{Enc: enc}},
		{"hybrid-rrf", search.ModeHybrid, search.FusionRRF, &Hybrid{Base: base, Alpha: alpha, Fusion: search.FusionRRF}},
		{"hybrid-relative", search.ModeHybrid, search.FusionRelative, &Hybrid{Base: base, Alpha: alpha, Fusion: search.FusionRelative}},
	} {
		if err := c.r.Index(ctx, corpus); err != nil {
			t.Fatal(err)
		}
		run, err := c.r.Search(ctx, queries, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range queries {
			hs := slices.Clone(run[q.ID])
			metrics.Sort(hs) // the order metrics scores
			var want []string
			for _, h := range hs {
				want = append(want, h.ID)
			}
			resp, err := svc.Search(ctx, search.Request{Query: q.Text, K: k, Mode: c.mode, Fusion: c.fusion, Alpha: &alpha, Safety: search.SafetyOff})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, h := range resp.Hits {
				got = append(got, h.ID)
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s %q: service %v, eval %v", c.name, q.Text, got, want)
			}
		}
	}
	// The fixture does tie: BM25 on q1 ranks the tied d-documents by id
	// descending.
	resp, _ := svc.Search(ctx, search.Request{Query: "두통 해열제", K: 3, Mode: search.ModeBM25})
	if len(resp.Hits) != 3 || resp.Hits[0].Score != resp.Hits[2].Score || resp.Hits[0].ID != "d11" || resp.Hits[1].ID != "d10" || resp.Hits[2].ID != "d08" {
		t.Errorf("q1 top 3: %+v", resp.Hits)
	}
}
