package bm25

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"

	"github.com/kormed/kormed/analysis"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// The hand-worked corpus: with the bigram analyzer every two-syllable
// Hangul word is exactly one term, so d1 = {두통, 해열} (|d1| = 2),
// d2 = {두통×2, 감기} (3), d3 = {감기, 기침, 해열} (3); N = 3, avgdl = 8/3.
var handDocs = []Doc{
	{ID: "d1", Text: "두통 해열"},
	{ID: "d2", Text: "두통, 두통! 감기"},
	{ID: "d3", Text: "감기 기침 해열"},
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-12*math.Max(1, math.Abs(b)) }

func checkHits(t *testing.T, got []Hit, want []Hit) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d hits %v, want %v", len(got), got, want)
	}
	for i := range want {
		if got[i].ID != want[i].ID || got[i].Doc != want[i].Doc || !near(got[i].Score, want[i].Score) {
			t.Fatalf("hit %d = %+v, want %+v (all: %v)", i, got[i], want[i], got)
		}
	}
}

func TestHandWorkedScores(t *testing.T) {
	ix, err := Build(handDocs, Options{Analyzer: "bigram", K1: 1.2})
	if err != nil {
		t.Fatal(err)
	}
	if ix.Len() != 3 || ix.Terms() != 4 || ix.Postings() != 7 || !near(ix.AvgDocLen(), 8.0/3) {
		t.Fatalf("N=%d T=%d P=%d avgdl=%v", ix.Len(), ix.Terms(), ix.Postings(), ix.AvgDocLen())
	}
	// 두통: df 2, idf = ln(1 + (3-2+0.5)/(2+0.5)) = ln 1.6.
	// d1: tf 1, k1(1-b+b·2/(8/3)) = 1.2·0.8125 = 0.975 → 2.2/1.975.
	// d2: tf 2, k1(1-b+b·3/(8/3)) = 1.2·1.09375 = 1.3125 → 4.4/3.3125.
	idf2 := math.Log(1.6)
	s1 := idf2 * 2.2 / 1.975 // 0.523548346501579
	s2 := idf2 * 4.4 / 3.3125
	if !near(s1, 0.523548346501579) || !near(s2, 0.6243067075264112) {
		t.Fatalf("hand values drifted: %v %v", s1, s2)
	}
	if idf, df := ix.IDF("두통"); df != 2 || !near(idf, idf2) {
		t.Fatalf("IDF(두통) = %v, %d", idf, df)
	}
	checkHits(t, ix.Search("두통", 10), []Hit{{"d2", s2, 1}, {"d1", s1, 0}})
	// 두통 해열: d1 gets 두통 + 해열 (same df, same tf, same length) = 2·s1;
	// d3: 해열 tf 1 at length 3 → ln 1.6 · 2.2/2.3125.
	s3 := idf2 * 2.2 / 2.3125
	checkHits(t, ix.Search("두통 해열", 10), []Hit{{"d1", 2 * s1, 0}, {"d2", s2, 1}, {"d3", s3, 2}})
	// A repeated query term counts twice; d2 and d3 tie and sort by ID
	// descending (trec_eval's order), also when k cuts between them.
	checkHits(t, ix.Search("감기 감기", 10), []Hit{{"d3", 2 * s3, 2}, {"d2", 2 * s3, 1}})
	checkHits(t, ix.Search("감기 감기", 1), []Hit{{"d3", 2 * s3, 2}})
	// k cuts after sorting; k <= 0 returns every match.
	checkHits(t, ix.Search("두통 해열", 1), []Hit{{"d1", 2 * s1, 0}})
	if got := ix.Search("두통 해열", 0); len(got) != 3 {
		t.Fatalf("k=0 returned %d hits", len(got))
	}
	if got := ix.Search("없는 말?", 10); got != nil {
		t.Fatalf("unmatched query returned %v", got)
	}
	if got := ix.Search("  ", 10); got != nil {
		t.Fatalf("empty query returned %v", got)
	}
}

func TestParameters(t *testing.T) {
	// k1 = 2, b ≈ 0 (0 itself means the default): no length normalisation. d1: ln1.6·3/(1+2); d2: ln1.6·6/(2+2).
	ix, err := Build(handDocs, Options{Analyzer: "bigram", K1: 2, B: 1e-300})
	if err != nil {
		t.Fatal(err)
	}
	idf2 := math.Log(1.6)
	checkHits(t, ix.Search("두통", 10), []Hit{{"d2", idf2 * 6 / 4, 1}, {"d1", idf2 * 3 / 3, 0}})
	if o := ix.Options(); o.Analyzer != "bigram" || o.K1 != 2 {
		t.Fatalf("options %+v", o)
	}
	for _, o := range []Options{{K1: -1}, {B: 1.5}, {B: -0.1}, {K1: math.Inf(1)}, {Analyzer: "nope"}} {
		if _, err := Build(handDocs, o); err == nil {
			t.Fatalf("options %+v accepted", o)
		}
	}
	d, _ := Build(nil, Options{})
	if o := d.Options(); o.K1 != DefaultK1 || o.B != DefaultB || o.Analyzer != analysis.Default {
		t.Fatalf("defaults %+v", o)
	}
	if d.Search("두통", 5) != nil {
		t.Fatal("empty index returned hits")
	}
}

func TestBuildErrors(t *testing.T) {
	if _, err := Build([]Doc{{ID: "a", Text: "x"}, {ID: "a", Text: "y"}}, Options{}); err == nil || !strings.Contains(err.Error(), `duplicate document ID "a"`) {
		t.Fatalf("duplicate ID: %v", err)
	}
	if _, err := Build([]Doc{{ID: "a"}, {Text: "y"}}, Options{}); err == nil || !strings.Contains(err.Error(), "document 2 has an empty ID") {
		t.Fatalf("empty ID: %v", err)
	}
	b, _ := NewBuilder(Options{})
	b.Finish()
	if err := b.Add(Doc{ID: "x"}); err == nil {
		t.Fatal("Add after Finish accepted")
	}
}

// corpus returns n deterministic documents spanning several builder chunks.
func corpus(n int) []Doc {
	words := []string{"두통", "해열제", "아세트아미노펜", "위궤양", "고혈압", "정제", "캡슐", "시럽", "mg", "10", "비타민", "감기약"}
	docs := make([]Doc, n)
	for i := range docs {
		var sb strings.Builder
		for j := 0; j < 3+i%7; j++ {
			sb.WriteString(words[(i*7+j*j*3+j)%len(words)])
			sb.WriteByte(' ')
		}
		docs[i] = Doc{ID: "doc" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i), Text: sb.String()}
	}
	return docs
}

func itoa(i int) string {
	if i == 0 {
		return "0"
	}
	s := ""
	for ; i > 0; i /= 10 {
		s = string(rune('0'+i%10)) + s
	}
	return s
}

func TestSaveLoadRoundTrip(t *testing.T) {
	docs := corpus(1300) // more than two chunks
	ix, err := Build(docs, Options{Analyzer: "bigram", K1: 0.9, B: 0.4})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "idx.bm25")
	if err := ix.Save(path); err != nil {
		t.Fatal(err)
	}
	if m, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".*tmp*")); len(m) != 0 {
		t.Fatalf("temporary files left: %v", m)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.ids, ix.ids) || !reflect.DeepEqual(got.docLen, ix.docLen) || !reflect.DeepEqual(got.terms, ix.terms) ||
		!reflect.DeepEqual(got.off, ix.off) || !reflect.DeepEqual(got.docs, ix.docs) || !reflect.DeepEqual(got.tfs, ix.tfs) ||
		got.Options() != ix.Options() {
		t.Fatal("loaded index differs from saved one")
	}
	for _, q := range []string{"두통 해열제", "아세트아미노펜 10mg", "비타민 캡슐 시럽"} {
		a, b := ix.Search(q, 20), got.Search(q, 20)
		if len(a) == 0 || !reflect.DeepEqual(a, b) {
			t.Fatalf("%q: %v vs %v", q, a, b)
		}
	}
	// Search with the streaming builder gives the same index as Build.
	b, _ := NewBuilder(Options{Analyzer: "bigram", K1: 0.9, B: 0.4})
	for _, d := range docs {
		b.Add(d)
	}
	ix2, _ := b.Finish()
	if !reflect.DeepEqual(ix2.docs, ix.docs) || !reflect.DeepEqual(ix2.terms, ix.terms) {
		t.Fatal("builder and Build differ")
	}
}

// TestSaveLoadUnion checks the default (union) analyzer survives a round
// trip: the loaded index analyses queries the same way.
func TestSaveLoadUnion(t *testing.T) {
	ix, err := Build(handDocs, Options{})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "u.bm25")
	if err := ix.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Options().Analyzer != "union" || got.Options().K1 != DefaultK1 {
		t.Fatalf("options %+v", got.Options())
	}
	// Union terms: bigram 두통 and morpheme m:두통 both match d1 and d2.
	a, b := ix.Search("두통이 있어요", 5), got.Search("두통이 있어요", 5)
	if len(a) != 2 || a[0].ID != "d2" || !reflect.DeepEqual(a, b) {
		t.Fatalf("%v vs %v", a, b)
	}
}

func TestLoadRejectsBadFiles(t *testing.T) {
	ix, _ := Build(handDocs, Options{Analyzer: "bigram"})
	dir := t.TempDir()
	path := filepath.Join(dir, "good.bm25")
	if err := ix.Save(path); err != nil {
		t.Fatal(err)
	}
	good, _ := os.ReadFile(path)
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, 0o644)
		return p
	}
	flip := append([]byte(nil), good...)
	flip[len(flip)/2] ^= 0x40
	ver := append([]byte(nil), good...)
	ver[8] = 9
	// Re-checksummed edits: an analyzer this build lacks, an old analyzer version.
	resum := func(b []byte) []byte {
		binary.LittleEndian.PutUint32(b[len(b)-4:], crc32.Checksum(b[:len(b)-4], crc32.MakeTable(crc32.Castagnoli)))
		return b
	}
	ana := append([]byte(nil), good...)
	if string(ana[13:19]) != "bigram" {
		t.Fatalf("unexpected header %q", ana[:20])
	}
	copy(ana[13:19], "bigrum")
	aver := append([]byte(nil), good...)
	aver[19] = 7
	cases := map[string]struct {
		data []byte
		want string
	}{
		"foreign":   {[]byte(`{"not": "an index"}`), "bad magic"},
		"empty":     {nil, "bad magic"},
		"version":   {ver, "unsupported index format version 9"},
		"flipped":   {flip, "checksum mismatch"},
		"truncated": {good[:len(good)-7], "checksum mismatch"},
		"analyzer":  {resum(ana), `analyzer "bigrum", which this kormed does not have`},
		"aversion":  {resum(aver), "bigram analyzer version 7, this kormed has version 1: rebuild the index"},
	}
	for name, c := range cases {
		_, err := Load(write(name, c.data))
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: err = %v, want %q naming the file", name, err, c.want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing")); err == nil {
		t.Error("missing file loaded")
	}
}

func TestConcurrentSearch(t *testing.T) {
	ix, err := Build(corpus(600), Options{Analyzer: "union"})
	if err != nil {
		t.Fatal(err)
	}
	queries := []string{"두통 해열제", "아세트아미노펜 10mg", "비타민 캡슐", "위궤양 시럽", "고혈압 감기약"}
	want := make([][]Hit, len(queries))
	for i, q := range queries {
		want[i] = ix.Search(q, 7)
	}
	done := make(chan error)
	for g := 0; g < 4; g++ {
		go func() {
			for r := 0; r < 50; r++ {
				i := (g + r) % len(queries)
				if got := ix.Search(queries[i], 7); !reflect.DeepEqual(got, want[i]) {
					done <- fmt.Errorf("%q: %v, want %v", queries[i], got, want[i])
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

// FuzzDecode feeds the parser arbitrary bodies with a valid checksum, so
// corruption that slips past the CRC still gives an error, never a panic
// or an index that breaks Search.
func FuzzDecode(f *testing.F) {
	ix, _ := Build(handDocs, Options{Analyzer: "bigram"})
	path := filepath.Join(f.TempDir(), "i.bm25")
	ix.Save(path)
	good, _ := os.ReadFile(path)
	f.Add(good[:len(good)-4])
	f.Add(good[:20])
	f.Fuzz(func(t *testing.T, body []byte) {
		data := append(append([]byte(nil), body...), 0, 0, 0, 0)
		binary.LittleEndian.PutUint32(data[len(data)-4:], crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		got, err := decode(data)
		if err == nil {
			got.Search("두통 해열 감기", 3)
		}
	})
}

func TestAppendEqualsBuild(t *testing.T) {
	docs := []Doc{
		{ID: "a", Text: "타이레놀정 500밀리그램 해열 진통제"},
		{ID: "b", Text: "판콜에이내복액 감기약 해열"},
		{ID: "c", Text: "아스피린 장용정 혈전 예방"},
		{ID: "d", Text: "게보린정 두통 치통 생리통 진통제"},
		{ID: "e", Text: "베아제정 소화제 더부룩함"},
		{ID: "f", Text: "타이레놀 8시간 이알서방정 해열 진통"},
	}
	opts := Options{Analyzer: "bigram"}
	whole, err := Build(docs, opts)
	if err != nil {
		t.Fatal(err)
	}
	base, err := Build(docs[:2], opts)
	if err != nil {
		t.Fatal(err)
	}
	mid, err := base.Append(docs[2:4])
	if err != nil {
		t.Fatal(err)
	}
	all, err := mid.Append(docs[4:])
	if err != nil {
		t.Fatal(err)
	}
	if base.Len() != 2 || mid.Len() != 4 || all.Len() != 6 {
		t.Fatalf("lengths %d %d %d", base.Len(), mid.Len(), all.Len())
	}
	if all.Terms() != whole.Terms() || all.Postings() != whole.Postings() || all.AvgDocLen() != whole.AvgDocLen() {
		t.Fatalf("appended index differs: terms %d/%d postings %d/%d", all.Terms(), whole.Terms(), all.Postings(), whole.Postings())
	}
	for _, q := range []string{"해열 진통제", "타이레놀", "두통", "소화", "혈전 예방 아스피린"} {
		want, got := whole.Search(q, 0), all.Search(q, 0)
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%q: appended %v, built %v", q, got, want)
		}
	}
	// The base index still answers from its own two documents.
	if hs := base.Search("두통", 0); len(hs) != 0 {
		t.Errorf("base changed: %v", hs)
	}
	// An updated document: "a" again, the old version filtered out.
	upd, err := all.Append([]Doc{{ID: "a", Text: "타이레놀정 새 설명 소화"}})
	if err != nil {
		t.Fatal(err)
	}
	hs := upd.SearchFunc("소화", 0, func(d int) bool { return d != 0 })
	if len(hs) != 2 || hs[0].Doc != 6 && hs[1].Doc != 6 {
		t.Errorf("updated doc not found by number: %+v", hs)
	}
	for _, h := range upd.SearchFunc("타이레놀", 0, func(d int) bool { return d != 0 }) {
		if h.Doc == 0 {
			t.Errorf("filtered document returned: %+v", h)
		}
	}
	if _, err := all.Append([]Doc{{ID: "x"}, {ID: "x"}}); err == nil {
		t.Error("duplicate IDs within one Append accepted")
	}
}

func TestSearchFuncKeepsTopKFull(t *testing.T) {
	var docs []Doc
	for i := 0; i < 50; i++ {
		docs = append(docs, Doc{ID: fmt.Sprintf("d%02d", i), Text: strings.Repeat("해열 ", 1+i%7) + "진통제"})
	}
	ix, err := Build(docs, Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	odd := func(d int) bool { return d%2 == 1 }
	hs := ix.SearchFunc("해열", 10, odd)
	if len(hs) != 10 {
		t.Fatalf("got %d hits, want 10", len(hs))
	}
	all := ix.Search("해열", 0)
	var want []Hit
	for _, h := range all {
		if odd(h.Doc) {
			want = append(want, h)
		}
	}
	if !reflect.DeepEqual(hs, want[:10]) {
		t.Errorf("filtered top 10 %v, want %v", hs, want[:10])
	}
}

// TestHasAndIDFOf checks term membership on the hand-worked corpus (also
// after Append, whose postings are merged) and the idf formula at df 0.
func TestHasAndIDFOf(t *testing.T) {
	ix, err := Build(handDocs, Options{Analyzer: "bigram"})
	if err != nil {
		t.Fatal(err)
	}
	ix, err = ix.Append([]Doc{{ID: "d4", Text: "기침 두통"}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]bool{ // d1 d2 d3 d4
		"두통": {true, true, false, true},
		"해열": {true, false, true, false},
		"감기": {false, true, true, false},
		"기침": {false, false, true, true},
		"날씨": {false, false, false, false},
	}
	for term, in := range want {
		for d, w := range in {
			if got := ix.Has(term, d); got != w {
				t.Errorf("Has(%s, d%d) = %v", term, d+1, got)
			}
		}
		if ix.Has(term, -1) || ix.Has(term, 4) {
			t.Errorf("Has(%s) out of range", term)
		}
	}
	// ln(1 + (4-0+0.5)/(0+0.5)) = ln 10; df 2 of 4: ln(1 + 2.5/2.5) = ln 2.
	if !near(IDFOf(4, 0), math.Log(10)) || !near(IDFOf(4, 2), math.Log(2)) {
		t.Errorf("IDFOf: %v %v", IDFOf(4, 0), IDFOf(4, 2))
	}
	if idf, _ := ix.IDF("두통"); !near(idf, IDFOf(4, 3)) {
		t.Errorf("IDF(두통) %v, IDFOf(4, 3) %v", idf, IDFOf(4, 3))
	}
}
