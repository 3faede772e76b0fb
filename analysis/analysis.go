package analysis

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Analyzer splits text into index terms. Implementations are safe for
// concurrent use.
type Analyzer interface {
	// Name is the analyzer's registry name ("bigram", "morph", "union").
	Name() string
	// Version changes whenever the analyzer's output for some input
	// changes, so indexes built with an older version can be rejected.
	Version() int
	// Analyze appends the terms of text to dst and returns the result.
	Analyze(dst []string, text string) []string
}

// Default is the analyzer used when none is named: "union", the best by
// NDCG@10 on every query kind of the drug-bench test split (90.6 against
// 87.7 for bigram and 84.0 for morph, BM25 k1 0.9, b 0.75). It costs the
// dictionary load (about 1.5 s and 200-300 MB per process) and indexes
// about ten times slower than "bigram", which is the choice when those
// matter (it is within 0.1 NDCG@10 of union on the type-definition pairs).
const Default = "union"

// Names lists the available analyzers.
func Names() []string { return []string{"bigram", "morph", "union"} }

// New returns the analyzer called name; "" means Default. The "morph" and
// "union" analyzers load the Korean dictionary on first use (about 1.5 s
// and 200 MB of heap).
func New(name string) (Analyzer, error) {
	if name == "" {
		name = Default
	}
	switch name {
	case "bigram":
		return Bigram{}, nil
	case "morph":
		return Morph{}, nil
	case "union":
		return Union{}, nil
	}
	return nil, fmt.Errorf("analysis: unknown analyzer %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// Normalize applies NFKC and lower-cases the result.
func Normalize(s string) string {
	// Fast path: ASCII and precomposed Hangul syllables are unchanged by
	// NFKC (a syllable could only compose with a following conjoining
	// jamo, which takes the slow path), so only ASCII upper case changes.
	upper := false
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			upper = upper || 'A' <= c && c <= 'Z'
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r < 0xAC00 || r > 0xD7A3 {
			// strings.ToLower returns s itself when nothing changes.
			return strings.ToLower(norm.NFKC.String(s))
		}
		i += size
	}
	if !upper {
		return s
	}
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// runKind classifies a maximal run of the scanner.
type runKind uint8

const (
	runCJK   runKind = iota + 1 // Hangul, Han, Hiragana, Katakana
	runAlnum                    // any other letters and digits
)

func isCJK(r rune) bool {
	if r < 0x1100 {
		return false
	}
	if r >= 0xAC00 && r <= 0xD7A3 { // Hangul syllables, the common case
		return true
	}
	return unicode.In(r, unicode.Hangul, unicode.Han, unicode.Hiragana, unicode.Katakana)
}

func classify(r rune) runKind {
	switch {
	case r < utf8.RuneSelf:
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return runAlnum
		}
		return 0
	case isCJK(r):
		return runCJK
	case unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsNumber(r):
		return runAlnum
	}
	return 0
}

func isDigit(r rune) bool { return r >= '0' && r <= '9' }

// scan calls fn for each maximal run s[start:end] of one kind in the
// normalised string s. Combining marks extend the current run; '.' and ','
// between two ASCII digits stay inside an alnum run.
func scan(s string, fn func(kind runKind, start, end int)) {
	start, kind := -1, runKind(0)
	var prev rune
	flush := func(end int) {
		if start >= 0 {
			fn(kind, start, end)
		}
		start, kind = -1, 0
	}
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		k := classify(r)
		if k == 0 && start >= 0 && unicode.Is(unicode.Mn, r) {
			k = kind // combining mark: stays with its base
		}
		if k == 0 && kind == runAlnum && (r == '.' || r == ',') && isDigit(prev) {
			if next, _ := utf8.DecodeRuneInString(s[i+size:]); isDigit(next) {
				k = runAlnum
			}
		}
		switch {
		case k == 0:
			flush(i)
		case k != kind:
			flush(i)
			start, kind = i, k
		}
		prev = r
		i += size
	}
	flush(len(s))
}

// appendBigrams appends the overlapping character bigrams of run (or run
// itself when it is a single character).
func appendBigrams(dst []string, run string) []string {
	_, first := utf8.DecodeRuneInString(run)
	if first == len(run) {
		return append(dst, run)
	}
	a := 0
	b := first
	for b < len(run) {
		_, sz := utf8.DecodeRuneInString(run[b:])
		dst = append(dst, run[a:b+sz])
		a, b = b, b+sz
	}
	return dst
}

// Bigram is the character-bigram analyzer.
type Bigram struct{}

func (Bigram) Name() string { return "bigram" }
func (Bigram) Version() int { return 1 }

func (Bigram) Analyze(dst []string, text string) []string {
	s := Normalize(text)
	scan(s, func(kind runKind, start, end int) {
		if kind == runCJK {
			dst = appendBigrams(dst, s[start:end])
		} else {
			dst = append(dst, s[start:end])
		}
	})
	return dst
}

// Union is the bigram + morpheme analyzer.
type Union struct{}

func (Union) Name() string { return "union" }
func (Union) Version() int { return 2 }

// MorphPrefix marks morpheme terms in the union analyzer's output.
const MorphPrefix = "m:"

func (Union) Analyze(dst []string, text string) []string {
	s := Normalize(text)
	m := newMorphCursor(s)
	scan(s, func(kind runKind, start, end int) {
		if kind != runCJK {
			// In both views, so that Latin words weigh as much as
			// Korean ones (which match as bigrams and as morphemes).
			dst = append(dst, s[start:end], MorphPrefix+s[start:end])
			return
		}
		dst = appendBigrams(dst, s[start:end])
		n := len(dst)
		dst = m.appendRun(dst, start, end)
		for i := n; i < len(dst); i++ {
			dst[i] = MorphPrefix + dst[i]
		}
	})
	return dst
}
