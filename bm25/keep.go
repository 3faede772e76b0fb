package bm25

import "fmt"

// Keep returns a new index holding only the documents keep lists (their
// numbers in ix, ascending), renumbered from 0 in that order; ix itself is
// unchanged. Nothing is analysed again: postings, term frequencies and
// document lengths are copied and terms left without a posting dropped,
// so the result scores exactly as Build over the kept documents would. It
// is how a compaction drops deleted and replaced documents.
func (ix *Index) Keep(keep []int) (*Index, error) {
	n := len(ix.ids)
	renum := make([]uint32, n) // old number → new number + 1; 0: dropped
	for i, d := range keep {
		if d < 0 || d >= n || i > 0 && d <= keep[i-1] {
			return nil, fmt.Errorf("bm25: Keep: document %d out of range or out of order", d)
		}
		renum[d] = uint32(i) + 1
	}
	out := &Index{
		opts:   ix.opts,
		an:     ix.an,
		ids:    make([]string, len(keep)),
		docLen: make([]uint32, len(keep)),
	}
	for i, d := range keep {
		out.ids[i], out.docLen[i] = ix.ids[d], ix.docLen[d]
	}
	out.off = make([]uint64, 1, len(ix.terms)+1)
	for t, term := range ix.terms {
		lo, hi := ix.off[t], ix.off[t+1]
		start := len(out.docs)
		for p := lo; p < hi; p++ {
			if nd := renum[ix.docs[p]]; nd != 0 {
				out.docs = append(out.docs, nd-1)
				out.tfs = append(out.tfs, ix.tfs[p])
			}
		}
		if len(out.docs) > start {
			out.terms = append(out.terms, term)
			out.off = append(out.off, uint64(len(out.docs)))
		}
	}
	out.finish()
	return out, nil
}
