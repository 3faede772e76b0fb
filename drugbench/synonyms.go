package drugbench

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/kormed/kormed/dataset"
)

// ingredientRow is one product row's ingredients.
type ingredientRow struct {
	line  int
	codes []string    // distinct codes, in row order
	names [][2]string // every (code, Korean name) as written
	eng   []string    // distinct English names
}

// Synonyms is the aligned result: one cluster per ingredient code.
type Synonyms struct {
	Codes []string   // sorted
	Terms [][]string // per code: Korean names (first-seen order), then the English name

	path        string
	english     int // codes with an English name
	products    int // product rows read
	noIngr      int // product rows without ingredients (NULL)
	direct      int // codes paired by a one-ingredient row
	eliminated  int // codes paired by elimination in later passes
	intersected int // codes paired by intersection
	passes      int
	conflicts   []string // English names claimed by two codes: "NAME: kept CODE, dropped from CODE"
	disputed    []string // codes that rows give different English names: "CODE: A (n) over B (m)"
	disagree    int      // rows whose English list lacks an established name of one of their codes
	sharedKor   int      // Korean names listed under more than one code
}

// BuildSynonyms reads the products file at path (ProductsFile: its
// main_ingredient and main_ingredient_eng columns) and aligns each
// ingredient code with its English name.
//
// A row's codes and English names are two sets listed in different
// orders, so a pair is only certain when one is left over. Passes repeat
// until nothing changes; each uses the pairs established before it, and
// a row only counts when its English list holds the established names of
// its known codes (otherwise the list is incomplete or spelled
// differently, and what is left over proves nothing):
//
//   - elimination: a row whose codes are all established but one, and
//     whose English names less the established ones leave exactly one,
//     pairs them (one-ingredient rows do so in the first pass);
//   - intersection: a code in several rows that each list at least as
//     many English names as codes has its name among each row's
//     unclaimed names; when the intersection over its rows leaves one
//     name, it is paired with it.
//
// When rows in one pass give a code different names, the most frequent
// wins (the first on a tie) and the dispute is reported.
//
// Example: the rows [A]가 → "Alpha", [A]가|[B]나 → "Alpha/Beta" and
// [B]나|[C]다 → "Beta/Gamma" give A → Alpha at once, B → Beta in the
// second pass and C → Gamma in the third; [D]라|[E]마 → "Delta/Epsilon"
// and [D]라|[F]바 → "Delta/Phi" give D → Delta by intersection.
func BuildSynonyms(path string) (*Synonyms, error) {
	rows, s, err := readIngredientRows(path)
	if err != nil {
		return nil, err
	}
	known := map[string]string{}
	for {
		cand := map[string][]string{}
		var order []string
		inter := map[string][]string{}
		var interOrder []string
		for _, r := range rows {
			unknown, rest, ok := unclaimed(r, known)
			if !ok {
				continue
			}
			if len(unknown) == 1 && len(rest) == 1 {
				c := unknown[0]
				if cand[c] == nil {
					order = append(order, c)
				}
				cand[c] = append(cand[c], rest[0])
			}
			if len(r.eng) < len(r.codes) {
				continue
			}
			for _, c := range unknown {
				if prev, seen := inter[c]; seen {
					inter[c] = slices.DeleteFunc(prev, func(n string) bool { return !slices.Contains(rest, n) })
				} else {
					inter[c] = slices.Clone(rest)
					interOrder = append(interOrder, c)
				}
			}
		}
		byInter := 0
		for _, c := range interOrder {
			if cand[c] == nil && len(inter[c]) == 1 {
				order = append(order, c)
				cand[c] = inter[c]
				byInter++
			}
		}
		if len(order) == 0 {
			break
		}
		s.passes++
		s.intersected += byInter
		for _, c := range order {
			known[c] = s.vote(c, cand[c])
		}
		if s.passes == 1 {
			s.direct += len(order) - byInter
		} else {
			s.eliminated += len(order) - byInter
		}
	}
	for _, r := range rows {
		for _, c := range r.codes {
			if en, ok := known[c]; ok && !slices.Contains(r.eng, en) {
				s.disagree++
				break
			}
		}
	}

	korean := map[string][]string{}
	for _, r := range rows {
		for _, cn := range r.names {
			if !slices.Contains(korean[cn[0]], cn[1]) {
				korean[cn[0]] = append(korean[cn[0]], cn[1])
			}
		}
	}
	codesOf := map[string]int{}
	for c, names := range korean {
		s.Codes = append(s.Codes, c)
		for _, n := range names {
			if codesOf[n]++; codesOf[n] == 2 {
				s.sharedKor++
			}
		}
	}
	sort.Strings(s.Codes)
	owner := map[string]string{}
	for _, c := range s.Codes {
		terms := korean[c]
		if en, ok := known[c]; ok {
			if first, taken := owner[en]; taken {
				s.conflicts = append(s.conflicts, fmt.Sprintf("%s: kept for %s, dropped from %s", en, first, c))
			} else {
				owner[en] = c
				s.english++
				if !slices.Contains(terms, en) {
					terms = append(terms, en)
				}
			}
		}
		s.Terms = append(s.Terms, terms)
	}
	return s, nil
}

// unclaimed returns a row's codes without an established English name
// and its English names not established for one of its codes; ok is false
// when the row lacks the established name of one of its codes.
func unclaimed(r ingredientRow, known map[string]string) (unknown, rest []string, ok bool) {
	var taken []string
	for _, c := range r.codes {
		en, ok := known[c]
		switch {
		case !ok:
			unknown = append(unknown, c)
		case !slices.Contains(r.eng, en):
			return nil, nil, false
		default:
			taken = append(taken, en)
		}
	}
	for _, en := range r.eng {
		if !slices.Contains(taken, en) {
			rest = append(rest, en)
		}
	}
	return unknown, rest, true
}

// vote picks the most frequent of a code's candidate names (the first on
// a tie), recording a dispute when they differ.
func (s *Synonyms) vote(code string, names []string) string {
	count := map[string]int{}
	var distinct []string
	for _, n := range names {
		if count[n] == 0 {
			distinct = append(distinct, n)
		}
		count[n]++
	}
	best := distinct[0]
	for _, n := range distinct[1:] {
		if count[n] > count[best] {
			best = n
		}
	}
	if len(distinct) > 1 {
		var others []string
		for _, n := range distinct {
			if n != best {
				others = append(others, fmt.Sprintf("%q (%d)", n, count[n]))
			}
		}
		s.disputed = append(s.disputed, fmt.Sprintf("%s: %q (%d) over %s", code, best, count[best], strings.Join(others, ", ")))
	}
	return best
}

// readIngredientRows reads the main_ingredient and main_ingredient_eng
// columns of the products CSV.
func readIngredientRows(path string) ([]ingredientRow, *Synonyms, error) {
	r, err := dataset.OpenCSV(path)
	if err != nil {
		return nil, nil, err
	}
	defer r.Close()
	col := r.Col
	ki, kok := col["main_ingredient"]
	ei, eok := col["main_ingredient_eng"]
	if !kok || !eok {
		return nil, nil, fmt.Errorf("%s:1: want columns main_ingredient and main_ingredient_eng", path)
	}
	s := &Synonyms{path: path}
	var rows []ingredientRow
	for {
		rec, line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, nil, err
		}
		if len(rec) <= max(ki, ei) {
			return nil, nil, fmt.Errorf("%s:%d: %d fields, want at least %d", path, line, len(rec), max(ki, ei)+1)
		}
		s.products++
		row, err := parseIngredients(rec[ki], rec[ei])
		if err != nil {
			return nil, nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(row.codes) == 0 {
			s.noIngr++
			continue
		}
		row.line = line
		rows = append(rows, row)
	}
	if s.products == 0 {
		return nil, nil, fmt.Errorf("%s: no product rows", path)
	}
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%s: no product has ingredients", path)
	}
	return rows, s, nil
}

// parseIngredients splits one product's ingredient fields:
// "[M040353]아세트아미노펜|[M040580]무수카페인" and
// "Acetaminophen/Anhydrous Caffeine" give the codes [M040353 M040580],
// their Korean names and the English names [Acetaminophen, Anhydrous
// Caffeine]. NULL or blank fields give nothing; the same code or English
// name twice is kept once (a code may be written with several Korean
// names). A code is letters, digits, '.', '-' or '_'.
func parseIngredients(kor, eng string) (ingredientRow, error) {
	var row ingredientRow
	if kor = strings.TrimSpace(kor); kor != "" && !strings.EqualFold(kor, "NULL") {
		for _, seg := range strings.Split(kor, "|") {
			seg = strings.TrimSpace(seg)
			if seg == "" {
				continue
			}
			end := strings.IndexByte(seg, ']')
			if seg[0] != '[' || end < 0 || !validCode(seg[1:end]) {
				return row, fmt.Errorf("field main_ingredient: %q is not [CODE]name", seg)
			}
			code, name := seg[1:end], strings.TrimSpace(seg[end+1:])
			if name == "" || strings.EqualFold(name, "NULL") || strings.ContainsAny(name, "\r\n") {
				return row, fmt.Errorf("field main_ingredient: %q has no name", seg)
			}
			if !slices.Contains(row.codes, code) {
				row.codes = append(row.codes, code)
			}
			row.names = append(row.names, [2]string{code, name})
		}
	}
	if eng = strings.TrimSpace(eng); eng != "" && !strings.EqualFold(eng, "NULL") {
		for _, n := range strings.Split(eng, "/") {
			n = strings.TrimSpace(n)
			if n == "" || strings.EqualFold(n, "NULL") {
				continue
			}
			if strings.ContainsAny(n, "\r\n") || strings.Contains(n, "||") {
				return row, fmt.Errorf("field main_ingredient_eng: %q has a line break or \"||\"", n)
			}
			if !slices.Contains(row.eng, n) {
				row.eng = append(row.eng, n)
			}
		}
	}
	return row, nil
}

func validCode(c string) bool {
	if c == "" {
		return false
	}
	for _, r := range c {
		if !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

// WriteSummary writes what was read and aligned: rows, codes and terms,
// how each code was paired, conflicts and disputes with examples.
func (s *Synonyms) WriteSummary(w io.Writer) {
	nterms := 0
	for _, t := range s.Terms {
		nterms += len(t)
	}
	fmt.Fprintf(w, "%s: %d product rows (%d without ingredients)\n", s.path, s.products, s.noIngr)
	fmt.Fprintf(w, "%d codes, %d with an English name, %d without; %d terms\n", len(s.Codes), s.english, len(s.Codes)-s.english, nterms)
	fmt.Fprintf(w, "aligned in %d passes: %d codes from one-ingredient rows, %d by elimination, %d by intersection\n",
		s.passes, s.direct, s.eliminated, s.intersected)
	fmt.Fprintf(w, "%d conflicts (an English name for two codes: kept for the first code)", len(s.conflicts))
	writeExamples(w, s.conflicts)
	fmt.Fprintf(w, "%d codes given different English names by different rows (the most frequent kept)", len(s.disputed))
	writeExamples(w, s.disputed)
	fmt.Fprintf(w, "%d product rows whose English list lacks an aligned name of one of their codes (not used for elimination)\n", s.disagree)
	fmt.Fprintf(w, "%d Korean names listed under more than one code\n", s.sharedKor)
}

func writeExamples(w io.Writer, list []string) {
	if len(list) == 0 {
		fmt.Fprintln(w)
		return
	}
	fmt.Fprintln(w, ", e.g.")
	for _, e := range list[:min(3, len(list))] {
		fmt.Fprintf(w, "  %s\n", e)
	}
}
