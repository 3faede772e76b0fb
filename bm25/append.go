package bm25

import (
	"fmt"
	"sort"
)

// Append returns a new index holding ix's documents followed by docs,
// numbered on from ix.Len(); ix itself is unchanged and keeps serving. Only
// the new documents are analysed: the old postings are copied, so the cost
// is one pass over the index plus the analysis of docs, and the result
// scores exactly as Build over all the documents would.
//
// IDs must be non-empty and unique among docs; an ID may repeat one already
// in ix (an updated document whose old version the caller filters out with
// SearchFunc until the index is rebuilt).
func (ix *Index) Append(docs []Doc) (*Index, error) {
	b, err := NewBuilder(ix.opts)
	if err != nil {
		return nil, err
	}
	if uint64(len(ix.ids))+uint64(len(docs)) >= math32 {
		return nil, fmt.Errorf("bm25: too many documents (max 2^32-1)")
	}
	for _, d := range docs {
		if err := b.Add(d); err != nil {
			return nil, err
		}
	}
	add, err := b.Finish()
	if err != nil {
		return nil, err
	}
	n0 := uint32(len(ix.ids))
	out := &Index{
		opts:   ix.opts,
		an:     ix.an,
		ids:    append(append(make([]string, 0, len(ix.ids)+len(add.ids)), ix.ids...), add.ids...),
		docLen: append(append(make([]uint32, 0, len(ix.docLen)+len(add.docLen)), ix.docLen...), add.docLen...),
	}
	// Merge the two sorted term lists; a term's postings are the old ones
	// followed by the new ones shifted by n0, so they stay ascending.
	terms := make([]string, 0, len(ix.terms)+len(add.terms))
	terms = append(terms, ix.terms...)
	for _, t := range add.terms {
		if _, ok := ix.termID[t]; !ok {
			terms = append(terms, t)
		}
	}
	sort.Strings(terms)
	out.terms = terms
	out.off = make([]uint64, len(terms)+1)
	out.docs = make([]uint32, 0, len(ix.docs)+len(add.docs))
	out.tfs = make([]uint32, 0, len(ix.tfs)+len(add.tfs))
	for i, t := range terms {
		if id, ok := ix.termID[t]; ok {
			lo, hi := ix.off[id], ix.off[id+1]
			out.docs = append(out.docs, ix.docs[lo:hi]...)
			out.tfs = append(out.tfs, ix.tfs[lo:hi]...)
		}
		if id, ok := add.termID[t]; ok {
			lo, hi := add.off[id], add.off[id+1]
			for _, d := range add.docs[lo:hi] {
				out.docs = append(out.docs, d+n0)
			}
			out.tfs = append(out.tfs, add.tfs[lo:hi]...)
		}
		out.off[i+1] = uint64(len(out.docs))
	}
	out.finish()
	return out, nil
}
