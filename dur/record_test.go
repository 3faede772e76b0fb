package dur

import (
	"reflect"
	"strings"
	"testing"

	"golang.org/x/text/encoding/korean"
)

// brief is what the reading tests compare: type, item, ingredient.
func brief(recs []Record) []string {
	var out []string
	for _, r := range recs {
		out = append(out, r.Type+"|"+r.ItemSeq+"|"+r.IngredientCode+"|"+r.Ingredient)
	}
	return out
}

func read(t *testing.T, name, text string) []Record {
	t.Helper()
	recs, err := Read(strings.NewReader(text), name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return recs
}

const (
	recA = `{"TYPE_NAME":"임부금기","INGR_CODE":"D000199","INGR_NAME":"덱사메타손","ITEM_SEQ":"196300064","PROHBT_CONTENT":null}`
	recB = `{"TYPE_NAME":"병용금기","INGR_CODE":"D000256","INGR_KOR_NAME":"에리트로마이신스티노프레이트","ITEM_SEQ":200704461}`
)

var wantAB = []string{"임부금기|196300064|D000199|덱사메타손", "병용금기|200704461|D000256|에리트로마이신스티노프레이트"}

func TestReadJSONShapes(t *testing.T) {
	for _, c := range []struct{ name, text string }{
		{"items array", `{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"pageNo":1,"totalCount":2,"numOfRows":10,"items":[` + recA + `,` + recB + `]}}`},
		{"item wrappers", `{"header":{"resultCode":"00"},"body":{"items":[{"item":` + recA + `},{"item":` + recB + `}]}}`},
		{"items.item array", `{"response":{"header":{"resultCode":"00"},"body":{"items":{"item":[` + recA + `,` + recB + `]},"numOfRows":"10","totalCount":"2"}}}`},
		{"plain array", `[` + recA + `,` + recB + `]`},
		{"array of responses", `[{"header":{"resultCode":"00"},"body":{"items":{"item":` + recA + `}}},{"header":{"resultCode":"00"},"body":{"items":[` + recB + `]}}]`},
		{"jsonl", "\ufeff" + recA + "\n\n" + recB + "\n"},
		{"jsonl of responses", `{"body":{"items":[` + recA + `]}}` + "\n" + `{"body":{"items":{"item":` + recB + `}}}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			recs := read(t, "x.json", c.text)
			if got := brief(recs); !reflect.DeepEqual(got, wantAB) {
				t.Errorf("got %q", got)
			}
		})
	}
	// A single record, a single wrapped item, no results.
	if got := brief(read(t, "x.json", recA)); !reflect.DeepEqual(got, wantAB[:1]) {
		t.Errorf("single record: %q", got)
	}
	if got := brief(read(t, "x.json", `{"body":{"items":{"item":`+recA+`}}}`)); !reflect.DeepEqual(got, wantAB[:1]) {
		t.Errorf("single item: %q", got)
	}
	for _, empty := range []string{
		`{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"pageNo":1,"totalCount":0,"numOfRows":10}}`,
		`{"response":{"header":{"resultCode":"00"},"body":{"items":"","totalCount":0}}}`,
		`{"body":{"items":{"item":[]}}}`,
		`[]`, ``,
	} {
		if recs := read(t, "x.json", empty); len(recs) != 0 {
			t.Errorf("%s: %d records", empty, len(recs))
		}
	}
}

func TestReadFields(t *testing.T) {
	recs := read(t, "x.json", `[{"type_name":"병용금기","DUR_SEQ":83,"INGR_CODE":"D000256","INGR_KOR_NAME":" 에리트로마이신 ","INGR_ENG_NAME":"Erythromycin",
		"ITEM_SEQ":"200704461","ITEM_NAME":"에리시스정","ENTP_NAME":"(주)유영제약","MAIN_INGR":"[M257644]에리트로마이신스티노프레이트",
		"MIXTURE_INGR_CODE":"D000713","MIXTURE_INGR_KOR_NAME":"염산린코마이신","MIXTURE_ITEM_SEQ":"200302561","MIXTURE_ITEM_NAME":"리코민주",
		"PROHBT_CONTENT":"병용을 하여도 항균작용이 증가되지 않음\n","REMARK":"null","DEL_YN":true},
		{"TYPE_NAME":"특정연령대금기","INGR_CODE":"D000149","INGR_NAME":"아카보즈","ORI_INGR":"[M085039]아카보즈","AGE_BASE":"18세 이하"}]`)
	r := recs[0]
	want := Record{Type: "병용금기", ItemSeq: "200704461", ItemName: "에리시스정", IngredientCode: "D000256", Ingredient: "에리트로마이신",
		IngredientEng: "Erythromycin", Content: "병용을 하여도 항균작용이 증가되지 않음", Company: "(주)유영제약",
		MainIngredient: "[M257644]에리트로마이신스티노프레이트", MixtureIngredientCode: "D000713", MixtureIngredient: "염산린코마이신",
		MixtureItemSeq: "200302561", MixtureItemName: "리코민주", Fields: r.Fields, Source: "x.json: [0]"}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got  %+v\nwant %+v", r, want)
	}
	if r.Fields["DUR_SEQ"] != "83" || r.Fields["DEL_YN"] != "true" || r.Fields["REMARK"] != "" || r.Fields["TYPE_NAME"] != "병용금기" {
		t.Errorf("fields %v", r.Fields)
	}
	if a := recs[1]; a.AgeBase != "18세 이하" || a.Related != "[M085039]아카보즈" || a.ItemSeq != "" || !reflect.DeepEqual(a.Codes(), []string{"D000149", "M085039"}) {
		t.Errorf("%+v codes %q", a, a.Codes())
	}
	// Several types in one TYPE_NAME, as the DUR item list writes them.
	recs = read(t, "x.json", `{"TYPE_NAME":"병용금기, 임부금기","ITEM_SEQ":"1"}`)
	if got := brief(recs); !reflect.DeepEqual(got, []string{"병용금기|1||", "임부금기|1||"}) {
		t.Errorf("%q", got)
	}
	// Codes: INGR_CODE lists and ORI_INGR permit codes, deduplicated.
	r = Record{IngredientCode: "d000001/D000002, M1", Related: "[M088403]클로르디아제폭시드/[M223206]클로르디아제폭시드염산염/[M088403]x"}
	if got := r.Codes(); !reflect.DeepEqual(got, []string{"D000001", "D000002", "M1", "M088403", "M223206"}) {
		t.Errorf("codes %q", got)
	}
}

func TestReadCSV(t *testing.T) {
	text := "\ufefftype_name,Ingr_Code,INGR_KOR_NAME,item_seq,ITEM_NAME,PROHBT_CONTENT,EXTRA\r\n" +
		"임부금기,D000199,덱사메타손,196300064,부광덱사메타손정,\"태아, \"\"기형\"\"\n둘째 줄\",x\r\n" +
		"\r\n" +
		"병용금기,D000256,에리트로마이신스티노프레이트,200704461,에리시스정,NULL,\r\n"
	recs := read(t, "x.csv", text)
	if got := brief(recs); !reflect.DeepEqual(got, wantAB) {
		t.Fatalf("%q", got)
	}
	if recs[0].Content != "태아, \"기형\"\n둘째 줄" || recs[1].Content != "" || recs[0].Fields["EXTRA"] != "x" || recs[1].Source != "x.csv:5" {
		t.Errorf("%+v\n%+v", recs[0], recs[1])
	}

	// Korean labels as headers, CP949, tabs.
	korean949 := func(s string) string {
		b, err := korean.EUCKR.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	text = "DUR유형,DUR성분코드,DUR성분,품목기준코드,품목명,금기내용\n임부금기,D000199,덱사메타손,196300064,부광덱사메타손정,기형발생\n"
	enc := korean949(text)
	if enc == text {
		t.Fatal("not encoded")
	}
	recs = read(t, "dur.csv", enc)
	if got := brief(recs); !reflect.DeepEqual(got, wantAB[:1]) || recs[0].Content != "기형발생" || recs[0].ItemName != "부광덱사메타손정" {
		t.Errorf("cp949: %q %+v", got, recs)
	}
	recs = read(t, "dur.tsv", strings.ReplaceAll(text, ",", "\t"))
	if got := brief(recs); !reflect.DeepEqual(got, wantAB[:1]) {
		t.Errorf("tsv: %q", got)
	}
}

func TestReadXML(t *testing.T) {
	text := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<response><header><resultCode>00</resultCode><resultMsg>NORMAL SERVICE.</resultMsg></header>
<body><items>
<item><TYPE_NAME>임부금기</TYPE_NAME><INGR_CODE>D000199</INGR_CODE><INGR_NAME>덱사메타손</INGR_NAME><ITEM_SEQ>196300064</ITEM_SEQ><PROHBT_CONTENT>기형 &amp; 성장지체</PROHBT_CONTENT><REMARK/></item>
<item>
  <TYPE_NAME>병용금기</TYPE_NAME><INGR_CODE>D000256</INGR_CODE><INGR_KOR_NAME>에리트로마이신스티노프레이트</INGR_KOR_NAME><ITEM_SEQ>200704461</ITEM_SEQ>
</item>
</items><numOfRows>10</numOfRows><pageNo>1</pageNo><totalCount>2</totalCount></body></response>`
	recs := read(t, "x.xml", text)
	if got := brief(recs); !reflect.DeepEqual(got, wantAB) || recs[0].Content != "기형 & 성장지체" || recs[1].Source != "x.xml:5" {
		t.Errorf("%q %+v", got, recs)
	}
	// Sniffed without an extension.
	if got := brief(read(t, "response", text)); !reflect.DeepEqual(got, wantAB) {
		t.Errorf("sniffed: %q", got)
	}
	_, err := Read(strings.NewReader(`<OpenAPI_ServiceResponse><cmmMsgHeader><errMsg>SERVICE ERROR</errMsg><returnAuthMsg>SERVICE_KEY_IS_NOT_REGISTERED_ERROR</returnAuthMsg><returnReasonCode>30</returnReasonCode></cmmMsgHeader></OpenAPI_ServiceResponse>`), "x.xml")
	if err == nil || !strings.Contains(err.Error(), "x.xml: API error 30: SERVICE_KEY_IS_NOT_REGISTERED_ERROR") {
		t.Errorf("error %v", err)
	}
}

func TestReadSniff(t *testing.T) {
	for name, text := range map[string]string{
		"download":      "[" + recA + "]",
		"download.dat":  "\n  " + recA,
		"export":        "TYPE_NAME,INGR_CODE,INGR_NAME,ITEM_SEQ\n임부금기,D000199,덱사메타손,196300064\n",
		"response.body": `<response><body><items><item><TYPE_NAME>임부금기</TYPE_NAME><INGR_CODE>D000199</INGR_CODE><INGR_NAME>덱사메타손</INGR_NAME><ITEM_SEQ>196300064</ITEM_SEQ></item></items></body></response>`,
	} {
		if got := brief(read(t, name, text)); !reflect.DeepEqual(got, wantAB[:1]) {
			t.Errorf("%s: %q", name, got)
		}
	}
}

func TestReadErrors(t *testing.T) {
	noType := `{"INGR_CODE":"D000199","ITEM_SEQ":"1"}`
	for _, c := range []struct{ name, text, want string }{
		{"x.json", `{"header":{"resultCode":"00"},"body":{"items":[` + recA + `,` + noType + `]}}`, "x.json: body.items[1]: record has no TYPE_NAME (fields INGR_CODE, ITEM_SEQ)"},
		{"x.json", `{"response":{"body":{"items":{"item":[` + recA + `,` + noType + `]}}}}`, "x.json: response.body.items.item[1]: record has no TYPE_NAME"},
		{"x.json", `[` + recA + `,` + noType + `]`, "x.json: [1]: record has no TYPE_NAME"},
		{"x.json", noType, "x.json: record: record has no TYPE_NAME"},
		{"x.jsonl", recA + "\n" + recA + "\n\n" + noType + "\n", "x.jsonl:4: record has no TYPE_NAME"},
		{"x.jsonl", recA + "\n{\"TYPE_NAME\": \n", "x.jsonl:2: malformed JSON"},
		{"x.json", "[\n" + recA + ",\n" + recA + "\n,,]", "x.json:4: malformed JSON"},
		{"x.json", `{"TYPE_NAME":"임부금기","PROHBT_CONTENT":"x"}`, "x.json: record: 임부금기 record names no product or ingredient"},
		{"x.json", `{"TYPE_NAME":"임부금기","ITEM_SEQ":{"a":1}}`, "x.json: record: field ITEM_SEQ is not a scalar"},
		{"x.json", `{"header":{"resultCode":"03","resultMsg":"NODATA_ERROR"},"body":{}}`, "x.json: header: API error 03: NODATA_ERROR"},
		{"x.json", `{"body":{"items":[1]}}`, "x.json: body.items[0]: expected a record object, found a number"},
		{"x.json", `"text"`, "x.json: expected a JSON object or array, found a string"},
		{"x.csv", "TYPE_NAME,ITEM_SEQ\n임부금기,1\n,2\n", "x.csv:3: record has no TYPE_NAME"},
		{"x.csv", "TYPE_NAME,ITEM_SEQ\n임부금기,1\n임부금기,2,3\n", "x.csv:3: malformed CSV row"},
		{"x.csv", "TYPE_NAME,ITEM_SEQ\n임부금기,\"1\n", "x.csv:2: malformed CSV row"},
		{"x.csv", "ITEM_SEQ,INGR_NAME\n1,a\n", "x.csv:1: no TYPE_NAME column (have ITEM_SEQ,INGR_NAME)"},
		{"x.csv", "", "x.csv: empty file"},
		{"x.xml", "<response><body><items><item><TYPE_NAME>임부금기</TYPE_NAME></item></items></body></response>", "x.xml:1: 임부금기 record names no product"},
		{"x.xml", "<response><body>\n<items><item></items>", "x.xml:2: malformed XML"},
		{"x.xml", "<response><header><resultCode>22</resultCode><resultMsg>LIMITED NUMBER OF SERVICE REQUESTS EXCEEDS ERROR.</resultMsg></header></response>", "x.xml: API error 22: LIMITED"},
	} {
		_, err := Read(strings.NewReader(c.text), c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q:\nerror %v\nwant  %q", c.name, c.text, err, c.want)
		}
	}
	if _, err := ReadFile("no/such/file.json"); err == nil {
		t.Error("missing file: no error")
	}
}
