package drugbench

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"testing"
)

// TestIngredientCodes checks that Product.IngredientCodes runs parallel
// to Ingredients and holds the [Mxxxxxx] codes without brackets.
func TestIngredientCodes(t *testing.T) {
	typesCSV := "\"id\",\"code\",\"name\",\"definition\",\"created_at\",\"updated_at\",\"alias\"\n1,\"01140\",\"해열.진통.소염제\",\"해열 작용\",\"\",\"\",\"\"\n"
	head := `"type_code","type_name","type_definition","item_sequence","item_name","enterprise_name","main_ingredient","main_ingredient_eng","appearance","storage_method","valid_term"` + "\n"
	rows := `"01140","x","y","1","가정","c","[M040702]아세트아미노펜","","","",""` + "\n" +
		`"01140","x","y","2","나정","c","[M1]아세트아미노펜| 클로르페니라민말레산염 |[M2] 카페인무수물|[M1]아세트아미노펜","","","",""` + "\n" +
		`"01140","x","y","3","다정","c","NULL","","","",""` + "\n"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, TypesFile), []byte(typesCSV), 0o644)
	os.WriteFile(filepath.Join(dir, ProductsFile), []byte(head+rows), 0o644)
	src, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ names, codes []string }{
		{[]string{"아세트아미노펜"}, []string{"M040702"}},
		{[]string{"아세트아미노펜", "클로르페니라민말레산염", "카페인무수물"}, []string{"M1", "", "M2"}},
		{nil, nil},
	}
	for i, p := range src.Products {
		if !reflect.DeepEqual(p.Ingredients, want[i].names) || !reflect.DeepEqual(p.IngredientCodes, want[i].codes) {
			t.Errorf("product %s: ingredients %q codes %q, want %q %q", p.Seq, p.Ingredients, p.IngredientCodes, want[i].names, want[i].codes)
		}
	}

	full := realData(t)
	code := regexp.MustCompile(`^M\d{6}$`)
	found := 0
	for _, p := range full.Products {
		if len(p.IngredientCodes) != len(p.Ingredients) {
			t.Fatalf("%s: %d codes for %d ingredients", p.Seq, len(p.IngredientCodes), len(p.Ingredients))
		}
		for _, c := range p.IngredientCodes {
			if !code.MatchString(c) {
				t.Errorf("%s: code %q", p.Seq, c)
			}
		}
		switch p.Seq {
		case "202000675":
			found++
			if !reflect.DeepEqual(p.IngredientCodes, []string{"M082272"}) {
				t.Errorf("202000675: %q", p.IngredientCodes)
			}
		case "196800036": // 판콜에이내복액
			found++
			wantNames := []string{"아세트아미노펜", "구아이페네신", "페닐레프린염산염", "카페인무수물", "클로르페니라민말레산염", "펜톡시베린시트르산염"}
			wantCodes := []string{"M040353", "M050058", "M222724", "M223183", "M223211", "M223287"}
			if !reflect.DeepEqual(p.Ingredients, wantNames) || !reflect.DeepEqual(p.IngredientCodes, wantCodes) {
				t.Errorf("196800036: %q %q", p.Ingredients, p.IngredientCodes)
			}
		}
	}
	if found != 2 {
		t.Errorf("found %d of the 2 named products", found)
	}
}
