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

	// With names the other side of a 병용금기 (combination) rule: the
	// partner ingredient (MIXTURE_INGR_KOR_NAME), else the partner
	// product (MIXTURE_ITEM_NAME); WithItemSeq is the partner product's
	// MIXTURE_ITEM_SEQ when the record names one.
	With        string `json:"with,omitempty"`
	WithItemSeq string `json:"with_item_seq,omitempty"`
	// AgeBase is the age limit of a 특정연령대금기 rule as published
	// (AGE_BASE, e.g. "18세 이하"), when the record has one.
	AgeBase string `json:"age_base,omitempty"`
}

// Ways a record is attached to a product (Flag.MatchedBy), strongest
// first.
const (
	ByItemSeq        = "item_seq"
	ByIngredientCode = "ingredient_code"
	ByIngredientName = "ingredient_name"
)

// DUR types as the MFDS APIs write TYPE_NAME.
const (
	TypeCombination = "병용금기"    // contraindicated combination (getUsjntTabooInfoList03)
	TypeAge         = "특정연령대금기" // contraindicated at certain ages (getSpcifyAgrdeTabooInfoList03)
	TypePregnancy   = "임부금기"    // contraindicated in pregnancy (getPwnmTabooInfoList03)
	TypeDose        = "용량주의"    // daily dose caution (getCpctyAtentInfoList03)
	TypeDuration    = "투여기간주의"  // treatment duration caution (getMdctnPdAtentInfoList03)
	TypeElderly     = "노인주의"    // caution in the elderly (getOdsnAtentInfoList03)
	TypeDuplicate   = "효능군중복"   // therapeutic duplication (getEfcyDplctInfoList03)
	TypeSplit       = "분할주의"    // do not split (서방정분할주의, getSeobangjeongPartitnAtentInfoList03)
	TypeLactation   = "수유부주의"   // caution in breastfeeding (KIDS DUR, not in the open API)
)
