package fusion

import (
	"cmp"
	"fmt"
	"math"
	"sort"
)

// Calibration is a hybrid fusion setting chosen by measurement, and what
// was measured: kormed index stores it in the index's manifest (Options)
// and kormed serve uses it as the default; kormed eval reports it.
type Calibration struct {
	// Fusion, Alpha and K are the chosen setting (K: RRF's rank constant,
	// 0 for relative-score fusion).
	Fusion string  `json:"fusion"`
	Alpha  float64 `json:"alpha"`
	K      float64 `json:"rrf_k,omitempty"`
	// Source is what the setting was tuned on: "pseudo-queries" (made from
	// the corpus, Queries says which kind) or "labelled queries" (--dev).
	Source  string `json:"source"`
	Queries string `json:"queries,omitempty"` // pseudo-query kind: ict, title, span
	Seed    uint64 `json:"seed"`
	N       int    `json:"n"`      // queries measured
	Metric  string `json:"metric"` // what Score is: ndcg@10 of the source document
	// BM25 and Dense are the two single retrievers' scores; Best the best
	// candidate's; Chosen the chosen one's, which the guard may have
	// moved towards the stronger single retriever.
	BM25   float64   `json:"bm25"`
	Dense  float64   `json:"dense"`
	Best   Candidate `json:"best"`
	Chosen Candidate `json:"chosen"`
	// Reason says why Chosen and not Best.
	Reason string `json:"reason"`
	// Candidates is every setting measured, with its score and recall@10.
	Candidates []Candidate `json:"candidates"`
	TookMS     float64     `json:"took_ms,omitempty"`
	EncodeMS   float64     `json:"encode_ms,omitempty"` // the encoder's share of TookMS
}

// FusionDefaults are the hybrid defaults a calibration sets: alpha, fusion
// and RRF's k (RRFK when the fusion is relative or k was not set).
func (c *Calibration) FusionDefaults() (alpha float64, fusion string, k float64) {
	k = c.K
	if k == 0 {
		k = RRFK
	}
	return c.Alpha, c.Fusion, k
}

// Candidate is one fusion setting and what it scored.
type Candidate struct {
	Fusion   string  `json:"fusion"`
	Alpha    float64 `json:"alpha"`
	K        float64 `json:"rrf_k,omitempty"`
	Score    float64 `json:"score"`     // mean metric (×1, not ×100)
	Recall10 float64 `json:"recall@10"` // share of queries with the source in the top 10
}

// Name is a short label: "relative 0.3", "rrf(k=10) 0.5".
func (c Candidate) Name() string {
	if c.Fusion == MethodRRF {
		return fmt.Sprintf("rrf(k=%g) %.1f", c.K, c.Alpha)
	}
	return fmt.Sprintf("relative %.1f", c.Alpha)
}

// Probe is one calibration query: the source document it should find
// (the relevant ones, for labelled queries) and each retriever's ranked
// list for it, best first (Candidates(10) deep).
type Probe[K cmp.Ordered] struct {
	Relevant []K
	BM25     []Ranked[K]
	Dense    []Ranked[K]
}

// CalibrateOptions tune Calibrate; the zero value is the default.
type CalibrateOptions struct {
	// Z is the guard's width in standard errors (default 1: the
	// one-standard-error rule); negative disables the guard.
	Z float64
	// Margin is a minimum gain, in metric units, a fused setting must show
	// over the setting nearer the stronger retriever (default 0.005, half
	// a point of NDCG@10; negative: none). Pseudo-queries are not the
	// users' queries, so a gain on them smaller than this is not trusted;
	// labelled queries (kormed eval --dev) use none.
	Margin float64
}

// CalibrationGrid is the settings Calibrate compares: relative-score
// fusion at alpha 0, 0.1, …, 1 (0 is BM25 alone, 1 dense alone) and RRF
// with k 10 and 60 at alpha 0.1, …, 0.9.
func CalibrationGrid() []Candidate {
	var out []Candidate
	for i := 0; i <= 10; i++ {
		out = append(out, Candidate{Fusion: MethodRelative, Alpha: float64(i) / 10})
	}
	for _, k := range []float64{10, 60} {
		for i := 1; i <= 9; i++ {
			out = append(out, Candidate{Fusion: MethodRRF, Alpha: float64(i) / 10, K: k})
		}
	}
	return out
}

// FuseWith fuses a BM25 and a dense list by c (weights 1−alpha, alpha).
func FuseWith[K cmp.Ordered](c Candidate, bm, dense []Ranked[K]) []Fused[K] {
	lists := [][]Ranked[K]{bm, dense}
	w := []float64{1 - c.Alpha, c.Alpha}
	if c.Fusion == MethodRRF {
		return RRF(lists, w, c.K)
	}
	return RelativeScore(lists, w)
}

// Calibrate measures every setting of CalibrationGrid on the probes and
// picks one: the best by mean NDCG@10 of the probes' relevant documents,
// unless a setting nearer the stronger single retriever (BM25 alone at
// alpha 0 or dense alone at 1, whichever scores higher) is within noise
// of it — then the nearest such setting. "Within noise" is the
// one-standard-error rule (Breiman et al. 1984; Hastie, Tibshirani and
// Friedman, §7.10): the mean per-probe difference from the best is at most
// Z standard errors of that paired difference, or at most Margin. It
// guards against fitting the pseudo-queries' quirks: a fused gain the
// probes cannot tell from zero is not worth the risk that the weaker
// retriever pulls a real query down, so a weak model falls back to
// BM25-like weights and a model that clearly helps keeps its weight. It is
// pure and deterministic: the same probes give the same choice.
//
// Ties in score go to the setting nearer the stronger retriever, then to
// relative-score fusion, then to the larger RRF k, then grid order.
//
// Worked example (Z 1, Margin 0.005), three probes, each with one relevant
// document, NDCG@10 per probe for three of the settings:
//
//	setting        p1     p2     p3     mean
//	relative 0     1      0.5    0      0.5    BM25 alone
//	relative 1     0      0.5    0.5    0.333  dense alone
//	relative 0.3   1      0.631  0      0.544  the best
//
// BM25 is the stronger retriever. Against the best, BM25's per-probe
// differences are 0, 0.131, 0: mean 0.044, standard deviation 0.076,
// standard error 0.076/√3 = 0.044 — the gain is one standard error, within
// noise, so Calibrate chooses relative 0 (BM25 alone; or a setting between
// 0 and 0.3, had one also been within noise). With ten such probes the
// standard error shrinks to 0.014 and relative 0.3 stays.
func Calibrate[K cmp.Ordered](probes []Probe[K], o CalibrateOptions) Calibration {
	if o.Z == 0 {
		o.Z = 1
	}
	if o.Margin == 0 {
		o.Margin = 0.005
	} else if o.Margin < 0 {
		o.Margin = 0
	}
	grid := CalibrationGrid()
	n := len(probes)
	per := make([][]float64, len(grid)) // per[c][p]
	for ci := range grid {
		per[ci] = make([]float64, n)
	}
	for pi, p := range probes {
		pf := newProbeFusion(p)
		for ci, c := range grid {
			nd, hit := pf.score(c)
			per[ci][pi] = nd
			if hit {
				grid[ci].Recall10++
			}
		}
	}
	for ci := range grid {
		grid[ci].Score = mean(per[ci])
		if n > 0 {
			grid[ci].Recall10 /= float64(n)
		}
	}
	cal := Calibration{N: n, Metric: "ndcg@10", Candidates: grid}
	cal.BM25, cal.Dense = grid[0].Score, grid[10].Score
	target := 0.0 // alpha of the stronger single retriever
	if cal.Dense > cal.BM25 {
		target = 1
	}
	// dist orders settings by closeness to the stronger retriever.
	dist := func(c Candidate) float64 { return math.Abs(c.Alpha - target) }
	better := func(a, b int) bool { // a ranks before b
		x, y := grid[a], grid[b]
		if x.Score != y.Score {
			return x.Score > y.Score
		}
		if dist(x) != dist(y) {
			return dist(x) < dist(y)
		}
		if x.Fusion != y.Fusion {
			return x.Fusion == MethodRelative
		}
		if x.K != y.K {
			return x.K > y.K
		}
		return a < b
	}
	best := 0
	for ci := range grid {
		if better(ci, best) {
			best = ci
		}
	}
	cal.Best = grid[best]
	chosen := best
	if o.Z >= 0 && n > 1 {
		for ci := range grid {
			if dist(grid[ci]) >= dist(grid[best]) {
				continue
			}
			if !withinNoise(per[best], per[ci], o.Z, o.Margin) {
				continue // clearly worse than the best
			}
			if dc, dh := dist(grid[ci]), dist(grid[chosen]); dc < dh || dc == dh && better(ci, chosen) {
				chosen = ci
			}
		}
	}
	cal.Chosen = grid[chosen]
	cal.Fusion, cal.Alpha, cal.K = cal.Chosen.Fusion, cal.Chosen.Alpha, cal.Chosen.K
	side := "BM25"
	if target == 1 {
		side = "dense"
	}
	if chosen == best {
		cal.Reason = fmt.Sprintf("best of %d settings; none nearer %s (the stronger retriever) within noise of it", len(grid), side)
	} else {
		cal.Reason = fmt.Sprintf("best is %s (%.2f); %s (%.2f) is nearer %s (the stronger retriever) and within noise (%g standard errors or %g) of it",
			cal.Best.Name(), 100*cal.Best.Score, cal.Chosen.Name(), 100*cal.Chosen.Score, side, o.Z, 100*o.Margin)
	}
	return cal
}

// withinNoise reports whether a setting scoring cand per probe is within
// noise of the best (scoring best): the mean paired difference is at most
// z standard errors of it, or at most margin.
func withinNoise(best, cand []float64, z, margin float64) bool {
	d := make([]float64, len(best))
	for p := range d {
		d[p] = best[p] - cand[p]
	}
	m := mean(d)
	return m <= margin || m <= z*stdErr(d, m)
}

// probeFusion scores one probe under many settings without sorting: it
// keeps each document's contribution from each list (as fuse adds them)
// and ranks only the relevant documents, by counting the documents that
// fuse would order before them (Before). The scores are those of
// RelativeScore and RRF to the bit.
type probeFusion[K cmp.Ordered] struct {
	ids      []K
	in       [2][]bool
	rank     [2][]int     // 1-based rank in each list
	relative [2][]float64 // min-max normalised score in each list
	rel      []int        // the relevant documents' positions in ids
	nrel     int
	scores   []float64
}

func newProbeFusion[K cmp.Ordered](p Probe[K]) *probeFusion[K] {
	f := &probeFusion[K]{}
	at := map[K]int{}
	for li, l := range [2][]Ranked[K]{p.BM25, p.Dense} {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, r := range l {
			lo, hi = math.Min(lo, r.Score), math.Max(hi, r.Score)
		}
		for r, x := range l {
			j, ok := at[x.ID]
			if !ok {
				j = len(f.ids)
				at[x.ID] = j
				f.ids = append(f.ids, x.ID)
				for k := range 2 {
					f.in[k] = append(f.in[k], false)
					f.rank[k] = append(f.rank[k], 0)
					f.relative[k] = append(f.relative[k], 0)
				}
			}
			if f.in[li][j] {
				continue // a repeated ID counts at its best rank only
			}
			f.in[li][j], f.rank[li][j] = true, r+1
			f.relative[li][j] = 1
			if hi > lo {
				f.relative[li][j] = (x.Score - lo) / (hi - lo)
			}
		}
	}
	seen := map[K]bool{}
	for _, id := range p.Relevant {
		if seen[id] {
			continue
		}
		seen[id] = true
		f.nrel++
		if j, ok := at[id]; ok {
			f.rel = append(f.rel, j)
		}
	}
	f.scores = make([]float64, len(f.ids))
	return f
}

// score is NDCG@10 (binary relevance) of the relevant documents under c,
// and whether one is in the top 10.
func (f *probeFusion[K]) score(c Candidate) (ndcg float64, hit bool) {
	w := [2]float64{1 - c.Alpha, c.Alpha}
	for j := range f.ids {
		var s float64
		for li := range 2 {
			if !f.in[li][j] {
				continue
			}
			if c.Fusion == MethodRRF {
				s += w[li] * (1 / (c.K + float64(f.rank[li][j])))
			} else {
				s += w[li] * f.relative[li][j]
			}
		}
		f.scores[j] = s
	}
	var dcg, idcg float64
	for _, j := range f.rel {
		r := 1
		for e := range f.ids {
			if e != j && Before(f.scores[e], f.ids[e], f.scores[j], f.ids[j]) {
				r++
				if r > 10 {
					break
				}
			}
		}
		if r <= 10 {
			dcg += 1 / math.Log2(float64(r)+1)
			hit = true
		}
	}
	for i := 0; i < 10 && i < f.nrel; i++ {
		idcg += 1 / math.Log2(float64(i)+2)
	}
	if idcg == 0 {
		return 0, false
	}
	return dcg / idcg, hit
}

// ndcg10 is NDCG@10 with binary relevance.
func ndcg10[K cmp.Ordered](f []Fused[K], rel map[K]bool) float64 {
	if len(rel) == 0 {
		return 0
	}
	var dcg, idcg float64
	for i := 0; i < 10 && i < len(f); i++ {
		if rel[f[i].ID] {
			dcg += 1 / math.Log2(float64(i)+2)
		}
	}
	for i := 0; i < 10 && i < len(rel); i++ {
		idcg += 1 / math.Log2(float64(i)+2)
	}
	return dcg / idcg
}

func hit10[K cmp.Ordered](f []Fused[K], rel map[K]bool) bool {
	for i := 0; i < 10 && i < len(f); i++ {
		if rel[f[i].ID] {
			return true
		}
	}
	return false
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// stdErr is the standard error of the mean m of xs (sample deviation).
func stdErr(xs []float64, m float64) float64 {
	if len(xs) < 2 {
		return math.Inf(1)
	}
	var ss float64
	for _, x := range xs {
		ss += (x - m) * (x - m)
	}
	return math.Sqrt(ss/float64(len(xs)-1)) / math.Sqrt(float64(len(xs)))
}

// Substitute returns list (best first, depth long at most) with the
// document id's entry replaced by score: removed, and put back where score
// ranks it (Before) unless keep is false or it falls past depth. It is how
// a pseudo-query's source document, re-scored without the text the query
// took out of it, takes its place among the others.
func Substitute[K cmp.Ordered](list []Ranked[K], id K, score float64, keep bool, depth int) []Ranked[K] {
	out := make([]Ranked[K], 0, len(list)+1)
	for _, r := range list {
		if r.ID != id {
			out = append(out, r)
		}
	}
	if keep {
		i := sort.Search(len(out), func(i int) bool { return Before(score, id, out[i].Score, out[i].ID) })
		out = append(out, Ranked[K]{})
		copy(out[i+1:], out[i:])
		out[i] = Ranked[K]{ID: id, Score: score}
	}
	if len(out) > depth {
		out = out[:depth]
	}
	return out
}

// LabelledQuery is a query with the ids of the documents it should find
// (calibration on the user's own labelled queries: kormed index --dev,
// kormed eval --dev).
type LabelledQuery struct {
	Text     string
	Relevant []string
}
