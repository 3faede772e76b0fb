package eval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/metrics"
)

// CollapseOptions controls Diagnose. Zero fields take the defaults.
type CollapseOptions struct {
	RandomPairs   int     // random (query, non-relevant doc) pairs; default 10000
	CorpusPairs   int     // doc pairs sampled for anisotropy above ExactCorpus docs; default 20000
	ExactCorpus   int     // corpora up to this size get the exact mean over all pairs; default 1000
	Seed          uint64  // sampling seed; default 1
	MinGap        float64 // warn when mean(relevant) − mean(random) is below; default 0.05
	MaxRandomMean float64 // warn when mean(random) is above; default 0.85
}

func (o CollapseOptions) withDefaults() CollapseOptions {
	if o.RandomPairs <= 0 {
		o.RandomPairs = 10000
	}
	if o.CorpusPairs <= 0 {
		o.CorpusPairs = 20000
	}
	if o.ExactCorpus <= 0 {
		o.ExactCorpus = 1000
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	if o.MinGap == 0 {
		o.MinGap = 0.05
	}
	if o.MaxRandomMean == 0 {
		o.MaxRandomMean = 0.85
	}
	return o
}

// Stats summarises a sample of cosines.
type Stats struct {
	N    int     `json:"n"`
	Mean float64 `json:"mean"`
	Std  float64 `json:"std"` // population standard deviation
	Min  float64 `json:"min"`
	Max  float64 `json:"max"`
}

func stats(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := Stats{N: len(xs), Min: xs[0], Max: xs[0]}
	var sum float64
	for _, x := range xs {
		sum += x
		s.Min, s.Max = math.Min(s.Min, x), math.Max(s.Max, x)
	}
	s.Mean = sum / float64(len(xs))
	var ss float64
	for _, x := range xs {
		ss += (x - s.Mean) * (x - s.Mean)
	}
	s.Std = math.Sqrt(ss / float64(len(xs)))
	return s
}

// Collapse is an embedding-collapse diagnosis: when unrelated texts score
// nearly as high as related ones (the drug-embedding project saw 0.91–0.94
// for unrelated drugs), cosine ranks poorly and thresholds mean nothing.
type Collapse struct {
	Relevant        Stats     `json:"relevant"`         // cosine of every (query, relevant doc) pair
	Random          Stats     `json:"random"`           // cosine of sampled (query, non-relevant doc) pairs
	Gap             float64   `json:"gap"`              // Relevant.Mean − Random.Mean
	Anisotropy      float64   `json:"anisotropy"`       // mean cosine over pairs of distinct corpus documents
	AnisotropyPairs int       `json:"anisotropy_pairs"` // pairs it averaged
	AnisotropyExact bool      `json:"anisotropy_exact"` // all pairs (true) or a sample
	Seed            uint64    `json:"seed"`
	Warnings        []string  `json:"warnings,omitempty"`
	RelevantCos     []float64 `json:"-"`
	RandomCos       []float64 `json:"-"`
}

// Diagnose compares the cosine of each relevant (query, document) pair with
// that of random (query, non-relevant document) pairs and measures the
// corpus's anisotropy. queries and docs map ids to vectors (any norm; they
// are normalised here); qrels judgements ≥ 1 are relevant. Queries and
// documents without a vector are left out. Random pairs draw a query
// uniformly among those with a relevant document and a document uniformly
// from the corpus (ids in sorted order), rejecting the query's relevant
// documents, from a PCG generator seeded with opt.Seed, so a diagnosis is
// reproducible.
//
// Example: with q_i = d_i = 0.96·e0 + 0.28·e_i (a shared direction plus a
// small own one), every relevant pair has cosine 1, every other pair
// 0.96² = 0.9216: Gap 0.0784, Anisotropy 0.9216, and a warning because the
// random mean is above 0.85.
func Diagnose(queries, docs map[string][]float32, qrels metrics.Qrels, opt CollapseOptions) (*Collapse, error) {
	opt = opt.withDefaults()
	qn, err := normalizedMap(queries, "query")
	if err != nil {
		return nil, err
	}
	dn, err := normalizedMap(docs, "document")
	if err != nil {
		return nil, err
	}
	dim := -1
	for _, m := range []map[string][]float64{qn, dn} {
		for id, v := range m {
			if dim < 0 {
				dim = len(v)
			} else if len(v) != dim {
				return nil, fmt.Errorf("collapse: vector %q has dimension %d, want %d", id, len(v), dim)
			}
		}
	}
	docIDs := sortedKeys(dn)
	if len(docIDs) < 2 {
		return nil, fmt.Errorf("collapse: need at least 2 document vectors, have %d", len(docIDs))
	}
	c := &Collapse{Seed: opt.Seed}
	var qids []string
	for _, qid := range sortedKeys(qn) {
		rel := qrels[qid]
		had := false
		for _, did := range sortedKeys(rel) {
			if rel[did] >= 1 {
				if dv, ok := dn[did]; ok {
					c.RelevantCos = append(c.RelevantCos, dot(qn[qid], dv))
					had = true
				}
			}
		}
		if had {
			qids = append(qids, qid)
		}
	}
	if len(qids) == 0 {
		return nil, fmt.Errorf("collapse: no query has a relevant document with a vector")
	}
	rng := rand.New(rand.NewPCG(opt.Seed, 0x9e3779b97f4a7c15))
	for tries := 0; len(c.RandomCos) < opt.RandomPairs && tries < 50*opt.RandomPairs; tries++ {
		qid := qids[rng.IntN(len(qids))]
		did := docIDs[rng.IntN(len(docIDs))]
		if qrels[qid][did] >= 1 {
			continue
		}
		c.RandomCos = append(c.RandomCos, dot(qn[qid], dn[did]))
	}
	if len(c.RandomCos) == 0 {
		return nil, fmt.Errorf("collapse: every document is relevant to every query; no random pairs")
	}
	n := len(docIDs)
	var sum float64
	if n <= opt.ExactCorpus {
		for i := 0; i < n; i++ {
			for j := i + 1; j < n; j++ {
				sum += dot(dn[docIDs[i]], dn[docIDs[j]])
			}
		}
		c.AnisotropyPairs, c.AnisotropyExact = n*(n-1)/2, true
	} else {
		for p := 0; p < opt.CorpusPairs; p++ {
			i := rng.IntN(n)
			j := rng.IntN(n - 1)
			if j >= i {
				j++
			}
			sum += dot(dn[docIDs[i]], dn[docIDs[j]])
		}
		c.AnisotropyPairs = opt.CorpusPairs
	}
	c.Anisotropy = sum / float64(c.AnisotropyPairs)
	c.Relevant, c.Random = stats(c.RelevantCos), stats(c.RandomCos)
	c.Gap = c.Relevant.Mean - c.Random.Mean
	if c.Gap < opt.MinGap {
		c.Warnings = append(c.Warnings, fmt.Sprintf("collapse: relevant pairs score only %.3f above random pairs (mean %.3f vs %.3f; threshold %.3f): the embedding hardly separates related from unrelated texts",
			c.Gap, c.Relevant.Mean, c.Random.Mean, opt.MinGap))
	}
	if c.Random.Mean > opt.MaxRandomMean {
		c.Warnings = append(c.Warnings, fmt.Sprintf("collapse: unrelated (query, document) pairs have mean cosine %.3f (> %.2f): scores are compressed near 1, so similarity thresholds are meaningless",
			c.Random.Mean, opt.MaxRandomMean))
	}
	return c, nil
}

// WriteCollapsePNG writes the histogram of c's two distributions to path,
// atomically.
func WriteCollapsePNG(path string, c *Collapse, title string) error {
	png, err := collapsePNG(c, title)
	if err != nil {
		return err
	}
	return atomicfile.WriteBytes(path, png)
}

// Summary is a few lines describing c, warnings last.
func (c *Collapse) Summary() string {
	s := fmt.Sprintf("relevant pairs: n=%d mean %.4f (sd %.4f, %.4f…%.4f)\nrandom pairs:   n=%d mean %.4f (sd %.4f, %.4f…%.4f)\ngap %.4f; corpus anisotropy (mean pairwise cosine, %d pairs%s) %.4f\n",
		c.Relevant.N, c.Relevant.Mean, c.Relevant.Std, c.Relevant.Min, c.Relevant.Max,
		c.Random.N, c.Random.Mean, c.Random.Std, c.Random.Min, c.Random.Max,
		c.Gap, c.AnisotropyPairs, map[bool]string{true: ", exact", false: ", sampled"}[c.AnisotropyExact], c.Anisotropy)
	for _, w := range c.Warnings {
		s += "WARNING " + w + "\n"
	}
	return s
}

func normalizedMap(m map[string][]float32, what string) (map[string][]float64, error) {
	out := make(map[string][]float64, len(m))
	for id, v := range m {
		var ss float64
		for _, x := range v {
			ss += float64(x) * float64(x)
		}
		if len(v) == 0 || ss == 0 || math.IsNaN(ss) || math.IsInf(ss, 0) {
			return nil, fmt.Errorf("collapse: %s %q: vector has norm %v", what, id, math.Sqrt(ss))
		}
		inv := 1 / math.Sqrt(ss)
		w := make([]float64, len(v))
		for i, x := range v {
			w[i] = float64(x) * inv
		}
		out[id] = w
	}
	return out, nil
}

func dot(a, b []float64) float64 {
	var s float64
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
