package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// span is a word: bytes [start,end) of the scratch arena. first marks text that begins the
// input (Metaspace's prepend_scheme "first").
type span struct {
	start, end int32
	first      bool
}

// preTokenizer splits each span of in into words, appending them to out. It may append new
// text to *arena (spans are offsets, so growth is safe).
type preTokenizer interface {
	split(arena *[]byte, in, out []span) []span
}

// metaspace: spaces become the replacement ("▁"), a replacement is prepended (scheme "always",
// or "first" for the start of the input only) when the text does not already start with one,
// and with split the text is cut before every replacement (MergedWithNext).
type metaspace struct {
	repl    string
	prepend int // 0 never, 1 always, 2 first
	doSplit bool
}

func (m metaspace) split(arena *[]byte, in, out []span) []span {
	for _, s := range in {
		if s.end == s.start {
			continue
		}
		start := int32(len(*arena))
		src := (*arena)[s.start:s.end]
		needPrefix := m.prepend == 1 || (m.prepend == 2 && s.first)
		if needPrefix {
			// starts with replacement after replacing spaces?
			if src[0] == ' ' || hasPrefix(src, m.repl) {
				needPrefix = false
			}
		}
		buf := *arena
		if needPrefix {
			buf = append(buf, m.repl...)
		}
		for i := s.start; i < s.end; i++ {
			c := buf[i]
			if c == ' ' {
				buf = append(buf, m.repl...)
			} else {
				buf = append(buf, c)
			}
		}
		*arena = buf
		end := int32(len(buf))
		if !m.doSplit {
			out = append(out, span{start, end, s.first})
			continue
		}
		ws := start
		first := s.first
		for i := start; i < end; {
			if i > ws && hasPrefix(buf[i:end], m.repl) {
				out = append(out, span{ws, i, first})
				first = false
				ws = i
			}
			if buf[i] < utf8.RuneSelf {
				i++
			} else {
				_, sz := utf8.DecodeRune(buf[i:end])
				i += int32(sz)
			}
		}
		out = append(out, span{ws, end, first})
	}
	return out
}

func hasPrefix(b []byte, p string) bool {
	return len(b) >= len(p) && string(b[:len(p)]) == p
}

// bertPre is BertPreTokenizer: split on whitespace (removed), isolate punctuation.
type bertPre struct{}

func (bertPre) split(arena *[]byte, in, out []span) []span {
	buf := *arena
	for _, s := range in {
		ws := int32(-1)
		first := s.first
		for i := s.start; i < s.end; {
			r, sz := rune(buf[i]), int32(1)
			if r >= utf8.RuneSelf {
				var n int
				r, n = utf8.DecodeRune(buf[i:s.end])
				sz = int32(n)
			}
			switch {
			case isSpaceRune(r):
				if ws >= 0 {
					out = append(out, span{ws, i, first})
					first = false
					ws = -1
				}
			case isBertPunct(r):
				if ws >= 0 {
					out = append(out, span{ws, i, first})
					first = false
					ws = -1
				}
				out = append(out, span{i, i + sz, first})
				first = false
			default:
				if ws < 0 {
					ws = i
				}
			}
			i += sz
		}
		if ws >= 0 {
			out = append(out, span{ws, s.end, first})
		}
	}
	return out
}

func isSpaceRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == ' ' || (r >= '\t' && r <= '\r')
	}
	return unicode.IsSpace(r)
}

// whitespaceSplit is WhitespaceSplit: split on whitespace, removing it.
type whitespaceSplit struct{}

func (whitespaceSplit) split(arena *[]byte, in, out []span) []span {
	buf := *arena
	for _, s := range in {
		ws := int32(-1)
		first := s.first
		for i := s.start; i < s.end; {
			r, n := utf8.DecodeRune(buf[i:s.end])
			if isSpaceRune(r) {
				if ws >= 0 {
					out = append(out, span{ws, i, first})
					first = false
					ws = -1
				}
			} else if ws < 0 {
				ws = i
			}
			i += int32(n)
		}
		if ws >= 0 {
			out = append(out, span{ws, s.end, first})
		}
	}
	return out
}

// whitespacePre is Whitespace: the regex \w+|[^\w\s]+.
type whitespacePre struct{}

func isWordRune(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r) ||
		unicode.Is(unicode.Nl, r) || unicode.Is(unicode.No, r) || unicode.Is(unicode.Pc, r)
}

func (whitespacePre) split(arena *[]byte, in, out []span) []span {
	buf := *arena
	for _, s := range in {
		ws := int32(-1)
		kind := 0 // 1 word, 2 other
		first := s.first
		for i := s.start; i < s.end; {
			r, n := utf8.DecodeRune(buf[i:s.end])
			k := 2
			if isSpaceRune(r) {
				k = 0
			} else if isWordRune(r) {
				k = 1
			}
			if ws >= 0 && k != kind {
				out = append(out, span{ws, i, first})
				first = false
				ws = -1
			}
			if k != 0 && ws < 0 {
				ws = i
			}
			kind = k
			i += int32(n)
		}
		if ws >= 0 {
			out = append(out, span{ws, s.end, first})
		}
	}
	return out
}
