package tokenizer

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

func ids(v ...int32) []int32 { return v }

func TestKindVocabPad(t *testing.T) {
	u, w := load(t, "unigram"), load(t, "wordpiece")
	if u.Kind() != "unigram" || w.Kind() != "wordpiece" {
		t.Fatalf("kinds %q %q", u.Kind(), w.Kind())
	}
	// 3000 sentencepiece pieces - <unk>,<s>,</s> + 4 fairseq specials + <mask>
	if u.VocabSize() != 3002 || u.PadID() != 1 {
		t.Fatalf("unigram vocab %d pad %d", u.VocabSize(), u.PadID())
	}
	if w.VocabSize() != 5151 || w.PadID() != 0 {
		t.Fatalf("wordpiece vocab %d pad %d", w.VocabSize(), w.PadID())
	}
	if u.IDToken(3001) != "<mask>" || w.IDToken(2) != "[CLS]" {
		t.Fatalf("IDToken %q %q", u.IDToken(3001), w.IDToken(2))
	}
}

// Behaviour of the tokenizers library where it differs from sentencepiece, worked by hand from
// its source (tokenizers normalizers/precompiled.rs, pre_tokenizers/metaspace.rs,
// added_vocabulary.rs). sentencepiece's own ids are in the comments.
func TestUnigramTokenizersBehaviour(t *testing.T) {
	u := load(t, "unigram")
	cases := []struct {
		text string
		want []int32
	}{
		// trailing space: Metaspace keeps a final "▁" word (sentencepiece strips it: 0 170 2)
		{"의약품 ", ids(0, 170, 4, 2)},
		// whitespace only: Replace leaves " ", Metaspace makes "▁" (sentencepiece: 0 2)
		{"   ", ids(0, 4, 2)},
		{"", ids(0, 2)},
		// grapheme "ｅ" + U+0301 is under 6 bytes: replaced whole by the shortest charsmap key
		// "ｅ" -> "e", dropping the accent (sentencepiece composes é, an unknown: 0 4 3 2)
		{"ｅ\u0301", ids(0, 4, 49, 2)},
		// special tokens are matched in the raw text; "<mask>" has lstrip and eats the space
		{"약 <mask>", ids(0, 96, 3001, 2)},
		{"<s>타이레놀</s>", ids(0, 0, 4, 168, 27, 206, 378, 2, 2)},
		// unknown characters in a row fuse into one <unk>
		{"😀😀", ids(0, 4, 3, 2)},
	}
	for _, c := range cases {
		if got := u.Encode(c.text, 0); !slices.Equal(got.IDs, c.want) {
			t.Errorf("Encode(%q) = %v %q, want %v", c.text, got.IDs, got.Tokens, c.want)
		}
	}
	if got := u.Tokenize("😀😀 의약품"); !slices.Equal(got, []string{"▁", "😀😀", "▁의약품"}) {
		t.Errorf("Tokenize = %q", got)
	}
}

func TestPairsAndTruncation(t *testing.T) {
	u := load(t, "unigram")
	a, b := "신경계 감각기관용 의약품", "의약품"
	// <s> A </s></s> B </s>, every type id 0 (XLM-R template)
	e := u.EncodePair(a, b, 0)
	if !slices.Equal(e.IDs, ids(0, 759, 844, 170, 2, 2, 170, 2)) || !slices.Equal(e.TypeIDs, make([]int32, 8)) {
		t.Fatalf("unigram pair %v %v", e.IDs, e.TypeIDs)
	}
	if !slices.Equal(e.Tokens, []string{"<s>", "▁신경계", "▁감각기관용", "▁의약품", "</s>", "</s>", "▁의약품", "</s>"}) {
		t.Fatalf("tokens %q", e.Tokens)
	}
	// single truncation keeps the specials
	if e := u.Encode(a, 4); !slices.Equal(e.IDs, ids(0, 759, 844, 2)) {
		t.Fatalf("truncated %v", e.IDs)
	}
	if e := u.Encode(a, 2); !slices.Equal(e.IDs, ids(0, 2)) {
		t.Fatalf("truncated to specials %v", e.IDs)
	}
	// pair longest_first: 3+1 tokens, budget 7-4=3 -> A keeps 2, B 1
	if e := u.EncodePair(a, b, 7); !slices.Equal(e.IDs, ids(0, 759, 844, 2, 2, 170, 2)) {
		t.Fatalf("pair truncated %v", e.IDs)
	}

	w := load(t, "wordpiece")
	e = w.EncodePair("Diosmin 600", "정제", 0)
	ref := w.Encode("Diosmin 600", 0)
	n := len(ref.IDs)
	if !slices.Equal(e.IDs[:n], ref.IDs) || e.IDs[len(e.IDs)-1] != 3 {
		t.Fatalf("wordpiece pair %v vs %v", e.IDs, ref.IDs)
	}
	for i, ty := range e.TypeIDs {
		if want := int32(0); i >= n {
			want = 1
			if ty != want {
				t.Fatalf("type ids %v", e.TypeIDs)
			}
		} else if ty != want {
			t.Fatalf("type ids %v", e.TypeIDs)
		}
	}
	// BertProcessing (uncased file) gives the same layout
	wu := load(t, "wordpiece_uncased")
	eu := wu.EncodePair("a", "b c", 0)
	if !slices.Equal(eu.TypeIDs, ids(0, 0, 0, 1, 1, 1)) || eu.IDs[0] != 2 || eu.IDs[2] != 3 || eu.IDs[5] != 3 {
		t.Fatalf("BertProcessing pair %v %v", eu.IDs, eu.TypeIDs)
	}
}

func TestLongestFirst(t *testing.T) {
	// tokenizers utils/truncation.rs LongestFirst, worked by hand
	cases := [][5]int{
		{10, 10, 7, 3, 4},
		{11, 10, 7, 4, 3},
		{3, 10, 7, 3, 4},
		{10, 2, 7, 5, 2},
		{2, 3, 7, 2, 3},
		{0, 9, 4, 0, 4},
		{9, 9, 0, 0, 0},
	}
	for _, c := range cases {
		a, b := longestFirst(c[0], c[1], c[2])
		if a != c[3] || b != c[4] {
			t.Errorf("longestFirst(%d,%d,%d) = %d,%d want %d,%d", c[0], c[1], c[2], a, b, c[3], c[4])
		}
	}
}

func TestPad(t *testing.T) {
	u := load(t, "unigram")
	encs := []Encoding{u.Encode("의약품", 0), u.Encode("신경계 감각기관용 의약품", 0)}
	b := u.Pad(encs)
	if b.B != 2 || b.T != 5 {
		t.Fatalf("shape %dx%d", b.B, b.T)
	}
	if !slices.Equal(b.IDs, ids(0, 170, 2, 1, 1, 0, 759, 844, 170, 2)) {
		t.Fatalf("ids %v", b.IDs)
	}
	if !slices.Equal(b.Mask, []float32{1, 1, 1, 0, 0, 1, 1, 1, 1, 1}) || !slices.Equal(b.TypeIDs, make([]int32, 10)) {
		t.Fatalf("mask %v types %v", b.Mask, b.TypeIDs)
	}
	if e := u.Pad(nil); e.B != 0 || e.T != 0 || len(e.IDs) != 0 {
		t.Fatalf("empty batch %+v", e)
	}
}

func TestWordPieceBehaviour(t *testing.T) {
	w, wu := load(t, "wordpiece"), load(t, "wordpiece_uncased")
	// special tokens in text; "[SEP]" is matched before the pre-tokenizer would split "[", "]"
	got := w.Tokenize("정제[SEP]정제")
	if !slices.Equal(got, []string{"정제", "[SEP]", "정제"}) {
		t.Fatalf("%q", got)
	}
	// more than 100 characters: one [UNK]
	if got := w.Encode(strings.Repeat("가", 101), 0); !slices.Equal(got.IDs, ids(2, 1, 3)) {
		t.Fatalf("long word %v", got.IDs)
	}
	// lowercase + accents: Café -> cafe ; Hangul syllables decomposed to jamo
	if got := wu.Tokenize("정"); !slices.Equal(got, []string{"\u110c\u1165\u11bc"}) {
		t.Fatalf("uncased hangul %q", got)
	}
	if a, b := wu.Tokenize("CAFÉ"), wu.Tokenize("cafe"); !slices.Equal(a, b) {
		t.Fatalf("uncased %q vs %q", a, b)
	}
	// control characters vanish, CJK ideographs are isolated
	if a, b := w.Tokenize("처방\u200b藥局"), w.Tokenize("처방 藥 局"); !slices.Equal(a, b) {
		t.Fatalf("clean/chinese %q vs %q", a, b)
	}
}

func TestConcurrent(t *testing.T) {
	for _, dir := range []string{"unigram", "wordpiece"} {
		tk := load(t, dir)
		lines := readLines(t, filepath.Join(testdata, "corpus.txt"))
		want := make([][]int32, len(lines))
		for i, l := range lines {
			want[i] = tk.Encode(l, 0).IDs
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := 0; g < 8; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for k := range lines {
					i := (k + g*37) % len(lines)
					if got := tk.Encode(lines[i], 0).IDs; !slices.Equal(got, want[i]) {
						errs <- lines[i]
						return
					}
				}
			}(g)
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("%s: concurrent encode differs for %q", dir, e)
		}
	}
}

func TestRobertaProcessing(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(testdata, "unigram", "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	m["post_processor"] = json.RawMessage(`{"type":"RobertaProcessing","sep":["</s>",2],"cls":["<s>",0],"trim_offsets":true,"add_prefix_space":true}`)
	// legacy Metaspace form (add_prefix_space instead of prepend_scheme)
	m["pre_tokenizer"] = json.RawMessage(`{"type":"Metaspace","replacement":"▁","add_prefix_space":true}`)
	data, _ = json.Marshal(m)
	r, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	u := load(t, "unigram")
	for _, p := range [][2]string{{"신경계 감각기관용 의약품", "의약품"}, {"", "Diosmin"}} {
		a, b := r.EncodePair(p[0], p[1], 0), u.EncodePair(p[0], p[1], 0)
		if !slices.Equal(a.IDs, b.IDs) || !slices.Equal(a.TypeIDs, b.TypeIDs) {
			t.Fatalf("Roberta %v %v vs template %v %v", a.IDs, a.TypeIDs, b.IDs, b.TypeIDs)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		`{"model":{"type":"WordLevel","vocab":{}}}`:                                                                                       `model.type: "WordLevel" not supported`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1],["b"]]}}`:                                                                `model.vocab[1]`,
		`{"model":{"type":"WordPiece","unk_token":"[UNK]","vocab":{"a":0,"b":5}}}`:                                                        `id 5 outside`,
		`{"model":{"type":"WordPiece","vocab":{"a":0}}}`:                                                                                  `model.unk_token: "[UNK]" not in model.vocab`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"normalizer":{"type":"Foo"}}`:                                          `normalizer.type: "Foo"`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Bar"}]}}`: `pre_tokenizer.pretokenizers[0].type: "Bar"`,
		`{"model":{"type":"Unigram","unk_id":0,"vocab":[["a",-1]]},"normalizer":{"type":"Precompiled","precompiled_charsmap":"AAAA"}}`:    `normalizer`,
		`not json`: `not a tokenizer.json`,
	}
	for body, want := range cases {
		p := filepath.Join(dir, "tokenizer.json")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := Load(p)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("Load(%s) error %v, want one naming %s and %q", body, err, p, want)
		}
	}
	if _, err := Load(filepath.Join(dir, "missing.json")); err == nil || !strings.Contains(err.Error(), "missing.json") {
		t.Errorf("missing file: %v", err)
	}
}

func TestOtherNormalizers(t *testing.T) {
	// A tiny hand-made Unigram file exercising NFKC, Lowercase, Strip, string Replace.
	js := `{"normalizer":{"type":"Sequence","normalizers":[{"type":"NFKC"},{"type":"Lowercase"},
	  {"type":"Strip","strip_left":true,"strip_right":true},{"type":"Replace","pattern":{"String":"-"},"content":" "}]},
	  "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"WhitespaceSplit"},{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}]},
	  "post_processor":null,
	  "model":{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["▁mg",-1],["▁",-2],["m",-3],["g",-3],["▁10",-1],["1",-4],["0",-4]]}}`
	tk, err := Parse([]byte(js))
	if err != nil {
		t.Fatal(err)
	}
	// "  １０㎎-MG " -> NFKC "  10mg-MG " -> "  10mg-mg " -> "10mg-mg" -> "10mg mg"
	// words "▁10mg" "▁mg": ▁10 (-1) + m g (-6) beats ▁ 1 0 m g; then ▁mg (-1)
	got := tk.Encode("  １０㎎-MG ", 0)
	if !slices.Equal(got.IDs, ids(5, 3, 4, 1)) || !slices.Equal(got.TypeIDs, ids(0, 0, 0, 0)) {
		t.Fatalf("got %v %q", got.IDs, got.Tokens)
	}
}

func TestEncodeBatch(t *testing.T) {
	u := load(t, "unigram")
	lines := readLines(t, filepath.Join(testdata, "corpus.txt"))[:40]
	encs := make([]Encoding, len(lines))
	for i, l := range lines {
		encs[i] = u.Encode(l, 16)
	}
	want, got := u.Pad(encs), u.EncodeBatch(lines, 16)
	if got.B != want.B || got.T != want.T || got.T != 16 || !slices.Equal(got.IDs, want.IDs) ||
		!slices.Equal(got.Mask, want.Mask) || !slices.Equal(got.TypeIDs, want.TypeIDs) {
		t.Fatalf("EncodeBatch differs from Pad(Encode): %dx%d vs %dx%d", got.B, got.T, want.B, want.T)
	}
}

// TestArbitraryInput: random bytes (invalid UTF-8 included) and random code points never panic,
// ids stay in the vocabulary, and truncation bounds hold.
func TestArbitraryInput(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	tks := []*Tokenizer{load(t, "unigram"), load(t, "wordpiece"), load(t, "wordpiece_uncased")}
	for n := 0; n < 600; n++ {
		var sb strings.Builder
		for k := rng.IntN(40); k > 0; k-- {
			switch rng.IntN(4) {
			case 0:
				sb.WriteByte(byte(rng.IntN(256)))
			case 1:
				sb.WriteRune(rune(rng.IntN(0x3000)))
			case 2:
				sb.WriteRune(rune(0xac00 + rng.IntN(11172)))
			default:
				sb.WriteString([]string{" ", "  ", "<s>", "[SEP]", "\u0301", "\r\n", "Ⅲ", "㎎", "<mask>"}[rng.IntN(9)])
			}
		}
		s := sb.String()
		for _, tk := range tks {
			e := tk.Encode(s, 0)
			for _, id := range e.IDs {
				if id < 0 || int(id) >= tk.VocabSize() {
					t.Fatalf("%s: id %d outside vocab for %q", tk.Kind(), id, s)
				}
			}
			if len(e.IDs) != len(e.Tokens) || len(e.IDs) != len(e.TypeIDs) {
				t.Fatalf("lengths differ for %q", s)
			}
			if e := tk.EncodePair(s, s, 9); len(e.IDs) > 9 {
				t.Fatalf("pair truncation %d > 9 for %q", len(e.IDs), s)
			}
		}
	}
}
