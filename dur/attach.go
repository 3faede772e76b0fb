package dur

import (
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Product is a product to attach DUR records to: its item sequence
// (품목기준코드), name, and ingredients with their codes. IngredientCodes
// may be empty, or parallel to Ingredients with "" where a code is
// unknown; only its non-empty entries are used. drugbench.Product carries
// the same fields (Seq, Name, Ingredients, IngredientCodes) for the shared
// product table, whose codes are permit codes ("M082272").
type Product struct {
	Seq, Name       string
	Ingredients     []string
	IngredientCodes []string
}

// Attach attaches DUR records to products and returns each product's
// flags keyed by its Seq; products without flags are absent.
//
// A record with an ITEM_SEQ attaches to the product with that Seq only
// (MatchedBy "item_seq"), and to nothing if no product has it. A record
// without one is an ingredient rule and attaches to every product that
// contains its ingredient:
//
//   - by code (MatchedBy "ingredient_code"): one of the record's Codes —
//     INGR_CODE and the permit codes listed in ORI_INGR — equals one of
//     the product's IngredientCodes exactly (case aside). DUR codes
//     ("D000027") and permit codes ("M082272") are different code systems
//     and never match each other: the ingredient API's ORI_INGR is what
//     links a DUR code to permit codes.
//   - else by name (MatchedBy "ingredient_name"): NormalizeIngredient of
//     INGR_NAME equals NormalizeIngredient of one of the product's
//     Ingredients. An INGR_NAME listing several ingredients (split on '/',
//     ',', '+', '|' and ';' outside brackets) matches a product containing
//     all of them.
//
// A product gets a Flag per distinct rule (type, ingredient, code,
// content, partner, age limit); the same rule reached several ways (an
// item record and the ingredient record it derives from) is kept once,
// with the strongest MatchedBy (item_seq, then ingredient_code, then
// ingredient_name). Flags are sorted by type, ingredient, ingredient code,
// partner, age limit, content, so the output is deterministic.
func Attach(records []Record, products []Product) map[string][]Flag {
	bySeq := map[string][]int{}
	byCode := map[string][]int{}
	byName := map[string][]int{}
	names := make([]map[string]bool, len(products))
	for i, p := range products {
		if p.Seq == "" {
			continue
		}
		bySeq[p.Seq] = append(bySeq[p.Seq], i)
		for _, c := range p.IngredientCodes {
			if c = strings.ToUpper(strings.TrimSpace(c)); c != "" {
				byCode[c] = appendIndex(byCode[c], i)
			}
		}
		names[i] = map[string]bool{}
		for _, n := range p.Ingredients {
			if k := NormalizeIngredient(n); k != "" {
				names[i][k] = true
				byName[k] = appendIndex(byName[k], i)
			}
		}
	}

	best := map[string]map[Flag]string{} // seq → flag without MatchedBy → MatchedBy
	add := func(i int, r Record, by string) {
		seq := products[i].Seq
		f := flagOf(r)
		m := best[seq]
		if m == nil {
			m = map[Flag]string{}
			best[seq] = m
		}
		if prev, ok := m[f]; !ok || rank(by) < rank(prev) {
			m[f] = by
		}
	}
	for _, r := range records {
		if r.ItemSeq != "" {
			for _, i := range bySeq[r.ItemSeq] {
				add(i, r, ByItemSeq)
			}
			continue
		}
		matched := map[int]bool{}
		for _, c := range r.Codes() {
			for _, i := range byCode[c] {
				if !matched[i] {
					matched[i] = true
					add(i, r, ByIngredientCode)
				}
			}
		}
		parts := ingredientParts(r.Ingredient)
		if len(parts) == 0 {
			continue
		}
	candidates:
		for _, i := range byName[parts[0]] {
			if matched[i] {
				continue
			}
			for _, p := range parts[1:] {
				if !names[i][p] {
					continue candidates
				}
			}
			add(i, r, ByIngredientName)
		}
	}

	out := map[string][]Flag{}
	for seq, m := range best {
		flags := make([]Flag, 0, len(m))
		for f, by := range m {
			f.MatchedBy = by
			flags = append(flags, f)
		}
		sort.Slice(flags, func(a, b int) bool { return flagLess(flags[a], flags[b]) })
		out[seq] = flags
	}
	return out
}

func appendIndex(s []int, i int) []int {
	if len(s) > 0 && s[len(s)-1] == i {
		return s
	}
	return append(s, i)
}

func rank(by string) int {
	switch by {
	case ByItemSeq:
		return 0
	case ByIngredientCode:
		return 1
	}
	return 2
}

// flagOf is the Flag of a record, MatchedBy left empty.
func flagOf(r Record) Flag {
	f := Flag{
		Type:           r.Type,
		Ingredient:     r.Ingredient,
		IngredientCode: r.IngredientCode,
		Content:        r.Content,
		With:           r.MixtureIngredient,
		WithItemSeq:    r.MixtureItemSeq,
		AgeBase:        r.AgeBase,
	}
	if f.With == "" {
		f.With = r.MixtureItemName
	}
	return f
}

func flagLess(a, b Flag) bool {
	for _, c := range [][2]string{
		{a.Type, b.Type}, {a.Ingredient, b.Ingredient}, {a.IngredientCode, b.IngredientCode},
		{a.With, b.With}, {a.WithItemSeq, b.WithItemSeq}, {a.AgeBase, b.AgeBase},
		{a.Content, b.Content}, {a.MatchedBy, b.MatchedBy},
	} {
		if c[0] != c[1] {
			return c[0] < c[1]
		}
	}
	return false
}

// ingredientParts splits a DUR ingredient name into its normalised
// components (several for a combination rule), deduplicated.
func ingredientParts(name string) []string {
	var parts []string
	depth := 0
	start := 0
	flush := func(end int) {
		if k := NormalizeIngredient(name[start:end]); k != "" && !contains(parts, k) {
			parts = append(parts, k)
		}
	}
	for i, r := range name {
		switch r {
		case '(', '[', '{', '（':
			depth++
		case ')', ']', '}', '）':
			if depth > 0 {
				depth--
			}
		case '/', ',', '+', '|', ';':
			if depth == 0 {
				flush(i)
				start = i + utf8.RuneLen(r)
			}
		}
	}
	flush(len(name))
	return parts
}

// Salt, hydrate and ester-free acid words that NormalizeIngredient strips.
var (
	saltSuffixes = byLength([]string{
		"염산염", "이염산염", "브롬화수소산염", "요오드화수소산염", "황산염", "말레산염", "푸마르산염",
		"숙신산염", "타르타르산염", "시트르산염", "메실산염", "베실산염", "토실산염", "인산염",
		"아세트산염", "락트산염", "글루콘산염", "나트륨", "디나트륨", "이나트륨", "칼륨", "디칼륨",
		"이칼륨", "칼슘", "마그네슘", "수화물", "일수화물", "이수화물", "삼수화물", "반수화물",
		"무수물", "하이클레이트", "트로메타민", "메글루민",
	})
	acidPrefixes = byLength([]string{
		"염산", "황산", "말레산", "주석산", "구연산", "초산", "인산", "푸마르산", "브롬화수소산",
		"메실산", "베실산", "숙신산", "무수",
	})
)

func byLength(s []string) []string {
	sort.SliceStable(s, func(i, j int) bool { return len(s[i]) > len(s[j]) })
	return s
}

// NormalizeIngredient is the key under which Attach compares ingredient
// names. It applies NFKC and lower-cases; drops everything inside
// parentheses, square brackets and braces (so "[M040102]디아제팜" and
// "세티리진염산염(미분화)" lose the bracketed part); removes all white
// space; then strips salt and hydrate words while at least three
// characters would remain: trailing ones repeatedly (염산염, 나트륨, 칼륨,
// 칼슘, 마그네슘, 말레산염, 타르타르산염, 인산염, 수화물, 무수물, … — see
// saltSuffixes) and one leading acid word of the older naming (염산, 황산,
// 말레산, 주석산, 인산, 무수, …). So 와파린나트륨 and 와파린 match,
// 염산메토클로프라미드 and 메토클로프라미드 match, 카페인무수물 and
// 무수카페인 match, 코데인인산염수화물 gives 코데인 (not
// 디히드로코데인), and 탄산칼슘 stays 탄산칼슘 (탄산 would be too short).
// Different esters, nitrates and other named moieties stay distinct.
func NormalizeIngredient(name string) string {
	s := strings.ToLower(norm.NFKC.String(name))
	var b strings.Builder
	depth := 0
	for _, r := range s {
		switch r {
		case '(', '[', '{':
			depth++
			continue
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
			continue
		}
		if depth == 0 && !unicode.IsSpace(r) {
			b.WriteRune(r)
		}
	}
	s = b.String()
	for {
		stripped := false
		for _, suf := range saltSuffixes {
			if rest, ok := strings.CutSuffix(s, suf); ok && utf8.RuneCountInString(rest) >= 3 && !isSaltWord(rest) {
				s, stripped = rest, true
				break
			}
		}
		if !stripped {
			break
		}
	}
	for _, pre := range acidPrefixes {
		if rest, ok := strings.CutPrefix(s, pre); ok && utf8.RuneCountInString(rest) >= 3 && !isSaltWord(rest) {
			s = rest
			break
		}
	}
	return s
}

func isSaltWord(s string) bool {
	return contains(saltSuffixes, s) || contains(acidPrefixes, s)
}
