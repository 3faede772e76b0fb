package drugbench

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// hasBatchim reports whether s, read aloud, ends in a final consonant,
// which selects the Korean particle form (은/는, 이/가, 을/를, 과/와,
// 으로/로). The second result is true when that final consonant is ㄹ
// (which takes 로, not 으로). Trailing punctuation and closing brackets
// are skipped; digits, common units and Latin letters use their Korean
// reading (mg → 밀리그램, 5 → 오, n → 엔).
func hasBatchim(s string) (batchim, rieul bool) {
	s = strings.TrimRightFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || strings.ContainsRune(`)]}>"'.,·`, r)
	})
	lower := strings.ToLower(s)
	for _, u := range []struct {
		suffix         string
		batchim, rieul bool
	}{
		{"mg", true, false}, {"μg", true, false}, {"mcg", true, false}, {"kg", true, false},
		{"ml", false, false}, {"%", false, false}, {"iu", false, false},
	} {
		if strings.HasSuffix(lower, u.suffix) && len(lower) > len(u.suffix) {
			prev, _ := utf8.DecodeLastRuneInString(lower[:len(lower)-len(u.suffix)])
			if unicode.IsDigit(prev) || unicode.IsSpace(prev) {
				return u.batchim, u.rieul
			}
		}
	}
	r, _ := utf8.DecodeLastRuneInString(s)
	switch {
	case r >= 0xAC00 && r <= 0xD7A3:
		jong := (r - 0xAC00) % 28
		return jong != 0, jong == 8
	case r >= '0' && r <= '9':
		// 영 일 이 삼 사 오 육 칠 팔 구
		return strings.ContainsRune("0136780", r), strings.ContainsRune("178", r)
	case r < 128 && unicode.IsLetter(r):
		// 엘 엠 엔 알 (el, em, en, ar) end in a consonant; l and r in ㄹ.
		switch unicode.ToLower(r) {
		case 'l', 'r':
			return true, true
		case 'm', 'n':
			return true, false
		}
	}
	return false, false
}

// josa returns word followed by the right form of the particle pair
// given as "은/는", "이/가", "을/를", "과/와" or "으로/로".
func josa(word, pair string) string {
	a, b, ok := strings.Cut(pair, "/")
	if !ok {
		return word + pair
	}
	bat, rieul := hasBatchim(word)
	if a == "으로" {
		if bat && !rieul {
			return word + a
		}
		return word + b
	}
	if bat {
		return word + a
	}
	return word + b
}

// bigrams returns the set of adjacent rune pairs of s after removing
// spaces and punctuation, the usual character-bigram view of Korean text.
func bigrams(s string) map[string]struct{} {
	var rs []rune
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			rs = append(rs, unicode.ToLower(r))
		}
	}
	out := make(map[string]struct{}, len(rs))
	for i := 0; i+1 < len(rs); i++ {
		out[string(rs[i:i+2])] = struct{}{}
	}
	return out
}
