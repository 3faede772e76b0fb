package drugbench

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"

	"github.com/kormed/kormed/atomicfile"
)

// Hard-negative kinds, in the order they are tried (which ones apply
// depends on the query kind).
const (
	NegSameIngredientOtherType = "same-ingredient-other-type"
	NegSameCompany             = "same-company"
	NegSimilarName             = "similar-name-other-type"
	NegRandom                  = "random-other-type"
)

// Triplet is one fine-tuning example from a train query.
type Triplet struct {
	QueryID, Query       string
	PositiveID, Positive string
	NegativeID, Negative string
	NegativeKind         string
}

// positivesPerQuery caps how many relevant documents of one train query
// become examples (type queries have up to 20).
const positivesPerQuery = 2

// Triplets builds (query, relevant document, hard negative) examples
// from the train queries only. The negative is never relevant to the
// query. Same seed → same triplets.
func (b *Bench) Triplets() []Triplet {
	g := b.g
	rng := rand.New(rand.NewPCG(b.Seed, 0xD1B54A32D192ED03))
	nb := newNameIndex(b.Source.Products)
	var out []Triplet
	for _, q := range b.Queries {
		if q.Split != SplitTrain {
			continue
		}
		pos := make([]string, 0, len(q.Rel))
		for id := range q.Rel {
			pos = append(pos, id)
		}
		sort.Slice(pos, func(i, j int) bool {
			if q.Rel[pos[i]] != q.Rel[pos[j]] {
				return q.Rel[pos[i]] > q.Rel[pos[j]]
			}
			return pos[i] < pos[j]
		})
		if len(pos) > positivesPerQuery {
			// Keep the best-graded one, then random others.
			rest := pos[1:]
			shuffle(rng, rest)
			pos = append(pos[:1], rest[:positivesPerQuery-1]...)
		}
		for _, id := range pos {
			pi := b.prodIdx[id]
			ni, kind := g.hardNegative(q, pi, nb, rng)
			if ni < 0 {
				continue
			}
			out = append(out, Triplet{
				QueryID: q.ID, Query: q.Text,
				PositiveID: id, Positive: b.Docs[pi].Text,
				NegativeID: b.Docs[ni].ID, Negative: b.Docs[ni].Text,
				NegativeKind: kind,
			})
		}
	}
	return out
}

// hardNegative picks a non-relevant product for query q whose relevant
// product is pi, by the strategy order of q's kind.
func (g *gen) hardNegative(q Query, pi int, nb *nameIndex, rng *rand.Rand) (int, string) {
	prods := g.b.Source.Products
	p := &prods[pi]
	ok := func(i int) bool { _, rel := q.Rel[prods[i].Seq]; return !rel && i != pi }
	sameIngOtherType := func() int {
		count := map[int]int{}
		for _, ing := range p.Ingredients {
			for _, i := range g.ingProds[ing] {
				if prods[i].TypeCode != p.TypeCode && ok(i) {
					count[i]++
				}
			}
		}
		return bestBy(count, nb, pi)
	}
	sameCompany := func() int {
		count := map[int]int{}
		for i := range prods {
			if prods[i].Company == p.Company && ok(i) {
				count[i] = 1
			}
		}
		return bestBy(count, nb, pi)
	}
	similarName := func() int {
		best, bestSim := -1, 0.0
		for i, sim := range nb.similar(pi) {
			if prods[i].TypeCode != p.TypeCode && ok(i) && (sim > bestSim || sim == bestSim && i < best) {
				best, bestSim = i, sim
			}
		}
		return best
	}
	var order []func() int
	var kinds []string
	switch q.Kind {
	case KindName:
		order, kinds = []func() int{similarName, sameCompany}, []string{NegSimilarName, NegSameCompany}
	case KindIngredient:
		order, kinds = []func() int{sameCompany, similarName}, []string{NegSameCompany, NegSimilarName}
	case KindType:
		order, kinds = []func() int{sameIngOtherType, similarName, sameCompany}, []string{NegSameIngredientOtherType, NegSimilarName, NegSameCompany}
	case KindMixed:
		order, kinds = []func() int{sameIngOtherType, sameCompany, similarName}, []string{NegSameIngredientOtherType, NegSameCompany, NegSimilarName}
	}
	for i, f := range order {
		if n := f(); n >= 0 {
			return n, kinds[i]
		}
	}
	// Last resort: a random product of another type.
	for tries := 0; tries < 1000; tries++ {
		i := intn(rng, len(prods))
		if prods[i].TypeCode != p.TypeCode && ok(i) {
			return i, NegRandom
		}
	}
	return -1, ""
}

// bestBy returns the candidate with the highest count, then the most
// similar name to pi, then the lowest index; -1 if none.
func bestBy(count map[int]int, nb *nameIndex, pi int) int {
	if len(count) == 0 {
		return -1
	}
	sims := nb.similar(pi)
	best := -1
	for i, c := range count {
		if best < 0 || c > count[best] ||
			c == count[best] && (sims[i] > sims[best] || sims[i] == sims[best] && i < best) {
			best = i
		}
	}
	return best
}

// nameIndex finds products with similar base names by character-bigram
// Jaccard overlap.
type nameIndex struct {
	grams []map[string]struct{}
	post  map[string][]int
	cache map[int]map[int]float64
}

func newNameIndex(ps []Product) *nameIndex {
	nb := &nameIndex{post: map[string][]int{}, cache: map[int]map[int]float64{}}
	for i, p := range ps {
		g := bigrams(p.BaseName)
		nb.grams = append(nb.grams, g)
		for bg := range g {
			nb.post[bg] = append(nb.post[bg], i)
		}
	}
	return nb
}

// similar maps every product sharing a bigram with product i (other than
// i) to its Jaccard similarity.
func (nb *nameIndex) similar(i int) map[int]float64 {
	if m, ok := nb.cache[i]; ok {
		return m
	}
	ov := map[int]int{}
	for bg := range nb.grams[i] {
		for _, j := range nb.post[bg] {
			if j != i {
				ov[j]++
			}
		}
	}
	m := make(map[int]float64, len(ov))
	for j, o := range ov {
		m[j] = float64(o) / float64(len(nb.grams[i])+len(nb.grams[j])-o)
	}
	nb.cache[i] = m
	return m
}

// WriteTrain writes fine-tuning data from the train queries to dir:
// pairs.csv (query,context,label with 1.0/0.0, the seed project's CSV
// format: one positive and one hard-negative row per triplet),
// triplets.jsonl ({"query","document","hard_negative"}),
// triplets-meta.tsv (ids and the hard-negative kind) and README.md with
// the attribution. It returns the triplets written.
func (b *Bench) WriteTrain(dir string) ([]Triplet, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ts := b.Triplets()
	err := atomicfile.WriteFile(filepath.Join(dir, "pairs.csv"), func(w io.Writer) error {
		cw := csv.NewWriter(w)
		if err := cw.Write([]string{"query", "context", "label"}); err != nil {
			return err
		}
		for _, t := range ts {
			if err := cw.Write([]string{t.Query, t.Positive, "1.0"}); err != nil {
				return err
			}
			if err := cw.Write([]string{t.Query, t.Negative, "0.0"}); err != nil {
				return err
			}
		}
		cw.Flush()
		return cw.Error()
	})
	if err != nil {
		return nil, err
	}
	err = atomicfile.WriteFile(filepath.Join(dir, "triplets.jsonl"), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		for _, t := range ts {
			rec := struct {
				Query        string `json:"query"`
				Document     string `json:"document"`
				HardNegative string `json:"hard_negative"`
			}{t.Query, t.Positive, t.Negative}
			if err := enc.Encode(rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	err = atomicfile.WriteFile(filepath.Join(dir, "triplets-meta.tsv"), func(w io.Writer) error {
		fmt.Fprintln(w, "query-id\tpositive-id\tnegative-id\tnegative-kind")
		for _, t := range ts {
			if _, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\n", t.QueryID, t.PositiveID, t.NegativeID, t.NegativeKind); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	kinds := map[string]int{}
	for _, t := range ts {
		kinds[t.NegativeKind]++
	}
	return ts, atomicfile.WriteFile(filepath.Join(dir, "README.md"), func(w io.Writer) error {
		fmt.Fprintf(w, "# drug-bench fine-tuning data (train templates only)\n\n## Attribution\n\n%s\n", Attribution)
		fmt.Fprintf(w, "## Files\n\n- pairs.csv: query,context,label (1.0 relevant product text, 0.0 hard negative), %d rows.\n", 2*len(ts))
		fmt.Fprintf(w, "- triplets.jsonl: {\"query\",\"document\",\"hard_negative\"}, %d lines.\n", len(ts))
		fmt.Fprintf(w, "- triplets-meta.tsv: query id, positive and negative item_sequence, negative kind.\n\n")
		fmt.Fprintf(w, "Built from the train queries of drug-bench (seed %d); no test template appears here.\n\nHard negatives:\n\n", b.Seed)
		for _, k := range []string{NegSameIngredientOtherType, NegSameCompany, NegSimilarName, NegRandom} {
			fmt.Fprintf(w, "- %s: %d\n", k, kinds[k])
		}
		return nil
	})
}
