package ingest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/searchtest"
	"github.com/kormed/kormed/search/weaviate"
)

// TestPushCalibration pushes an index with a calibration to a Weaviate
// class (PushWeaviate), changes it and stores it alone (PushCalibration).
// It needs a server: export KORMED_WEAVIATE_URL=$(scripts/weaviate.sh start).
func TestPushCalibration(t *testing.T) {
	url := os.Getenv("KORMED_WEAVIATE_URL")
	if url == "" {
		t.Skip("KORMED_WEAVIATE_URL is not set: no Weaviate server to test against")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ix, err := embedded.New(embedded.Options{Model: searchtest.Model, Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	docs := searchtest.Docs()
	if err := ix.Upsert(ctx, docs, searchtest.Vecs(docs)); err != nil {
		t.Fatal(err)
	}
	cand := fusion.Candidate{Fusion: fusion.MethodRelative, Alpha: 0.3, Score: 0.5}
	cal := &fusion.Calibration{Fusion: fusion.MethodRelative, Alpha: 0.3, Source: "pseudo-queries", N: 20, Best: cand, Chosen: cand, Candidates: []fusion.Candidate{cand}}
	ix.SetCalibration(cal)
	class := fmt.Sprintf("KormedTestPush%d_%d", time.Now().UnixNano(), os.Getpid())
	var log bytes.Buffer
	if err := PushWeaviate(ctx, ix, url, class, weaviate.Options{}, true, &log); err != nil {
		t.Fatal(err)
	}
	m := searchtest.Model
	wb, err := weaviate.Open(ctx, url, class, weaviate.Options{Model: &m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := wb.Drop(context.Background()); err != nil {
			t.Errorf("drop %s: %v", class, err)
		}
	})
	if !reflect.DeepEqual(wb.Calibration(), cal) {
		t.Errorf("pushed calibration %+v, want %+v", wb.Calibration(), cal)
	}
	// kormed index --calibrate: a new calibration, stored alone.
	cal2 := *cal
	cal2.Fusion, cal2.Alpha, cal2.K = fusion.MethodRRF, 0.6, 10
	ix.SetCalibration(&cal2)
	log.Reset()
	if err := PushCalibration(ctx, ix, url, class, weaviate.Options{}, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "stored the calibration") || !strings.Contains(log.String(), class) {
		t.Errorf("log %q", log.String())
	}
	if changed, err := wb.Reload(ctx); !changed || err != nil || !reflect.DeepEqual(wb.Calibration(), &cal2) {
		t.Errorf("after PushCalibration: %v %v %+v", changed, err, wb.Calibration())
	}
	// The class analyses with the index's analyzer (bigram, not the
	// default union), so its BM25 ranks as the index's.
	if info, err := wb.Info(ctx); err != nil || info.Docs != len(docs) || info.Analyzer != "bigram" {
		t.Errorf("Info %+v, %v", info, err)
	}
	for _, q := range []string{"두통", "타이레놀 500"} {
		req := search.Query{Request: search.Request{Query: q, K: 5, Mode: search.ModeBM25}}
		want, err := ix.Search(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := wb.Search(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(want) == 0 {
			t.Fatalf("bm25 %q: Weaviate %d hits, the index %d", q, len(got), len(want))
		}
		for i := range want {
			if d := got[i].Score - want[i].Score; d > 1e-5*want[i].Score || d < -1e-5*want[i].Score {
				t.Errorf("bm25 %q hit %d: Weaviate %s %v, the index %s %v", q, i, got[i].ID, got[i].Score, want[i].ID, want[i].Score)
			}
		}
	}
	// The index's analyzer is asked for: another one is refused.
	if _, err := weaviate.Open(ctx, url, class, weaviate.Options{Analyzer: "union"}); err == nil {
		t.Error("Open of the bigram class asking for union succeeded")
	}
}
