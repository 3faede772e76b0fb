package drugbench

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kormed/kormed/dataset"
)

// smallProducts exercises each alignment rule; its extra column names the
// rule and pass that pairs each code (shared with kormed data synonyms' tests).
func smallProducts(t testing.TB) string {
	b, err := os.ReadFile(filepath.FromSlash("../testdata/drugs/synonym_products.csv"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeProducts(t testing.TB, content string) (dir, path string) {
	dir = t.TempDir()
	path = filepath.Join(dir, ProductsFile)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

func TestBuildDrugSynonymsSmall(t *testing.T) {
	_, path := writeProducts(t, smallProducts(t))
	s, err := BuildSynonyms(path)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"M040006": {"감초", "Licorice"},
		"M040353": {"아세트아미노펜", "Acetaminophen"},
		"M040411": {"구아이페네신"},
		"M040536": {"지실", "Poncirus Immature Fruit"},
		"M040580": {"무수카페인", "Anhydrous Caffeine"},
		"M040813": {"후박", "Magnolia Bark"},
		"M051003": {"클로르페니라민말레산염"},
		"M051291": {"감초", "Glycyrrhiza"},
		"M051301": {"자소엽", "Perilla Leaf"},
		"M051614": {"트라넥삼산", "Tranexamic Acid"},
		"M082938": {"트라넥사민산"},
		"M092927": {"감초엑스"},
		"M223025": {"메틸페니데이트염산염", "Methylphenidate Hydrochloride"},
		"M245012": {"아모다피닐(미분화)", "아모다피닐", "Armodafinil"},
		"M999001": {"가상성분", "Foo"},
	}
	if !slices.IsSorted(s.Codes) || len(s.Codes) != len(want) || len(s.Terms) != len(s.Codes) {
		t.Fatalf("codes %v", s.Codes)
	}
	for i, c := range s.Codes {
		if !reflect.DeepEqual(s.Terms[i], want[c]) {
			t.Errorf("%s: %q, want %q", c, s.Terms[i], want[c])
		}
	}
	got := [...]int{s.products, s.noIngr, s.english, s.direct, s.eliminated, s.intersected, s.passes, len(s.conflicts), len(s.disputed), s.disagree, s.sharedKor}
	if wantN := [...]int{17, 1, 11, 8, 3, 1, 2, 1, 1, 1, 1}; got != wantN {
		t.Errorf("products, noIngr, english, direct, eliminated, intersected, passes, conflicts, disputed, disagree, sharedKor = %v, want %v", got, wantN)
	}
	if s.conflicts[0] != "Tranexamic Acid: kept for M051614, dropped from M082938" || !strings.HasPrefix(s.disputed[0], `M999001: "Foo" (2) over "Bar" (1)`) {
		t.Errorf("conflicts %q, disputed %q", s.conflicts, s.disputed)
	}
	var b strings.Builder
	s.WriteSummary(&b)
	for _, w := range []string{"17 product rows (1 without ingredients)", "15 codes, 11 with an English name, 4 without; 27 terms",
		"aligned in 2 passes: 8 codes from one-ingredient rows, 3 by elimination, 1 by intersection", "1 conflicts"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, b.String())
		}
	}
}

func TestBuildDrugSynonymsErrors(t *testing.T) {
	for _, c := range []struct{ content, want string }{
		{"", "empty file"},
		{"main_ingredient\n[M1]a\n", ":1: want columns main_ingredient and main_ingredient_eng"},
		{"main_ingredient,main_ingredient_eng\n[M1]a,A\n\"[M2]b|M3]c\",B\n", ":3: field main_ingredient: \"M3]c\" is not [CODE]name"},
		{"main_ingredient,main_ingredient_eng\n[M 1]a,A\n", ":2: field main_ingredient: \"[M 1]a\" is not [CODE]name"},
		{"main_ingredient,main_ingredient_eng\n[M1] ,A\n", ":2: field main_ingredient: \"[M1]\" has no name"},
		{"main_ingredient,main_ingredient_eng\n[M1]a,\"A||B\"\n", ":2: field main_ingredient_eng: \"A||B\" has a line break or \"||\""},
		{"main_ingredient,main_ingredient_eng\n[M1]a\n", ":2: 1 fields, want at least 2"},
		{"main_ingredient,main_ingredient_eng\n\"[M1]a,A\n", "extraneous or missing \" in quoted-field"},
		{"main_ingredient,main_ingredient_eng\nNULL,NULL\n", "no product has ingredients"},
		{"main_ingredient,main_ingredient_eng\n", "no product rows"},
	} {
		_, path := writeProducts(t, c.content)
		_, err := BuildSynonyms(path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), ProductsFile) {
			t.Errorf("%q: err = %v, want it to contain %q", c.content, err, c.want)
		}
	}
}

// TestDrugSynonymsReal checks the alignment of the shared drug data
// against what the rows themselves say and a few pairs known from
// pharmacy.
func TestDrugSynonymsReal(t *testing.T) {
	path := filepath.Join("../../shared/data/drugs", ProductsFile)
	if _, err := os.Stat(path); err != nil {
		t.Skip("no", path)
	}
	s, err := BuildSynonyms(path)
	if err != nil {
		t.Fatal(err)
	}
	rows, _, err := readIngredientRows(path)
	if err != nil {
		t.Fatal(err)
	}
	cluster := map[string][]string{}
	for i, c := range s.Codes {
		cluster[c] = s.Terms[i]
	}
	byKorean := func(k string) []string {
		for _, r := range rows {
			for _, cn := range r.names {
				if cn[1] == k {
					return cluster[cn[0]]
				}
			}
		}
		return nil
	}
	for k, en := range map[string]string{
		"아세트아미노펜": "Acetaminophen", "무수카페인": "Anhydrous Caffeine", "후박": "Magnolia Bark",
		"반하": "Pinellia Tuber", "복령": "Poria", "염화칼륨": "Potassium Chloride", "디곡신": "Digoxin",
	} {
		if terms := byKorean(k); len(terms) == 0 || terms[len(terms)-1] != en {
			t.Errorf("%s: cluster %q, want it to end with %q", k, terms, en)
		}
	}
	// Each English name in one cluster; every cluster starts with a Korean name.
	owner := map[string]string{}
	english := 0
	for i, c := range s.Codes {
		if i > 0 && s.Codes[i-1] >= c {
			t.Fatalf("codes not sorted at %s", c)
		}
		kor := map[string]bool{}
		for _, r := range rows {
			for _, cn := range r.names {
				if cn[0] == c {
					kor[cn[1]] = true
				}
			}
		}
		if len(s.Terms[i]) == 0 || !kor[s.Terms[i][0]] {
			t.Fatalf("%s: terms %q", c, s.Terms[i])
		}
		for _, term := range s.Terms[i] {
			if kor[term] {
				continue
			}
			english++
			if o, dup := owner[term]; dup {
				t.Errorf("%q in %s and %s", term, o, c)
			}
			owner[term] = c
		}
	}
	if english != s.english || len(s.Codes) < 1000 || s.english < len(s.Codes)/2 {
		t.Errorf("%d codes, %d English terms, %d with an English name", len(s.Codes), english, s.english)
	}
	// A row's English list holds the English name of each of its codes,
	// and a one-ingredient row's name is its code's (unless another code
	// of the same name came first).
	for _, r := range rows {
		for _, c := range r.codes {
			terms := cluster[c]
			if en := terms[len(terms)-1]; owner[en] == c && !slices.Contains(r.eng, en) {
				t.Errorf("line %d: %s → %q, not in %q", r.line, c, en, r.eng)
			}
		}
		if len(r.codes) == 1 && len(r.eng) == 1 {
			if o := owner[r.eng[0]]; o != r.codes[0] && (o == "" || o > r.codes[0]) {
				t.Errorf("line %d: %s %q owned by %q", r.line, r.codes[0], r.eng[0], o)
			}
		}
	}
}

// FuzzDrugSynonyms: no products file panics the alignment, and what it
// accepts is written and read back as the same clusters in both formats.
func FuzzDrugSynonyms(f *testing.F) {
	f.Add(smallProducts(f))
	f.Add("main_ingredient,main_ingredient_eng\n\"[M1]a|[M2]b\",\"A/B\"\n[M1]a,A\n")
	f.Add("main_ingredient,main_ingredient_eng\n\"[M1]a|[M1]b|[M2]c\",\"C\"\n[M2]c,\"C/D\"\n")
	f.Add("main_ingredient,main_ingredient_eng\n[M1]a,NULL\n[M2]a,A\n[M3]b,A\n")
	f.Fuzz(func(t *testing.T, content string) {
		dir, path := writeProducts(t, content)
		s, err := BuildSynonyms(path)
		if err != nil {
			return
		}
		if len(s.Codes) != len(s.Terms) || !slices.IsSorted(s.Codes) || s.english > len(s.Codes) ||
			s.direct+s.eliminated+s.intersected != s.english+len(s.conflicts) {
			t.Fatalf("inconsistent result %+v", s)
		}
		for _, format := range []string{dataset.SynonymsSapBERT, dataset.SynonymsCSV} {
			out := filepath.Join(dir, "syn."+format)
			if format == dataset.SynonymsCSV {
				out = filepath.Join(dir, "syn.csv")
			}
			if err := dataset.WriteSynonyms(out, format, s.Codes, s.Terms); err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			ex, err := dataset.ReadExamples(out, dataset.FormatSynonyms)
			if err != nil {
				t.Fatalf("%s: %v", format, err)
			}
			codes, terms := ex.Clusters()
			if !reflect.DeepEqual(codes, s.Codes) || !reflect.DeepEqual(terms, s.Terms) {
				t.Fatalf("%s: read back %q %q, want %q %q", format, codes, terms, s.Codes, s.Terms)
			}
		}
	})
}
