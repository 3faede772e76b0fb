package analysis

import (
	"strings"
	"sync"

	ko "github.com/ikawaha/kagome-dict-ko"
	"github.com/ikawaha/kagome/v2/tokenizer"
)

// Morph is the morphological analyzer (kagome v2 + mecab-ko-dic).
type Morph struct{}

func (Morph) Name() string { return "morph" }
func (Morph) Version() int { return 1 }

func (Morph) Analyze(dst []string, text string) []string {
	s := Normalize(text)
	m := newMorphCursor(s)
	scan(s, func(kind runKind, start, end int) {
		if kind == runCJK {
			dst = m.appendRun(dst, start, end)
		} else {
			dst = append(dst, s[start:end])
		}
	})
	return dst
}

// contentPOS lists the mecab-ko-dic tags whose morphemes become terms:
// general and proper nouns, unit nouns, numerals, verb and adjective stems,
// roots, foreign words, hanja, numbers and unknown words. Everything else
// (particles J*, endings E*, affixes X[PS]*, dependent nouns NNB, pronouns
// NP, determiners MM, adverbs MA*, interjections IC, copulas VC*, auxiliary
// verbs VX, symbols S[FPSECOY]) is dropped.
var contentPOS = map[string]bool{
	"NNG": true, "NNP": true, "NNBC": true, "NR": true,
	"VV": true, "VA": true, "XR": true,
	"SL": true, "SH": true, "SN": true, "UNKNOWN": true,
}

var morphDict struct {
	once sync.Once
	tok  *tokenizer.Tokenizer
}

// LoadMorph loads the Korean dictionary now rather than on first use
// (about 1.5 s and 200 MB of heap). It is safe to call more than once.
func LoadMorph() {
	morphDict.once.Do(func() {
		t, err := tokenizer.New(ko.Dict(), tokenizer.OmitBosEos())
		if err != nil {
			// Only fails for a nil dictionary, which ko.Dict never returns.
			panic("analysis: kagome: " + err.Error())
		}
		morphDict.tok = t
	})
}

// Morphemes returns the content morphemes of text as the morph analyzer
// sees them, with their tags, for inspection ("효능/NNG").
func Morphemes(text string) []string {
	LoadMorph()
	var out []string
	for _, t := range morphDict.tok.Analyze(Normalize(text), tokenizer.Normal) {
		f := t.Features()
		if len(f) > 0 {
			out = append(out, t.Surface+"/"+f[0])
		}
	}
	return out
}

// morphCursor walks kagome's analysis of a whole normalised text, so each
// Hangul/CJK run is analysed in its context but only tokens inside runs
// become terms.
type morphCursor struct {
	s    string
	toks []tokenizer.Token
	i    int
	done bool
}

func newMorphCursor(s string) *morphCursor { return &morphCursor{s: s} }

// appendRun appends the content morphemes of the tokens that start inside
// s[start:end]. Inflected forms ("알려줘" = 알리/VV+어/EC+주/VX+어/EC) and
// pre-analysed forms contribute the content parts of their expression;
// compound nouns ("아세트아미노펜" = 아세트/NNP+아미노펜/NNG) contribute the
// whole word and its parts.
func (m *morphCursor) appendRun(dst []string, start, end int) []string {
	if !m.done {
		LoadMorph()
		m.toks = morphDict.tok.Analyze(m.s, tokenizer.Normal)
		m.done = true
	}
	for ; m.i < len(m.toks) && m.toks[m.i].Position < end; m.i++ {
		t := m.toks[m.i]
		if t.Position < start || t.Class == tokenizer.DUMMY || t.Surface == "" {
			continue
		}
		surface := t.Surface
		if t.Position+len(surface) > end {
			surface = m.s[t.Position:end]
		}
		f := t.Features()
		if len(f) == 0 {
			continue
		}
		typ := ""
		if len(f) > 4 {
			typ = f[4]
		}
		switch typ {
		case "Inflect", "Preanalysis", "Compound":
			if typ == "Compound" && contentPOS[f[0]] {
				dst = append(dst, surface)
			}
			if len(f) > 7 {
				dst = appendExpression(dst, f[7])
			}
		default:
			if contentPOS[f[0]] {
				dst = append(dst, surface)
			}
		}
	}
	return dst
}

// appendExpression appends the content parts of a mecab-ko-dic expression
// such as "알리/VV/*+어/EC/*+주/VX/*+어/EC/*".
func appendExpression(dst []string, expr string) []string {
	for part := range strings.SplitSeq(expr, "+") {
		fields := strings.SplitN(part, "/", 3)
		if len(fields) >= 2 && fields[0] != "" && contentPOS[fields[1]] {
			dst = append(dst, fields[0])
		}
	}
	return dst
}
