package tokenizer

import (
	"bytes"
	"regexp"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites text: it appends the normalised src to dst and returns it.
type normalizer interface {
	normalize(dst, src []byte) []byte
}

func (p *precompiled) String() string { return "Precompiled" }

// spaceRunReplace is Replace(Regex(" {2,}"), content): runs of two or more ASCII spaces.
type spaceRunReplace struct{ content string }

func (r spaceRunReplace) normalize(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		if src[i] == ' ' && i+1 < len(src) && src[i+1] == ' ' {
			j := i + 2
			for j < len(src) && src[j] == ' ' {
				j++
			}
			dst = append(dst, r.content...)
			i = j
			continue
		}
		dst = append(dst, src[i])
		i++
	}
	return dst
}

type stringReplace struct{ pattern, content []byte }

func (r stringReplace) normalize(dst, src []byte) []byte {
	if len(r.pattern) == 0 {
		return append(dst, src...)
	}
	for {
		k := bytes.Index(src, r.pattern)
		if k < 0 {
			return append(dst, src...)
		}
		dst = append(dst, src[:k]...)
		dst = append(dst, r.content...)
		src = src[k+len(r.pattern):]
	}
}

type regexReplace struct {
	re      *regexp.Regexp
	content []byte
}

func (r regexReplace) normalize(dst, src []byte) []byte {
	last := 0
	for _, m := range r.re.FindAllIndex(src, -1) {
		dst = append(dst, src[last:m[0]]...)
		dst = append(dst, r.content...)
		last = m[1]
	}
	return append(dst, src[last:]...)
}

type unicodeNormalizer struct{ form norm.Form }

func (u unicodeNormalizer) normalize(dst, src []byte) []byte { return u.form.Append(dst, src...) }

type lowercaseNormalizer struct{}

func (lowercaseNormalizer) normalize(dst, src []byte) []byte { return appendLower(dst, src) }

// appendLower lowercases per character as Rust's char::to_lowercase (full mapping, no context).
func appendLower(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		r, sz := utf8.DecodeRune(src[i:])
		i += sz
		if r == 0x130 { // İ: the one unconditional multi-character lowercase mapping
			dst = append(dst, "i\u0307"...)
			continue
		}
		dst = utf8.AppendRune(dst, unicode.ToLower(r))
	}
	return dst
}

type stripNormalizer struct{ left, right bool }

func (s stripNormalizer) normalize(dst, src []byte) []byte {
	if s.left {
		src = bytes.TrimLeftFunc(src, unicode.IsSpace)
	}
	if s.right {
		src = bytes.TrimRightFunc(src, unicode.IsSpace)
	}
	return append(dst, src...)
}

type stripAccentsNormalizer struct{}

func (stripAccentsNormalizer) normalize(dst, src []byte) []byte {
	for i := 0; i < len(src); {
		r, sz := utf8.DecodeRune(src[i:])
		if r < 0x300 || !unicode.Is(unicode.Mn, r) {
			dst = append(dst, src[i:i+sz]...)
		}
		i += sz
	}
	return dst
}

type prependNormalizer struct{ prefix string }

func (p prependNormalizer) normalize(dst, src []byte) []byte {
	if len(src) == 0 {
		return dst
	}
	return append(append(dst, p.prefix...), src...)
}

// bertNormalizer is HF tokenizers' BertNormalizer: clean_text, handle_chinese_chars,
// strip_accents (null follows lowercase; NFD then drop Mn, which also decomposes Hangul
// syllables into conjoining jamo), lowercase.
type bertNormalizer struct {
	cleanText, chinese, stripAccents, lowercase bool
}

func (b bertNormalizer) normalize(dst, src []byte) []byte {
	start := len(dst)
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			i++
			if b.cleanText {
				if c == '\t' || c == '\n' || c == '\r' || c == ' ' {
					dst = append(dst, ' ')
					continue
				}
				if c < 0x20 || c == 0x7f {
					continue
				}
			}
			dst = append(dst, c)
			continue
		}
		r, sz := utf8.DecodeRune(src[i:])
		i += sz
		if b.cleanText {
			if r == 0xfffd || isOther(r) { // also drops invalid UTF-8 (decoded as U+FFFD)
				continue
			}
			if unicode.IsSpace(r) {
				dst = append(dst, ' ')
				continue
			}
		}
		if b.chinese && isChineseChar(r) {
			dst = append(dst, ' ')
			dst = utf8.AppendRune(dst, r)
			dst = append(dst, ' ')
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	if !b.stripAccents && !b.lowercase {
		return dst
	}
	body := dst[start:]
	ascii := true
	for _, c := range body {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		if b.lowercase {
			for k, c := range body {
				if 'A' <= c && c <= 'Z' {
					body[k] = c + 'a' - 'A'
				}
			}
		}
		return dst
	}
	tmp := append([]byte(nil), body...)
	dst = dst[:start]
	if b.stripAccents {
		nfd := norm.NFD.Bytes(tmp)
		tmp = stripAccentsNormalizer{}.normalize(tmp[:0], nfd)
	}
	if b.lowercase {
		return appendLower(dst, tmp)
	}
	return append(dst, tmp...)
}

// isOther reports Unicode general category C (Cc, Cf, Cs, Co, Cn) except tab, LF and CR.
func isOther(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	if r >= 0xac00 && r <= 0xd7a3 {
		return false
	}
	if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) {
		return true
	}
	// Cn: unassigned code points
	return !unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z)
}

func isChineseChar(r rune) bool {
	return (r >= 0x4E00 && r <= 0x9FFF) || (r >= 0x3400 && r <= 0x4DBF) ||
		(r >= 0x20000 && r <= 0x2A6DF) || (r >= 0x2A700 && r <= 0x2B73F) ||
		(r >= 0x2B740 && r <= 0x2B81F) || (r >= 0x2B820 && r <= 0x2CEAF) ||
		(r >= 0xF900 && r <= 0xFAFF) || (r >= 0x2F800 && r <= 0x2FA1F)
}

// isBertPunct is HF's is_bert_punc: ASCII punctuation or Unicode category P.
func isBertPunct(r rune) bool {
	if r < utf8.RuneSelf {
		return (r >= 33 && r <= 47) || (r >= 58 && r <= 64) || (r >= 91 && r <= 96) || (r >= 123 && r <= 126)
	}
	return unicode.IsPunct(r)
}
