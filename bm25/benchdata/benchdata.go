// Package benchdata builds the deterministic corpora and queries used by
// the BM25 benchmarks: the real MFDS drug products of the seed project
// (drug_data_20_per_product_type.csv, MIT, ryukato/fine-tuned-e5-drugmodel,
// Yoon Y. Yoo 2025) and a synthetic Korean corpus of any size generated
// from their vocabulary and Korean filler words.
package benchdata

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/kormed/kormed/bm25"
	"github.com/kormed/kormed/dataset"
)

// DrugCSV returns the path of drug_data_20_per_product_type.csv, looking
// upward from the working directory for shared/data/drugs, or "" if it is
// not found. $KORMED_DRUG_CSV overrides the search.
func DrugCSV() string {
	if p := os.Getenv("KORMED_DRUG_CSV"); p != "" {
		return p
	}
	dir, _ := os.Getwd()
	for range 6 {
		p := filepath.Join(dir, "shared", "data", "drugs", "drug_data_20_per_product_type.csv")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		dir = filepath.Dir(dir)
	}
	return ""
}

// Product is one row of the drug CSV.
type Product struct {
	Row                                   int // 1-based data row
	TypeCode, TypeName, TypeDef           string
	Seq, Name, Company                    string
	Ingredient, IngredientEng, Appearance string
}

// DocID is the document ID of a product row: "r0001", "r0002", …
// (item_sequence is not unique: a product can be listed under several
// types).
func (p Product) DocID() string { return fmt.Sprintf("r%04d", p.Row) }

// Text is the indexed text: name, company, type name and definition,
// ingredients (Korean and English) and appearance.
func (p Product) Text() string {
	var parts []string
	for _, s := range []string{p.Name, p.Company, p.TypeName, p.TypeDef, cleanIngredient(p.Ingredient), p.IngredientEng, p.Appearance} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, "\n")
}

// cleanIngredient drops MFDS ingredient codes: "[M082272]디오스민" → "디오스민".
func cleanIngredient(s string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(s, '[')
		if i < 0 {
			break
		}
		j := strings.IndexByte(s[i:], ']')
		if j < 0 {
			break
		}
		b.WriteString(s[:i])
		s = s[i+j+1:]
	}
	b.WriteString(s)
	return b.String()
}

// ReadProducts reads the drug CSV.
func ReadProducts(path string) ([]Product, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	head, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[dataset.TrimBOM(h)] = i
	}
	need := []string{"type_code", "type_name", "type_definition", "item_sequence", "item_name", "enterprise_name", "main_ingredient", "main_ingredient_eng", "appearance"}
	for _, n := range need {
		if _, ok := col[n]; !ok {
			return nil, fmt.Errorf("%s: missing column %q", path, n)
		}
	}
	var out []Product
	for row := 1; ; row++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		get := func(n string) string {
			v := strings.TrimSpace(rec[col[n]])
			if v == "NULL" {
				return ""
			}
			return v
		}
		out = append(out, Product{
			Row: row, TypeCode: get("type_code"), TypeName: get("type_name"), TypeDef: get("type_definition"),
			Seq: get("item_sequence"), Name: get("item_name"), Company: get("enterprise_name"),
			Ingredient: get("main_ingredient"), IngredientEng: get("main_ingredient_eng"), Appearance: get("appearance"),
		})
	}
}

// Docs turns products into documents.
func Docs(ps []Product) []bm25.Doc {
	docs := make([]bm25.Doc, len(ps))
	for i, p := range ps {
		docs[i] = bm25.Doc{ID: p.DocID(), Text: p.Text()}
	}
	return docs
}

// ShortName strips the parenthesised part and dosage of a product name:
// "치큐원정600밀리그램(디오스민)" → "치큐원정".
func ShortName(name string) string {
	if i := strings.IndexAny(name, "(（"); i > 0 {
		name = name[:i]
	}
	if i := strings.IndexAny(name, "0123456789"); i > 0 {
		name = name[:i]
	}
	return strings.TrimSpace(name)
}

// Queries returns n deterministic natural-language queries built from the
// products with the seed project's templates ("X의 효능은?", "X의 주요
// 성분은?", "{type} 약 알려줘", …).
func Queries(ps []Product, n int) []string {
	rng := rand.New(rand.NewPCG(1, 2))
	out := make([]string, 0, n)
	for len(out) < n && len(ps) > 0 {
		p := ps[rng.IntN(len(ps))]
		name := ShortName(p.Name)
		ing := firstIngredient(p.Ingredient)
		var q string
		switch rng.IntN(5) {
		case 0:
			q = name + "은 어떤 약이야?"
		case 1:
			q = name + "의 효능은?"
		case 2:
			q = name + "의 주요 성분은?"
		case 3:
			q = p.TypeName + " 약 알려줘"
		default:
			q = ing + " 성분이 들어간 " + p.TypeName
		}
		out = append(out, q)
	}
	return out
}

func firstIngredient(s string) string {
	s = cleanIngredient(s)
	if i := strings.IndexAny(s, "|,"); i > 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// filler is everyday Korean (particles attached, as in running text) that
// dilutes the drug vocabulary in the synthetic corpus.
var filler = strings.Fields(`환자는 복용 후 하루 세 번 식후 30분에 물과 함께 의사와 상담하십시오 이 약을
임산부 수유부 어린이의 경우 주의 필요합니다 증상이 계속되면 즉시 중단하고 약사에게 알리십시오
부작용으로 두통 어지러움 구역 발진 설사 변비가 나타날 수 있습니다 보관은 실온에서 직사광선을 피하여
용량은 연령과 증상에 따라 적절히 증감한다 다음 환자에게는 투여하지 말 것 과민증 병력이 있는 사람
간장애 신장애 고령자 소아에 대한 안전성은 확립되지 않았다 다른 약과 함께 복용할 때는 상담할 것
성인 1회 1정 1일 2회 공복에 투여하며 최대 용량을 넘지 않도록 한다 또는 그리고 그러나 따라서 및 등`)

// Vocabulary returns the distinct whitespace-separated words of the
// products' texts, sorted.
func Vocabulary(ps []Product) []string {
	seen := map[string]bool{}
	for _, p := range ps {
		for _, w := range strings.Fields(p.Text()) {
			w = strings.Trim(w, ",.()[]")
			if w != "" {
				seen[w] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for w := range seen {
		out = append(out, w)
	}
	sort.Strings(out)
	return out
}

// Synthetic generates n documents of 20–80 words: Zipf-distributed drug
// vocabulary words (in a seeded random order) mixed one to one with filler
// words. It is deterministic for a given vocabulary and n.
func Synthetic(vocab []string, n int) []bm25.Doc {
	if len(vocab) == 0 {
		vocab = filler
	}
	perm := rand.New(rand.NewPCG(3, 4)).Perm(len(vocab))
	docs := make([]bm25.Doc, n)
	// Generate in parallel blocks, each with its own seeded generator.
	const block = 1024
	done := make(chan struct{})
	work := make(chan int)
	workers := runtime.GOMAXPROCS(0)
	for range workers {
		go func() {
			for start := range work {
				rng := rand.New(rand.NewPCG(uint64(start), 5))
				zipf := rand.NewZipf(rng, 1.1, 2, uint64(len(vocab)-1))
				var sb strings.Builder
				for i := start; i < min(start+block, n); i++ {
					sb.Reset()
					words := 20 + rng.IntN(61)
					for w := 0; w < words; w++ {
						if w > 0 {
							sb.WriteByte(' ')
						}
						if rng.IntN(2) == 0 {
							sb.WriteString(filler[rng.IntN(len(filler))])
						} else {
							sb.WriteString(vocab[perm[zipf.Uint64()]])
						}
					}
					docs[i] = bm25.Doc{ID: "s" + strconv.Itoa(i), Text: sb.String()}
				}
			}
			done <- struct{}{}
		}()
	}
	for start := 0; start < n; start += block {
		work <- start
	}
	close(work)
	for range workers {
		<-done
	}
	return docs
}

// Judged is a small judged query set over the drug products, for quick
// quality checks: per product one query from the seed project's templates
// ("X은 어떤 약이야?", "X의 효능은?", "X의 주요 성분은?", "{ingredient}
// 성분이 들어간 약") and per product type "{type} 약 알려줘". A name query is
// relevant to every row whose short name (ShortName) matches, an
// ingredient query to every row listing the ingredient, a type query to
// every row of the type; all with grade 1.
type Judged struct {
	IDs, Texts []string
	Qrels      map[string]map[string]int
}

// JudgedQueries builds the judged query set for ps deterministically.
func JudgedQueries(ps []Product) *Judged {
	byName := map[string][]string{}
	byIng := map[string][]string{}
	byType := map[string][]string{}
	typeName := map[string]string{}
	for _, p := range ps {
		if n := ShortName(p.Name); n != "" {
			byName[n] = append(byName[n], p.DocID())
		}
		for _, ing := range strings.Split(cleanIngredient(p.Ingredient), "|") {
			if ing = strings.TrimSpace(ing); ing != "" {
				byIng[ing] = append(byIng[ing], p.DocID())
			}
		}
		byType[p.TypeCode] = append(byType[p.TypeCode], p.DocID())
		typeName[p.TypeCode] = p.TypeName
	}
	j := &Judged{Qrels: map[string]map[string]int{}}
	add := func(text string, rel []string) {
		id := fmt.Sprintf("q%04d", len(j.IDs)+1)
		j.IDs = append(j.IDs, id)
		j.Texts = append(j.Texts, text)
		m := map[string]int{}
		for _, d := range rel {
			m[d] = 1
		}
		j.Qrels[id] = m
	}
	seen := map[string]bool{}
	for i, p := range ps {
		name := ShortName(p.Name)
		if name == "" || seen[p.Seq] {
			continue
		}
		seen[p.Seq] = true
		switch i % 4 {
		case 0:
			add(name+"은 어떤 약이야?", byName[name])
		case 1:
			add(name+"의 효능은?", byName[name])
		case 2:
			add(name+"의 주요 성분은?", byName[name])
		default:
			if ing := firstIngredient(p.Ingredient); ing != "" {
				add(ing+" 성분이 들어간 약", byIng[ing])
			}
		}
	}
	codes := make([]string, 0, len(byType))
	for c := range byType {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	for _, c := range codes {
		add(typeName[c]+" 약 알려줘", byType[c])
	}
	return j
}
