package dur

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Populations a query can name.
const (
	PopulationPregnancy     = "pregnancy"
	PopulationElderly       = "elderly"
	PopulationChildren      = "children"
	PopulationBreastfeeding = "breastfeeding"
)

// PopulationTypes maps each population to the DUR types it selects.
// 수유부주의 (caution in breastfeeding) is a real DUR type: MFDS and the
// Korea Institute of Drug Safety (KIDS) published it in 2024 (148
// ingredients) and KIDS serves it in its DUR search and as the data.go.kr
// file "한국의약품안전관리원_수유부주의약물"; the MFDS open API
// (DURPrdlstInfoService03) has no operation for it yet, so records of this
// type come from those files.
var PopulationTypes = map[string][]string{
	PopulationPregnancy:     {TypePregnancy},
	PopulationElderly:       {TypeElderly},
	PopulationChildren:      {TypeAge},
	PopulationBreastfeeding: {TypeLactation},
}

// Match is a population named by a query.
type Match struct {
	// Word is the word that named it, as listed in the lexicon ("임산부"
	// for "임산부가"), or the age phrase as written ("65세 이상").
	Word string `json:"word"`
	// Population is pregnancy, elderly, children or breastfeeding; Types
	// are the DUR types it selects (PopulationTypes).
	Population string   `json:"population"`
	Types      []string `json:"types"`
}

// lexeme is a population word. Long words (three syllables or more, or
// Latin) are specific enough to match anywhere in a Hangul run; short
// ones only at a word start (or after a listed modifier) and followed by
// nothing, a particle, an ending or a listed suffix. Verbal ones (하다
// nouns) also take 하다 endings.
type lexeme struct {
	word, population string
	verbal           bool
}

var lexicon = []lexeme{
	{"임산부", PopulationPregnancy, false},
	{"임신부", PopulationPregnancy, false},
	{"임부", PopulationPregnancy, false},
	{"임신", PopulationPregnancy, true},
	{"산모", PopulationPregnancy, false},
	{"pregnant", PopulationPregnancy, false},
	{"pregnancy", PopulationPregnancy, false},

	{"고령자", PopulationElderly, false},
	{"어르신", PopulationElderly, false},
	{"할머니", PopulationElderly, false},
	{"할아버지", PopulationElderly, false},
	{"노인", PopulationElderly, false},
	{"고령", PopulationElderly, false},
	{"노년", PopulationElderly, false},
	{"elderly", PopulationElderly, false},
	{"senior", PopulationElderly, false},
	{"seniors", PopulationElderly, false},
	{"geriatric", PopulationElderly, false},

	{"어린이", PopulationChildren, false},
	{"신생아", PopulationChildren, false},
	{"청소년", PopulationChildren, false},
	{"영유아", PopulationChildren, false},
	{"젖먹이", PopulationChildren, false},
	{"초등학생", PopulationChildren, false},
	{"초등생", PopulationChildren, false},
	{"중학생", PopulationChildren, false},
	{"고등학생", PopulationChildren, false},
	{"미성년자", PopulationChildren, false},
	{"소아", PopulationChildren, false},
	{"아이", PopulationChildren, false},
	{"아기", PopulationChildren, false},
	{"애기", PopulationChildren, false},
	{"애들", PopulationChildren, false},
	{"유아", PopulationChildren, false},
	{"영아", PopulationChildren, false},
	{"아동", PopulationChildren, false},
	{"child", PopulationChildren, false},
	{"children", PopulationChildren, false},
	{"kid", PopulationChildren, false},
	{"kids", PopulationChildren, false},
	{"infant", PopulationChildren, false},
	{"infants", PopulationChildren, false},
	{"baby", PopulationChildren, false},
	{"babies", PopulationChildren, false},
	{"toddler", PopulationChildren, false},
	{"toddlers", PopulationChildren, false},
	{"pediatric", PopulationChildren, false},
	{"paediatric", PopulationChildren, false},

	{"수유부", PopulationBreastfeeding, false},
	{"수유", PopulationBreastfeeding, true},
	{"모유", PopulationBreastfeeding, false},
	{"breastfeeding", PopulationBreastfeeding, false},
	{"lactating", PopulationBreastfeeding, false},
	{"lactation", PopulationBreastfeeding, false},
}

// Modifiers a short word may follow inside one Hangul run ("우리아이",
// "독거노인", "갓난아기", "모유수유", "5살아이").
var shortPrefixes = []string{
	"우리", "울", "내", "제", "저희", "어린", "갓난", "남자", "여자", "큰", "작은", "첫", "둘째",
	"셋째", "막내", "독거", "치매", "초기", "예비", "고위험", "노산", "고령", "세", "살", "개월", "모유",
}

// Suffixes a short word may take before a particle and still name the
// person: plural and honorific (아이들, 노인분, 아기님), the group
// (노인층, 노인군, 노인환자), a period of the person's life (청소년기,
// 수유기, 임신중, 임신초기, 임신기간). A derivational suffix that makes
// another noun is not among them, so the word is then no match: 성 makes
// an attribute, mostly of a disease (노인성 난청, 노인성 우울증, 임신성
// 당뇨, 임신성 구토 — 18 times in the shared drug texts, always so), 용
// and 용품 a use (유아용 시럽, 소아용루리드정: product names and
// categories, which the search needs as written), 병 a disease (노인병).
// "소아과" still matches: 과 is also the particle "and" (노인과 아이),
// and either way a pediatric query is about a child.
var shortSuffixes = byLength([]string{
	"들", "분", "님", "층", "기", "과", "군", "환자", "중", "초기", "중기",
	"후기", "말기", "기간", "부",
})

// otherSenses are what may follow a population word (after its
// particle) when the word names no one the query is about:
//
//   - a child wanted or conceived, not a child patient: "우울증 환자가
//     아이를 가지려고 하는데", "아기를 낳고 싶어요", "아이가 안 생겨요",
//     "애기 갖기 전에";
//   - pregnancy prevented or tested for, by someone not (known to be)
//     pregnant: "임신을 예방하는 약", "임신 안 되게 하는 약", "임신을
//     피하려면", "임신 테스트기".
//
// Planning a pregnancy ("임신 준비 중", "임신을 원하는") still names
// pregnancy: DUR's 임부금기 covers women who may become pregnant
// (isotretinoin, warfarin), so its flags are wanted. A pregnancy said as
// a child conceived ("아이를 가졌어요") is not recognised as pregnancy.
var otherSenses = map[string]*regexp.Regexp{}

func init() {
	// The object particle (or none) for having, bearing or wanting a
	// child (아이를 가지려고; but 아이가 가지고 놀던 is a child), the
	// subject particle for one coming (아이가 안 생겨요).
	child := regexp.MustCompile(`^(?:들)?(?:(?:을|를)?\s*(?:갖|가지|가져|가졌|가질|낳|원하|원해|바라|바래|계획|만들|임신)|(?:이|가)\s*(?:생기|생겨|생겼|생길|안\s*생))`)
	// Avoiding needs the object particle (임신을 피하려면; 임신 피해야
	// 할 약 is ambiguous); 막 too (임신 막달 is the last month).
	pregnancy := regexp.MustCompile(`^(?:(?:을|를)\s*(?:피하|피해|피할|막)|(?:을|를|이|가|은|는|도)?\s*(?:예방|방지|피임|안\s*되|안\s*돼|안\s*됨|테스트|진단|검사))`)
	for _, w := range []string{"아이", "아기", "애기"} {
		otherSenses[w] = child
	}
	otherSenses["임신"] = pregnancy
}

// Particles, copulas and endings that may close a short word.
var particles = map[string]bool{}

func init() {
	for _, p := range strings.Fields(`가 이 은 는 을 를 의 도 만 에 에게 에게는 에게도 에겐 한테 한테는
		한테도 한텐 께 께서 께서는 께는 께도 과 와 랑 이랑 하고 로 으로 에서 부터 까지 처럼 보다
		이나 나 요 이요 인데 인데요 이에요 예요 이야 야 이라 라 라서 이라서 이라도 라도 이면 면
		일때 일 이니까 니까 인지 이지만 지만 인가요 인가 이고 이며 며 이랑도 에게서 한테서`) {
		particles[p] = true
	}
}

// validTail reports whether what follows a short word in its Hangul run
// keeps it a word of its own.
func validTail(tail string, verbal bool) bool {
	for n := 0; n < 3 && tail != ""; n++ {
		if particles[tail] {
			return true
		}
		if verbal {
			if r, _ := utf8.DecodeRuneInString(tail); strings.ContainsRune("하했한해할합함", r) {
				return true
			}
		}
		cut := false
		for _, s := range shortSuffixes {
			if rest, ok := strings.CutPrefix(tail, s); ok {
				tail, cut = rest, true
				break
			}
		}
		if !cut {
			return false
		}
	}
	return tail == "" || particles[tail]
}

// ageRe finds "65세", "5살", "70대".
var ageRe = regexp.MustCompile(`(^|[^0-9.])([0-9]{1,3})(세|살|대)`)

// Hangul that may not follow N세/N살 for it to be an age (세대, 세트,
// 세포, 살균, 세상, 세제, 세척, 세안, 세탁, …).
const notAgeNext = "대트포균충상금계제정척안탁수빼찐찌코결"

var (
	underWords = []string{"미만", "이하", "까지"}
	overWords  = []string{"이상", "초과", "넘", "부터", "이후"}
)

// Populations returns the populations a query names, one Match per
// population in the order the query names them (the first word found for
// each). Matching, after NFKC and lower-casing:
//
//   - Words of three or more syllables (임산부, 임신부, 고령자, 어르신,
//     할머니, 어린이, 신생아, 청소년, 영유아, 수유부, …) match anywhere in
//     a word: "임산부가", "고위험임산부", "청소년기", and also product
//     names such as "어린이부루펜시럽".
//   - Two-syllable words (임부, 임신, 산모, 노인, 고령, 노년, 소아, 아이,
//     아기, 애기, 애들, 유아, 영아, 아동, 수유, 모유) match only as a
//     word of their own: at the start of a Hangul run or after a listed
//     modifier (우리아이, 독거노인, 갓난아기, 모유수유, 5살아이), and
//     followed by nothing, a particle or copula ending (가, 는, 한테, 인데,
//     이에요, …), a listed suffix that keeps the person (들, 분, 님, 층,
//     기, 과, 중, 초기, 환자, …, then a particle; see shortSuffixes), or
//     for 임신 and 수유 a 하다 ending (임신했는데, 수유하는). So "아이가",
//     "아이들한테", "소아과", "임신중", "임부도" match, while "아이브로우",
//     "아이폰", "아이오딘", "타이레놀", "아기오쿨", "유아인", "수유역", the
//     DUR type name "임부금기" and the derived words "노인성" (노인성
//     우울증: a disease), "임신성", "유아용" and "노인병" do not.
//   - A word used in another sense is no match (see otherSenses): "아이를
//     가지려고" (wanting a child), "임신을 예방하는 약" (contraception).
//   - Latin words match whole: pregnant, pregnancy, elderly, senior(s),
//     geriatric, child, children, kid(s), infant(s), baby, babies,
//     toddler(s), pediatric, paediatric, breastfeeding, lactating,
//     lactation.
//   - Ages written with digits: N세 or N살 with N ≥ 65 is elderly unless
//     followed by 미만, 이하 or 까지 ("65세 이상", "70세"); N ≥ 70 with 대
//     ("70대", "80대") is elderly (60대 is not: DUR's 노인주의 starts at
//     65) and 10대 is children; N세/N살 with N ≤ 18, or N ≤ 19 followed by 미만 or 이하, is
//     children unless followed by 이상, 초과, 넘, 부터 or 이후 ("12세 미만",
//     "5살"). 세대, 세트, 세포, 살균 and similar compounds are not ages.
//
// Negation is not understood: "임산부가 아닌" still names pregnancy.
func Populations(query string) []Match {
	var out []Match
	seen := map[string]bool{}
	for _, h := range populationHits(query) {
		if seen[h.popu] {
			continue
		}
		seen[h.popu] = true
		out = append(out, Match{Word: h.word, Population: h.popu, Types: append([]string(nil), PopulationTypes[h.popu]...)})
	}
	return out
}

// NamesAtStart reports whether text begins with a word that names
// population as Populations reads it, the rest of text being its context:
// "노인이 먹는 약" and "아이가 열이 나요" do, "노인성 우울증, 노인 환자"
// and "아이를 가지려는데 아이가 아파요" do not (their population words
// come later). It tells which of a query's words named a population.
func NamesAtStart(text, population string) bool {
	for _, h := range populationHits(text) {
		if h.pos == 0 && h.popu == population {
			return true
		}
	}
	return false
}

// hit is a population word found at byte pos of the normalised query.
type hit struct {
	pos        int
	word, popu string
}

// populationHits finds the population words and ages of query, in query
// order (a longer word first at one position).
func populationHits(query string) []hit {
	q := strings.ToLower(norm.NFKC.String(query))
	var hits []hit

	// Words, run by run.
	for _, run := range runs(q) {
		if !run.hangul {
			for _, l := range lexicon {
				if run.text == l.word {
					hits = append(hits, hit{run.pos, l.word, l.population})
				}
			}
			continue
		}
		for _, l := range lexicon {
			long := utf8.RuneCountInString(l.word) >= 3
			for from := 0; ; {
				i := strings.Index(run.text[from:], l.word)
				if i < 0 {
					break
				}
				i += from
				from = i + len(l.word)
				pre, tail := run.text[:i], run.text[i+len(l.word):]
				if re := otherSenses[l.word]; re != nil && re.MatchString(q[run.pos+i+len(l.word):]) {
					continue
				}
				if long || ((pre == "" || contains(shortPrefixes, pre)) && validTail(tail, l.verbal)) {
					hits = append(hits, hit{run.pos + i, l.word, l.population})
					break
				}
			}
		}
	}

	// Ages.
	for _, m := range ageRe.FindAllStringSubmatchIndex(q, -1) {
		start, unitEnd := m[4], m[1]
		n, _ := strconv.Atoi(q[m[4]:m[5]])
		unit := q[m[6]:m[7]]
		rest := q[unitEnd:]
		if next, _ := utf8.DecodeRuneInString(rest); unit != "대" && strings.ContainsRune(notAgeNext, next) {
			continue
		}
		qual, end := "", unitEnd
		trimmed := strings.TrimLeft(rest, " ")
		for _, w := range append(append([]string{}, underWords...), overWords...) {
			if strings.HasPrefix(trimmed, w) {
				qual, end = w, unitEnd+(len(rest)-len(trimmed))+len(w)
				break
			}
		}
		under, over := contains(underWords, qual), contains(overWords, qual)
		word := q[start:end]
		switch {
		case unit == "대":
			if n >= 70 && n <= 100 && n%10 == 0 {
				hits = append(hits, hit{start, word, PopulationElderly})
			} else if n == 10 {
				hits = append(hits, hit{start, word, PopulationChildren})
			}
		case n >= 65 && !under:
			hits = append(hits, hit{start, word, PopulationElderly})
		case !over && (n <= 18 || (n <= 19 && under)):
			hits = append(hits, hit{start, word, PopulationChildren})
		}
	}

	sort.SliceStable(hits, func(i, j int) bool {
		if hits[i].pos != hits[j].pos {
			return hits[i].pos < hits[j].pos
		}
		return len(hits[i].word) > len(hits[j].word)
	})
	return hits
}

type run struct {
	text   string
	pos    int
	hangul bool
}

// runs splits normalised text into Hangul runs and Latin/digit runs;
// everything else separates.
func runs(s string) []run {
	var out []run
	start, kind := -1, 0 // kind 1: Hangul, 2: other letters and digits
	flush := func(end int) {
		if start >= 0 {
			out = append(out, run{s[start:end], start, kind == 1})
		}
		start, kind = -1, 0
	}
	for i, r := range s {
		k := 0
		switch {
		case isHangul(r):
			k = 1
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			k = 2
		}
		if k != kind {
			flush(i)
			if k != 0 {
				start, kind = i, k
			}
		}
	}
	flush(len(s))
	return out
}

func isHangul(r rune) bool {
	return (r >= 0xAC00 && r <= 0xD7A3) || (r >= 0x3131 && r <= 0x318E) || (r >= 0x1100 && r <= 0x11FF)
}
