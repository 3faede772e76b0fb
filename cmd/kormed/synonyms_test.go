package main

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/drugbench"
)

// smallProducts exercises each alignment rule; the comments give the
// rule and pass that pairs each code.
const smallProducts = "\ufeffitem_name,main_ingredient,main_ingredient_eng,extra\n" +
	"타이레놀정,[M040353]아세트아미노펜,Acetaminophen,x\n" + // direct
	"판콜,\"[M040353]아세트아미노펜|[M040580]무수카페인\",\"Acetaminophen/Anhydrous Caffeine\",x\n" + // M040580: elimination, pass 2
	"감기약,\"[M051003]클로르페니라민말레산염|[M040411]구아이페네신\",\"Chlorpheniramine Maleate/Guaifenesin\",x\n" + // unresolved
	"한약1,\"[M040813]후박|[M051301]자소엽\",\"Magnolia Bark/Perilla Leaf\",x\n" + // M040813: intersection, pass 1
	"한약2,\"[M040536]지실|[M040813]후박\",\"Magnolia Bark/Poncirus Immature Fruit\",x\n" + // M051301, M040536: elimination, pass 2
	"누비질정,[M245012]아모다피닐(미분화),Armodafinil,x\n" + // direct, two Korean spellings
	"누비질정2,[M245012] 아모다피닐 ,Armodafinil,x\n" +
	"트란,[M082938]트라넥사민산,Tranexamic Acid,x\n" + // conflict: M051614 comes first by code
	"트란2,[M051614]트라넥삼산,Tranexamic Acid,x\n" +
	"빈칸,NULL,NULL,x\n" + // no ingredients
	"메칠,\"[M223025]메틸페니데이트염산염|[M223025]메틸페니데이트염산염\",Methylphenidate Hydrochloride,x\n" + // one code twice: direct
	"가상1,[M999001]가상성분,Foo,x\n" + // disputed: Foo 2, Bar 1
	"가상2,[M999001]가상성분,Foo,x\n" +
	"가상3,[M999001]가상성분,Bar,x\n" + // disagrees with M999001 → Foo
	"감초엑스,\"[M040006]감초|[M092927]감초엑스\",Licorice,x\n" + // fewer names than codes: M092927 unresolved
	"감초,[M040006]감초,Licorice,x\n" + // direct
	"감초2,[M051291]감초,Glycyrrhiza,x\n" // 감초 under two codes

func writeProducts(t testing.TB, content string) (dir, path string) {
	dir = t.TempDir()
	path = filepath.Join(dir, drugbench.ProductsFile)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, path
}

// TestDataSynonymsCommand writes both formats and reads them back.
func TestDataSynonymsCommand(t *testing.T) {
	dir, path := writeProducts(t, smallProducts)
	s, err := drugbench.BuildSynonyms(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, c := range []struct{ file, format, first string }{
		{"syn.txt", "", "M040006 || 감초\nM040006 || Licorice\n"},
		{"syn.csv", "", "code,term\nM040006,감초\n"},
		{"syn.tsv", "csv", "code,term\n"},
	} {
		out := filepath.Join(dir, c.file)
		args := []string{"--input", dir, "--output", out}
		if c.format != "" {
			args = append(args, "--format", c.format)
		}
		if err := cmdSynonyms.Exec(ctx, args); err != nil {
			t.Fatal(err)
		}
		raw, _ := os.ReadFile(out)
		if !strings.HasPrefix(string(raw), c.first) {
			t.Errorf("%s starts %q", c.file, raw[:min(len(raw), 80)])
		}
		if c.format != "" {
			continue // a .tsv is read as lines: this one holds CSV
		}
		ex, err := dataset.ReadExamples(out, "")
		if err != nil {
			t.Fatal(err)
		}
		codes, terms := ex.Clusters()
		if !reflect.DeepEqual(codes, s.Codes) || !reflect.DeepEqual(terms, s.Terms) || ex.Duplicates != 0 {
			t.Errorf("%s read back as %v %v", c.file, codes, terms)
		}
	}
	if err := cmdSynonyms.Exec(ctx, []string{"-h"}); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v", err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--input", dir}, "--output is required"},
		{[]string{"--input", dir, "--output", filepath.Join(dir, "x.csv"), "--format", "sapbert"}, "ends in .csv"},
		{[]string{"--input", dir, "--output", filepath.Join(dir, "x.txt"), "--format", "json"}, "--format \"json\""},
		{[]string{"--input", t.TempDir(), "--output", filepath.Join(dir, "x.txt")}, drugbench.ProductsFile},
		{[]string{"--input", dir, "--output", filepath.Join(dir, "x.txt"), "extra"}, "unexpected arguments"},
	} {
		if err := cmdSynonyms.Exec(ctx, c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: err = %v, want %q", c.args, err, c.want)
		}
	}
}
