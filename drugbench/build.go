package drugbench

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kormed/kormed/dataset"
)

// Options control Build.
type Options struct {
	Seed        uint64 // sampling and template choice; same seed → same benchmark
	TestPerKind int    // test queries sampled per kind other than type; 0 means DefaultTestPerKind
	MaxRelevant int    // ingredient/English entities in more products are not asked; 0 means DefaultMaxRelevant
	// HoldOutEntities also keeps the entities of test queries (product
	// families, ingredients, English names, type codes) out of the train
	// queries, so fine-tuning sees neither the test wordings nor the
	// test subjects.
	HoldOutEntities bool
}

// Defaults for Options.
const (
	DefaultTestPerKind = 200
	DefaultMaxRelevant = 50
)

// Query is one generated query with its provenance and judgements.
type Query struct {
	ID       string
	Text     string
	Split    string // SplitTrain or SplitTest
	Kind     string // KindName, …
	Template string // Template.ID, or "type-p-<code>-<split>-<n>" for a hand-written phrase
	Entity   string // what was asked about: a base name, an ingredient, a type code, …
	Rel      map[string]int
}

// Bench is a built benchmark.
type Bench struct {
	Source  *Source
	Seed    uint64
	HoldOut bool          // Options.HoldOutEntities
	Docs    []dataset.Doc // one per product, in Source.Products order
	Queries []Query       // test queries first, then train; each by kind order
	prodIdx map[string]int
	g       *gen
}

// Build generates the corpus and the train/test queries from src.
func Build(src *Source, opt Options) (*Bench, error) {
	if opt.TestPerKind <= 0 {
		opt.TestPerKind = DefaultTestPerKind
	}
	if opt.MaxRelevant <= 0 {
		opt.MaxRelevant = DefaultMaxRelevant
	}
	b := &Bench{Source: src, Seed: opt.Seed, HoldOut: opt.HoldOutEntities, prodIdx: map[string]int{}}
	for i, p := range src.Products {
		b.prodIdx[p.Seq] = i
		b.Docs = append(b.Docs, dataset.Doc{ID: p.Seq, Title: p.Name, Text: docText(&p, src.Types[p.TypeCode])})
	}
	g := &gen{b: b, opt: opt}
	b.g = g
	g.index()
	for ki, kind := range Kinds {
		testEntity := map[string]bool{}
		for si, split := range []string{SplitTest, SplitTrain} {
			rng := rand.New(rand.NewPCG(opt.Seed, uint64(ki*2+si+1)*0x9E3779B97F4A7C15))
			var qs []Query
			switch kind {
			case KindName:
				qs = g.nameQueries(split, rng)
			case KindIngredient:
				qs = g.ingredientQueries(split, rng)
			case KindType:
				qs = g.typeQueries(split, rng)
			case KindMixed:
				qs = g.mixedQueries(split, rng)
			}
			if split == SplitTest && kind == KindType && opt.HoldOutEntities {
				// Types are few: test on a random half of them, train on the rest.
				codes := append([]string(nil), g.typeCodes...)
				shuffle(rng, codes)
				half := map[string]bool{}
				for _, c := range codes[:len(codes)/2] {
					half[c] = true
				}
				kept := qs[:0]
				for _, q := range qs {
					if half[q.Entity] {
						kept = append(kept, q)
					}
				}
				qs = kept
			}
			// Type queries are few (one per type name, definition and
			// hand-written phrase) and are all kept.
			if split == SplitTest && kind != KindType && len(qs) > opt.TestPerKind {
				shuffle(rng, qs)
				qs = qs[:opt.TestPerKind]
			}
			if split == SplitTest {
				for _, q := range qs {
					testEntity[entityKey(q.Entity)] = true
				}
			} else if opt.HoldOutEntities {
				kept := qs[:0]
				for _, q := range qs {
					if !testEntity[entityKey(q.Entity)] {
						kept = append(kept, q)
					}
				}
				qs = kept
			}
			g.add(split, kind, qs)
		}
	}
	// Test queries first, then train, so ids read naturally.
	sort.SliceStable(g.out, func(i, j int) bool {
		return g.out[i].Split == SplitTest && g.out[j].Split == SplitTrain
	})
	b.Queries = g.out
	return b, nil
}

// entityKey is what HoldOutEntities compares: the English name of a
// "Name + type" mixed entity, otherwise the entity itself.
func entityKey(e string) string {
	k, _, _ := strings.Cut(e, " + ")
	return strings.ToLower(k)
}

// docText is the searchable text of a product.
func docText(p *Product, t *Type) string {
	var parts []string
	add := func(label, v string) {
		if v = strings.TrimSpace(v); v != "" {
			if label != "" {
				v = label + ": " + v
			}
			parts = append(parts, strings.TrimRight(v, ". ")+".")
		}
	}
	add("", p.Name)
	add("업체", p.Company)
	if t != nil {
		add("분류", strings.Join(t.Names, ", ")+" ("+p.TypeCode+")")
	} else {
		add("분류", p.TypeCode)
	}
	add("성분", strings.Join(p.Ingredients, ", "))
	add("영문 성분", strings.Join(p.IngredientsEng, ", "))
	if t != nil {
		add("분류 설명", strings.Join(t.Definitions, " "))
	}
	add("성상", p.Appearance)
	add("저장방법", p.Storage)
	return strings.Join(parts, " ")
}

type gen struct {
	b   *Bench
	opt Options
	out []Query
	// texts already used by a test query (train queries may not repeat them)
	seen map[string]string

	bases     []string         // sorted base names
	baseProds map[string][]int // base name → product indexes
	ings      []string
	ingProds  map[string][]int
	engs      []string // lower-cased keys
	engName   map[string]string
	engProds  map[string][]int
	typeCodes []string
	typeProds map[string][]int
	typeWords map[string][]string // usable type names for templates
}

var ingOK = regexp.MustCompile(`^[가-힣A-Za-z0-9 ·\-,]+$`)

func (g *gen) index() {
	g.seen = map[string]string{}
	g.baseProds = map[string][]int{}
	g.ingProds = map[string][]int{}
	g.engName = map[string]string{}
	g.engProds = map[string][]int{}
	g.typeProds = map[string][]int{}
	g.typeWords = map[string][]string{}
	for i, p := range g.b.Source.Products {
		g.baseProds[p.BaseName] = append(g.baseProds[p.BaseName], i)
		for _, ing := range p.Ingredients {
			g.ingProds[ing] = append(g.ingProds[ing], i)
		}
		for _, e := range p.IngredientsEng {
			k := strings.ToLower(e)
			if _, ok := g.engName[k]; !ok {
				g.engName[k] = e
			}
			if l := g.engProds[k]; len(l) == 0 || l[len(l)-1] != i {
				g.engProds[k] = append(l, i)
			}
		}
		g.typeProds[p.TypeCode] = append(g.typeProds[p.TypeCode], i)
	}
	for base := range g.baseProds {
		if utf8.RuneCountInString(base) >= 2 {
			g.bases = append(g.bases, base)
		}
	}
	for ing, ps := range g.ingProds {
		n := utf8.RuneCountInString(ing)
		if n >= 2 && n <= 20 && len(ps) <= g.opt.MaxRelevant && ingOK.MatchString(ing) {
			g.ings = append(g.ings, ing)
		}
	}
	for k, ps := range g.engProds {
		n := len(k)
		if n >= 3 && n <= 40 && len(ps) <= g.opt.MaxRelevant && ingOK.MatchString(k) && strings.ContainsAny(k, "abcdefghijklmnopqrstuvwxyz") {
			g.engs = append(g.engs, k)
		}
	}
	for code, t := range g.b.Source.Types {
		if len(g.typeProds[code]) == 0 {
			continue
		}
		g.typeCodes = append(g.typeCodes, code)
		for _, n := range t.Names {
			// Codes published under several names sometimes carry
			// fragments of one long name ("리케치아", "음성균"); only
			// names that read as a drug class are used in templates.
			if len(t.Names) == 1 || strings.HasSuffix(n, "제") || strings.HasSuffix(n, "약") || strings.HasSuffix(n, "류") {
				g.typeWords[code] = append(g.typeWords[code], n)
			}
		}
	}
	sort.Strings(g.bases)
	sort.Strings(g.ings)
	sort.Strings(g.engs)
	sort.Strings(g.typeCodes)
}

// add numbers qs and appends them, dropping repeated texts: within a
// split the first wins, and a train query may not repeat a test text.
func (g *gen) add(split, kind string, qs []Query) {
	n := 0
	for _, q := range qs {
		if prev, dup := g.seen[q.Text]; dup && (prev == SplitTest || prev == split) {
			continue
		}
		g.seen[q.Text] = split
		n++
		q.ID = fmt.Sprintf("%s-%s-%04d", split, kind, n)
		q.Split, q.Kind = split, kind
		g.out = append(g.out, q)
	}
}

func templatesFor(kind, split, slot string) []Template {
	var out []Template
	for _, t := range Templates {
		if t.Kind == kind && t.Split == split && (slot == "" || t.Slot == slot) {
			out = append(out, t)
		}
	}
	return out
}

// intn returns a number in [0, n) from the PCG stream; written out
// (rather than rand.IntN) so the benchmark for a seed never changes with
// the Go release.
func intn(rng *rand.Rand, n int) int { return int(rng.Uint64() % uint64(n)) }

func pick[T any](rng *rand.Rand, s []T) T { return s[intn(rng, len(s))] }

func shuffle[T any](rng *rand.Rand, s []T) {
	for i := len(s) - 1; i > 0; i-- {
		j := intn(rng, i+1)
		s[i], s[j] = s[j], s[i]
	}
}

func (g *gen) rel(idx []int, score int) map[string]int {
	m := make(map[string]int, len(idx))
	for _, i := range idx {
		m[g.b.Source.Products[i].Seq] = score
	}
	return m
}

// unitAlt maps a strength unit to the other common spelling.
var unitAlt = []struct {
	re  *regexp.Regexp
	alt string
}{
	{regexp.MustCompile(`(밀리그램|밀리그람)`), "mg"},
	{regexp.MustCompile(`(?i)mg`), "밀리그램"},
	{regexp.MustCompile(`(마이크로그램|마이크로그람)`), "μg"},
	{regexp.MustCompile(`(μg|㎍|mcg)`), "마이크로그램"},
	{regexp.MustCompile(`(밀리리터)`), "mL"},
	{regexp.MustCompile(`(?i)ml`), "밀리리터"},
	{regexp.MustCompile(`(그램|그람)`), "g"},
}

// altStrength rewrites a strength in its other spelling
// ("10밀리그램" → "10mg", "24mg" → "24밀리그램").
func altStrength(s string) string {
	for _, u := range unitAlt {
		if u.re.MatchString(s) {
			return u.re.ReplaceAllString(s, u.alt)
		}
	}
	return s
}

// normStrength makes strengths comparable across spellings.
func normStrength(s string) string {
	s = strings.ToLower(strings.ReplaceAll(s, " ", ""))
	for _, r := range []struct{ from, to string }{
		{"밀리그램", "mg"}, {"밀리그람", "mg"}, {"마이크로그램", "μg"}, {"마이크로그람", "μg"}, {"㎍", "μg"}, {"mcg", "μg"},
		{"밀리리터", "ml"}, {"그램", "g"}, {"그람", "g"},
	} {
		s = strings.ReplaceAll(s, r.from, r.to)
	}
	return s
}

// nameQueries asks about a product family by its name without strength
// (every product of that base name relevant), or, for half of the
// families with a strength, by name plus the strength in its other
// spelling (that strength 2, the family's other strengths 1).
func (g *gen) nameQueries(split string, rng *rand.Rand) []Query {
	tpls := templatesFor(KindName, split, "")
	var out []Query
	for _, base := range g.bases {
		members := g.baseProds[base]
		t := pick(rng, tpls)
		p := &g.b.Source.Products[pick(rng, members)]
		name, rel := base, g.rel(members, 1)
		if p.Strength != "" && intn(rng, 2) == 0 {
			name = base + " " + altStrength(p.Strength)
			want := normStrength(p.Strength)
			for _, i := range members {
				if normStrength(g.b.Source.Products[i].Strength) == want {
					rel[g.b.Source.Products[i].Seq] = 2
				}
			}
		}
		out = append(out, Query{Text: render(t.Pattern, map[string]string{"name": name}), Template: t.ID, Entity: base, Rel: rel})
	}
	return out
}

func (g *gen) ingredientQueries(split string, rng *rand.Rand) []Query {
	tpls := templatesFor(KindIngredient, split, "")
	var out []Query
	for _, ing := range g.ings {
		t := pick(rng, tpls)
		out = append(out, Query{Text: render(t.Pattern, map[string]string{"ing": ing}), Template: t.ID, Entity: ing, Rel: g.rel(g.ingProds[ing], 1)})
	}
	return out
}

// typeQueries ask for every product of a type: by a type name, by the
// purpose (train) or the conditions (test) taken from its definition,
// and by hand-written colloquial phrases.
func (g *gen) typeQueries(split string, rng *rand.Rand) []Query {
	var out []Query
	nameT := templatesFor(KindType, split, "type")
	for _, code := range g.typeCodes {
		rel := g.rel(g.typeProds[code], 1)
		for _, w := range g.typeWords[code] {
			t := pick(rng, nameT)
			out = append(out, Query{Text: render(t.Pattern, map[string]string{"type": w}), Template: t.ID, Entity: code, Rel: rel})
		}
		for _, def := range g.b.Source.Types[code].Definitions {
			if split == SplitTrain {
				if p := definitionPurpose(def); p != "" {
					t := templatesFor(KindType, split, "purpose")[0]
					out = append(out, Query{Text: render(t.Pattern, map[string]string{"purpose": p}), Template: t.ID, Entity: code, Rel: rel})
				}
				continue
			}
			ds := definitionDiseases(def)
			if len(ds) == 0 {
				continue
			}
			shuffle(rng, ds)
			k := 1
			if len(ds) > 1 && intn(rng, 2) == 0 {
				k = 2
			}
			disease := strings.Join(ds[:k], ", ")
			t := pick(rng, templatesFor(KindType, split, "disease"))
			out = append(out, Query{Text: render(t.Pattern, map[string]string{"disease": disease}), Template: t.ID, Entity: code, Rel: rel})
		}
		n := 0
		for _, ph := range Phrases {
			if ph.Code == code && ph.Split == split {
				n++
				out = append(out, Query{Text: ph.Text, Template: fmt.Sprintf("type-p-%s-%s-%d", code, split, n), Entity: code, Rel: rel})
			}
		}
	}
	return out
}

// mixedQueries put English ingredient names into Korean sentences,
// alone (every product with it relevant) or with a type name (the
// products with it in that type relevant).
func (g *gen) mixedQueries(split string, rng *rand.Rand) []Query {
	engT := templatesFor(KindMixed, split, "eng")
	pairT := templatesFor(KindMixed, split, "eng+type")
	var out []Query
	for _, k := range g.engs {
		prods := g.engProds[k]
		if intn(rng, 2) == 0 {
			t := pick(rng, engT)
			out = append(out, Query{Text: render(t.Pattern, map[string]string{"eng": g.engName[k], "eng_lower": k}),
				Template: t.ID, Entity: g.engName[k], Rel: g.rel(prods, 1)})
			continue
		}
		// With a type: the type of a random product containing it.
		p := &g.b.Source.Products[pick(rng, prods)]
		words := g.typeWords[p.TypeCode]
		if len(words) == 0 {
			continue
		}
		var in []int
		for _, i := range prods {
			if g.b.Source.Products[i].TypeCode == p.TypeCode {
				in = append(in, i)
			}
		}
		t := pick(rng, pairT)
		w := pick(rng, words)
		out = append(out, Query{Text: render(t.Pattern, map[string]string{"eng": g.engName[k], "eng_lower": k, "type": w}),
			Template: t.ID, Entity: g.engName[k] + " + " + p.TypeCode, Rel: g.rel(in, 1)})
	}
	return out
}
