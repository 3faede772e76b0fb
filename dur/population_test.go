package dur

import (
	"reflect"
	"strings"
	"testing"
)

// pops renders Populations as "population:word" strings.
func pops(q string) []string {
	var out []string
	for _, m := range Populations(q) {
		out = append(out, m.Population+":"+m.Word)
	}
	return out
}

func TestPopulations(t *testing.T) {
	const (
		preg  = PopulationPregnancy
		old   = PopulationElderly
		kid   = PopulationChildren
		nurse = PopulationBreastfeeding
	)
	for _, c := range []struct {
		query string
		want  []string // "population:word", in query order; nil: none
	}{
		// pregnancy
		{"임산부가 먹어도 되는 감기약", []string{preg + ":임산부"}},
		{"임신 중 두통약", []string{preg + ":임신"}},
		{"임신중인데 변비약 추천", []string{preg + ":임신"}},
		{"임신했는데 타이레놀 괜찮나요", []string{preg + ":임신"}},
		{"임부도 쓸 수 있는 연고", []string{preg + ":임부"}},
		{"고위험임산부 철분제", []string{preg + ":임산부"}},
		{"산모에게 안전한 진통제", []string{preg + ":산모"}},
		{"Is ibuprofen safe when pregnant?", []string{preg + ":pregnant"}},
		// elderly
		{"노인 수면제", []string{old + ":노인"}},
		{"독거노인 관절약", []string{old + ":노인"}},
		{"어르신들께 드릴 영양제", []string{old + ":어르신"}},
		{"고령자 고혈압약", []string{old + ":고령자"}},
		{"65세 이상 복용 주의 약", []string{old + ":65세 이상"}},
		{"80대 할머니 소화제", []string{old + ":80대"}},
		{"elderly patients insomnia", []string{old + ":elderly"}},
		// children
		{"아이가 열이 나요", []string{kid + ":아이"}},
		{"아이들한테 먹이는 기침약", []string{kid + ":아이"}},
		{"우리아이 해열제", []string{kid + ":아이"}},
		{"5살아이 감기약", []string{kid + ":5살"}},
		{"소아과 처방 항생제", []string{kid + ":소아"}},
		{"갓난아기 배앓이", []string{kid + ":아기"}},
		{"신생아황달", []string{kid + ":신생아"}},
		{"12세 미만 복용 금지", []string{kid + ":12세 미만"}},
		{"청소년 여드름약", []string{kid + ":청소년"}},
		{"어린이부루펜시럽", []string{kid + ":어린이"}},
		{"children's cough syrup", []string{kid + ":children"}},
		// breastfeeding
		{"수유부 감기약", []string{nurse + ":수유부"}},
		{"수유중 먹어도 되는 진통제", []string{nurse + ":수유"}},
		{"모유수유 중 항생제", []string{nurse + ":수유"}},
		{"모유 수유하는 엄마 두통약", []string{nurse + ":모유"}},
		// several populations, in query order
		{"임산부와 노인이 함께 먹어도 되나요", []string{preg + ":임산부", old + ":노인"}},
		{"아이와 할머니 감기약, 임신 중인 엄마도", []string{kid + ":아이", old + ":할머니", preg + ":임신"}},
		{"수유 중이고 아기가 3개월", []string{nurse + ":수유", kid + ":아기"}},
		// negatives
		{"아이브로우 펜슬", nil},
		{"타이레놀 500mg", nil},
		{"아이폰 충전기", nil},
		{"아이오딘 소독약", nil},
		{"아기오쿨 원료과립", nil},
		{"유아인 광고 영양제", nil},
		{"수유역 근처 약국", nil},
		{"임부금기 성분 목록", nil},
		// a population word inside a longer word (derivational suffix)
		{"노인성 우울증", nil},
		{"노인성 난청 치료제", nil},
		{"노인병 예방", nil},
		{"임신성 당뇨 관리", nil},
		{"멀미, 항암제 부작용, 임신성 구토 등 다양한 원인의 구역 및 구토 증상을 완화하는 약", nil},
		{"유아용 해열제 시럽", nil},
		{"소아용루리드정 50mg 보관 방법 알려줘", nil},
		// ... while particles and person-keeping suffixes still match
		{"노인이 먹는 수면제", []string{old + ":노인"}},
		{"노인에게 위험한 약", []string{old + ":노인"}},
		{"노인분들께 드릴 약", []string{old + ":노인"}},
		{"노인환자 낙상 주의 약", []string{old + ":노인"}},
		{"아이를 병원에 데려가야 하나요", []string{kid + ":아이"}},
		{"아이가 가지고 놀던 장난감을 삼켰어요", []string{kid + ":아이"}},
		{"청소년기 여드름", []string{kid + ":청소년"}},
		{"수유기 여성 진통제", []string{nurse + ":수유"}},
		// another sense: a child wanted or conceived, pregnancy prevented
		{"우울증 환자가 아이를 가지려고 하는데 약을 끊어야 하나요", nil},
		{"아기를 낳고 싶어요", nil},
		{"아이가 안 생겨요", nil},
		{"애기 갖기 전에 먹으면 안 되는 약", nil},
		{"아이 낳고 나서 먹는 약", nil},
		{"배란 억제, 자궁내막 변화, 정자 이동 억제 등을 통해 임신을 예방하는 약", nil},
		{"임신 안 되게 하는 약", nil},
		{"임신을 피하려면", nil},
		{"임신 테스트기 정확도", nil},
		// ... and the same words in the population sense
		{"임신 준비 중 먹으면 안 되는 약", []string{preg + ":임신"}},
		{"임신 막달 변비약", []string{preg + ":임신"}},
		{"아이를 가지려는데 아이가 열이 나요", []string{kid + ":아이"}},
		{"아이를 임신했어요 두통약", []string{preg + ":임신"}},
		{"3세대 세팔로스포린", nil},
		{"99.9% 살균 소독제", nil},
		{"12세 이상 복용", nil},
		{"60대 고지혈증", nil},
		{"65세 미만 성인", nil},
		{"두통에 먹는 약", nil},
		{"kidney stones", nil},
		{"", nil},
	} {
		if got := pops(c.query); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Populations(%q) = %q, want %q", c.query, got, c.want)
		}
	}
}

func TestPopulationsTypes(t *testing.T) {
	m := Populations("임산부와 노인과 아이와 수유부")
	want := []Match{
		{Word: "임산부", Population: PopulationPregnancy, Types: []string{TypePregnancy}},
		{Word: "노인", Population: PopulationElderly, Types: []string{TypeElderly}},
		{Word: "아이", Population: PopulationChildren, Types: []string{TypeAge}},
		{Word: "수유부", Population: PopulationBreastfeeding, Types: []string{TypeLactation}},
	}
	if !reflect.DeepEqual(m, want) {
		t.Errorf("%+v", m)
	}
	// Types are copies: changing them leaves PopulationTypes alone.
	m[0].Types[0] = "x"
	if PopulationTypes[PopulationPregnancy][0] != TypePregnancy {
		t.Error("Populations returned PopulationTypes' slice")
	}
	// NFKC: full-width digits and compatibility forms.
	if got := pops("６５세 이상 ＥＬＤＥＲＬＹ"); !reflect.DeepEqual(got, []string{PopulationElderly + ":65세 이상"}) {
		t.Errorf("%q", got)
	}
	// Every lexicon word matches on its own.
	for _, l := range lexicon {
		got := Populations(l.word)
		if len(got) != 1 || got[0].Population != l.population || got[0].Word != l.word {
			t.Errorf("%q: %+v", l.word, got)
		}
		if l.population == "" || strings.TrimSpace(l.word) != l.word {
			t.Errorf("bad lexeme %+v", l)
		}
	}
}

func TestNamesAtStart(t *testing.T) {
	for _, c := range []struct {
		text, population string
		want             bool
	}{
		{"노인이 먹는 약", PopulationElderly, true},
		{"아이가 열이 나요", PopulationChildren, true},
		{"65세 이상 노인", PopulationElderly, true},
		{"노인성 우울증, 노인 환자", PopulationElderly, false},
		{"아이를 가지려는데 아이가 아파요", PopulationChildren, false},
		{"아이가 아파요", PopulationElderly, false},
		{"타이레놀 아이", PopulationChildren, false},
	} {
		if got := NamesAtStart(c.text, c.population); got != c.want {
			t.Errorf("NamesAtStart(%q, %s) = %v, want %v", c.text, c.population, got, c.want)
		}
	}
}
