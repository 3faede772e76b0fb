package embedded

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kormed/kormed/search"
)

// openSaved saves the test corpus to a folder and opens it.
func openSaved(t *testing.T, withModel bool) (*Index, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ix")
	base := newTestIndex(t, withModel)
	if err := base.Save(dir); err != nil {
		t.Fatal(err)
	}
	base.Close()
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ix.Close() })
	return ix, dir
}

// swapLog records the OnSwap calls.
type swapLog struct {
	mu   sync.Mutex
	seen []string
}

func (l *swapLog) hook(trigger string, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		trigger += " error: " + err.Error()
	}
	l.seen = append(l.seen, trigger)
}

func (l *swapLog) get() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.seen...)
}

// waitCompaction waits for a background compaction to end.
func waitCompaction(t *testing.T, ix *Index) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ix.wmu.Lock()
		busy := ix.compacting
		ix.wmu.Unlock()
		if !busy {
			return
		}
	}
	t.Fatal("background compaction did not finish in 30 s")
}

// liveDocs lists an index's documents in order.
func liveDocs(ix *Index) []search.Doc {
	var out []search.Doc
	ix.Docs(func(d search.Doc, _ []float32) error { out = append(out, d); return nil })
	return out
}

func TestBackgroundCompaction(t *testing.T) {
	ctx := context.Background()
	ix, dir := openSaved(t, true)
	var swaps swapLog
	ix.OnSwap(swaps.hook)
	gen0 := ix.Generation()
	ix.SetCompaction(0, 5) // every 5 records
	for i := 0; i < 12; i++ {
		d := []search.Doc{{ID: fmt.Sprintf("n%d", i), Title: "새 제품", Text: fmt.Sprintf("두통 감기 설명 %d", i)}}
		if err := ix.Upsert(ctx, d, vecsFor(d, true)); err != nil {
			t.Fatal(err)
		}
		if i%4 == 0 {
			if _, err := ix.Delete(ctx, []string{fmt.Sprint(i/4 + 1)}); err != nil {
				t.Fatal(err)
			}
		}
		waitCompaction(t, ix)
	}
	if ix.Generation() == gen0 {
		t.Fatal("the index never compacted")
	}
	if b, n := ix.LogSize(); n >= 5 || b == 0 && n != 0 {
		t.Errorf("log after compactions: %d bytes, %d records; want under 5 records", b, n)
	}
	if got := swaps.get(); len(got) == 0 || got[0] != SwapCompaction {
		t.Errorf("OnSwap saw %q, want compactions", got)
	}
	if len(Generations(dir)) != 1 {
		t.Errorf("generations left: %v", Generations(dir))
	}
	// The compacted index holds what a fresh index fed the same writes
	// holds, and scores as it does.
	want := newTestIndex(t, true)
	want.Delete(ctx, []string{"1", "2", "3"})
	for i := 0; i < 12; i++ {
		d := []search.Doc{{ID: fmt.Sprintf("n%d", i), Title: "새 제품", Text: fmt.Sprintf("두통 감기 설명 %d", i)}}
		want.Upsert(ctx, d, vecsFor(d, true))
	}
	got := liveDocs(ix)
	if !reflect.DeepEqual(got, liveDocs(want)) {
		t.Fatalf("documents after compaction differ:\n got %v\nwant %v", got, liveDocs(want))
	}
	q := query("두통 감기", search.ModeHybrid, 5, 0.5)
	inMemory, _ := ix.Search(ctx, q)
	ix.Close()
	re, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	if !reflect.DeepEqual(liveDocs(re), got) {
		t.Error("reopened index differs")
	}
	// Compacted: scored as an index of the live documents only (no
	// tombstones in its statistics).
	fresh, err := New(Options{Analyzer: "bigram", Model: testModel})
	if err != nil {
		t.Fatal(err)
	}
	fresh.Upsert(ctx, got, vecsFor(got, true))
	wantHits, _ := fresh.Search(ctx, q)
	gotHits, _ := re.Search(ctx, q)
	if !reflect.DeepEqual(ids(inMemory), ids(gotHits)) {
		t.Errorf("compacted in memory %v, reopened %v", ids(inMemory), ids(gotHits))
	}
	if len(gotHits) != len(wantHits) {
		t.Fatalf("hits %v, want %v", ids(gotHits), ids(wantHits))
	}
	for i := range gotHits {
		if gotHits[i].ID != wantHits[i].ID || gotHits[i].BM25 != nil && *gotHits[i].BM25 != *wantHits[i].BM25 {
			t.Errorf("hit %d: %s %+v, want %s %+v", i, gotHits[i].ID, gotHits[i].BM25, wantHits[i].ID, wantHits[i].BM25)
		}
	}
}

// Writes made while a compaction writes the new generation go on (they
// do not wait for it) and are carried into the new generation.
func TestCompactionKeepsConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	ix, dir := openSaved(t, true)
	ix.Delete(ctx, []string{"8"}) // a tombstone, so BM25 is rebuilt by Keep
	during := []search.Doc{{ID: "during", Title: "중간 문서", Text: "압축 중에 쓴 문서"}, {ID: "3", Title: "게보린정", Text: "바뀐 설명"}}
	compactHook = func() {
		done := make(chan error, 1)
		go func() {
			err := ix.Upsert(ctx, during, vecsFor(during, true))
			if err == nil {
				_, err = ix.Delete(ctx, []string{"5"})
			}
			done <- err
		}()
		select {
		case err := <-done:
			if err != nil {
				t.Error(err)
			}
		case <-time.After(10 * time.Second):
			t.Error("a write waited for the compaction")
		}
	}
	defer func() { compactHook = nil }()
	if err := ix.Compact(); err != nil {
		t.Fatal(err)
	}
	m, _ := ReadManifest(dir)
	if m.Docs != 7 { // 8 − 1 deleted before the snapshot
		t.Errorf("compacted generation holds %d documents, want 7", m.Docs)
	}
	data, _ := os.ReadFile(filepath.Join(dir, m.Generation, walFile))
	if n := strings.Count(string(data), "\n"); n != 2 {
		t.Errorf("new log holds %d records, want the 2 written during the compaction", n)
	}
	check := func(ix *Index, when string) {
		if _, ok, _ := ix.Get(ctx, "during"); !ok {
			t.Errorf("%s: the write made during the compaction is lost", when)
		}
		if d, _, _ := ix.Get(ctx, "3"); d.Text != "바뀐 설명" {
			t.Errorf("%s: 3 = %+v", when, d)
		}
		for _, id := range []string{"5", "8"} {
			if _, ok, _ := ix.Get(ctx, id); ok {
				t.Errorf("%s: deleted %s is back", when, id)
			}
		}
		if n := ix.Len(); n != 7 {
			t.Errorf("%s: %d documents, want 7", when, n)
		}
	}
	check(ix, "in memory")
	ix.Close()
	re, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer re.Close()
	check(re, "reopened")
}

// Deleting ids that do not exist writes nothing to the log.
func TestDeleteMissingLogsNothing(t *testing.T) {
	ctx := context.Background()
	ix, dir := openSaved(t, false)
	path := filepath.Join(dir, ix.Generation(), walFile)
	size := func() int64 {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return st.Size()
	}
	b0, r0 := ix.LogSize()
	s0 := size()
	for i := 0; i < 400; i++ {
		n, err := ix.Delete(ctx, []string{fmt.Sprintf("missing-%d", i)})
		if err != nil || n != 0 {
			t.Fatalf("delete missing-%d: %d, %v", i, n, err)
		}
	}
	if b, r := ix.LogSize(); b != b0 || r != r0 || size() != s0 {
		t.Errorf("400 deletes of missing ids: log %d→%d bytes, %d→%d records, file %d→%d bytes; want unchanged", b0, b, r0, r, s0, size())
	}
	// A delete of present and missing ids logs the present one only.
	if n, err := ix.Delete(ctx, []string{"1", "missing", "1"}); err != nil || n != 1 {
		t.Fatalf("delete 1: %d, %v", n, err)
	}
	data, _ := os.ReadFile(path)
	if got := strings.TrimSpace(string(data)); got != `{"op":"delete","ids":["1"]}` {
		t.Errorf("log: %s", got)
	}
}

// A write that finds a generation another process made swaps to it and
// tells the OnSwap hook.
func TestOnSwapWrite(t *testing.T) {
	ctx := context.Background()
	a, dir := openSaved(t, false)
	var swaps swapLog
	a.OnSwap(swaps.hook)
	b, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Compact(); err != nil {
		t.Fatal(err)
	}
	if got := swaps.get(); len(got) != 0 {
		t.Fatalf("swaps before a's write: %q", got)
	}
	d := []search.Doc{{ID: "w", Text: "쓰기"}}
	if err := a.Upsert(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	if got := swaps.get(); !reflect.DeepEqual(got, []string{SwapWrite}) {
		t.Errorf("OnSwap saw %q, want [write]", got)
	}
	if a.Generation() != b.Generation() {
		t.Errorf("a serves %s, b made %s", a.Generation(), b.Generation())
	}
	// Reload reports its swaps to its caller, not to the hook.
	if err := b.Compact(); err != nil {
		t.Fatal(err)
	}
	if ok, err := a.Reload(); !ok || err != nil {
		t.Fatalf("Reload: %v, %v", ok, err)
	}
	if got := swaps.get(); len(got) != 1 {
		t.Errorf("OnSwap saw %q after Reload, want only the write's", got)
	}
}

// While a background compaction runs, writes go on until the log holds
// twice a threshold; then they wait for it, so the log (and the replay at
// the next start) stays bounded however fast writes come.
func TestCompactionBoundsTheLog(t *testing.T) {
	ctx := context.Background()
	ix, _ := openSaved(t, false)
	release := make(chan struct{})
	entered := make(chan struct{}, 8)
	compactHook = func() {
		entered <- struct{}{}
		<-release
	}
	defer func() { compactHook = nil }()
	ix.SetCompaction(0, 2)
	write := func(id string) error { return ix.Upsert(ctx, []search.Doc{{ID: id, Text: "두통 " + id}}, nil) }
	for _, id := range []string{"w1", "w2"} { // the second starts a compaction
		if err := write(id); err != nil {
			t.Fatal(err)
		}
	}
	<-entered                                 // the compaction has written its generation and waits
	for _, id := range []string{"w3", "w4"} { // log: 4 records = 2 × 2
		if err := write(id); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- write("w5") }()
	select {
	case err := <-done:
		t.Fatalf("a write with the log at twice the threshold did not wait for the compaction (%v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waitCompaction(t, ix)
	for _, id := range []string{"w1", "w2", "w3", "w4", "w5"} {
		if _, ok, _ := ix.Get(ctx, id); !ok {
			t.Errorf("%s lost", id)
		}
	}
	if _, n := ix.LogSize(); n >= 4 {
		t.Errorf("log holds %d records after the compactions", n)
	}
}

// A compaction swaps in the state it wrote, HNSW graph included (kept as
// is without tombstones, rebuilt with them), as reading it back would.
func TestCompactionHNSW(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ix")
	base, err := New(Options{Analyzer: "bigram", Model: testModel, Dense: DenseHNSW})
	if err != nil {
		t.Fatal(err)
	}
	docs := drugDocs()
	base.Upsert(ctx, docs, vecsFor(docs, true))
	if err := base.Save(dir); err != nil {
		t.Fatal(err)
	}
	ix, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ix.Close()
	for round, del := range []string{"", "4"} {
		if del != "" {
			ix.Delete(ctx, []string{del})
		}
		add := []search.Doc{{ID: fmt.Sprint("r", round), Title: "혈전", Text: "항혈소판제 혈액"}}
		ix.Upsert(ctx, add, vecsFor(add, true))
		if err := ix.Compact(); err != nil {
			t.Fatal(err)
		}
		if ix.st.hnsw == nil || ix.st.hnsw.Len() != ix.Len() {
			t.Fatalf("round %d: HNSW missing or of the wrong size after the compaction", round)
		}
		re, err := Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		q := query("혈액 응고", search.ModeDense, 5, 1)
		a, _ := ix.Search(ctx, q)
		b, _ := re.Search(ctx, q)
		re.Close()
		if len(a) == 0 || !reflect.DeepEqual(ids(a), ids(b)) {
			t.Errorf("round %d: compacted in memory %v, read back %v", round, ids(a), ids(b))
		}
	}
}

// A compaction that cannot read the writes logged while it ran fails and
// swaps nothing, instead of swapping in a snapshot without them (the old
// generation held their only copy). The read fails here deterministically
// (the log turned into a folder); EMFILE or EIO would do the same.
func TestCompactionCarryReadErrorKeepsWrites(t *testing.T) {
	ix, dir := openSaved(t, false)
	gen := ix.Generation()
	compactHook = func() {
		if err := ix.Upsert(context.Background(), []search.Doc{{ID: "during", Text: "컴팩션 중 쓰기"}}, nil); err != nil {
			t.Errorf("upsert during compaction: %v", err)
		}
		wal := filepath.Join(dir, ix.Generation(), walFile)
		os.Rename(wal, wal+".moved")
		os.Mkdir(wal, 0o755)
	}
	defer func() { compactHook = nil }()
	if err := ix.Compact(); err == nil {
		t.Error("Compact succeeded without the writes logged meanwhile")
	}
	if _, ok, _ := ix.Get(context.Background(), "during"); !ok {
		t.Error("a write acknowledged during the compaction is gone from the serving index")
	}
	if ix.Generation() != gen {
		t.Errorf("generation %s after a failed compaction, want %s", ix.Generation(), gen)
	}
}

// The byte threshold counts the document text a replay analyses, not the
// vectors it only copies: a write whose log record is mostly vector stays
// under a threshold its text does not reach, and one whose text does
// reach it starts a compaction.
func TestCompactionCountsText(t *testing.T) {
	ctx := context.Background()
	ix, _ := openSaved(t, true)
	gen := ix.Generation()
	docs := []search.Doc{{ID: "v1", Text: "두통약"}, {ID: "v2", Text: "해열제"}}
	if err := ix.Upsert(ctx, docs, vecsFor(docs, true)); err != nil {
		t.Fatal(err)
	}
	bytes, _ := ix.LogSize()
	text := ix.LogText()
	if want := int64(len("두통약") + len("해열제")); text != want {
		t.Fatalf("LogText %d, want %d", text, want)
	}
	if bytes <= text {
		t.Fatalf("log bytes %d not above its text %d: the test needs vectors in the log", bytes, text)
	}
	ix.SetCompaction(text+1, 0) // over the text, under the log's bytes
	waitCompaction(t, ix)
	if ix.Generation() != gen {
		t.Errorf("compacted on vector bytes: generation %s, want %s", ix.Generation(), gen)
	}
	ix.SetCompaction(text, 0)
	waitCompaction(t, ix)
	if ix.Generation() == gen {
		t.Error("no compaction once the text reached the threshold")
	}
	if ix.LogText() != 0 {
		t.Errorf("LogText %d after the compaction, want 0", ix.LogText())
	}
}
