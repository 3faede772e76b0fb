package benchdata

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestHelpers(t *testing.T) {
	if got := cleanIngredient("[M082272]디오스민|[M040416]헤스페리딘"); got != "디오스민|헤스페리딘" {
		t.Fatalf("cleanIngredient = %q", got)
	}
	for in, want := range map[string]string{
		"치큐원정600밀리그램(디오스민)":        "치큐원정",
		"아조비오토인젝터주(프레마네주맙,유전자재조합)": "아조비오토인젝터주",
		"판콜에이내복액":                  "판콜에이내복액",
	} {
		if got := ShortName(in); got != want {
			t.Errorf("ShortName(%q) = %q, want %q", in, got, want)
		}
	}
}

const csvText = `"type_code","type_name","type_definition","item_sequence","item_name","enterprise_name","main_ingredient","main_ingredient_eng","appearance","storage_method","valid_term"
"01100","중추신경계용약","뇌에 작용하는 약","1","동구메만틴염산염정10밀리그램","(주)동구바이오제약","[M242614]메만틴염산염","Memantine Hydrochloride","흰색의 장방형 필름코팅정","기밀용기","36 개월"
"01100","중추신경계용약","뇌에 작용하는 약","2","메만틴정5밀리그램","가나제약","[M242614]메만틴염산염","Memantine Hydrochloride","NULL","기밀용기","36 개월"
"02110","강심제","심장 수축력을 높이는 약","3","디고신정","다라제약","[M1]디곡신","Digoxin","흰색 정제","기밀용기","36 개월"
`

func TestReadProductsAndQueries(t *testing.T) {
	p := filepath.Join(t.TempDir(), "d.csv")
	os.WriteFile(p, []byte(csvText), 0o644)
	ps, err := ReadProducts(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != 3 || ps[1].Appearance != "" || ps[2].DocID() != "r0003" {
		t.Fatalf("products %+v", ps)
	}
	want := "동구메만틴염산염정10밀리그램\n(주)동구바이오제약\n중추신경계용약\n뇌에 작용하는 약\n메만틴염산염\nMemantine Hydrochloride\n흰색의 장방형 필름코팅정"
	if got := ps[0].Text(); got != want {
		t.Fatalf("Text = %q", got)
	}
	j := JudgedQueries(ps)
	wantTexts := []string{"동구메만틴염산염정은 어떤 약이야?", "메만틴정의 효능은?", "디고신정의 주요 성분은?", "중추신경계용약 약 알려줘", "강심제 약 알려줘"}
	if !reflect.DeepEqual(j.Texts, wantTexts) {
		t.Fatalf("texts %q", j.Texts)
	}
	if !reflect.DeepEqual(j.Qrels["q0004"], map[string]int{"r0001": 1, "r0002": 1}) || !reflect.DeepEqual(j.Qrels["q0002"], map[string]int{"r0002": 1}) {
		t.Fatalf("qrels %v", j.Qrels)
	}
	os.WriteFile(p, []byte("a,b\n1,2\n"), 0o644)
	if _, err := ReadProducts(p); err == nil || !strings.Contains(err.Error(), `missing column "type_code"`) {
		t.Fatalf("bad header: %v", err)
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	vocab := []string{"두통", "해열제", "아세트아미노펜", "정제", "캡슐"}
	a, b := Synthetic(vocab, 3000), Synthetic(vocab, 3000)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("Synthetic is not deterministic")
	}
	for _, d := range a {
		if n := len(strings.Fields(d.Text)); n < 20 || n > 80 {
			t.Fatalf("%s has %d words", d.ID, n)
		}
	}
	if a[2999].ID != "s2999" {
		t.Fatalf("last id %q", a[2999].ID)
	}
}
