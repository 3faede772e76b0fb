package dur

import (
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"golang.org/x/text/encoding/korean"

	"github.com/kormed/kormed/drugbench"
)

const (
	sampleJSON = "../testdata/dur/dur_sample.json"
	sampleCSV  = "../testdata/dur/dur_sample.csv"
	drugsDir   = "../../shared/data/drugs"
)

// sampleRecords reads the hand-written sample, JSON and CSV, and checks
// they hold the same records.
func sampleRecords(t *testing.T) []Record {
	t.Helper()
	fromJSON, err := ReadFile(sampleJSON)
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, err := ReadFile(sampleCSV)
	if err != nil {
		t.Fatal(err)
	}
	strip := func(recs []Record) []Record {
		out := make([]Record, len(recs))
		for i, r := range recs {
			r.Fields, r.Source = nil, ""
			out[i] = r
		}
		return out
	}
	if !reflect.DeepEqual(strip(fromJSON), strip(fromCSV)) {
		t.Fatalf("JSON and CSV samples differ:\n%+v\n%+v", strip(fromJSON), strip(fromCSV))
	}
	if len(fromJSON) != 24 {
		t.Fatalf("%d records, want 24", len(fromJSON))
	}
	return fromJSON
}

// realProducts loads the shared product table, skipping when it is absent.
func realProducts(t *testing.T) (*drugbench.Source, []Product) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(drugsDir, drugbench.ProductsFile)); err != nil {
		t.Skipf("shared drug data not found at %s (expected ../shared/data/drugs next to the repo): %v", drugsDir, err)
	}
	src, err := drugbench.Load(drugsDir)
	if err != nil {
		t.Fatal(err)
	}
	ps := make([]Product, len(src.Products))
	for i, p := range src.Products {
		ps[i] = Product{Seq: p.Seq, Name: p.Name, Ingredients: p.Ingredients, IngredientCodes: p.IngredientCodes}
	}
	return src, ps
}

func TestSampleFormats(t *testing.T) {
	recs := sampleRecords(t)
	if recs[0].Source != sampleJSON+": body.items[0]" {
		t.Errorf("source %q", recs[0].Source)
	}
	// The CSV as a CP949 download reads the same.
	data, err := os.ReadFile(sampleCSV)
	if err != nil {
		t.Fatal(err)
	}
	enc, err := korean.EUCKR.NewEncoder().Bytes([]byte(strings.TrimPrefix(string(data), "\ufeff")))
	if err != nil {
		t.Fatal(err)
	}
	fromCP949, err := Read(strings.NewReader(string(enc)), "dur_sample_cp949.csv")
	if err != nil {
		t.Fatal(err)
	}
	fromCSV, _ := ReadFile(sampleCSV)
	for i := range fromCSV {
		fromCSV[i].Source, fromCP949[i].Source = "", ""
	}
	if !reflect.DeepEqual(fromCSV, fromCP949) {
		t.Error("CP949 CSV reads differently")
	}
	// All three item and ingredient shapes are there.
	var item, ingr, mixture int
	for _, r := range recs {
		switch {
		case r.MixtureItemSeq != "":
			mixture++
		case r.ItemSeq != "":
			item++
		default:
			ingr++
		}
	}
	if item != 12 || mixture != 4 || ingr != 8 {
		t.Errorf("%d item, %d 병용금기, %d ingredient records", item, mixture, ingr)
	}
}

// TestSampleProductsExist checks the sample names real products of the
// shared table with their real names, companies and ingredients.
func TestSampleProductsExist(t *testing.T) {
	recs := sampleRecords(t)
	src, _ := realProducts(t)
	bySeq := map[string]drugbench.Product{}
	for _, p := range src.Products {
		bySeq[p.Seq] = p
	}
	for _, r := range recs {
		for _, s := range [][3]string{{r.ItemSeq, r.ItemName, r.Company}, {r.MixtureItemSeq, r.MixtureItemName, r.Fields["MIXTURE_ENTP_NAME"]}} {
			if s[0] == "" {
				continue
			}
			p, ok := bySeq[s[0]]
			if !ok {
				t.Errorf("%s: ITEM_SEQ %s is not in the product table", r.Source, s[0])
				continue
			}
			if p.Name != s[1] || p.Company != s[2] {
				t.Errorf("%s: %s is %q by %q, the sample says %q by %q", r.Source, s[0], p.Name, p.Company, s[1], s[2])
			}
		}
		if r.ItemSeq != "" && r.Ingredient != "" {
			found := false
			for _, ing := range bySeq[r.ItemSeq].Ingredients {
				found = found || NormalizeIngredient(ing) == NormalizeIngredient(r.Ingredient)
			}
			if !found {
				t.Errorf("%s: %s has no ingredient %q (has %q)", r.Source, r.ItemSeq, r.Ingredient, bySeq[r.ItemSeq].Ingredients)
			}
		}
	}
}

// TestSampleAttach attaches the sample to the real product table: every
// flagged product and its flags, all three ways of matching.
func TestSampleAttach(t *testing.T) {
	recs := sampleRecords(t)
	_, products := realProducts(t)
	got := Attach(recs, products)
	want := map[string][]string{ // type|ingredient|matched by
		"196000001": {"특정연령대금기|테트라사이클린염산염|item_seq"},                           // 테라싸이클린캅셀250밀리그람(염산테트라싸이클린)
		"196000011": {"용량주의|클로르페니라민말레산염|item_seq"},                             // 페니라민정(클로르페니라민말레산염)
		"196900130": {"특정연령대금기|디히드로코데인|ingredient_name"},                       // 코푸시럽
		"196900131": {"특정연령대금기|디히드로코데인|ingredient_name"},                       // 코데날액
		"197000079": {"노인주의|아미트리프틸린|ingredient_name"},                          // 에나폰정10밀리그램(아미트리프틸린염산염)
		"197000215": {"특정연령대금기|디히드로코데인|ingredient_name"},                       // 코데농정
		"197200376": {"특정연령대금기|디히드로코데인|ingredient_name"},                       // 코데날정
		"197200484": {"투여기간주의|메토클로프라미드|item_seq", "특정연령대금기|메토클로프라미드|item_seq"}, // 맥페란정(메토클로프라미드)
		"197500186": {"노인주의|아미트리프틸린|ingredient_name"},                          // 에트라빌10밀리그램정(아미트리프틸린염산염)
		"197500188": {"노인주의|아미트리프틸린|ingredient_name"},                          // 에트라빌25밀리그램정(아미트리프틸린염산염)
		"197700535": {"노인주의|디아제팜|item_seq"},                                    // 삼진디아제팜정2밀리그람
		"197700537": {"특정연령대금기|디히드로코데인|ingredient_name"},                       // 네오메디코푸정
		"197800210": {"노인주의|히드록시진염산염|item_seq"},                                // 아디팜정(히드록시진염산염)
		"197900145": {"임부금기|메토트렉세이트|item_seq"},                                 // 유한메토트렉세이트정
		"198000105": {"특정연령대금기|독시사이클린|ingredient_code"},                        // 국제독시사이클린하이클레이트수화물캡슐100밀리그램
		"198000301": {"임부금기|발프로산|ingredient_name"},                             // 에필람정(발프로산나트륨)
		"198100697": {"노인주의|클로르디아제폭시드|ingredient_code"},                        // 리버티정10밀리그램(클로르디아제폭시드염산염)
		"198300718": {"특정연령대금기|독시사이클린|ingredient_code"},                        // 모노신정(독시사이클린하이클레이트수화물)
		"198500306": {"임부금기|와파린나트륨|item_seq"},                                  // 제일와파린정(와파린나트륨): the ingredient record folds into the item one
		"198500623": {"임부금기|발프로산|ingredient_name"},                             // 올트릴정200밀리그램(발프로산나트륨)(수출용)
		"198500624": {"임부금기|발프로산|ingredient_name"},                             // 올트릴정300밀리그램(발프로산나트륨)(수출용)
		"198601383": {"병용금기|이소소르비드일질산염|item_seq"},                              // 엘로톤정(이소소르비드일질산염)
		"198900925": {"임부금기|발프로산|ingredient_name"},                             // 발핀연질캡슐250mg(발프로산)(수출용)
		"198902794": {"병용금기|트리아졸람|item_seq"},                                   // 트리람정0.25밀리그램(트리아졸람)
		"199000227": {"병용금기|케토코나졸|item_seq"},                                   // 스파이크정(케토코나졸)
		"199001352": {"분할주의||item_seq", "임부금기|발프로산|ingredient_name"},           // 오르필서방정300밀리그램(발프로산나트륨)
		"199403297": {"특정연령대금기|코데인인산염수화물|item_seq"},                            // 명문인산코데인정 (not 디히드로코데인)
		"199504272": {"임부금기|피나스테리드|item_seq"},                                  // 프로스카정(피나스테리드)
		"199700120": {"효능군중복|세티리진|ingredient_code"},                            // 세트린정(세티리진염산염)
		"199700265": {"효능군중복|세티리진|ingredient_code"},                            // 알레리진정(세티리진염산염)
		"199700909": {"임부금기|이소트레티노인|item_seq"},                                 // 아키놀연질캡슐(이소트레티노인)
		"199704622": {"특정연령대금기|디히드로코데인|ingredient_name"},                       // 디코데서방정(디히드로코데인타르타르산염)
		"200502107": {"임부금기|와파린나트륨|ingredient_name"},                           // 쿠파린정5밀리그램(와파린나트륨)
		"200600456": {"임부금기|와파린나트륨|ingredient_name"},                           // 쿠파린정2밀리그램(와파린나트륨)
		"201904688": {"병용금기|타다라필|item_seq"},                                    // 코오롱타다라필정5밀리그램(수출용)
		"202204330": {"임부금기|두타스테리드|ingredient_name"},                           // 동구두타리드연질캡슐(두타스테리드)
		"202400769": {"임부금기|두타스테리드|ingredient_name"},                           // 에이두타연질캡슐0.5밀리그램(두타스테리드)
	}
	gotBrief := map[string][]string{}
	for seq, flags := range got {
		for _, f := range flags {
			gotBrief[seq] = append(gotBrief[seq], f.Type+"|"+f.Ingredient+"|"+f.MatchedBy)
		}
	}
	var seqs []string
	for s := range mergeBrief(gotBrief, want) {
		seqs = append(seqs, s)
	}
	sort.Strings(seqs)
	for _, s := range seqs {
		if !reflect.DeepEqual(gotBrief[s], want[s]) {
			t.Errorf("%s: got %q, want %q", s, gotBrief[s], want[s])
		}
	}

	// Details of a few flags.
	check := func(seq string, i int, want Flag) {
		t.Helper()
		if fs := got[seq]; i >= len(fs) || fs[i] != want {
			t.Errorf("%s flag %d: got %+v, want %+v", seq, i, got[seq], want)
		}
	}
	check("199000227", 0, Flag{Type: TypeCombination, Ingredient: "케토코나졸", IngredientCode: "D900008",
		Content: "트리아졸람의 혈중농도 증가로 진정작용 증강 및 연장", MatchedBy: ByItemSeq, With: "트리아졸람", WithItemSeq: "198902794"})
	check("198300718", 0, Flag{Type: TypeAge, Ingredient: "독시사이클린", IngredientCode: "D900016",
		Content: "8세 미만 소아에서 치아 착색 위험", MatchedBy: ByIngredientCode, AgeBase: "8세 미만"})
	check("197200484", 0, Flag{Type: TypeDuration, Ingredient: "메토클로프라미드", IngredientCode: "D000425", MatchedBy: ByItemSeq})
	check("199001352", 0, Flag{Type: TypeSplit, Content: "분할불가", MatchedBy: ByItemSeq})

	// A population query selects the flagged products: 임산부 → 임부금기.
	var pregnant []string
	for _, m := range Populations("임산부가 먹어도 되는 약") {
		for seq, flags := range got {
			for _, f := range flags {
				if contains(m.Types, f.Type) && !contains(pregnant, seq) {
					pregnant = append(pregnant, seq)
				}
			}
		}
	}
	sort.Strings(pregnant)
	wantPregnant := []string{"197900145", "198000301", "198500306", "198500623", "198500624", "198900925", "199001352",
		"199504272", "199700909", "200502107", "200600456", "202204330", "202400769"}
	if !reflect.DeepEqual(pregnant, wantPregnant) {
		t.Errorf("임부금기 products %q", pregnant)
	}
}

func mergeBrief(a, b map[string][]string) map[string]bool {
	k := map[string]bool{}
	for x := range a {
		k[x] = true
	}
	for x := range b {
		k[x] = true
	}
	return k
}
