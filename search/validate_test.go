package search

import (
	"strings"
	"testing"
)

func TestCheckID(t *testing.T) {
	for _, id := range []string{"196400099", "A-1_b.2", "타이레놀 500", "é", "x y", "한글①"} {
		if err := CheckID(id); err != nil {
			t.Errorf("CheckID(%q): %v", id, err)
		}
	}
	for id, want := range map[string]string{
		"":                       "empty",
		" 196400099":             `" 196400099": leading space U+0020 SPACE`,
		"196400099 ":             "trailing space U+0020 SPACE",
		"196400099\u3000":        "trailing space U+3000 IDEOGRAPHIC SPACE",
		"196400099\u200b":        `"196400099\u200b": format character U+200B ZERO WIDTH SPACE`,
		"1964\u200d00099":        "U+200D ZERO WIDTH JOINER",
		"\u202e196400099":        "U+202E RIGHT-TO-LEFT OVERRIDE",
		"\ufeff196400099":        "U+FEFF ZERO WIDTH NO-BREAK SPACE",
		"1964\u00ad00099":        "U+00AD SOFT HYPHEN",
		"1964\x0000099":          "control character U+0000",
		"1964\t00099":            "control character U+0009",
		"1964\u00a000099":        "space or separator U+00A0 NO-BREAK SPACE",
		"1964\u202800099":        "U+2028 LINE SEPARATOR",
		"1964\u316400099":        "invisible character U+3164 HANGUL FILLER",
		"1964\u115f00099":        "U+115F HANGUL CHOSEONG FILLER",
		"1964\u116000099":        "U+1160 HANGUL JUNGSEONG FILLER",
		"1964\uffa000099":        "U+FFA0 HALFWIDTH HANGUL FILLER",
		"1964\u280000099":        "U+2800 BRAILLE PATTERN BLANK",
		"1964\u034f00099":        "U+034F COMBINING GRAPHEME JOINER",
		"1964\ufe0f00099":        "variation selector U+FE0F",
		"1964\ue00000099":        "private-use",
		"1964\ufffd00099":        "replacement character U+FFFD",
		"e\u0301":                "not in Unicode normalisation form NFC",
		"\u1100\u1161":           "NFC", // conjoining jamo: NFC is 가
		"bad\xff":                "not valid UTF-8",
		strings.Repeat("x", 513): "513 bytes",
	} {
		err := CheckID(id)
		if err == nil || !IsRequestError(err) || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckID(%q) = %v, want a request error with %q", id, err, want)
		}
	}
}
