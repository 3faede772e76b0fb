package tokenizer

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// part is a part [start,end) of a text, relative to it; match marks a pattern match (the
// other pieces are the text between matches).
type part struct {
	start, end int32
	match      bool
}

// splitRegex finds the matches of a split pattern as the tokenizers library's Oniguruma
// regexes do (leftmost, then the first alternative that matches). Go's regexp has no
// lookahead, so the one construct the GPT-2, Llama-3, Qwen2 and EXAONE patterns need beyond
// RE2, a top-level alternative \s+(?!\S) ("a whitespace run, less its last character when a
// non-space follows"), is matched by hand; the alternatives before and after it are RE2
// regexes, tried in that order at the leftmost position any of them matches. \s and \S mean
// Unicode White_Space, as in Oniguruma (RE2's \s is ASCII only).
type splitRegex struct {
	pre, post *regexp.Regexp // alternatives before / after \s+(?!\S); nil if none
	ws        bool           // the pattern has the \s+(?!\S) alternative
}

const (
	wsClass    = `\t-\r\x{85}\p{Z}` // White_Space = U+0009..U+000D, U+0085 and Zs, Zl, Zp
	wsLookhead = `\s+(?!\S)`
)

// compileSplitRegex compiles a tokenizers Split/ByteLevel pattern; an unsupported pattern is
// an error that says why.
func compileSplitRegex(pat string) (*splitRegex, error) {
	alts, err := topLevelAlternatives(pat)
	if err != nil {
		return nil, err
	}
	r := &splitRegex{}
	var pre, post []string
	for _, a := range alts {
		switch {
		case a == wsLookhead:
			if r.ws {
				return nil, fmt.Errorf("pattern %q: %s appears twice", pat, wsLookhead)
			}
			r.ws = true
		case r.ws:
			post = append(post, a)
		default:
			pre = append(pre, a)
		}
	}
	compile := func(alts []string) (*regexp.Regexp, error) {
		if len(alts) == 0 {
			return nil, nil
		}
		var b strings.Builder
		for i, a := range alts {
			if i > 0 {
				b.WriteByte('|')
			}
			if err := translateRE(&b, a); err != nil {
				return nil, fmt.Errorf("pattern %q: %w", pat, err)
			}
		}
		re, err := regexp.Compile(b.String())
		if err != nil {
			return nil, fmt.Errorf("pattern %q: unsupported (%w); supported is RE2 syntax plus a top-level %s alternative", pat, err, wsLookhead)
		}
		return re, nil
	}
	if r.pre, err = compile(pre); err != nil {
		return nil, err
	}
	if r.post, err = compile(post); err != nil {
		return nil, err
	}
	return r, nil
}

// topLevelAlternatives splits pat at the '|' outside groups and classes.
func topLevelAlternatives(pat string) ([]string, error) {
	var out []string
	depth, class, st := 0, false, 0
	for i := 0; i < len(pat); i++ {
		switch c := pat[i]; {
		case c == '\\':
			i++
		case class:
			if c == ']' {
				class = false
			}
		case c == '[':
			class = true
			if i+1 < len(pat) && pat[i+1] == '^' {
				i++
			}
			if i+1 < len(pat) && pat[i+1] == ']' { // a leading ']' is literal
				i++
			}
		case c == '(':
			depth++
		case c == ')':
			depth--
			if depth < 0 {
				return nil, fmt.Errorf("pattern %q: unbalanced ')'", pat)
			}
		case c == '|' && depth == 0:
			out = append(out, pat[st:i])
			st = i + 1
		}
	}
	if depth != 0 || class {
		return nil, fmt.Errorf("pattern %q: unbalanced group or class", pat)
	}
	return append(out, pat[st:]), nil
}

// translateRE writes alternative a in RE2 syntax: \s and \S become Unicode White_Space
// classes; lookaround is refused.
func translateRE(b *strings.Builder, a string) error {
	class := false
	for i := 0; i < len(a); i++ {
		c := a[i]
		switch {
		case c == '\\' && i+1 < len(a):
			switch a[i+1] {
			case 's':
				if class {
					b.WriteString(wsClass)
				} else {
					b.WriteString("[" + wsClass + "]")
				}
			case 'S':
				if class {
					return fmt.Errorf(`\S inside a character class is not supported`)
				}
				b.WriteString("[^" + wsClass + "]")
			default:
				b.WriteString(a[i : i+2])
			}
			i++
			continue
		case class && c == ']':
			class = false
		case !class && c == '[':
			class = true
			b.WriteByte(c)
			if i+1 < len(a) && a[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			continue
		case !class && (strings.HasPrefix(a[i:], "(?=") || strings.HasPrefix(a[i:], "(?!") ||
			strings.HasPrefix(a[i:], "(?<=") || strings.HasPrefix(a[i:], "(?<!")):
			return fmt.Errorf("lookaround in %q is not supported (only a top-level %s alternative)", a, wsLookhead)
		}
		b.WriteByte(c)
	}
	return nil
}

func isWS(r rune) bool { return unicode.IsSpace(r) }

// wsMatch finds the leftmost match of \s+(?!\S) at or after pos: a whitespace run that ends
// the text, or one of two or more characters less its last.
func wsMatch(text []byte, pos int) (int, int) {
	for i := pos; i < len(text); {
		r, n := utf8.DecodeRune(text[i:])
		if !isWS(r) {
			i += n
			continue
		}
		j, last := i+n, n
		for j < len(text) {
			r, n := utf8.DecodeRune(text[j:])
			if !isWS(r) {
				break
			}
			j, last = j+n, n
		}
		if j == len(text) {
			return i, j
		}
		if j-last > i {
			return i, j - last
		}
		i = j
	}
	return -1, -1
}

// pieces appends the matches of the pattern in text and the text between them, in order.
func (r *splitRegex) pieces(text []byte, out []part) []part {
	type cand struct{ s, e int } // cached next match from some earlier position; s < 0: none
	find := func(re *regexp.Regexp, pos int, c *cand) {
		if c.s >= pos || c.s == -2 {
			return
		}
		if re == nil {
			c.s = -2
			return
		}
		loc := re.FindIndex(text[pos:])
		if loc == nil {
			c.s = -2
			return
		}
		c.s, c.e = pos+loc[0], pos+loc[1]
	}
	pre, ws, post := cand{-1, -1}, cand{-1, -1}, cand{-1, -1}
	prev := 0
	for pos := 0; pos < len(text); {
		find(r.pre, pos, &pre)
		if r.ws && ws.s != -2 && ws.s < pos {
			if ws.s, ws.e = wsMatch(text, pos); ws.s < 0 {
				ws.s = -2
			}
		}
		find(r.post, pos, &post)
		best := cand{-1, -1}
		for _, c := range []cand{pre, ws, post} {
			if c.s >= 0 && (best.s < 0 || c.s < best.s) {
				best = c
			}
		}
		if best.s < 0 {
			break
		}
		if best.e == best.s { // an empty match: no piece; search again one character on
			_, n := utf8.DecodeRune(text[best.s:])
			pos = best.s + max(n, 1)
			continue
		}
		if best.s > prev {
			out = append(out, part{int32(prev), int32(best.s), false})
		}
		out = append(out, part{int32(best.s), int32(best.e), true})
		prev, pos = best.e, best.e
	}
	if prev < len(text) {
		out = append(out, part{int32(prev), int32(len(text)), false})
	}
	return out
}

// Split delimiter behaviours (tokenizers' SplitDelimiterBehavior).
const (
	behRemoved = iota
	behIsolated
	behMergedWithPrevious
	behMergedWithNext
	behContiguous
)

var behaviors = map[string]int{"Removed": behRemoved, "Isolated": behIsolated,
	"MergedWithPrevious": behMergedWithPrevious, "MergedWithNext": behMergedWithNext,
	"Contiguous": behContiguous}

// applyBehavior turns matches into the pieces kept, as NormalizedString::split does; the
// result's match field is meaningless. Empty pieces are dropped by the caller.
func applyBehavior(ps []part, beh int, invert bool) []part {
	if invert {
		for i := range ps {
			ps[i].match = !ps[i].match
		}
	}
	out := ps[:0]
	prevMatch := false
	switch beh {
	case behRemoved:
		for _, p := range ps {
			if !p.match {
				out = append(out, p)
			}
		}
	case behIsolated:
		out = ps
	case behMergedWithPrevious:
		for _, p := range ps {
			if p.match && !prevMatch && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, p)
			}
			prevMatch = p.match
		}
	case behMergedWithNext:
		// right to left, into a reversed list, then reversed back
		rev := make([]part, 0, len(ps))
		for i := len(ps) - 1; i >= 0; i-- {
			p := ps[i]
			if p.match && !prevMatch && len(rev) > 0 {
				rev[len(rev)-1].start = p.start
			} else {
				rev = append(rev, p)
			}
			prevMatch = p.match
		}
		for i := len(rev) - 1; i >= 0; i-- {
			out = append(out, rev[i])
		}
	case behContiguous:
		for _, p := range ps {
			if p.match == prevMatch && len(out) > 0 {
				out[len(out)-1].end = p.end
			} else {
				out = append(out, p)
			}
			prevMatch = p.match
		}
	}
	return out
}

// splitPre is the Split pre-tokenizer (a Regex or String pattern) and, with digits set, the
// Digits pre-tokenizer (each character of category N is a match).
type splitPre struct {
	re       *splitRegex
	literal  string
	digits   bool
	behavior int
	invert   bool
}

func (s splitPre) split(arena *[]byte, in, out []span) []span {
	var ps []part
	for _, sp := range in {
		text := (*arena)[sp.start:sp.end]
		if len(text) == 0 {
			continue
		}
		ps = ps[:0]
		switch {
		case s.re != nil:
			ps = s.re.pieces(text, ps)
		case s.digits:
			prev := 0
			for i := 0; i < len(text); {
				r, n := utf8.DecodeRune(text[i:])
				if unicode.IsNumber(r) {
					if i > prev {
						ps = append(ps, part{int32(prev), int32(i), false})
					}
					ps = append(ps, part{int32(i), int32(i + n), true})
					prev = i + n
				}
				i += n
			}
			if prev < len(text) {
				ps = append(ps, part{int32(prev), int32(len(text)), false})
			}
		default:
			prev := 0
			for i := 0; s.literal != "" && i < len(text); {
				k := strings.Index(string(text[i:]), s.literal)
				if k < 0 {
					break
				}
				if i+k > prev {
					ps = append(ps, part{int32(prev), int32(i + k), false})
				}
				ps = append(ps, part{int32(i + k), int32(i + k + len(s.literal)), true})
				i += k + len(s.literal)
				prev = i
			}
			if prev < len(text) {
				ps = append(ps, part{int32(prev), int32(len(text)), false})
			}
		}
		first := sp.first
		for _, p := range applyBehavior(ps, s.behavior, s.invert) {
			if p.end > p.start {
				out = append(out, span{sp.start + p.start, sp.start + p.end, first})
				first = false
			}
		}
	}
	return out
}
