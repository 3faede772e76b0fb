// Package drugbench builds a Korean drug retrieval benchmark in the BEIR
// layout, plus held-out fine-tuning pairs and triplets, from the MFDS
// product table published by ryukato/fine-tuned-e5-drugmodel (MIT,
// Yoon Y. Yoo, 2025; source: Korean MFDS open drug APIs).
//
// The corpus has one document per product (item_sequence). Queries come
// in four kinds of distinct difficulty (product name, ingredient,
// product-type intent, English/Korean code-mixed), each split into a
// train and a test set whose query templates are disjoint.
//
// BuildSynonyms aligns the table's ingredient codes with their Korean and
// English names: SapBERT-style synonym clusters (kormed data synonyms).
package drugbench

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/kormed/kormed/dataset"
)

// Input file names inside the data directory.
const (
	ProductsFile = "drug_data_20_per_product_type.csv"
	TypesFile    = "drug_type_def_list.csv"
)

// Product is one MFDS product (all rows of one item_sequence merged).
type Product struct {
	Seq            string   // item_sequence, the document id
	Name           string   // item_name as published
	Company        string   // enterprise_name
	TypeCode       string   // type_code, e.g. "01140"
	Ingredients    []string // Korean ingredient names, [Mxxxxxx] codes stripped, deduplicated, in order
	IngredientsEng []string // English ingredient names (main_ingredient_eng split on '/'), deduplicated
	Appearance     string
	Storage        string
	BaseName       string // Name without parenthesised notes and strength, e.g. "페니드정"
	Strength       string // strength found in the name, e.g. "10밀리그램"; "" if none
	Line           int    // first line of the product in ProductsFile

	// IngredientCodes is parallel to Ingredients: IngredientCodes[i] is
	// the MFDS ingredient code of Ingredients[i] without brackets
	// ("M082272" for "[M082272]디오스민"), "" where the name had no code.
	// Names are deduplicated, not codes: a code may repeat when the
	// table spells one ingredient two ways (e.g. a truncated name).
	IngredientCodes []string
}

// Type is one MFDS product-type code with all its names and definitions.
type Type struct {
	Code        string
	Names       []string // e.g. ["각성제", "흥분제"], in file order
	Definitions []string // one per distinct definition, in file order
}

// Source is the parsed input data.
type Source struct {
	Dir      string
	Products []Product // sorted by Seq
	Types    map[string]*Type
	Rows     int // data rows read from ProductsFile
}

var (
	ingCode = regexp.MustCompile(`^\s*\[(M\d+)\]\s*`)
)

// null maps the literal NULL (any case) and blank fields to "".
func null(s string) string {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "NULL") {
		return ""
	}
	return s
}

// readCSV reads path with a header, checking the wanted columns exist,
// and calls fn with each record's fields by column name and its line.
func readCSV(path string, want []string, fn func(line int, get func(string) string) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.ReuseRecord = false
	head, err := r.Read()
	if err != nil {
		return fmt.Errorf("%s: reading header: %w", path, err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[dataset.TrimBOM(strings.TrimSpace(h))] = i
	}
	for _, w := range want {
		if _, ok := col[w]; !ok {
			return fmt.Errorf("%s:1: missing column %q (have %s)", path, w, strings.Join(head, ","))
		}
	}
	r.FieldsPerRecord = len(head)
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("%s:%d: malformed row: %v", path, pe.StartLine, pe.Err)
			}
			return fmt.Errorf("%s: %w", path, err)
		}
		line, _ := r.FieldPos(0)
		get := func(name string) string { return rec[col[name]] }
		if err := fn(line, get); err != nil {
			return err
		}
	}
}

// Load reads ProductsFile and TypesFile from dir. Malformed CSV rows,
// rows without item_sequence, item_name or type_code, and products whose
// rows disagree on anything but the type name/definition are errors
// naming file:line.
func Load(dir string) (*Source, error) {
	src := &Source{Dir: dir, Types: map[string]*Type{}}
	typesPath := filepath.Join(dir, TypesFile)
	err := readCSV(typesPath, []string{"code", "name", "definition"}, func(line int, get func(string) string) error {
		code, name, def := null(get("code")), null(get("name")), null(get("definition"))
		if code == "" || name == "" {
			return fmt.Errorf("%s:%d: empty code or name", typesPath, line)
		}
		t := src.Types[code]
		if t == nil {
			t = &Type{Code: code}
			src.Types[code] = t
		}
		t.Names = appendUnique(t.Names, name)
		if def != "" {
			t.Definitions = appendUnique(t.Definitions, def)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}

	prodPath := filepath.Join(dir, ProductsFile)
	bySeq := map[string]*Product{}
	fromRows := map[string]bool{}
	cols := []string{"type_code", "type_name", "type_definition", "item_sequence", "item_name", "enterprise_name",
		"main_ingredient", "main_ingredient_eng", "appearance", "storage_method"}
	err = readCSV(prodPath, cols, func(line int, get func(string) string) error {
		src.Rows++
		p := Product{
			Seq:        null(get("item_sequence")),
			Name:       null(get("item_name")),
			Company:    null(get("enterprise_name")),
			TypeCode:   null(get("type_code")),
			Appearance: null(get("appearance")),
			Storage:    null(get("storage_method")),
			Line:       line,
		}
		for field, v := range map[string]string{"item_sequence": p.Seq, "item_name": p.Name, "type_code": p.TypeCode} {
			if v == "" {
				return fmt.Errorf("%s:%d: field %s is empty", prodPath, line, field)
			}
		}
		for _, part := range strings.Split(null(get("main_ingredient")), "|") {
			code := ""
			if m := ingCode.FindStringSubmatch(part); m != nil {
				code = m[1]
			}
			part = strings.TrimSpace(ingCode.ReplaceAllString(part, ""))
			if part != "" && !contains(p.Ingredients, part) {
				p.Ingredients = append(p.Ingredients, part)
				p.IngredientCodes = append(p.IngredientCodes, code)
			}
		}
		for _, part := range strings.Split(null(get("main_ingredient_eng")), "/") {
			if part = strings.Join(strings.Fields(part), " "); part != "" {
				p.IngredientsEng = appendUnique(p.IngredientsEng, part)
			}
		}
		// A type code missing from TypesFile takes the rows' names and definitions.
		t := src.Types[p.TypeCode]
		if t == nil {
			t = &Type{Code: p.TypeCode}
			src.Types[p.TypeCode] = t
			fromRows[p.TypeCode] = true
		}
		if fromRows[p.TypeCode] {
			if n := null(get("type_name")); n != "" {
				t.Names = appendUnique(t.Names, n)
			}
			if d := null(get("type_definition")); d != "" {
				t.Definitions = appendUnique(t.Definitions, d)
			}
		}
		if prev, ok := bySeq[p.Seq]; ok {
			if diff := productDiff(prev, &p); diff != "" {
				return fmt.Errorf("%s:%d: item_sequence %s disagrees with line %d on %s", prodPath, line, p.Seq, prev.Line, diff)
			}
			return nil
		}
		p.BaseName, p.Strength = splitName(p.Name)
		bySeq[p.Seq] = &p
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(bySeq) == 0 {
		return nil, fmt.Errorf("%s: no products", prodPath)
	}
	for _, p := range bySeq {
		src.Products = append(src.Products, *p)
	}
	sort.Slice(src.Products, func(i, j int) bool { return src.Products[i].Seq < src.Products[j].Seq })
	return src, nil
}

func productDiff(a, b *Product) string {
	switch {
	case a.Name != b.Name:
		return "item_name"
	case a.TypeCode != b.TypeCode:
		return "type_code"
	case a.Company != b.Company:
		return "enterprise_name"
	case strings.Join(a.Ingredients, "|") != strings.Join(b.Ingredients, "|"):
		return "main_ingredient"
	case strings.Join(a.IngredientsEng, "/") != strings.Join(b.IngredientsEng, "/"):
		return "main_ingredient_eng"
	case a.Appearance != b.Appearance:
		return "appearance"
	case a.Storage != b.Storage:
		return "storage_method"
	}
	return ""
}

func appendUnique(s []string, v string) []string {
	if contains(s, v) {
		return s
	}
	return append(s, v)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

var (
	strengthRe = regexp.MustCompile(`(\d+(?:[.,]\d+)?)\s*(밀리그램|밀리그람|미리그램|미리그람|마이크로그램|마이크로그람|그램|그람|밀리리터|리터|mg|MG|Mg|μg|㎍|mcg|g|mL|ml|ML|IU|아이유|국제단위|만단위|단위|유니트|%|％)(?:\s*/\s*(?:\d+(?:\.\d+)?)?\s*(?:밀리리터|mL|ml|g|그램|바이알|앰플|정))?`)
	altNameRe  = regexp.MustCompile(`\s*(수출명|군납명|영문명|수출용|국내용)\s*\d?\s*[:;：].*$`)
	bareNumRe  = regexp.MustCompile(`(주|정|액|캡슐|시럽|산|겔|크림)(\d+(?:\.\d+)?)$`)
)

// splitName strips parenthesised/bracketed notes (ingredients, 수출용,
// 수출명, …) from a product name and separates the first strength it
// finds: "페니드정10밀리그램(메틸페니데이트염산염)" → ("페니드정", "10밀리그램").
func splitName(name string) (base, strength string) {
	var b strings.Builder
	depth := 0
	for _, r := range name {
		switch r {
		case '(', '[', '{', '<', '（':
			depth++
			continue
		case ')', ']', '}', '>', '）':
			if depth > 0 {
				depth--
			}
			continue
		}
		if depth == 0 {
			b.WriteRune(r)
		}
	}
	s := altNameRe.ReplaceAllString(b.String(), "")
	if m := strengthRe.FindStringSubmatchIndex(s); m != nil {
		strength = s[m[0]:m[1]]
		s = s[:m[0]] + s[m[1]:]
	} else if m := bareNumRe.FindStringSubmatchIndex(s); m != nil {
		strength = s[m[4]:m[5]]
		s = s[:m[4]]
	}
	// "리포덱스정/종근당리팜피신정", "누마렌점안액,누마렌점안액", "펜타스패취/h":
	// keep the first of several names.
	if i := strings.IndexAny(s, ",/"); i > 0 {
		head := strings.TrimSpace(s[:i])
		last, _ := utf8.DecodeLastRuneInString(head)
		if utf8.RuneCountInString(head) >= 3 && last >= 0xAC00 && last <= 0xD7A3 {
			s = head
		}
	}
	// Remove any further strengths (e.g. "1.5g/30mL" pairs already matched).
	s = strengthRe.ReplaceAllString(s, "")
	s = strings.Join(strings.Fields(strings.Trim(s, " -_,/")), " ")
	if len([]rune(s)) < 2 {
		// Too little left: keep the name without notes.
		s = strings.Join(strings.Fields(b.String()), " ")
		strength = ""
	}
	if len([]rune(s)) < 2 {
		s = name
	}
	return s, strings.TrimSpace(strength)
}
