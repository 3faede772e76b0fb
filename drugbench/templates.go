package drugbench

import (
	"strings"
)

// Query kinds, from easiest to hardest for a lexical matcher.
const (
	KindName       = "name"       // one product (family) by its name
	KindIngredient = "ingredient" // every product containing a Korean ingredient
	KindType       = "type"       // every product of a type, asked by intent or definition
	KindMixed      = "mixed"      // English ingredient names inside Korean sentences
)

// Kinds lists the query kinds in report order.
var Kinds = []string{KindName, KindIngredient, KindType, KindMixed}

// Splits.
const (
	SplitTrain = "train"
	SplitTest  = "test"
)

// Template is one query pattern. Slots are written {slot}; a particle
// pair such as {은/는} or {이/가} picks its form from the text before it.
type Template struct {
	ID      string
	Kind    string
	Split   string
	Slot    string // the entity slot the pattern needs: name, ing, type, purpose, disease, eng, eng+type, phrase
	Pattern string
}

// Templates are the fixed templates. Train and test never share one.
// The seed project's product templates ("X은 어떤 약이야?", "X의 효능은?",
// "X의 주요 성분은?", "{type} 약 알려줘") are train templates, so models
// fine-tuned on them are scored on wordings they have not seen.
var Templates = []Template{
	{"name-tr1", KindName, SplitTrain, "name", "{name}{은/는} 어떤 약이야?"},
	{"name-tr2", KindName, SplitTrain, "name", "{name}의 효능은?"},
	{"name-tr3", KindName, SplitTrain, "name", "{name}의 주요 성분은?"},
	{"name-tr4", KindName, SplitTrain, "name", "{name} 보관 방법 알려줘"},
	{"name-te1", KindName, SplitTest, "name", "{name}에 대해 알려주세요"},
	{"name-te2", KindName, SplitTest, "name", "{name} 무슨 약인지 궁금해요"},
	{"name-te3", KindName, SplitTest, "name", "{name}{은/는} 어느 회사 제품이에요?"},
	{"name-te4", KindName, SplitTest, "name", "{name} 성분이 뭐예요?"},
	{"name-te5", KindName, SplitTest, "name", "{name} 어떻게 생긴 약이야?"},

	{"ing-tr1", KindIngredient, SplitTrain, "ing", "{ing} 성분이 들어간 약은?"},
	{"ing-tr2", KindIngredient, SplitTrain, "ing", "{ing}{이/가} 포함된 약 알려줘"},
	{"ing-tr3", KindIngredient, SplitTrain, "ing", "{ing} 함유 의약품"},
	{"ing-te1", KindIngredient, SplitTest, "ing", "{ing} 들어있는 약 뭐 있어?"},
	{"ing-te2", KindIngredient, SplitTest, "ing", "{ing}{을/를} 주성분으로 하는 제품"},
	{"ing-te3", KindIngredient, SplitTest, "ing", "{ing} 성분 약 찾아줘"},
	{"ing-te4", KindIngredient, SplitTest, "ing", "{ing}{이/가} 든 약품 목록"},

	{"type-tr1", KindType, SplitTrain, "type", "{type} 약 알려줘"},
	{"type-tr2", KindType, SplitTrain, "type", "{type}에는 어떤 약이 있어?"},
	{"type-tr3", KindType, SplitTrain, "purpose", "{purpose} 약"},
	{"type-te1", KindType, SplitTest, "type", "{type} 계열 의약품 찾아줘"},
	{"type-te2", KindType, SplitTest, "disease", "{disease} 치료에 쓰는 약"},
	{"type-te3", KindType, SplitTest, "disease", "{disease}에 먹는 약 추천해 주세요"},

	{"mix-tr1", KindMixed, SplitTrain, "eng", "{eng} 성분 약 알려줘"},
	{"mix-tr2", KindMixed, SplitTrain, "eng+type", "{eng} 함유된 {type}"},
	{"mix-tr3", KindMixed, SplitTrain, "eng", "{eng} 포함 제품 뭐 있어?"},
	{"mix-te1", KindMixed, SplitTest, "eng+type", "{eng} 들어있는 {type} 찾아줘"},
	{"mix-te2", KindMixed, SplitTest, "eng", "{eng} 성분 들어간 약 있어?"},
	{"mix-te3", KindMixed, SplitTest, "eng", "{eng_lower} 들어간 의약품 추천"},
}

// Phrase is a hand-written colloquial intent for a product type: a
// paraphrase of its definition in the words a patient would use.
type Phrase struct {
	Code  string
	Split string
	Text  string
}

// Phrases are hand-written intents ("열을 내리는 약 알려줘") for common
// types. Each phrase is its own template; train and test phrases differ.
// Codes with opposite meanings under one code (01250 발한제/지한제) are
// left out.
var Phrases = phraseTable(map[string][2][]string{
	"01110": {{"수술할 때 재우는 마취약"}, {"전신 마취에 쓰는 약", "수술 중 의식을 잃게 하는 약"}},
	"01120": {{"잠이 안 올 때 먹는 약"}, {"불면증 수면제 알려줘", "잠 잘 오게 하는 약"}},
	"01130": {{"간질 발작 막는 약"}, {"뇌전증 치료약", "경련 발작을 예방하는 약"}},
	"01140": {{"열을 내리는 약 알려줘", "염증이랑 통증 줄여주는 약"}, {"체온을 낮추는 약", "몸살 나서 열나고 아플 때 먹는 약"}},
	"01150": {{"졸음 쫓는 약"}, {"ADHD 치료약", "집중력 높이는 각성제"}},
	"01160": {{"어지러울 때 먹는 약"}, {"현기증 치료제"}},
	"01170": {{"우울증 치료하는 약"}, {"조현병이나 조울증에 쓰는 약", "불안장애 약 알려줘"}},
	"01210": {{"부분 마취할 때 쓰는 약"}, {"시술 부위만 감각 없애는 주사", "치과에서 쓰는 마취 주사"}},
	"01220": {{"근육 뭉침 풀어주는 약"}, {"근육 경련 완화제", "허리 근육 긴장 풀어주는 약"}},
	"01240": {{"배 아플 때 경련 풀어주는 약"}, {"위경련 복통 약", "과민성 대장 복통에 먹는 약"}},
	"01310": {{"눈에 넣는 약"}, {"결막염 안약", "눈 건조할 때 쓰는 점안액"}},
	"01320": {{"코 막힐 때 쓰는 약"}, {"중이염이나 비염 치료약", "귀 코 목 질환 약"}},
	"01410": {{"알레르기 가려움 가라앉히는 약"}, {"두드러기 날 때 먹는 약", "콧물 재채기 알레르기 비염약"}},
	"02110": {{"심장 힘을 세게 해주는 약"}, {"심부전 환자 심장 수축 돕는 약"}},
	"02120": {{"심장 박동이 불규칙할 때 먹는 약"}, {"맥박이 고르지 않을 때 쓰는 약"}},
	"02130": {{"소변 잘 나오게 하는 약"}, {"몸이 부었을 때 붓기 빼는 약", "부종 치료에 쓰는 오줌 배출 약"}},
	"02140": {{"혈압 낮추는 약"}, {"고혈압 약 뭐 있어요?", "혈압이 높을 때 먹는 약"}},
	"02170": {{"혈관 넓혀주는 약"}, {"협심증 가슴 통증 약"}},
	"02180": {{"콜레스테롤 낮추는 약"}, {"고지혈증 치료제", "혈관에 기름 끼는 거 막는 약"}},
	"02220": {{"기침 멈추게 하는 약", "가래 삭이는 약 뭐 있어?"}, {"기침이랑 가래가 심할 때 먹는 약", "목에 가래가 끓을 때 쓰는 약"}},
	"02320": {{"위궤양 치료약"}, {"위산 분비 억제하는 약", "십이지장 궤양에 먹는 약"}},
	"02330": {{"소화 안 될 때 먹는 약"}, {"체했을 때 먹는 소화제", "더부룩한 속 편하게 하는 약"}},
	"02340": {{"속쓰림 약"}, {"위산 중화시키는 약"}},
	"02350": {{"멀미약"}, {"구역질 구토 멈추는 약"}},
	"02370": {{"장 건강 유산균 약"}, {"설사 멈추게 하는 약", "장내 세균 균형 잡아주는 약"}},
	"02380": {{"변비약 알려줘"}, {"배변 잘 되게 하는 약", "대변이 안 나올 때 먹는 약"}},
	"02410": {{"성장호르몬 주사"}, {"키 크는 성장 호르몬제"}},
	"02430": {{"갑상선 호르몬약"}, {"갑상선 기능 저하증 약"}},
	"02450": {{"스테로이드 약"}, {"염증 억제하는 부신피질 호르몬제"}},
	"02460": {{"테스토스테론 약"}, {"남성 호르몬 보충하는 약"}},
	"02470": {{"여성호르몬제"}, {"갱년기 증상 치료하는 호르몬약"}},
	"02540": {{"임신 안 되게 하는 약"}, {"먹는 피임약 종류"}},
	"02560": {{"치질 연고"}, {"항문 주위 통증 출혈 치료제"}},
	"02600": {{"피부에 바르는 약"}, {"습진 피부염에 바르는 연고"}},
	"02610": {{"상처 소독약"}, {"피부 세균 죽이는 소독제"}},
	"02620": {{"상처 덮어 보호하는 약"}, {"상처 아물게 돕는 약"}},
	"02630": {{"고름 생긴 상처 치료약"}, {"곪은 피부에 바르는 항생 연고"}},
	"02670": {{"머리카락 나게 하는 약"}, {"탈모 치료제 뭐 있어?"}},
	"03100": {{"비타민 보충제"}, {"비타민 부족할 때 먹는 약"}},
	"03210": {{"칼슘 보충제"}, {"뼈 건강 골다공증에 먹는 칼슘약"}},
	"03320": {{"피 멈추게 하는 약"}, {"출혈을 멎게 하는 약"}},
	"03330": {{"피 묽게 하는 약"}, {"혈전 생기지 않게 하는 항응고제"}},
	"03910": {{"간 기능 개선제"}, {"지방간이나 간염에 먹는 약"}},
	"03940": {{"통풍 약"}, {"요산 수치 낮추는 약"}},
	"04210": {{"항암제 알려줘"}, {"암 치료에 쓰는 약"}},
	"06160": {{"무좀약"}, {"곰팡이 감염 치료하는 약"}},
	"06220": {{"결핵 치료제"}, {"결핵균 죽이는 약"}},
	"06310": {{"예방 접종 주사"}, {"감염병 예방 백신 뭐 있어?"}},
	"06420": {{"기생충 약"}, {"회충 요충 없애는 약"}},
	"07210": {{"엑스레이 찍을 때 쓰는 조영제"}, {"CT 촬영용 조영제"}},
	"08110": {{"마약성 진통제"}, {"심한 통증에 쓰는 모르핀 계열 약"}},
})

func phraseTable(m map[string][2][]string) []Phrase {
	var out []Phrase
	for code, tt := range m {
		for _, t := range tt[0] {
			out = append(out, Phrase{code, SplitTrain, t})
		}
		for _, t := range tt[1] {
			out = append(out, Phrase{code, SplitTest, t})
		}
	}
	sortPhrases(out)
	return out
}

// render fills pattern's {slot}s from slots and resolves particle pairs.
func render(pattern string, slots map[string]string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(pattern, '{')
		if i < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		j := strings.IndexByte(pattern[i:], '}')
		if j < 0 {
			b.WriteString(pattern)
			return b.String()
		}
		b.WriteString(pattern[:i])
		key := pattern[i+1 : i+j]
		pattern = pattern[i+j+1:]
		if strings.Contains(key, "/") {
			cur := b.String()
			b.Reset()
			b.WriteString(josa(cur, key))
			continue
		}
		b.WriteString(slots[key])
	}
}
