package dur_test

import (
	"fmt"

	"github.com/kormed/kormed/dur"
)

func Example() {
	records, err := dur.ReadFile("../testdata/dur/dur_sample.json")
	if err != nil {
		panic(err)
	}
	products := []dur.Product{
		{Seq: "198500306", Name: "제일와파린정(와파린나트륨)", Ingredients: []string{"와파린나트륨"}, IngredientCodes: []string{"M081434"}},
		{Seq: "199700265", Name: "알레리진정(세티리진염산염)", Ingredients: []string{"세티리진염산염"}, IngredientCodes: []string{"M222857"}},
		{Seq: "198000301", Name: "에필람정(발프로산나트륨)", Ingredients: []string{"발프로산나트륨"}, IngredientCodes: []string{"M070676"}},
	}
	flags := dur.Attach(records, products)
	for _, p := range products {
		for _, f := range flags[p.Seq] {
			fmt.Printf("%s: %s %s (%s)\n", p.Name, f.Type, f.Ingredient, f.MatchedBy)
		}
	}
	for _, q := range []string{"임산부가 먹어도 되는 두통약", "아이브로우 펜슬"} {
		for _, m := range dur.Populations(q) {
			fmt.Printf("%s: %s %s → %v\n", q, m.Word, m.Population, m.Types)
		}
	}
	// Output:
	// 제일와파린정(와파린나트륨): 임부금기 와파린나트륨 (item_seq)
	// 알레리진정(세티리진염산염): 효능군중복 세티리진 (ingredient_code)
	// 에필람정(발프로산나트륨): 임부금기 발프로산 (ingredient_name)
	// 임산부가 먹어도 되는 두통약: 임산부 pregnancy → [임부금기]
}

func ExampleNormalizeIngredient() {
	for _, n := range []string{"와파린나트륨", "염산세티리진", "세티리진염산염(미분화)", "카페인무수물", "탄산칼슘"} {
		fmt.Println(n, "→", dur.NormalizeIngredient(n))
	}
	// Output:
	// 와파린나트륨 → 와파린
	// 염산세티리진 → 세티리진
	// 세티리진염산염(미분화) → 세티리진
	// 카페인무수물 → 카페인
	// 탄산칼슘 → 탄산칼슘
}
