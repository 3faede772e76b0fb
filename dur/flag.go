package dur

// Flag is one DUR (Drug Utilization Review) safety rule attached to a
// product: a record of the MFDS DUR open API that names the product (by
// ITEM_SEQ) or one of its ingredients (by INGR_CODE or INGR_NAME).
type Flag struct {
	// Type is the DUR type as MFDS writes it (TYPE_NAME): 임부금기,
	// 노인주의, 병용금기, 특정연령대금기, 용량주의, 투여기간주의, 효능군중복,
	// 분할주의, …
	Type string `json:"type"`
	// Ingredient and IngredientCode name the ingredient the rule is about
	// (INGR_NAME, INGR_CODE); empty for a rule on the product as a whole.
	Ingredient     string `json:"ingredient,omitempty"`
	IngredientCode string `json:"ingredient_code,omitempty"`
	// Content is the published prohibition or caution text
	// (PROHBT_CONTENT), possibly empty.
	Content string `json:"content,omitempty"`
	// MatchedBy says how the record was attached: "item_seq",
	// "ingredient_code" or "ingredient_name".
	MatchedBy string `json:"matched_by"`
}
