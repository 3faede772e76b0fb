package tokenizer

import (
	"strings"
	"unicode/utf8"
)

// wordpieceModel is greedy longest-match-first WordPiece (google-research/bert's
// WordpieceTokenizer, HF tokenizers' WordPiece): a word longer than maxChars characters, or one
// with any part that cannot be matched, becomes the unknown token.
type wordpieceModel struct {
	pieces   []string
	start    map[string]int32 // pieces without the continuing prefix
	cont     map[string]int32 // continuing pieces, keyed without the prefix
	unkID    int32
	maxChars int
	maxLen   int // longest key in bytes
}

func newWordPiece(pieces []string, unkID int32, prefix string, maxChars int) *wordpieceModel {
	m := &wordpieceModel{pieces: pieces, start: map[string]int32{}, cont: map[string]int32{},
		unkID: unkID, maxChars: maxChars}
	for i, p := range pieces {
		if p == "" {
			continue
		}
		if prefix != "" && strings.HasPrefix(p, prefix) {
			k := p[len(prefix):]
			if _, ok := m.cont[k]; !ok {
				m.cont[k] = int32(i)
			}
			m.maxLen = max(m.maxLen, len(k))
		}
		// A piece that starts with the prefix is also a valid word-initial piece.
		if _, ok := m.start[p]; !ok {
			m.start[p] = int32(i)
		}
		m.maxLen = max(m.maxLen, len(p))
	}
	return m
}

func (m *wordpieceModel) tokenize(sc *scratch, w []byte) {
	if len(w) == 0 {
		return
	}
	if utf8.RuneCount(w) > m.maxChars {
		sc.emit(m.unkID, m.pieces[m.unkID])
		return
	}
	mark := len(sc.ids)
	for st := 0; st < len(w); {
		end := min(len(w), st+m.maxLen)
		for end > st && !utf8.RuneStart(wAt(w, end)) {
			end--
		}
		found := int32(-1)
		dict := m.start
		if st > 0 {
			dict = m.cont
		}
		for end > st {
			if id, ok := dict[string(w[st:end])]; ok {
				found = id
				break
			}
			end--
			for end > st && !utf8.RuneStart(w[end]) {
				end--
			}
		}
		if found < 0 {
			sc.ids = sc.ids[:mark]
			sc.toks = sc.toks[:mark]
			sc.emit(m.unkID, m.pieces[m.unkID])
			return
		}
		sc.emit(found, m.pieces[found])
		st = end
	}
}

// wAt returns w[i], or a rune-start byte at the end of w.
func wAt(w []byte, i int) byte {
	if i >= len(w) {
		return 0
	}
	return w[i]
}
