package analysis

import (
	"reflect"
	"strings"
	"testing"
)

func analyze(t *testing.T, name, text string) []string {
	t.Helper()
	a, err := New(name)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name() != name {
		t.Fatalf("New(%q).Name() = %q", name, a.Name())
	}
	return a.Analyze(nil, text)
}

func TestAnalyzers(t *testing.T) {
	cases := []struct {
		analyzer, text string
		want           []string
	}{
		{"bigram", "판콜에이내복액의 효능은?", []string{"판콜", "콜에", "에이", "이내", "내복", "복액", "액의", "효능", "능은"}},
		{"morph", "판콜에이내복액의 효능은?", []string{"판", "콜", "내복", "액", "효능"}},
		{"union", "판콜에이내복액의 효능은?", []string{"판콜", "콜에", "에이", "이내", "내복", "복액", "액의", "m:판", "m:콜", "m:내복", "m:액", "효능", "능은", "m:효능"}},

		// Latin/digit runs stay whole; a number keeps its decimal point.
		{"bigram", "동구메만틴염산염정10밀리그램 Memantine 2.5mg", []string{"동구", "구메", "메만", "만틴", "틴염", "염산", "산염", "염정", "10", "밀리", "리그", "그램", "memantine", "2.5mg"}},
		{"morph", "동구메만틴염산염정10밀리그램 Memantine 2.5mg", []string{"구메", "틴", "염산", "염정", "10", "밀리그램", "memantine", "2.5mg"}},

		// A one-syllable run is a unigram; verbs contribute their stems
		// (알려줘 = 알리/VV+어/EC+주/VX+어/EC).
		{"bigram", "두통에 먹는 약 알려줘", []string{"두통", "통에", "먹는", "약", "알려", "려줘"}},
		{"morph", "두통에 먹는 약 알려줘", []string{"두통", "먹", "약", "알리"}},
		{"union", "두통에 먹는 약 알려줘", []string{"두통", "통에", "m:두통", "먹는", "m:먹", "약", "m:약", "알려", "려줘", "m:알리"}},

		// Compound nouns give the whole word and its parts.
		{"morph", "아세트아미노펜", []string{"아세트아미노펜", "아세트", "아미노펜"}},
		{"morph", "분홍 또는 연분홍의 장방형 필름코팅정제", []string{"분홍", "연분홍", "연", "분홍", "장방형", "장방", "형", "필름", "코팅", "정제"}},

		// NFKC folds full-width letters and ㎎; circled digits become digits.
		{"bigram", "Ｖｉｔａｍｉｎ Ｂ１ ㎎ ①", []string{"vitamin", "b1", "mg", "1"}},
		// Union: every word in both views, Latin ones too.
		{"union", "Ｖｉｔａｍｉｎ Ｂ１ ㎎ ①", []string{"vitamin", "m:vitamin", "b1", "m:b1", "mg", "m:mg", "1", "m:1"}},
		{"union", "Ibuprofen 성분", []string{"ibuprofen", "m:ibuprofen", "성분", "m:성분"}},
		// Han characters are bigrammed like Hangul; script changes split runs.
		{"bigram", "韓國藥 abc가나", []string{"韓國", "國藥", "abc", "가나"}},
		// Punctuation between digits that is not between two digits splits.
		{"bigram", "1,000정. 3.", []string{"1,000", "정", "3"}},
		{"bigram", "", nil},
		{"morph", "?! ...", nil},
	}
	for _, c := range cases {
		got := analyze(t, c.analyzer, c.text)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s(%q) = %q, want %q", c.analyzer, c.text, got, c.want)
		}
	}
}

func TestNewDefault(t *testing.T) {
	a, err := New("")
	if err != nil || a.Name() != Default {
		t.Fatalf("New(\"\") = %v, %v", a, err)
	}
	if _, err := New("kiwi"); err == nil {
		t.Fatal("unknown analyzer accepted")
	}
}

func TestAnalyzeAppends(t *testing.T) {
	got := Bigram{}.Analyze([]string{"x"}, "감기")
	if !reflect.DeepEqual(got, []string{"x", "감기"}) {
		t.Fatalf("got %q", got)
	}
}

func TestMorphemes(t *testing.T) {
	got := Morphemes("두통에 먹는 약")
	want := []string{"두통/NNG", "에/JKB", " /SP", "먹/VV", "는/ETM", " /SP", "약/NNG"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q", got)
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"":                   "",
		"두통 Tylenol 500MG":   "두통 tylenol 500mg",
		"판콜에이":               "판콜에이",
		"Ｂ１ ㎎ ℃":             "b1 mg °c",
		"ÀÉ 가":               "àé 가",
		"\u1100\u1161\u11a8": "각", // conjoining jamo compose under NFKC
		"각\u11a8":            "각\u11a8",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOddInput(t *testing.T) {
	// Invalid UTF-8, control characters, lone jamo and very long runs must
	// not panic; invalid bytes separate terms.
	long := strings.Repeat("가나다라마바사", 2000)
	for _, name := range Names() {
		a, _ := New(name)
		got := a.Analyze(nil, "\xff\xfe가나\x00ㄱ\u0301abc\xc3")
		if name == "bigram" && !reflect.DeepEqual(got, []string{"가나", "ᄀ\u0301", "abc"}) {
			t.Errorf("bigram odd input = %q", got)
		}
		if n := len(a.Analyze(nil, long)); n == 0 {
			t.Errorf("%s: no terms for a long run", name)
		}
	}
}
