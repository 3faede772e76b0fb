package bm25

import "sort"

// ScoreWithout is the BM25 score that query terms (already analysed, as
// Analyze gives them) give document doc (its number) once the terms
// removed (the analysed text of a passage taken out of it, e.g. by
// Analyze) are subtracted from its term frequencies and length; the idf
// and average length stay the index's. It is how fusion calibration
// scores a document with a sentence taken out of it (an inverse-cloze
// pseudo-query) without re-indexing or re-analysing it: a few binary
// searches in the postings. With nothing removed it is the score Search
// gives the document. (Analysing the joined rest could differ by the terms
// that span the cut, e.g. a bigram across it.)
func (ix *Index) ScoreWithout(query []string, doc int, removed []string) float64 {
	if len(query) == 0 || doc < 0 || doc >= len(ix.ids) {
		return 0
	}
	minus := make(map[string]int, len(removed))
	for _, t := range removed {
		minus[t]++
	}
	qtf := make(map[uint32]int, len(query))
	var order []uint32
	for _, t := range query {
		id, ok := ix.termID[t]
		if !ok {
			continue
		}
		if qtf[id] == 0 {
			order = append(order, id)
		}
		qtf[id]++
	}
	k1, b := ix.opts.K1, ix.opts.B
	l := float64(ix.docLen[doc]) - float64(len(removed))
	if l < 1 {
		l = 1
	}
	norm := k1 * (1 - b + b*l/ix.avgdl)
	var s float64
	for _, id := range order {
		lo, hi := ix.off[id], ix.off[id+1]
		ds := ix.docs[lo:hi]
		i := sort.Search(len(ds), func(i int) bool { return int(ds[i]) >= doc })
		if i == len(ds) || int(ds[i]) != doc {
			continue
		}
		f := float64(ix.tfs[lo+uint64(i)]) - float64(minus[ix.terms[id]])
		if f <= 0 {
			continue
		}
		s += float64(qtf[id]) * idf64(len(ix.ids), int(hi-lo)) * (k1 + 1) * f / (f + norm)
	}
	return s
}
