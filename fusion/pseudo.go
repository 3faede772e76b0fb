package fusion

import (
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"unicode/utf8"
)

// Pseudo-query kinds.
const (
	PseudoICT   = "ict"   // inverse cloze: a sentence taken out of its document
	PseudoTitle = "title" // the title taken out of its document
	PseudoSpan  = "span"  // a sentence of the document, left in it
)

// DefaultCalibrationDocs is how many documents calibration samples.
const DefaultCalibrationDocs = 300

// MinCalibrationQueries is the fewest pseudo-queries calibration decides
// on; a smaller corpus (or one of one-sentence documents) keeps the
// built-in default.
const MinCalibrationQueries = 10

// TooFewError is Calibrate on a corpus that gives too few pseudo-queries.
type TooFewError struct{ N int }

func (e *TooFewError) Error() string {
	return fmt.Sprintf("search: calibration: only %d documents could make a pseudo-query (at least %d needed: documents of two sentences or more)", e.N, MinCalibrationQueries)
}

// Doc is a document as PseudoQueries reads it: its id, title and text.
type Doc struct {
	ID    string
	Title string
	Text  string
}

// DocText is the text a retriever sees of a document — what BM25
// indexes, what the encoder embeds, what calibration's pseudo-queries are
// cut from — everywhere in kormed (eval, the index build, the service's
// writes): the title and the text joined by a space (as BEIR does), or
// whichever is not empty. For example DocText("타이레놀", "해열진통제")
// is "타이레놀 해열진통제" and DocText("타이레놀", "") is "타이레놀".
func DocText(title, text string) string {
	if title == "" {
		return text
	}
	if text == "" {
		return title
	}
	return title + " " + text
}

// PseudoQuery is a query made from a document without labels: Query is
// the text searched for, Rest the document's title and text as they are
// scored for it (the indexed text, less what the query took out of it),
// Removed what was taken out ("" for a span).
type PseudoQuery struct {
	DocID   string
	Query   string
	Rest    string
	Removed string
}

// PseudoQueries makes up to n pseudo-queries of a kind from docs: the
// documents are taken in order of a seeded hash of their ids (so the
// sample does not depend on the order of the corpus, and the same corpus
// and seed give the same queries), and a document that cannot make one
// (no title, a single sentence) is skipped.
//
// Inverse cloze (Lee, Chang and Toutanova, 2019): the text is split into
// sentences at ". ", "? ", "! " and line breaks; one sentence of 8 to 300
// characters, picked by the hash, is the query and the rest of the
// document is what it must find. The title is kept. Title: the title is
// the query and the text (its first sentence too, when that repeats the
// title) is the rest. Span: as inverse cloze, but the sentence stays in
// the document.
func PseudoQueries(docs []Doc, n int, seed uint64, kind string) []PseudoQuery {
	type keyed struct {
		h uint64
		i int
	}
	ks := make([]keyed, len(docs))
	for i, d := range docs {
		ks[i] = keyed{hashID(seed, d.ID), i}
	}
	sort.Slice(ks, func(a, b int) bool {
		if ks[a].h != ks[b].h {
			return ks[a].h < ks[b].h
		}
		return docs[ks[a].i].ID < docs[ks[b].i].ID
	})
	var out []PseudoQuery
	for _, k := range ks {
		if len(out) >= n {
			break
		}
		d := docs[k.i]
		switch kind {
		case PseudoTitle:
			t := strings.TrimSpace(d.Title)
			if utf8.RuneCountInString(t) < 2 {
				continue
			}
			text, removed := d.Text, d.Title
			ss := Sentences(text)
			if len(ss) > 1 && strings.Contains(ss[0], t) {
				text = strings.Join(ss[1:], " ")
				removed += " " + ss[0]
			}
			if strings.TrimSpace(text) == "" {
				continue
			}
			out = append(out, PseudoQuery{DocID: d.ID, Query: t, Rest: text, Removed: removed})
		default: // ict, span
			ss := Sentences(d.Text)
			if len(ss) < 2 {
				continue
			}
			var ok []int
			for i, s := range ss {
				if r := utf8.RuneCountInString(s); r >= 8 && r <= 300 {
					ok = append(ok, i)
				}
			}
			if len(ok) == 0 {
				continue
			}
			j := ok[k.h%uint64(len(ok))]
			pq := PseudoQuery{DocID: d.ID, Query: ss[j], Rest: DocText(d.Title, d.Text)}
			if kind == PseudoICT {
				pq.Rest = DocText(d.Title, strings.Join(append(append([]string{}, ss[:j]...), ss[j+1:]...), " "))
				pq.Removed = ss[j]
			}
			out = append(out, pq)
		}
	}
	return out
}

// Sentences splits text at ". ", "? ", "! ", "。" and line breaks,
// keeping each sentence's final mark, dropping empty pieces.
func Sentences(text string) []string {
	var out []string
	start := 0
	rs := []rune(text)
	flush := func(end int) {
		s := strings.TrimSpace(string(rs[start:end]))
		if s != "" {
			out = append(out, s)
		}
		start = end
	}
	for i, r := range rs {
		switch {
		case r == '\n' || r == '。':
			flush(i + 1)
		case (r == '.' || r == '?' || r == '!') && (i+1 == len(rs) || rs[i+1] == ' ' || rs[i+1] == '\t'):
			flush(i + 1)
		}
	}
	flush(len(rs))
	return out
}

func hashID(seed uint64, id string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	for i := range b {
		b[i] = byte(seed >> (8 * i))
	}
	h.Write(b[:])
	h.Write([]byte(id))
	return h.Sum64()
}
