package tokenizer

import (
	"unicode/utf8"
)

// GPT-2's bytes_to_unicode: every byte is shown as a printable character. The printable
// Latin-1 bytes ('!'..'~', '¡'..'¬', '®'..'ÿ') stand for themselves; the other 68 bytes, in
// order, become U+0100, U+0101, ... (space is 'Ġ', newline 'Ċ').
var (
	byteRune [256]rune
	byteChar [256]string
	runeByte = map[rune]byte{}
)

func init() {
	n := 0
	for b := 0; b < 256; b++ {
		r := rune(b)
		if !(b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE && b <= 0xFF) {
			r = rune(256 + n)
			n++
		}
		byteRune[b] = r
		byteChar[b] = string(r)
		runeByte[r] = byte(b)
	}
}

// byteLevel is the ByteLevel pre-tokenizer: each input span gets a leading space when
// add_prefix_space is set and it does not start with one, is split by GPT-2's regex when
// use_regex is set, and every byte of each piece becomes its bytes_to_unicode character.
type byteLevel struct {
	addPrefixSpace bool
	re             *splitRegex // nil without use_regex
}

// gpt2Pattern is the split regex of GPT-2 (and of the ByteLevel pre-tokenizer).
const gpt2Pattern = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

func (b byteLevel) split(arena *[]byte, in, out []span) []span {
	var pieces []part
	for _, s := range in {
		if s.end == s.start {
			continue
		}
		if b.addPrefixSpace && (*arena)[s.start] != ' ' {
			st := int32(len(*arena))
			*arena = append(*arena, ' ')
			*arena = append(*arena, (*arena)[s.start:s.end]...)
			s = span{st, int32(len(*arena)), s.first}
		}
		pieces = pieces[:0]
		if b.re != nil {
			pieces = b.re.pieces((*arena)[s.start:s.end], pieces)
		} else {
			pieces = append(pieces, part{0, s.end - s.start, true})
		}
		first := s.first
		for _, p := range pieces {
			if p.end == p.start {
				continue
			}
			st := int32(len(*arena))
			for i := s.start + p.start; i < s.start+p.end; i++ {
				*arena = append(*arena, byteChar[(*arena)[i]]...)
			}
			out = append(out, span{st, int32(len(*arena)), first})
			first = false
		}
	}
	return out
}

// byteLevelDecode appends the bytes of tokens as the ByteLevel decoder does: a token whose
// every character is a bytes_to_unicode character gives those bytes, any other token (an
// added token such as "안녕 ") its own UTF-8 bytes.
func byteLevelDecode(dst []byte, tok string) []byte {
	mark := len(dst)
	for _, r := range tok {
		b, ok := runeByte[r]
		if !ok {
			return append(dst[:mark], tok...)
		}
		dst = append(dst, b)
	}
	return dst
}

// lossyUTF8 is Rust's String::from_utf8_lossy: each maximal invalid subsequence becomes one
// U+FFFD (Go's strings.ToValidUTF8 replaces whole runs of them).
func lossyUTF8(b []byte) string {
	if utf8.Valid(b) {
		return string(b)
	}
	out := make([]byte, 0, len(b)+8)
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r != utf8.RuneError || n > 1 {
			out = append(out, b[i:i+n]...)
			i += n
			continue
		}
		// invalid: skip the longest prefix of a valid sequence (the maximal subpart)
		n = 1
		c := b[i]
		need, lo, hi := 0, byte(0x80), byte(0xBF)
		switch {
		case c >= 0xC2 && c <= 0xDF:
			need = 1
		case c == 0xE0:
			need, lo = 2, 0xA0
		case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
			need = 2
		case c == 0xED:
			need, hi = 2, 0x9F
		case c == 0xF0:
			need, lo = 3, 0x90
		case c >= 0xF1 && c <= 0xF3:
			need = 3
		case c == 0xF4:
			need, hi = 3, 0x8F
		}
		for k := 0; k < need && i+n < len(b); k++ {
			x := b[i+n]
			if k == 0 && (x < lo || x > hi) || k > 0 && (x < 0x80 || x > 0xBF) {
				break
			}
			n++
		}
		out = append(out, "\uFFFD"...)
		i += n
	}
	return string(out)
}
