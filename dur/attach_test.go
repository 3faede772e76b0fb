package dur

import (
	"reflect"
	"testing"
)

func TestNormalizeIngredient(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"와파린나트륨", "와파린"},
		{"와파린", "와파린"},
		{" 세티리진 염산염 ", "세티리진"},
		{"염산세티리진", "세티리진"},
		{"세티리진염산염(미분화)", "세티리진"},
		{"[M040102]디아제팜", "디아제팜"},
		{"클로르디아제폭시드염산염", "클로르디아제폭시드"},
		{"발프로산나트륨", "발프로산"},
		{"아미트리프틸린염산염", "아미트리프틸린"},
		{"디히드로코데인타르타르산염", "디히드로코데인"},
		{"코데인인산염수화물", "코데인"},
		{"독시사이클린하이클레이트수화물", "독시사이클린"},
		{"에스오메프라졸마그네슘삼수화물", "에스오메프라졸"},
		{"덱사메타손디나트륨인산염", "덱사메타손"},
		{"카페인무수물", "카페인"},
		{"무수카페인", "카페인"},
		{"탄산칼슘", "탄산칼슘"},
		{"탄산리튬", "탄산리튬"},
		{"이소소르비드일질산염", "이소소르비드일질산염"},
		{"베타메타손디프로피오네이트", "베타메타손디프로피오네이트"},
		{"Acetaminophen", "acetaminophen"},
		{"ＡＢＣ", "abc"},
		{"나트륨", "나트륨"},
		{"", ""},
	} {
		if got := NormalizeIngredient(c.in); got != c.want {
			t.Errorf("NormalizeIngredient(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestAttach(t *testing.T) {
	products := []Product{
		{Seq: "1", Name: "와파정", Ingredients: []string{"와파린나트륨"}, IngredientCodes: []string{"M081434"}},
		{Seq: "2", Name: "디아정", Ingredients: []string{"디아제팜"}, IngredientCodes: []string{"m040102"}},
		{Seq: "3", Name: "감기약", Ingredients: []string{"아세트아미노펜", "클로르페니라민말레산염", "카페인무수물"}, IngredientCodes: []string{"M040353", "", "M223183"}},
		{Seq: "4", Name: "진통제", Ingredients: []string{"아세트아미노펜"}},
		{Seq: "5", Name: "D코드 제품", Ingredients: []string{"세티리진염산염"}, IngredientCodes: []string{"D000647"}},
		{Seq: "6", Name: "무관", Ingredients: []string{"탄산칼슘"}},
		{Seq: "", Name: "일련번호 없음", Ingredients: []string{"와파린나트륨"}},
	}
	records := []Record{
		// item records: only their own product, never by ingredient
		{Type: TypePregnancy, ItemSeq: "1", IngredientCode: "D900001", Ingredient: "와파린나트륨", Content: "기형"},
		{Type: TypeElderly, ItemSeq: "999", Ingredient: "디아제팜"},
		{Type: TypeSplit, ItemSeq: "2", Content: "분할불가"},
		// the ingredient record behind the first item record: item_seq wins on product 1
		{Type: TypePregnancy, IngredientCode: "D900001", Ingredient: "와파린", Content: "기형"},
		{Type: TypePregnancy, IngredientCode: "D900001", Ingredient: "와파린나트륨", Content: "기형"},
		// permit code in INGR_CODE, permit codes in ORI_INGR, a DUR code on a product
		{Type: TypeElderly, IngredientCode: "M040102", Ingredient: "다른 이름"},
		{Type: TypeDose, IngredientCode: "D000893", Ingredient: "클로르페니라민말레산염", Related: "[M223211]클로르페니라민말레산염", Content: "24mg"},
		{Type: TypeDuplicate, IngredientCode: "d000647", Ingredient: "세티리진"},
		{Type: TypeDuplicate, IngredientCode: "M222857", Ingredient: "엉뚱한이름"}, // M vs D: no match
		// names: a combination needs all its parts
		{Type: TypeAge, Ingredient: "아세트아미노펜/카페인", AgeBase: "12세 미만"},
		{Type: TypeAge, Ingredient: "아세트아미노펜+트라마돌"},
		{Type: TypeCombination, Ingredient: "무수카페인", MixtureIngredient: "에르고타민", MixtureItemSeq: "77"},
		{Type: TypeCombination, Ingredient: "아세트아미노펜", MixtureItemName: "어떤정"},
		{Type: TypeCombination, Ingredient: "아세트아미노펜", MixtureItemName: "어떤정"}, // duplicate
		{Type: TypePregnancy, Ingredient: "탄산나트륨"},
	}
	got := Attach(records, products)
	want := map[string][]Flag{
		"1": {
			{Type: TypePregnancy, Ingredient: "와파린", IngredientCode: "D900001", Content: "기형", MatchedBy: ByIngredientName},
			{Type: TypePregnancy, Ingredient: "와파린나트륨", IngredientCode: "D900001", Content: "기형", MatchedBy: ByItemSeq},
		},
		"2": {
			{Type: TypeElderly, Ingredient: "다른 이름", IngredientCode: "M040102", MatchedBy: ByIngredientCode},
			{Type: TypeSplit, Content: "분할불가", MatchedBy: ByItemSeq},
		},
		"3": {
			{Type: TypeCombination, Ingredient: "무수카페인", With: "에르고타민", WithItemSeq: "77", MatchedBy: ByIngredientName},
			{Type: TypeCombination, Ingredient: "아세트아미노펜", With: "어떤정", MatchedBy: ByIngredientName},
			{Type: TypeDose, Ingredient: "클로르페니라민말레산염", IngredientCode: "D000893", Content: "24mg", MatchedBy: ByIngredientName},
			{Type: TypeAge, Ingredient: "아세트아미노펜/카페인", AgeBase: "12세 미만", MatchedBy: ByIngredientName},
		},
		"4": {
			{Type: TypeCombination, Ingredient: "아세트아미노펜", With: "어떤정", MatchedBy: ByIngredientName},
		},
		"5": {
			{Type: TypeDuplicate, Ingredient: "세티리진", IngredientCode: "d000647", MatchedBy: ByIngredientCode},
		},
	}
	if !reflect.DeepEqual(got, want) {
		for seq := range mergeKeys(got, want) {
			if !reflect.DeepEqual(got[seq], want[seq]) {
				t.Errorf("product %s:\ngot  %+v\nwant %+v", seq, got[seq], want[seq])
			}
		}
	}
	// Order of records and products does not matter.
	rev := func(r []Record) []Record {
		out := append([]Record(nil), r...)
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
		return out
	}
	revP := append([]Product(nil), products...)
	for i, j := 0, len(revP)-1; i < j; i, j = i+1, j-1 {
		revP[i], revP[j] = revP[j], revP[i]
	}
	if again := Attach(rev(records), revP); !reflect.DeepEqual(again, got) {
		t.Errorf("order-dependent:\n%+v\n%+v", again, got)
	}
	if len(Attach(nil, products)) != 0 || len(Attach(records, nil)) != 0 {
		t.Error("empty input gave flags")
	}
}

// The permit code of product 3's chlorpheniramine is unknown, so the dose
// rule above reached it by name; with the code it is reached by code.
func TestAttachCodeBeforeName(t *testing.T) {
	p := []Product{{Seq: "3", Ingredients: []string{"클로르페니라민말레산염"}, IngredientCodes: []string{"M223211"}}}
	r := []Record{{Type: TypeDose, IngredientCode: "D000893", Ingredient: "클로르페니라민말레산염", Related: "[M223211]클로르페니라민말레산염"}}
	got := Attach(r, p)["3"]
	if len(got) != 1 || got[0].MatchedBy != ByIngredientCode {
		t.Errorf("%+v", got)
	}
}

func mergeKeys(a, b map[string][]Flag) map[string]bool {
	k := map[string]bool{}
	for x := range a {
		k[x] = true
	}
	for x := range b {
		k[x] = true
	}
	return k
}
