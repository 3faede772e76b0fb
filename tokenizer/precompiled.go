package tokenizer

import (
	"encoding/binary"
	"fmt"
	"unicode"
	"unicode/utf8"
)

// precompiled is sentencepiece's precompiled_charsmap: a darts-clone double-array trie over
// UTF-8 byte sequences whose values are offsets into a blob of NUL-terminated replacement strings.
// Layout: u32 LE trie size in bytes, the trie's u32 LE units, then the blob.
//
// Normalisation follows Hugging Face tokenizers' Precompiled normalizer (normalizers/precompiled.rs
// with the spm_precompiled crate): the input is cut into extended grapheme clusters; a cluster
// shorter than 6 bytes is replaced whole by the value of the *first* (shortest) key that prefixes
// it, if any; otherwise each character is replaced by its own entry, or kept.
type precompiled struct {
	units []uint32
	blob  []byte
	ascii [128]string // transform of each ASCII byte ("\x00" marks no entry)
}

const noEntry = "\x00"

func newPrecompiled(b []byte) (*precompiled, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap: %d bytes, too short", len(b))
	}
	n := binary.LittleEndian.Uint32(b)
	if n%4 != 0 || uint64(n)+4 > uint64(len(b)) || n == 0 {
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d does not fit %d bytes", n, len(b))
	}
	p := &precompiled{units: make([]uint32, n/4), blob: b[4+n:]}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(b[4+4*i:])
	}
	for c := 0; c < 128; c++ {
		if s, ok := p.transform([]byte{byte(c)}); ok {
			p.ascii[c] = s
		} else {
			p.ascii[c] = noEntry
		}
	}
	return p, nil
}

// transform returns the replacement of the shortest key that is a prefix of key.
func (p *precompiled) transform(key []byte) (string, bool) {
	u := p.units
	pos := uint32(0)
	unit := u[0]
	pos ^= dartsOffset(unit)
	for _, c := range key {
		if c == 0 {
			break
		}
		pos ^= uint32(c)
		if int(pos) >= len(u) {
			return "", false
		}
		unit = u[pos]
		if unit&((1<<31)|0xff) != uint32(c) {
			return "", false
		}
		pos ^= dartsOffset(unit)
		if (unit>>8)&1 == 1 {
			if int(pos) >= len(u) {
				return "", false
			}
			v := int(u[pos] & ((1 << 31) - 1))
			if v >= len(p.blob) {
				return "", false
			}
			end := v
			for end < len(p.blob) && p.blob[end] != 0 {
				end++
			}
			return string(p.blob[v:end]), true
		}
	}
	return "", false
}

func dartsOffset(unit uint32) uint32 {
	return (unit >> 10) << ((unit & (1 << 9)) >> 6)
}

// normalize appends the normalised src to dst.
func (p *precompiled) normalize(dst, src []byte) []byte {
	i := 0
	for i < len(src) {
		c := src[i]
		if c < utf8.RuneSelf && (i+1 == len(src) || src[i+1] < utf8.RuneSelf && src[i] != '\r') {
			// single ASCII character grapheme
			if s := p.ascii[c]; s != noEntry {
				dst = append(dst, s...)
			} else {
				dst = append(dst, c)
			}
			i++
			continue
		}
		end := graphemeEnd(src, i)
		g := src[i:end]
		if len(g) < 6 {
			if s, ok := p.transform(g); ok {
				dst = append(dst, s...)
				i = end
				continue
			}
		}
		for j := 0; j < len(g); {
			_, sz := utf8.DecodeRune(g[j:])
			if s, ok := p.transform(g[j : j+sz]); ok {
				dst = append(dst, s...)
			} else {
				dst = append(dst, g[j:j+sz]...)
			}
			j += sz
		}
		i = end
	}
	return dst
}

// Grapheme cluster boundaries (UAX #29, the rules that matter for clusters shorter than 6 bytes:
// CR LF, controls, Extend/SpacingMark/ZWJ, Hangul syllable sequences, regional-indicator pairs).
type gcb uint8

const (
	gcbOther gcb = iota
	gcbCR
	gcbLF
	gcbControl
	gcbExtend
	gcbZWJ
	gcbSpacingMark
	gcbL
	gcbV
	gcbT
	gcbLV
	gcbLVT
	gcbRI
)

func graphemeClass(r rune) gcb {
	switch {
	case r < 0x300:
		switch {
		case r == '\r':
			return gcbCR
		case r == '\n':
			return gcbLF
		case r < 0x20 || (r >= 0x7f && r < 0xa0) || r == 0xad:
			return gcbControl
		}
		return gcbOther
	case r == 0x200d:
		return gcbZWJ
	case r == 0x200c:
		return gcbExtend
	case r >= 0x1100 && r <= 0x115f, r >= 0xa960 && r <= 0xa97c:
		return gcbL
	case r >= 0x1160 && r <= 0x11a7, r >= 0xd7b0 && r <= 0xd7c6:
		return gcbV
	case r >= 0x11a8 && r <= 0x11ff, r >= 0xd7cb && r <= 0xd7fb:
		return gcbT
	case r >= 0xac00 && r <= 0xd7a3:
		if (r-0xac00)%28 == 0 {
			return gcbLV
		}
		return gcbLVT
	case r >= 0x1f1e6 && r <= 0x1f1ff:
		return gcbRI
	case r >= 0x1f3fb && r <= 0x1f3ff, r >= 0xe0020 && r <= 0xe007f, r == 0xff9e, r == 0xff9f:
		return gcbExtend
	case unicode.In(r, unicode.Mn, unicode.Me):
		return gcbExtend
	case unicode.Is(unicode.Mc, r):
		return gcbSpacingMark
	case unicode.In(r, unicode.Zl, unicode.Zp, unicode.Cc, unicode.Cf):
		return gcbControl
	}
	return gcbOther
}

// graphemeEnd returns the end of the grapheme cluster starting at src[i].
func graphemeEnd(src []byte, i int) int {
	r, sz := utf8.DecodeRune(src[i:])
	prev := graphemeClass(r)
	j := i + sz
	ri := 0
	if prev == gcbRI {
		ri = 1
	}
	for j < len(src) {
		r, sz = utf8.DecodeRune(src[j:])
		cur := graphemeClass(r)
		join := false
		switch {
		case prev == gcbCR:
			join = cur == gcbLF
		case prev == gcbLF || prev == gcbControl:
			join = false
		case cur == gcbExtend || cur == gcbZWJ || cur == gcbSpacingMark:
			join = true
		case prev == gcbL:
			join = cur == gcbL || cur == gcbV || cur == gcbLV || cur == gcbLVT
		case prev == gcbLV || prev == gcbV:
			join = cur == gcbV || cur == gcbT
		case prev == gcbLVT || prev == gcbT:
			join = cur == gcbT
		case prev == gcbRI && cur == gcbRI:
			join = ri%2 == 1
		}
		if !join {
			break
		}
		if cur == gcbRI {
			ri++
		}
		prev = cur
		j += sz
	}
	return j
}
