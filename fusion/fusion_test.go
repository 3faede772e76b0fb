package fusion

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

func checkFused(t *testing.T, got []Fused[string], ids []string, scores []float64) {
	t.Helper()
	if len(got) != len(ids) {
		t.Fatalf("got %d results %+v, want %v", len(got), got, ids)
	}
	for i := range ids {
		if got[i].ID != ids[i] || math.Abs(got[i].Score-scores[i]) > 5e-7 {
			t.Fatalf("result %d = %s %.6f, want %s %.6f (all %+v)", i, got[i].ID, got[i].Score, ids[i], scores[i], got)
		}
	}
}

// The worked examples of the doc comments.
func TestRRFWorkedExample(t *testing.T) {
	bm := []Ranked[string]{{"A", 12.1}, {"B", 9.0}, {"C", 3.2}}
	de := []Ranked[string]{{"B", 0.91}, {"C", 0.88}, {"D", 0.80}}
	got := RRF([][]Ranked[string]{bm, de}, []float64{0.25, 0.75}, RRFK)
	checkFused(t, got, []string{"B", "C", "D", "A"}, []float64{0.016327, 0.016065, 0.011905, 0.004098})
	if b := got[0]; b.Ranks[0] != 2 || b.Ranks[1] != 1 || b.Scores[0] != 9.0 || b.Scores[1] != 0.91 {
		t.Errorf("B's parts %+v", b)
	}
	if a := got[3]; a.Ranks[1] != 0 || a.Scores[1] != 0 {
		t.Errorf("A has a dense part: %+v", a)
	}
}

func TestRelativeScoreWorkedExample(t *testing.T) {
	bm := []Ranked[string]{{"A", 12}, {"B", 9}, {"C", 3}}
	de := []Ranked[string]{{"B", 0.90}, {"C", 0.88}, {"D", 0.80}}
	got := RelativeScore([][]Ranked[string]{bm, de}, []float64{0.25, 0.75})
	checkFused(t, got, []string{"B", "C", "A", "D"}, []float64{0.25*2.0/3 + 0.75, 0.75 * 0.8, 0.25, 0})
}

func TestFusionEdges(t *testing.T) {
	// Alpha 0 and 1 reduce to one list's order.
	bm := []Ranked[string]{{"x", 3}, {"y", 2}, {"z", 1}}
	de := []Ranked[string]{{"z", 0.9}, {"y", 0.5}}
	for _, f := range []func([][]Ranked[string], []float64) []Fused[string]{
		func(l [][]Ranked[string], w []float64) []Fused[string] { return RRF(l, w, RRFK) },
		RelativeScore[string],
	} {
		got := f([][]Ranked[string]{bm, de}, []float64{1, 0})
		if got[0].ID != "x" || got[1].ID != "y" || got[2].ID != "z" {
			t.Errorf("alpha 0: %+v", got)
		}
		got = f([][]Ranked[string]{bm, de}, []float64{0, 1})
		if got[0].ID != "z" {
			t.Errorf("alpha 1: %+v", got)
		}
	}
	// Equal scores in a list normalise to 1; ties order by ID descending.
	got := RelativeScore([][]Ranked[string]{{{"a", 5}, {"b", 5}}, nil}, []float64{0.5, 0.5})
	checkFused(t, got, []string{"b", "a"}, []float64{0.5, 0.5})
	// A repeated ID counts once, at its best rank.
	got = RRF([][]Ranked[string]{{{"a", 2}, {"a", 1}}}, []float64{1}, RRFK)
	checkFused(t, got, []string{"a"}, []float64{1.0 / 61})
	if got := RRF[string](nil, nil, RRFK); len(got) != 0 {
		t.Errorf("empty input: %+v", got)
	}
}

// Integer keys fuse exactly as their zero-padded decimal strings do: the
// same scores, ranks and order, ties included (key descending), so an
// engine keyed by document numbers needs no string round-trip.
func TestIntKeysMatchPaddedStrings(t *testing.T) {
	var x uint64 = 88172645463325252
	rnd := func(n int) int {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		return int(x % uint64(n))
	}
	for trial := 0; trial < 200; trial++ {
		var ints [][]Ranked[int32]
		var strs [][]Ranked[string]
		for li := 0; li < 2; li++ {
			var il []Ranked[int32]
			var sl []Ranked[string]
			s := 10.0
			for i, n := 0, rnd(30); i < n; i++ {
				s -= float64(rnd(3)) / 2 // ties too
				k := int32(rnd(40))
				il = append(il, Ranked[int32]{k, s})
				sl = append(sl, Ranked[string]{fmt.Sprintf("%010d", k), s})
			}
			ints, strs = append(ints, il), append(strs, sl)
		}
		w := []float64{0.3, 0.7}
		for _, m := range []string{MethodRRF, MethodRelative} {
			var fi []Fused[int32]
			var fs []Fused[string]
			if m == MethodRRF {
				fi, fs = RRF(ints, w, RRFK), RRF(strs, w, RRFK)
			} else {
				fi, fs = RelativeScore(ints, w), RelativeScore(strs, w)
			}
			if len(fi) != len(fs) {
				t.Fatalf("trial %d %s: %d vs %d results", trial, m, len(fi), len(fs))
			}
			for i := range fi {
				a, b := fi[i], fs[i]
				if fmt.Sprintf("%010d", a.ID) != b.ID || a.Score != b.Score || !reflect.DeepEqual(a.Ranks, b.Ranks) || !reflect.DeepEqual(a.Scores, b.Scores) {
					t.Fatalf("trial %d %s result %d: %+v vs %+v", trial, m, i, a, b)
				}
			}
		}
	}
}
