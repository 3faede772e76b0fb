package search

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
	"golang.org/x/text/unicode/runenames"
)

// MaxIDBytes bounds a document id.
const MaxIDBytes = 512

// CheckID validates a document id: non-empty, at most MaxIDBytes of UTF-8
// in Unicode normalisation form NFC, without leading or trailing space and
// without a character that does not show: controls (Cc), format
// characters (Cf: zero-width spaces and joiners, bidi marks, the BOM),
// private-use and surrogate code points, separators other than the ASCII
// space (U+00A0, U+3000, U+2028, …), variation selectors, the other
// default-ignorable code points (the Hangul fillers U+115F, U+1160,
// U+3164, U+FFA0, the combining grapheme joiner U+034F, …), U+2800
// BRAILLE PATTERN BLANK and U+FFFD (what a lone surrogate or invalid
// UTF-8 decodes to). Such ids look like another id ("196400099" and
// "196400099\u200b") and would live beside it. The error names the id and
// the character.
func CheckID(id string) error {
	switch {
	case id == "":
		return badRequest("id: empty")
	case len(id) > MaxIDBytes:
		return badRequest("id %.40q…: %d bytes, at most %d", id, len(id), MaxIDBytes)
	case !utf8.ValidString(id):
		return badRequest("id %q: not valid UTF-8", id)
	}
	first, _ := utf8.DecodeRuneInString(id)
	last, _ := utf8.DecodeLastRuneInString(id)
	switch {
	case unicode.IsSpace(first):
		return badRequest("id %q: leading space %s", id, runeName(first))
	case unicode.IsSpace(last):
		return badRequest("id %q: trailing space %s", id, runeName(last))
	}
	for _, r := range id {
		if what := invisible(r); what != "" {
			return badRequest("id %q: %s %s is not allowed in an id", id, what, runeName(r))
		}
	}
	if !norm.NFC.IsNormalString(id) {
		return badRequest("id %q: not in Unicode normalisation form NFC (normalised: %q)", id, norm.NFC.String(id))
	}
	return nil
}

// invisible says what kind of character r is when it may not be in an id.
func invisible(r rune) string {
	switch {
	case unicode.Is(unicode.Cc, r):
		return "control character"
	case unicode.Is(unicode.Cf, r):
		return "format character"
	case unicode.Is(unicode.Co, r) || unicode.Is(unicode.Cs, r):
		return "private-use or surrogate code point"
	case r != ' ' && (unicode.Is(unicode.Zs, r) || unicode.Is(unicode.Zl, r) || unicode.Is(unicode.Zp, r)):
		return "space or separator"
	case unicode.Is(unicode.Variation_Selector, r):
		return "variation selector"
	case unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r), r == 0x2800:
		return "invisible character"
	case r == utf8.RuneError:
		return "replacement character"
	}
	return ""
}

// runeName is "U+200B ZERO WIDTH SPACE".
func runeName(r rune) string {
	if n := runenames.Name(r); n != "" && !strings.HasPrefix(n, "<") {
		return fmt.Sprintf("%U %s", r, n)
	}
	return fmt.Sprintf("%U", r)
}

// hasLetterOrDigit reports whether s holds a letter or a digit (any
// script): a query without one (only punctuation, symbols, U+FFFD) has
// nothing to search for.
func hasLetterOrDigit(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}
