package weaviate

import (
	"context"
	"fmt"
	"math"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/searchtest"
)

// search.Service follows a backend's calibration through this method.
var _ interface{ Calibration() *fusion.Calibration } = (*Backend)(nil)

func testCalibration() *fusion.Calibration {
	chosen := fusion.Candidate{Fusion: fusion.MethodRelative, Alpha: 0.2, Score: 0.81, Recall10: 0.93}
	return &fusion.Calibration{
		Fusion: fusion.MethodRelative, Alpha: 0.2, Source: "pseudo-queries", Queries: fusion.PseudoICT, Seed: 1, N: 300,
		Metric: "ndcg@10", BM25: 0.8, Dense: 0.31, Best: chosen, Chosen: chosen, Reason: "best",
		Candidates: []fusion.Candidate{chosen, {Fusion: fusion.MethodRRF, Alpha: 0.5, K: 60, Score: 0.7, Recall10: 0.9}},
		TookMS:     1234.5, EncodeMS: 1000.25,
	}
}

// TestMetaCalibration checks the calibration's round trip through a
// class description and that descriptions written before it still read.
func TestMetaCalibration(t *testing.T) {
	m := meta{Kormed: metaVersion, Model: testModel, Analyzer: "bigram", AnalyzerVersion: 1, K1: 0.9, B: 0.75, Generated: "2026-01-01T00:00:00Z"}
	old := m.description()
	if strings.Contains(old, "calibration") {
		t.Errorf("a description without calibration mentions it: %s", old)
	}
	got, err := parseMeta("C", old)
	if err != nil || got.Calibration != nil || !reflect.DeepEqual(got, m) {
		t.Errorf("parseMeta(%s) = %+v, %v", old, got, err)
	}

	m.Calibration = testCalibration()
	desc := m.description()
	got, err = parseMeta("C", desc)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip:\n got %+v\nwant %+v", got.Calibration, m.Calibration)
	}
	if a, f, k := got.Calibration.FusionDefaults(); a != 0.2 || f != fusion.MethodRelative || k != fusion.RRFK {
		t.Errorf("FusionDefaults = %v %v %v", a, f, k)
	}

	// Through the backend: a class read back (load) gives its calibration.
	b := &Backend{class: "C"}
	cls := newClass("C", m, "hnsw")
	if _, err := b.load(cls); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Calibration(), m.Calibration) {
		t.Errorf("Calibration() = %+v", b.Calibration())
	}
	b = &Backend{class: "C"}
	if _, err := b.load(newClass("C", meta{Kormed: metaVersion, Model: testModel, Analyzer: "bigram", AnalyzerVersion: 1, K1: 0.9, B: 0.75}, "hnsw")); err != nil || b.Calibration() != nil {
		t.Errorf("uncalibrated class: Calibration() = %+v, %v", b.Calibration(), err)
	}

	bad := testCalibration()
	bad.Candidates[1].Score = math.NaN()
	if err := checkCalibration(bad); err == nil {
		t.Error("a NaN score accepted")
	}
	if err := checkCalibration(nil); err != nil {
		t.Errorf("nil: %v", err)
	}
}

// TestServerCalibration stores a calibration in a class on a real server
// and checks that a reopened backend, a reloading one and search.Service
// follow it.
func TestServerCalibration(t *testing.T) {
	url := serverURL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	class := fmt.Sprintf("KormedTestCal%d_%d", time.Now().UnixNano(), os.Getpid())
	m := searchtest.Model
	b, err := Open(ctx, url, class, Options{Model: &m, Create: true, Generated: "2026-01-01T00:00:00Z"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := b.Drop(context.Background()); err != nil {
			t.Errorf("drop class %s: %v", class, err)
		}
	})
	docs := searchtest.Docs()
	if err := b.Upsert(ctx, docs, searchtest.Vecs(docs)); err != nil {
		t.Fatal(err)
	}
	info0, err := b.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(ctx, url, class, Options{}) // a server that opened it before
	if err != nil {
		t.Fatal(err)
	}
	if b.Calibration() != nil || other.Calibration() != nil {
		t.Fatal("a new class has a calibration")
	}
	svc, err := search.NewService(ctx, other, searchtest.Encoder{}, m)
	if err != nil {
		t.Fatal(err)
	}
	if a, f, _, c := svc.Defaults(); c != nil || a != search.DefaultAlpha || f != search.DefaultFusion {
		t.Errorf("uncalibrated Defaults = %v %v %+v", a, f, c)
	}

	cal := testCalibration()
	if err := b.SetCalibration(ctx, cal); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(b.Calibration(), cal) {
		t.Errorf("Calibration() after SetCalibration = %+v", b.Calibration())
	}
	re, err := Open(ctx, url, class, Options{Model: &m})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(re.Calibration(), cal) {
		t.Errorf("reopened Calibration() = %+v", re.Calibration())
	}
	if info, err := re.Info(ctx); err != nil || !reflect.DeepEqual(info, info0) {
		t.Errorf("Info after SetCalibration = %+v, %v; want %+v", info, err, info0)
	}
	if changed, err := other.Reload(ctx); !changed || err != nil {
		t.Errorf("Reload = %v, %v; want a change", changed, err)
	}
	if changed, err := other.Reload(ctx); changed || err != nil {
		t.Errorf("second Reload = %v, %v; want none", changed, err)
	}
	if a, f, _, c := svc.Defaults(); !reflect.DeepEqual(c, cal) || a != 0.2 || f != fusion.MethodRelative {
		t.Errorf("Defaults after reload = %v %v %+v", a, f, c)
	}
	// The class still searches as before.
	q := search.Query{Request: search.Request{Query: docs[0].Title, K: 3, Mode: search.ModeBM25}}
	if hits, err := re.Search(ctx, q); err != nil || len(hits) == 0 {
		t.Errorf("bm25 search after SetCalibration: %v, %v", hits, err)
	}

	if err := b.SetCalibration(ctx, nil); err != nil {
		t.Fatal(err)
	}
	if changed, err := other.Reload(ctx); !changed || err != nil || other.Calibration() != nil {
		t.Errorf("Reload after clearing = %v, %v, %+v", changed, err, other.Calibration())
	}
}
