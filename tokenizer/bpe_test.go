package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

const bpeTestdata = "testdata/bpe"

type bpeRef struct {
	IDs         []int32 `json:"ids"`
	Decoded     *string `json:"decoded"`
	DecodedSkip *string `json:"decoded_skip"`
}

func readJSONLines[T any](t testing.TB, name string) []T {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			t.Fatalf("%s:%d: %v", name, len(out)+1, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func loadBPETest(t testing.TB, name string) *Tokenizer {
	t.Helper()
	tk, err := Load(filepath.Join(bpeTestdata, name, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

// TestBPEParity: every corpus line encodes to the reference ids of oracle/bpe_reference.py
// (GPT-2, Llama-3 and EXAONE-style files), and decodes back to the reference's decode, with
// and without special tokens — the text itself wherever nothing was stripped.
func TestBPEParity(t *testing.T) { checkBPEDir(t, bpeTestdata) }

// TestBPEParityFull checks every unique drug text (10,261 lines) when KORMED_BPE_FULL names the
// folder written by `oracle/bpe_reference.py --full DIR`.
func TestBPEParityFull(t *testing.T) {
	dir := os.Getenv("KORMED_BPE_FULL")
	if dir == "" {
		t.Skip("KORMED_BPE_FULL not set (run /usr/bin/python3 oracle/bpe_reference.py --full DIR)")
	}
	checkBPEDir(t, dir)
}

func checkBPEDir(t *testing.T, dir string) {
	corpus := readJSONLines[string](t, filepath.Join(dir, "corpus.jsonl"))
	for _, name := range []string{"gpt2", "llama3", "exaone"} {
		t.Run(name, func(t *testing.T) {
			tk, err := Load(filepath.Join(dir, name, "tokenizer.json"))
			if err != nil {
				t.Fatal(err)
			}
			if tk.Kind() != "bpe" {
				t.Fatalf("kind %q", tk.Kind())
			}
			refs := readJSONLines[bpeRef](t, filepath.Join(dir, name, "expected.jsonl"))
			if len(refs) != len(corpus) {
				t.Fatalf("%d expected rows, %d corpus lines", len(refs), len(corpus))
			}
			bad, badDec := 0, 0
			for i, r := range refs {
				text := corpus[i]
				got := tk.Encode(text, 0)
				if !slices.Equal(got.IDs, r.IDs) {
					if bad++; bad <= 5 {
						t.Errorf("line %d %q\n got  %v %q\n want %v", i+1, text, got.IDs, got.Tokens, r.IDs)
					}
				}
				for _, skip := range []bool{false, true} {
					want := text
					if !skip && r.Decoded != nil {
						want = *r.Decoded
					}
					if skip && r.DecodedSkip != nil {
						want = *r.DecodedSkip
					}
					dec, err := tk.Decode(r.IDs, skip)
					if err != nil {
						t.Fatal(err)
					}
					if dec != want {
						if badDec++; badDec <= 5 {
							t.Errorf("line %d: Decode(skip=%v) = %q, want %q", i+1, skip, dec, want)
						}
					}
				}
			}
			t.Logf("%s: %d/%d lines identical ids, %d decode mismatches", name, len(refs)-bad, len(refs), badDec)
			if bad > 0 {
				t.Errorf("%d of %d lines differ", bad, len(refs))
			}
		})
	}
}

// TestBPESpeed: the shared parity corpus (drug texts, edge cases) through the Llama-3-style
// tokenizer, cold cache included, takes well under a second.
func TestBPESpeed(t *testing.T) {
	corpus := readJSONLines[string](t, filepath.Join(bpeTestdata, "corpus.jsonl"))
	lines := readLines(t, filepath.Join(testdata, "corpus.txt"))
	corpus = append(corpus, lines...)
	for _, name := range []string{"gpt2", "llama3", "exaone"} {
		tk := loadBPETest(t, name)
		c0, w0 := cpuTime(), time.Now()
		n := 0
		for _, l := range corpus {
			n += len(tk.Encode(l, 0).IDs)
		}
		cpu, wall := cpuTime()-c0, time.Since(w0)
		t.Logf("%s: %d lines, %d ids in %v wall, %v cpu (%.0f lines/s)", name, len(corpus), n, wall, cpu,
			float64(len(corpus))/wall.Seconds())
		if wall > time.Second && cpu > time.Second {
			t.Errorf("%s: %v to encode %d lines", name, wall, len(corpus))
		}
	}
}

func TestSplitRegex(t *testing.T) {
	split := func(pat, text string) []string {
		re, err := compileSplitRegex(pat)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range re.pieces([]byte(text), nil) {
			s := text[p.start:p.end]
			if !p.match {
				s = "!" + s
			}
			out = append(out, s)
		}
		return out
	}
	cases := []struct {
		pat, text string
		want      []string
	}{
		// \s+(?!\S): a run before a word leaves its last space to the word
		{gpt2Pattern, "a   b", []string{"a", "  ", " b"}},
		{gpt2Pattern, "a b  ", []string{"a", " b", "  "}},
		{gpt2Pattern, "a\n\nb", []string{"a", "\n", "\n", "b"}},
		{gpt2Pattern, "it's 12약 ?!", []string{"it", "'s", " 12", "약", " ?!"}},
		{gpt2Pattern, " \u3000x", []string{" ", "\u3000", "x"}}, // the optional space is U+0020 only
		{gpt2Pattern, "x\u3000 y", []string{"x", "\u3000", " y"}},
		{LLAMA3Pattern, "DON'T 12345 \n\n  x", []string{"DON", "'T", " ", "123", "45", " \n\n", " ", " x"}},
		{LLAMA3Pattern, "(약)\r\n", []string{"(약", ")\r\n"}},
		{`\p{N}`, "a12b", []string{"!a", "1", "2", "!b"}},
	}
	for _, c := range cases {
		if got := split(c.pat, c.text); !slices.Equal(got, c.want) {
			t.Errorf("split(%q, %q) = %q, want %q", c.pat, c.text, got, c.want)
		}
	}
	for _, pat := range []string{`(?=a)b`, `a|(?!x)`, `\s+(?!\S)|\s+(?!\S)`, `[\S]`, `a(`} {
		if _, err := compileSplitRegex(pat); err == nil {
			t.Errorf("compileSplitRegex(%q): no error", pat)
		}
	}
}

// LLAMA3Pattern is Llama-3's Split pattern (also used by the test fixtures).
const LLAMA3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// TestBPEModelOptions: byte fallback, unknown-token fusing, continuing_subword_prefix and
// end_of_word_suffix, behaviours worked by hand from tokenizers' models/bpe/model.rs.
func TestBPEModelOptions(t *testing.T) {
	mk := func(model string) *Tokenizer {
		tk, err := Parse([]byte(`{"model":` + model + `,"pre_tokenizer":{"type":"WhitespaceSplit"}}`))
		if err != nil {
			t.Fatal(err)
		}
		return tk
	}
	bf := mk(`{"type":"BPE","byte_fallback":true,"fuse_unk":true,"unk_token":"<unk>",
		"vocab":{"<unk>":0,"<0xEA>":1,"<0xB0>":2,"<0x80>":3,"a":4,"b":5,"ab":6},"merges":["a b"]}`)
	cases := []struct {
		tk   *Tokenizer
		text string
		want []int32
	}{
		{bf, "ab", ids(6)},
		{bf, "a가b", ids(4, 1, 2, 3, 5)}, // 가 = EA B0 80 as byte tokens
		{bf, "a나다b", ids(4, 0, 5)},      // no byte tokens for 나, 다: one fused <unk>
	}
	nf := mk(`{"type":"BPE","unk_token":"<unk>","vocab":{"<unk>":0,"a":1,"b":2,"ab":3},"merges":[["a","b"]]}`)
	cases = append(cases, struct {
		tk   *Tokenizer
		text string
		want []int32
	}{nf, "xxab", ids(0, 0, 3)})
	pf := mk(`{"type":"BPE","continuing_subword_prefix":"##","end_of_word_suffix":"</w>",
		"vocab":{"a":0,"##b":1,"##c</w>":2,"a##b":3,"ab":4,"ab##c</w>":5,"abc</w>":6,"c</w>":7},
		"merges":["a ##b","ab ##c</w>"]}`)
	cases = append(cases, struct {
		tk   *Tokenizer
		text string
		want []int32
	}{pf, "abc c", ids(6, 7)})
	// ignore_merges (Llama-3): a word in the vocabulary is one token even where the merges
	// would not build it ("b c" first leaves a + bc, which has no merge)
	for _, ig := range []bool{false, true} {
		tk := mk(`{"type":"BPE","ignore_merges":` + strconv.FormatBool(ig) + `,
			"vocab":{"a":0,"b":1,"c":2,"bc":3,"ab":4,"abc":5},"merges":["b c","a b"]}`)
		want := ids(0, 3)
		if ig {
			want = ids(5)
		}
		cases = append(cases, struct {
			tk   *Tokenizer
			text string
			want []int32
		}{tk, "abc", want})
	}
	for _, c := range cases {
		if got := c.tk.Encode(c.text, 0); !slices.Equal(got.IDs, c.want) {
			t.Errorf("Encode(%q) = %v %q, want %v", c.text, got.IDs, got.Tokens, c.want)
		}
	}
	if _, err := Parse([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":["a b"]}}`)); err == nil ||
		!strings.Contains(err.Error(), `model.merges[0]: "b" not in model.vocab`) {
		t.Errorf("bad merge: %v", err)
	}
	if _, err := Parse([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}}`)); err == nil ||
		!strings.Contains(err.Error(), "model.dropout") {
		t.Errorf("dropout: %v", err)
	}
	if _, err := Parse([]byte(`{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},
		"pre_tokenizer":{"type":"Split","pattern":{"Regex":"(?<=a)b"},"behavior":"Isolated"}}`)); err == nil ||
		!strings.Contains(err.Error(), "pre_tokenizer.pattern.Regex") {
		t.Errorf("lookbehind: %v", err)
	}
}

func TestLossyUTF8(t *testing.T) {
	cases := map[string]string{
		"a\xea\xb0b":    "a\uFFFDb",            // a truncated 3-byte sequence is one U+FFFD
		"\xff\xfe":      "\uFFFD\uFFFD",        // two invalid bytes, two
		"가\xed\xa0\x80": "가\uFFFD\uFFFD\uFFFD", // a surrogate: ED then A0 is not a valid prefix
		"ok":            "ok",
	}
	for in, want := range cases {
		if got := lossyUTF8([]byte(in)); got != want {
			t.Errorf("lossyUTF8(%q) = %q, want %q", in, got, want)
		}
	}
}
