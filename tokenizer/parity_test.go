package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

const testdata = "../testdata/tokenizers"

type refLine struct {
	Text   string   `json:"text"`
	IDs    []int32  `json:"ids"`
	Tokens []string `json:"tokens"`
}

func readRef(t testing.TB, name string) []refLine {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []refLine
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var r refLine
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("%s:%d: %v", name, len(out)+1, err)
		}
		out = append(out, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func load(t testing.TB, dir string) *Tokenizer {
	t.Helper()
	tk, err := Load(filepath.Join(testdata, dir, "tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	return tk
}

func checkParity(t *testing.T, tk *Tokenizer, ref string) {
	checkParityIn(t, testdata, tk, ref)
}

func checkParityIn(t *testing.T, dir string, tk *Tokenizer, ref string) {
	rows := readRef(t, filepath.Join(dir, ref))
	corpus := readLines(t, filepath.Join(dir, "corpus.txt"))
	if len(rows) != len(corpus) {
		t.Fatalf("%s has %d rows, corpus.txt %d lines", ref, len(rows), len(corpus))
	}
	bad := 0
	for i, r := range rows {
		if r.Text != corpus[i] {
			t.Fatalf("%s:%d text differs from corpus.txt", ref, i+1)
		}
		got := tk.Encode(r.Text, 0)
		if !slices.Equal(got.IDs, r.IDs) {
			bad++
			if bad <= 10 {
				t.Errorf("%s:%d %q\n got  %v %q\n want %v %q", ref, i+1, r.Text, got.IDs, got.Tokens, r.IDs, r.Tokens)
			}
		}
	}
	t.Logf("%s: %d/%d lines identical ids", ref, len(rows)-bad, len(rows))
	if bad > 0 {
		t.Errorf("%s: %d of %d lines differ", ref, bad, len(rows))
	}
}

func readLines(t testing.TB, name string) []string {
	t.Helper()
	f, err := os.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// TestUnigramParity: every corpus line encodes to sentencepiece's own ids (fairseq offset),
// both with the tokenizers library's float64 Viterbi (the default) and with sentencepiece's
// float32 path scores.
func TestUnigramParity(t *testing.T) {
	checkParity(t, load(t, "unigram"), "unigram.jsonl")
	sp := load(t, "unigram")
	sp.unigram.spArith = true
	checkParity(t, sp, "unigram.jsonl")
}

// TestUnigramTieBreak pins the one drug text (of 10,291) where float64 (tokenizers) and float32
// (sentencepiece) path scores break an exact tie differently: "III" (from Ⅲ) is I+II or II+I,
// whose scores sum to the same value.
func TestUnigramTieBreak(t *testing.T) {
	tk := load(t, "unigram")
	text := "안티트롬빈Ⅲ주"
	hf := tk.Tokenize(text)
	tk.unigram.spArith = true
	sp := tk.Tokenize(text)
	wantHF := []string{"▁안", "티", "트롬빈", "I", "II", "주"}
	wantSP := []string{"▁안", "티", "트롬빈", "II", "I", "주"} // sentencepiece 0.1.97's own output
	if !slices.Equal(hf, wantHF) || !slices.Equal(sp, wantSP) {
		t.Fatalf("float64 %q (want %q), float32 %q (want %q)", hf, wantHF, sp, wantSP)
	}
}

// TestWordPieceParity: every corpus line encodes as google-research/bert's tokenizer does
// (cased, as klue/bert-base).
func TestWordPieceParity(t *testing.T) {
	checkParity(t, load(t, "wordpiece"), "wordpiece.jsonl")
}

// TestWordPieceUncasedParity: lowercase=true (accents stripped, Hangul decomposed by NFD).
func TestWordPieceUncasedParity(t *testing.T) {
	checkParity(t, load(t, "wordpiece_uncased"), "wordpiece_uncased.jsonl")
}

// TestParityFull checks every unique drug text (about 10k lines) when
// KORMED_TOKENIZER_FULL names the folder written by `oracle/tokenizers.py --full`.
func TestParityFull(t *testing.T) {
	dir := os.Getenv("KORMED_TOKENIZER_FULL")
	if dir == "" {
		t.Skip("KORMED_TOKENIZER_FULL not set (run /usr/bin/python3 oracle/tokenizers.py --full)")
	}
	sp := load(t, "unigram")
	sp.unigram.spArith = true // sentencepiece's float32 path scores; see unigramModel.spArith
	checkParityIn(t, dir, sp, "unigram.jsonl")
	checkParityIn(t, dir, load(t, "wordpiece"), "wordpiece.jsonl")
	checkParityIn(t, dir, load(t, "wordpiece_uncased"), "wordpiece_uncased.jsonl")
}
