package vector

import "github.com/kormed/kormed/internal/topk"

// Result is one row of a search: its number and its score (the dot product
// with the query). Searches return results ordered by Score descending,
// then Index ascending.
type Result struct {
	Index int
	Score float32
}

// ahead reports whether a ranks before b: higher score, or the same score
// and a lower row number.
func ahead(a, b Result) bool {
	return a.Score > b.Score || (a.Score == b.Score && a.Index < b.Index)
}

// topK keeps the k best results seen so far (topk.Top: a min-heap whose
// root is the worst of them, so a row that does not beat the root costs
// one comparison).
type topK = topk.Top[Result]

func newTopK(k int) *topK { return topk.New(k, ahead) }
