package train

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"
)

// Expected batches follow NoDuplicatesBatchSampler.__iter__ step by step
// (worked by hand, and checked with a transcription of the Python loop).
func TestNoDuplicateBatches(t *testing.T) {
	rows := [][]string{{"a", "b"}, {"a", "c"}, {"d", "e"}, {"f", "g"}, {"b", "h"}, {"i", "j"}}
	dup := [][]string{{"x", "x"}, {"x", "y"}, {"x"}, {"z", "w"}, {"y", "q"}, {"w"}}
	fwd, rev := []int{0, 1, 2, 3, 4, 5}, []int{5, 4, 3, 2, 1, 0}
	for _, tc := range []struct {
		rows     [][]string
		order    []int
		bs       int
		dropLast bool
		want     [][]int
	}{
		{rows, fwd, 2, false, [][]int{{0, 2}, {1, 3}, {4, 5}}},
		{rows, fwd, 2, true, [][]int{{0, 2}, {1, 3}, {4, 5}}},
		{rows, fwd, 3, false, [][]int{{0, 2, 3}, {1, 4, 5}}},
		{rows, fwd, 4, false, [][]int{{0, 2, 3, 5}, {1, 4}}},
		{rows, fwd, 4, true, [][]int{{0, 2, 3, 5}}},
		{rows, fwd, 5, false, [][]int{{0, 2, 3, 5}, {1, 4}}},
		{rows, fwd, 5, true, nil},
		// 1 and 0 share "a": after [5 4] [3 2] each is alone in its walk.
		{rows, rev, 2, false, [][]int{{5, 4}, {3, 2}, {1}, {0}}},
		{rows, rev, 2, true, [][]int{{5, 4}, {3, 2}}},
		{rows, rev, 3, false, [][]int{{5, 4, 3}, {2, 1}, {0}}},
		{rows, rev, 3, true, [][]int{{5, 4, 3}}},
		{rows, []int{1, 0, 4, 2, 5, 3}, 3, false, [][]int{{1, 4, 2}, {0, 5, 3}}},
		// "x" twice in example 0 does not exclude it; x and y exclude 1, 2, 4.
		{dup, fwd, 2, false, [][]int{{0, 3}, {1, 5}, {2, 4}}},
		{dup, fwd, 3, false, [][]int{{0, 3, 4}, {1, 5}, {2}}},
		{dup, fwd, 3, true, [][]int{{0, 3, 4}}},
		// out-of-range and repeated indices
		{rows, []int{0, 0, 7, -1, 2}, 5, false, [][]int{{0, 2}}},
		{rows, nil, 2, false, nil},
		{rows, fwd, 0, false, nil},
	} {
		got := NoDuplicateBatches(tc.rows, tc.order, tc.bs, tc.dropLast)
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("order %v batch %d dropLast %v: %v, want %v", tc.order, tc.bs, tc.dropLast, got, tc.want)
		}
	}
}

// samplerNoDupNaive is a second, literal implementation of the reference
// loop (a slice of remaining indices, rescanned from the start), to check the
// linked-list walk of NoDuplicateBatches on random inputs.
func samplerNoDupNaive(rows [][]string, order []int, bs int, dropLast bool) [][]int {
	var remaining []int
	for _, i := range order {
		remaining = append(remaining, i)
	}
	var out [][]int
	for len(remaining) > 0 {
		values := map[string]bool{}
		var batch []int
		full := false
		for _, i := range remaining {
			clash := false
			for _, v := range rows[i] {
				clash = clash || values[v]
			}
			if clash {
				continue
			}
			batch = append(batch, i)
			if len(batch) == bs {
				full = true
				break
			}
			for _, v := range rows[i] {
				values[v] = true
			}
		}
		if full || !dropLast {
			out = append(out, batch)
		}
		taken := map[int]bool{}
		for _, i := range batch {
			taken[i] = true
		}
		rest := remaining[:0]
		for _, i := range remaining {
			if !taken[i] {
				rest = append(rest, i)
			}
		}
		remaining = rest
	}
	return out
}

func TestNoDuplicateBatchesRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for trial := 0; trial < 300; trial++ {
		n := 1 + rng.Intn(40)
		vocab := 2 + rng.Intn(3*n)
		rows := make([][]string, n)
		for i := range rows {
			for c := 1 + rng.Intn(3); c > 0; c-- {
				rows[i] = append(rows[i], fmt.Sprint("t", rng.Intn(vocab)))
			}
		}
		order := rng.Perm(n)
		bs := 1 + rng.Intn(8)
		dropLast := rng.Intn(2) == 0
		got := NoDuplicateBatches(rows, order, bs, dropLast)
		if want := samplerNoDupNaive(rows, order, bs, dropLast); !reflect.DeepEqual(got, want) {
			t.Fatalf("trial %d: %v, the literal loop gives %v", trial, got, want)
		}
		used := map[int]bool{}
		for _, b := range got {
			if len(b) == 0 || len(b) > bs || (dropLast && len(b) != bs) {
				t.Fatalf("trial %d: batch %v with batch size %d, dropLast %v", trial, b, bs, dropLast)
			}
			texts := map[string]int{}
			for _, i := range b {
				if used[i] {
					t.Fatalf("trial %d: example %d twice", trial, i)
				}
				used[i] = true
				for _, v := range rows[i] {
					if j, ok := texts[v]; ok && j != i {
						t.Fatalf("trial %d: batch %v: %q in examples %d and %d", trial, b, v, j, i)
					}
					texts[v] = i
				}
			}
		}
		if !dropLast && len(used) != n {
			t.Fatalf("trial %d: %d of %d examples batched without dropLast", trial, len(used), n)
		}
	}
}

func TestGroupBatches(t *testing.T) {
	for _, tc := range []struct {
		name          string
		groups, order []int
		bs, perGroup  int
		dropLast      bool
		want          [][]int
		skipped       int
	}{
		// The doc comment's example.
		{"doc", []int{7, 7, 7, 7, 7, 3, 3, 9, 1, 1}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4, 2, false,
			[][]int{{0, 1, 5, 6}, {8, 9}, {2, 3, 4}}, 1},
		{"doc dropLast", []int{7, 7, 7, 7, 7, 3, 3, 9, 1, 1}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4, 2, true,
			[][]int{{0, 1, 5, 6}, {8, 9}}, 1},
		// Shuffled order: groups 2 [11 9 10], 0 [3 0 5 1 2 4 6], 1 [7 8];
		// group 0's chunk of 7 > batch 3 is cut 3, 2, 2 (not 3, 3, 1).
		{"large group", []int{0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2}, []int{11, 3, 7, 0, 9, 5, 8, 1, 10, 2, 4, 6}, 3, 10, false,
			[][]int{{11, 9, 10}, {3, 0, 5}, {7, 8}, {1, 2}, {4, 6}}, 0},
		{"large group dropLast", []int{0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 2, 2}, []int{11, 3, 7, 0, 9, 5, 8, 1, 10, 2, 4, 6}, 3, 10, true,
			[][]int{{11, 9, 10}, {3, 0, 5}, {7, 8}, {1, 2}}, 0},
		// Round-robin: a's chunks are dealt between b's and c's.
		{"round robin", []int{1, 1, 1, 1, 1, 1, 2, 2, 3, 3}, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 4, 2, false,
			[][]int{{0, 1, 6, 7}, {8, 9, 2, 3}, {4, 5}}, 0},
		// Batch 2: a group of 3 gives one pair and one skipped example.
		{"batch 2", []int{5, 5, 5, 6, 6}, []int{0, 1, 2, 3, 4}, 2, 2, false, [][]int{{0, 1}, {3, 4}}, 1},
		// perGroup below 2 reads as 2; a repeated and an out-of-range index are ignored.
		{"perGroup 0", []int{4, 4, 4, 4, 8, 8}, []int{0, 1, 1, 2, 3, 4, 5, 9, -2}, 6, 0, false,
			[][]int{{0, 1, 4, 5, 2, 3}}, 0},
		{"all singletons", []int{1, 2, 3}, []int{0, 1, 2}, 4, 2, false, nil, 3},
		{"batch 1", []int{1, 1, 2, 2}, []int{0, 1, 2, 3}, 1, 2, false, nil, 4},
	} {
		got, skipped := GroupBatches(tc.groups, tc.order, tc.bs, tc.perGroup, tc.dropLast)
		if !reflect.DeepEqual(got, tc.want) || skipped != tc.skipped {
			t.Errorf("%s: %v skipped %d, want %v skipped %d", tc.name, got, skipped, tc.want, tc.skipped)
		}
	}
}

func TestGroupBatchesRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for trial := 0; trial < 500; trial++ {
		n := 1 + rng.Intn(60)
		groups := make([]int, n)
		ng := 1 + rng.Intn(n)
		for i := range groups {
			groups[i] = rng.Intn(ng)
		}
		order := rng.Perm(n)
		bs, perGroup := 2+rng.Intn(9), rng.Intn(7)
		dropLast := rng.Intn(2) == 0
		got, skipped := GroupBatches(groups, order, bs, perGroup, dropLast)
		again, skipped2 := GroupBatches(groups, order, bs, perGroup, dropLast)
		if !reflect.DeepEqual(got, again) || skipped != skipped2 {
			t.Fatalf("trial %d: not deterministic", trial)
		}
		keep, _ := GroupBatches(groups, order, bs, perGroup, false)
		if dropLast {
			// dropLast only drops an incomplete last batch
			if last := len(keep) - 1; last >= 0 && len(keep[last]) < bs {
				keep = keep[:last]
			}
			if (len(got) > 0 || len(keep) > 0) && !reflect.DeepEqual(got, keep) {
				t.Fatalf("trial %d: with dropLast %v, without %v", trial, got, keep)
			}
		}
		size := map[int]int{}
		for _, g := range groups {
			size[g]++
		}
		singles := 0
		for _, s := range size {
			if s == 1 {
				singles++
			}
		}
		if skipped < singles {
			t.Fatalf("trial %d: skipped %d < %d single-example groups", trial, skipped, singles)
		}
		used := map[int]bool{}
		for _, b := range got {
			if len(b) < 2 || len(b) > bs {
				t.Fatalf("trial %d: batch %v with batch size %d, dropLast %v", trial, b, bs, dropLast)
			}
			in := map[int]int{}
			for _, i := range b {
				if used[i] {
					t.Fatalf("trial %d: example %d twice", trial, i)
				}
				used[i] = true
				in[groups[i]]++
			}
			for _, i := range b {
				if in[groups[i]] < 2 {
					t.Fatalf("trial %d: batch %v: example %d has no partner of group %d", trial, b, i, groups[i])
				}
			}
		}
		if !dropLast && len(used)+skipped != n {
			t.Fatalf("trial %d: %d batched + %d skipped != %d examples", trial, len(used), skipped, n)
		}
		if bs >= 3 && skipped != singles {
			t.Fatalf("trial %d: batch %d skipped %d, want only the %d single-example groups", trial, bs, skipped, singles)
		}
	}
}
