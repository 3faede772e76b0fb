package search

import (
	"html"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/kormed/kormed/analysis"
)

// snippetRunes is the length of a hit's snippet.
const snippetRunes = 160

// maxSubTermRunes bounds the words whose parts are tried (a word of n
// runes has n(n−1)/2 parts).
const maxSubTermRunes = 16

// queryTerms are the strings highlighted in hits: the query's words
// (normalised as the index normalises text, trailing Korean particles
// kept) and its content morphemes, two characters or longer, longest
// first so that a longer match wins.
func queryTerms(query string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(t string) {
		t = strings.TrimFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
		if utf8.RuneCountInString(t) < 2 || seen[t] {
			return
		}
		seen[t] = true
		out = append(out, t)
	}
	norm := analysis.Normalize(query)
	for _, w := range strings.Fields(norm) {
		add(w)
	}
	for _, m := range analysis.Morphemes(norm) {
		if i := strings.LastIndexByte(m, '/'); i > 0 {
			m = m[:i] // "효능/NNG"
		}
		add(m)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// subTerms returns the substrings of term, two characters or longer, from
// the longest down: "두통약" → 두통약, 두통, 통약. snippet tries them when the
// whole word is not in the text, so a Korean compound still highlights its
// matching part, as the bigram analyzer matched it.
func subTerms(term string) []string {
	r := []rune(term)
	if len(r) > maxSubTermRunes {
		return nil // a long word is matched whole only
	}
	var out []string
	for n := len(r); n >= 2; n-- {
		for i := 0; i+n <= len(r); i++ {
			out = append(out, string(r[i:i+n]))
		}
	}
	return out
}

// match is a [start, end) byte range of the normalised text.
type match struct{ start, end int }

// snippet picks up to n runes of title + text around the densest run of
// matched terms and returns it plain and as HTML with <mark> around the
// matches, plus the terms found.
func snippet(title, text string, terms []string, n int) (plain, marked string, found []string) {
	full := text
	if title != "" {
		full = title + " — " + text
	}
	// Matching is on a lower-cased copy with the same byte offsets where
	// lower-casing keeps lengths (Hangul, ASCII); elsewhere it falls back
	// to no highlighting rather than wrong offsets.
	low := lowerSameLength(full)
	var ms []match
	used := map[string]bool{}
	taken := make([]bool, len(low))
	for _, term := range terms {
		// The whole term, else its longest parts found in the text.
		t := term
		for _, sub := range subTerms(term) {
			if strings.Contains(low, lowerSameLength(sub)) {
				t = sub
				break
			}
		}
		lt := lowerSameLength(t)
		for i := 0; ; {
			j := strings.Index(low[i:], lt)
			if j < 0 {
				break
			}
			s, e := i+j, i+j+len(lt)
			free := true
			for k := s; k < e; k++ {
				free = free && !taken[k]
			}
			if free {
				for k := s; k < e; k++ {
					taken[k] = true
				}
				ms = append(ms, match{s, e})
				if !used[t] {
					used[t] = true
					found = append(found, t)
				}
			}
			i = e
		}
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].start < ms[j].start })
	// The window: n runes starting a little before the first match of the
	// window with the most matches.
	runeAt := runeOffsets(full)
	total := len(runeAt) - 1
	from := 0
	if total > n && len(ms) > 0 {
		best, bestCount := 0, -1
		for i := range ms {
			r0 := runeIndex(runeAt, ms[i].start)
			c := 0
			for _, m := range ms[i:] {
				if runeIndex(runeAt, m.end) <= r0+n {
					c++
				}
			}
			if c > bestCount {
				best, bestCount = r0, c
			}
		}
		from = max(0, min(best-20, total-n))
	}
	to := min(total, from+n)
	lo, hi := runeAt[from], runeAt[to]
	var pb, mb strings.Builder
	if from > 0 {
		pb.WriteString("…")
		mb.WriteString("…")
	}
	pb.WriteString(full[lo:hi])
	at := lo
	for _, m := range ms {
		if m.start < lo || m.end > hi {
			continue
		}
		mb.WriteString(html.EscapeString(full[at:m.start]))
		mb.WriteString("<mark>")
		mb.WriteString(html.EscapeString(full[m.start:m.end]))
		mb.WriteString("</mark>")
		at = m.end
	}
	mb.WriteString(html.EscapeString(full[at:hi]))
	if to < total {
		pb.WriteString("…")
		mb.WriteString("…")
	}
	return pb.String(), mb.String(), found
}

// lowerSameLength lower-cases s rune by rune, keeping a rune as it is
// where its lower case has another UTF-8 length, so that byte offsets in
// the result are offsets in s.
func lowerSameLength(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		l := unicode.ToLower(r)
		if r == utf8.RuneError || utf8.RuneLen(l) != size {
			b.WriteString(s[i : i+size]) // invalid bytes and length changes stay
		} else {
			b.WriteRune(l)
		}
		i += size
	}
	return b.String()
}

// runeOffsets returns the byte offset of every rune of s, plus len(s).
func runeOffsets(s string) []int {
	out := make([]int, 0, len(s)+1)
	for i := range s {
		out = append(out, i)
	}
	return append(out, len(s))
}

// runeIndex finds the rune number of byte offset b.
func runeIndex(runeAt []int, b int) int {
	return sort.SearchInts(runeAt, b)
}
