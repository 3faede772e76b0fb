package dataset

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// CodeMixer replaces Korean terms with their English names, the
// code-mixed augmentation of the Korean medical DPR model card
// (snumin44/medical-dpr): "아버지가 고혈압인데 … 고혈압이 뭔지" becomes
// "아버지가 Hypertension 인데 … Hypertension 이 뭔지", and the mixed queries
// are added to the original training data.
//
// The dictionary is a trie over runes: edges maps (node, rune) to the
// next node, and out[node] is 1 + the index of the English name of the
// Korean term ending at node (0: none), so Mix finds the longest term at
// a position in one walk bounded by the longest term's length.
type CodeMixer struct {
	edges     map[trieEdge]int32
	out       []int32 // per node
	english   []string
	terms     int // Korean terms in the dictionary
	conflicts int // Korean terms seen again with another English name
}

type trieEdge struct {
	node int32
	r    rune
}

// NewCodeMixer builds the dictionary from synonym clusters: in each
// cluster, every term containing Hangul maps to the cluster's first term
// written without Hangul and with at least one Latin letter. Clusters
// without such a pair contribute nothing. A Korean term found in two
// clusters with different English names keeps the first and is counted
// in Conflicts. It is an error if no cluster gives a pair.
//
// Example: the clusters D1 [고혈압 Hypertension 본태성고혈압 HTN] and
// D2 [당뇨병] give 고혈압 → Hypertension and 본태성고혈압 → Hypertension.
func NewCodeMixer(syn *Examples) (*CodeMixer, error) {
	if syn == nil {
		return nil, errors.New("code-mixing: no synonyms")
	}
	if syn.Format != FormatSynonyms {
		return nil, fmt.Errorf("%s: code-mixing needs synonyms, not %s", syn.Path, syn.Format)
	}
	m := &CodeMixer{edges: map[trieEdge]int32{}, out: []int32{0}}
	_, clusters := syn.Clusters()
	for _, terms := range clusters {
		en := ""
		for _, t := range terms {
			if !hasHangul(t) && hasLatin(t) {
				en = t
				break
			}
		}
		if en == "" {
			continue
		}
		for _, t := range terms {
			if hasHangul(t) {
				m.add(t, en)
			}
		}
	}
	if m.terms == 0 {
		return nil, fmt.Errorf("%s: no synonym cluster has both a Korean term and a Latin-script name", syn.Path)
	}
	return m, nil
}

// add inserts the Korean term k with its English name en.
func (m *CodeMixer) add(k, en string) {
	node := int32(0)
	for _, r := range k {
		next, ok := m.edges[trieEdge{node, r}]
		if !ok {
			next = int32(len(m.out))
			m.out = append(m.out, 0)
			m.edges[trieEdge{node, r}] = next
		}
		node = next
	}
	if o := m.out[node]; o > 0 {
		if m.english[o-1] != en {
			m.conflicts++
		}
		return
	}
	m.english = append(m.english, en)
	m.out[node] = int32(len(m.english))
	m.terms++
}

// Len is the number of Korean terms in the dictionary.
func (m *CodeMixer) Len() int { return m.terms }

// Conflicts is the number of times a Korean term met a second, different
// English name (the first was kept).
func (m *CodeMixer) Conflicts() int { return m.conflicts }

// Mix replaces every occurrence of a dictionary term in text — leftmost
// first, the longest term at a position, without overlaps — with its
// English name. A space separates the English name from an adjoining
// letter or digit (a Korean particle, another word), as in the DPR card;
// next to a space or punctuation none is added. It reports whether
// anything changed.
//
// Example: with 고혈압 → Hypertension and 고혈압성 심장병 → Hypertensive
// heart disease, "고혈압성 심장병과 고혈압이 있다." becomes
// "Hypertensive heart disease 과 Hypertension 이 있다.".
func (m *CodeMixer) Mix(text string) (string, bool) {
	var b strings.Builder
	changed := false
	prev := ' '      // last rune written
	afterEn := false // the last thing written was an English name
	for i := 0; i < len(text); {
		best, end := int32(0), i
		node := int32(0)
		for j := i; j < len(text); {
			r, size := utf8.DecodeRuneInString(text[j:])
			next, ok := m.edges[trieEdge{node, r}]
			if !ok {
				break
			}
			node, j = next, j+size
			if m.out[node] > 0 {
				best, end = m.out[node], j
			}
		}
		if best > 0 {
			if !changed {
				b.Grow(len(text) + 16)
				b.WriteString(text[:i])
				changed = true
			}
			en := m.english[best-1]
			if wordRune(prev) {
				b.WriteByte(' ')
			}
			b.WriteString(en)
			prev, _ = utf8.DecodeLastRuneInString(en)
			afterEn = true
			i = end
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if changed {
			if afterEn && wordRune(r) {
				b.WriteByte(' ')
			}
			b.WriteString(text[i : i+size])
		}
		prev, afterEn = r, false
		i += size
	}
	if !changed {
		return text, false
	}
	return b.String(), true
}

// Augment appends to ex, for every row whose column col changes under
// Mix, a copy of the row with that column mixed (other columns, label,
// group and line unchanged), and returns the number of rows added; the
// DPR card trains on the original rows plus the mixed ones. Rows without
// a column col are left alone.
func (m *CodeMixer) Augment(ex *Examples, col int) int {
	n, added := len(ex.Rows), 0
	for i := range n {
		r := ex.Rows[i]
		if col < 0 || col >= len(r.Texts) {
			continue
		}
		mixed, ok := m.Mix(r.Texts[col])
		if !ok {
			continue
		}
		r.Texts = slices.Clone(r.Texts)
		r.Texts[col] = mixed
		ex.Rows = append(ex.Rows, r)
		added++
	}
	return added
}

func hasHangul(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Hangul, r) {
			return true
		}
	}
	return false
}

func hasLatin(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Latin, r) {
			return true
		}
	}
	return false
}

// wordRune reports whether r would run into an adjoining English name:
// a letter, digit or combining mark.
func wordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.IsMark(r)
}
