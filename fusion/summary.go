package fusion

import (
	"fmt"
	"io"
)

// Setting is the setting in effect, without scores: its Name is
// "relative 0.2".
func (c *Calibration) Setting() Candidate {
	return Candidate{Fusion: c.Fusion, Alpha: c.Alpha, K: c.K}
}

// WriteSummary shows what calibration measured and chose, as kormed index
// prints it: the setting and why, then every candidate's NDCG@10 and
// recall@10 with the chosen and best marked.
func (c *Calibration) WriteSummary(w io.Writer) {
	src := c.Source
	if c.Source == "pseudo-queries" {
		src = fmt.Sprintf("%s %s (seed %d)", c.Queries, c.Source, c.Seed)
	} else if c.Queries != "" {
		src += " from " + c.Queries
	}
	fmt.Fprintf(w, "hybrid fusion: %s — %s\n", c.Setting().Name(), c.Reason)
	fmt.Fprintf(w, "  calibrated on %d %s in %.1f s (encoder %.1f s); NDCG@10 / recall@10 ×100 of their relevant documents:\n",
		c.N, src, c.TookMS/1000, c.EncodeMS/1000)
	fmt.Fprintf(w, "  %-16s %6s %6s\n", "setting", "ndcg", "r@10")
	for _, x := range c.Candidates {
		mark := ""
		switch {
		case x == c.Chosen && x == c.Best:
			mark = "  ← chosen (best)"
		case x == c.Chosen:
			mark = "  ← chosen"
		case x == c.Best:
			mark = "  ← best"
		}
		name := x.Name()
		if x.Fusion == MethodRelative && x.Alpha == 0 {
			name = "BM25 alone"
		} else if x.Fusion == MethodRelative && x.Alpha == 1 {
			name = "dense alone"
		}
		fmt.Fprintf(w, "  %-16s %6.2f %6.2f%s\n", name, 100*x.Score, 100*x.Recall10, mark)
	}
}
