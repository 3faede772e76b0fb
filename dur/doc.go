// Package dur attaches DUR (Drug Utilization Review, 의약품 안전사용서비스)
// safety rules to drug products and tells which DUR types a search query
// asks about because it names a population (임산부, 노인, 소아, 수유부).
//
// The rules come from the Korean MFDS DUR open APIs on 공공데이터포털
// (data.go.kr):
//
//   - "식품의약품안전처_의약품안전사용서비스(DUR)품목정보",
//     https://www.data.go.kr/data/15059486/openapi.do — service
//     DURPrdlstInfoService03, one operation per DUR type
//     (getUsjntTabooInfoList03 병용금기, getSpcifyAgrdeTabooInfoList03
//     특정연령대금기, getPwnmTabooInfoList03 임부금기,
//     getCpctyAtentInfoList03 용량주의, getMdctnPdAtentInfoList03
//     투여기간주의, getOdsnAtentInfoList03 노인주의, getEfcyDplctInfoList03
//     효능군중복, getSeobangjeongPartitnAtentInfoList03 서방정분할주의);
//     each record names a product (ITEM_SEQ, ITEM_NAME) and the DUR
//     ingredient (INGR_CODE, INGR_NAME or INGR_KOR_NAME).
//   - "식품의약품안전처_의약품안전사용서비스(DUR)성분정보",
//     https://www.data.go.kr/data/15056780/openapi.do — service
//     DURIrdntInfoService03, the same types by ingredient: INGR_CODE, INGR_NAME,
//     ORI_INGR (the permit ingredients the rule covers), no product.
//   - The bulk CSV files of the Korea Institute of Drug Safety (KIDS,
//     한국의약품안전관리원) on data.go.kr, one per DUR type (e.g.
//     한국의약품안전관리원_병용금기약물, https://www.data.go.kr/data/15089525/fileData.do),
//     and the ingredient lists on the KIDS site; KIDS licenses them for
//     non-commercial research and education. Their columns may need
//     renaming to the API field names (see Read).
//
// Request the APIs with type=json (or the default XML) and save the
// responses; Read and ReadFile take them as they come, pages and all, and
// CSV exports in UTF-8 or CP949. testdata/dur holds a hand-written sample
// in the APIs' format (not MFDS data) for products of the shared drug
// table.
//
// Attach matches records to products: by ITEM_SEQ, else by ingredient code
// (DUR "D" codes and permit "M" codes, exactly), else by normalised
// ingredient name (NormalizeIngredient), giving each product its Flags.
// Populations finds the populations a query names and the DUR types they
// select, for a search service to flag or exclude the products carrying
// them.
//
// # Worked example
//
// The sample's item record for 제일와파린정 and its ingredient records for
// 세티리진 (with ORI_INGR permit codes) and 발프로산 (a name only):
//
//	records, err := dur.ReadFile("testdata/dur/dur_sample.json")
//	// records[0]: {Type: "임부금기", ItemSeq: "198500306", IngredientCode: "D900001", Ingredient: "와파린나트륨", …}
//	products := []dur.Product{
//		{Seq: "198500306", Name: "제일와파린정(와파린나트륨)", Ingredients: []string{"와파린나트륨"}, IngredientCodes: []string{"M081434"}},
//		{Seq: "199700265", Name: "알레리진정(세티리진염산염)", Ingredients: []string{"세티리진염산염"}, IngredientCodes: []string{"M222857"}},
//		{Seq: "198000301", Name: "에필람정(발프로산나트륨)", Ingredients: []string{"발프로산나트륨"}, IngredientCodes: []string{"M070676"}},
//	}
//	flags := dur.Attach(records, products)
//	// flags["198500306"]: [{Type: 임부금기, Ingredient: 와파린나트륨, MatchedBy: item_seq, …}]
//	// flags["199700265"]: [{Type: 효능군중복, Ingredient: 세티리진, IngredientCode: D000647, MatchedBy: ingredient_code}]
//	//                     (ORI_INGR "[M051285]염산세티리진/[M222857]세티리진염산염" holds M222857)
//	// flags["198000301"]: [{Type: 임부금기, Ingredient: 발프로산, MatchedBy: ingredient_name, …}]
//	//                     (NormalizeIngredient("발프로산나트륨") == "발프로산")
//	dur.Populations("임산부가 먹어도 되는 두통약")
//	// [{Word: "임산부", Population: "pregnancy", Types: ["임부금기"]}]
//	// → a search flags (or, strict, drops) 제일와파린정 and 에필람정.
//	dur.Populations("아이브로우 펜슬") // nil: 아이 is not a word there
//
// With the shared product table, drugbench.Load gives the products:
// drugbench.Product has Seq, Name, Ingredients and IngredientCodes.
package dur
