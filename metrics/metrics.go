package metrics

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
)

// Hit is one retrieved document with its score.
type Hit struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
}

// Qrels maps query id → document id → graded judgement (≥ 1 is relevant).
// dataset.Qrels converts to it implicitly.
type Qrels = map[string]map[string]int

// Sort orders hits in place as trec_eval ranks them: score descending, ties
// by id descending.
//
// Example: {a 0.5} {b 0.9} {c 0.5} sorts to b, c, a (c and a tie at 0.5 and
// "c" > "a").
func Sort(hits []Hit) {
	slices.SortStableFunc(hits, func(a, b Hit) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		}
		return strings.Compare(b.ID, a.ID)
	})
}

// NumRelevant counts the judgements ≥ 1.
func NumRelevant(rel map[string]int) int {
	n := 0
	for _, r := range rel {
		if r >= 1 {
			n++
		}
	}
	return n
}

// NDCG is the normalised discounted cumulative gain at k (trec_eval
// ndcg_cut.k): DCG = Σ_{i≤k} rel_i / log2(i+1) over the ranking, divided by
// the same sum over the positive judgements sorted descending.
//
// Example: ranking [x, a, b], rel {a:1, b:2}, k = 3:
//
//	DCG  = 0/log2(2) + 1/log2(3) + 2/log2(4) = 0.6309 + 1      = 1.6309
//	IDCG = 2/log2(2) + 1/log2(3)             = 2 + 0.6309      = 2.6309
//	NDCG@3 = 1.6309 / 2.6309 = 0.6199
//
// With one relevant document NDCG@k is 1/log2(rank+1) if it is ranked
// within k: 1 at rank 1, 0.6309 at rank 2, 0.5 at rank 3.
func NDCG(ranked []string, rel map[string]int, k int) float64 {
	if k <= 0 {
		return 0
	}
	var dcg float64
	for i, id := range ranked {
		if i >= k {
			break
		}
		if g := rel[id]; g > 0 {
			dcg += float64(g) / math.Log2(float64(i)+2)
		}
	}
	if dcg == 0 {
		return 0
	}
	gains := make([]int, 0, len(rel))
	for _, g := range rel {
		if g > 0 {
			gains = append(gains, g)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(gains)))
	var idcg float64
	for i, g := range gains {
		if i >= k {
			break
		}
		idcg += float64(g) / math.Log2(float64(i)+2)
	}
	return dcg / idcg
}

// hits counts relevant documents among the first k of ranked.
func hits(ranked []string, rel map[string]int, k int) int {
	n := 0
	for i, id := range ranked {
		if i >= k {
			break
		}
		if rel[id] >= 1 {
			n++
		}
	}
	return n
}

// Precision is the fraction of the top k that is relevant, always divided by
// k (trec_eval P.k).
//
// Example: ranking [a, x, b], rel {a:1, b:1, c:1}: P@1 = 1/1 = 1,
// P@3 = 2/3 = 0.6667, P@10 = 2/10 = 0.2.
func Precision(ranked []string, rel map[string]int, k int) float64 {
	if k <= 0 {
		return 0
	}
	return float64(hits(ranked, rel, k)) / float64(k)
}

// Recall is the fraction of the relevant documents found in the top k
// (trec_eval recall.k); 0 when there is none to find.
//
// Example: ranking [a, x, b], rel {a:1, b:1, c:1}: R@1 = 1/3 = 0.3333,
// R@3 = 2/3 = 0.6667.
func Recall(ranked []string, rel map[string]int, k int) float64 {
	nrel := NumRelevant(rel)
	if k <= 0 || nrel == 0 {
		return 0
	}
	return float64(hits(ranked, rel, k)) / float64(nrel)
}

// F1 is the per-query harmonic mean of Precision and Recall at k; 0 when
// both are 0. (The KoE5 F1@k is not the mean of this; see Summary.)
//
// Example: ranking [a, x, b], rel {a:1, b:1, c:1}, k = 3: P = R = 2/3, so
// F1@3 = 2/3 = 0.6667.
func F1(ranked []string, rel map[string]int, k int) float64 {
	return harmonic(Precision(ranked, rel, k), Recall(ranked, rel, k))
}

func harmonic(p, r float64) float64 {
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// ReciprocalRank is 1/rank of the first relevant document if it is within
// the top k, else 0 (trec_eval recip_rank cut at k, BEIR's MRR@k).
//
// Example: ranking [x, y, a], rel {a:1}: RR@1 = RR@2 = 0, RR@3 = 1/3.
func ReciprocalRank(ranked []string, rel map[string]int, k int) float64 {
	for i, id := range ranked {
		if i >= k {
			break
		}
		if rel[id] >= 1 {
			return 1 / float64(i+1)
		}
	}
	return 0
}

// AveragePrecision is the sum of the precisions at the ranks of the relevant
// documents within the top k, divided by the number of relevant documents
// (trec_eval map_cut.k).
//
// Example: ranking [a, x, b], rel {a:1, b:1, c:1}, k = 3:
// (1/1 + 2/3) / 3 = 0.5556. With k = 1: (1/1) / 3 = 0.3333.
func AveragePrecision(ranked []string, rel map[string]int, k int) float64 {
	nrel := NumRelevant(rel)
	if nrel == 0 {
		return 0
	}
	var sum float64
	found := 0
	for i, id := range ranked {
		if i >= k {
			break
		}
		if rel[id] >= 1 {
			found++
			sum += float64(found) / float64(i+1)
		}
	}
	return sum / float64(nrel)
}

// Success is 1 if any relevant document is in the top k, else 0 (trec_eval
// success.k; "Accuracy@k" in sentence-transformers).
//
// Example: ranking [x, a], rel {a:1}: Acc@1 = 0, Acc@2 = 1.
func Success(ranked []string, rel map[string]int, k int) float64 {
	if hits(ranked, rel, k) > 0 {
		return 1
	}
	return 0
}

// Metric family names, in report order. Names of values are Family@k, e.g.
// "NDCG@10".
const (
	NameNDCG      = "NDCG"
	NameMAP       = "MAP"
	NameRecall    = "Recall"
	NamePrecision = "P"
	NameMRR       = "MRR"
	NameAccuracy  = "Acc"
	NameF1        = "F1"    // KoE5: 2·P̄·R̄/(P̄+R̄) of the query-averaged P@k and R@k
	NameF1PerQ    = "F1avg" // mean over queries of per-query F1@k
)

// Families lists the metric families in report order.
var Families = []string{NameNDCG, NameMAP, NameRecall, NamePrecision, NameMRR, NameAccuracy, NameF1, NameF1PerQ}

// Key names a metric value, e.g. Key("NDCG", 10) = "NDCG@10".
func Key(family string, k int) string { return fmt.Sprintf("%s@%d", family, k) }

// Options controls Evaluate.
type Options struct {
	Ks                 []int // cut-offs; default 1, 3, 5, 10
	IgnoreIdenticalIDs bool  // drop a hit whose id equals the query id (BEIR ignore_identical_ids)
	PerQuery           bool  // keep each query's values in Summary.PerQuery
}

// DefaultKs are the cut-offs used when Options.Ks is empty.
var DefaultKs = []int{1, 3, 5, 10}

// Summary is the result of Evaluate. Values are fractions in [0, 1].
type Summary struct {
	Ks        []int                         `json:"ks"`
	Evaluated int                           `json:"evaluated"`           // queries with ≥ 1 relevant document
	Skipped   int                           `json:"skipped"`             // judged queries with no relevant document
	Missing   int                           `json:"missing"`             // evaluated queries absent from the run (scored 0)
	Unjudged  int                           `json:"unjudged"`            // run queries absent from the qrels (ignored)
	Mean      map[string]float64            `json:"metrics"`             // Key(family, k) → mean over evaluated queries
	PerQuery  map[string]map[string]float64 `json:"per_query,omitempty"` // query → Key → value
}

// Evaluate scores a run against qrels and averages over the queries that
// have at least one relevant document. F1@k is the KoE5 F1 (harmonic mean
// of the averaged P@k and R@k); F1avg@k the mean of per-query F1@k.
//
// Example (the published KoE5-style check): 77 queries with one relevant
// document each, 55 found at rank 1, 9 at rank 2, 2 at rank 3, 11 not in
// the top 3:
//
//	NDCG@1 = 55/77                            = 0.7143
//	NDCG@3 = (55 + 9/log2(3) + 2/log2(4))/77  = 0.8010
//	P@3    = 66/(3·77) = 0.2857, R@3 = 66/77  = 0.8571
//	F1@3   = 2·0.2857·0.8571/(0.2857+0.8571)  = 0.4286
//
// A query id repeated among its own hits is an error (trec_eval rejects
// duplicate docnos too).
func Evaluate(qrels Qrels, run map[string][]Hit, opt Options) (*Summary, error) {
	ks := opt.Ks
	if len(ks) == 0 {
		ks = DefaultKs
	}
	for _, k := range ks {
		if k <= 0 {
			return nil, fmt.Errorf("metrics: cut-off k must be ≥ 1, got %d", k)
		}
	}
	s := &Summary{Ks: append([]int(nil), ks...), Mean: map[string]float64{}}
	if opt.PerQuery {
		s.PerQuery = map[string]map[string]float64{}
	}
	for qid := range run {
		if _, ok := qrels[qid]; !ok {
			s.Unjudged++
		}
	}
	qids := make([]string, 0, len(qrels))
	for qid, rel := range qrels {
		if NumRelevant(rel) == 0 {
			s.Skipped++
			continue
		}
		qids = append(qids, qid)
	}
	sort.Strings(qids)
	// keys[ki][f] is Key(Families[f], ks[ki]); sums is indexed the same way.
	keys := make([][]string, len(ks))
	sums := make([][]float64, len(ks))
	for ki, k := range ks {
		keys[ki] = make([]string, len(Families))
		sums[ki] = make([]float64, len(Families))
		for f, name := range Families {
			keys[ki][f] = Key(name, k)
		}
	}
	var buf []Hit
	var gains, ideal []int
	seen := map[string]struct{}{}
	for _, qid := range qids {
		rel := qrels[qid]
		hs, ok := run[qid]
		if !ok {
			s.Missing++
		}
		buf = buf[:0]
		clear(seen)
		for _, h := range hs {
			if opt.IgnoreIdenticalIDs && h.ID == qid {
				continue
			}
			if _, dup := seen[h.ID]; dup {
				return nil, fmt.Errorf("metrics: query %q: document %q retrieved twice", qid, h.ID)
			}
			seen[h.ID] = struct{}{}
			buf = append(buf, h)
		}
		Sort(buf)
		kmax := slices.Max(ks)
		gains = gains[:0]
		for i := 0; i < len(buf) && i < kmax; i++ {
			gains = append(gains, rel[buf[i].ID])
		}
		ideal = ideal[:0]
		for _, g := range rel {
			if g > 0 {
				ideal = append(ideal, g)
			}
		}
		slices.SortFunc(ideal, func(a, b int) int { return b - a })
		var pq map[string]float64
		if s.PerQuery != nil {
			pq = make(map[string]float64, len(ks)*len(Families))
			s.PerQuery[qid] = pq
		}
		for ki, k := range ks {
			vals := cut(gains, ideal, k)
			for f, v := range vals {
				sums[ki][f] += v
				if pq != nil {
					pq[keys[ki][f]] = v
				}
			}
		}
	}
	s.Evaluated = len(qids)
	for ki, k := range ks {
		for f := range Families {
			if s.Evaluated > 0 {
				s.Mean[keys[ki][f]] = sums[ki][f] / float64(s.Evaluated)
			} else {
				s.Mean[keys[ki][f]] = 0
			}
		}
		s.Mean[Key(NameF1, k)] = harmonic(s.Mean[Key(NamePrecision, k)], s.Mean[Key(NameRecall, k)])
	}
	return s, nil
}

// cut computes every family's value at k (in Families order) from the
// judgements of the ranked hits (gains, at least the first k) and the
// query's positive judgements sorted descending (ideal). It gives the same
// values as the per-query functions, which serve as its reference.
func cut(gains, ideal []int, k int) [8]float64 {
	nrel := len(ideal)
	var dcg, idcg, apSum, rr float64
	hit := 0
	for i := 0; i < k && i < len(gains); i++ {
		g := gains[i]
		if g <= 0 {
			continue
		}
		dcg += float64(g) / math.Log2(float64(i)+2)
		hit++
		apSum += float64(hit) / float64(i+1)
		if rr == 0 {
			rr = 1 / float64(i+1)
		}
	}
	for i := 0; i < k && i < nrel; i++ {
		idcg += float64(ideal[i]) / math.Log2(float64(i)+2)
	}
	var v [8]float64
	if dcg > 0 {
		v[0] = dcg / idcg
	}
	if nrel > 0 {
		v[1] = apSum / float64(nrel)
		v[2] = float64(hit) / float64(nrel)
	}
	v[3] = float64(hit) / float64(k)
	v[4] = rr
	if hit > 0 {
		v[5] = 1
	}
	v[6] = harmonic(v[3], v[2])
	v[7] = v[6]
	return v
}
