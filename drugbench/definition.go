package drugbench

import (
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

func sortPhrases(p []Phrase) {
	sort.Slice(p, func(i, j int) bool {
		if p[i].Code != p[j].Code {
			return p[i].Code < p[j].Code
		}
		if p[i].Split != p[j].Split {
			return p[i].Split < p[j].Split
		}
		return p[i].Text < p[j].Text
	})
}

var (
	// "강심제는 ", "‘주로 악성종양에 작용하는 것’에 해당하는 의약품은 "
	subjectRe = regexp.MustCompile(`^[^,.]{0,40}?(?:제|약|품|류|것|물|시약|제제)['’]?(?:\([^)]*\))?(?:은|는|란)\s+`)
	// "... 개선하는 약물로," → "... 개선하는"
	purposeRe = regexp.MustCompile(`^(.{6,70}?[가-힣](?:하는|되는|주는|돕는|시키는|낮추는|높이는|있는|위한|가진|않는|없는|나타내는))\s+(?:[가-힣]+\s+)?(?:약물|의약품|제제|항생제|항균제|항바이러스제|외용약|보충제|물질|관류액|약품|제품군|제품|치료제|용액|약)`)
	// "... 등의 치료에 사용", "… 등에 사용"
	diseaseEnd = regexp.MustCompile(`\s*등(?:의|에서|에)?\s*(?:치료|질환|증상|예방|사용|처방|활용)`)
	listSplit  = regexp.MustCompile(`\s*(?:,|·|및|또는|이나|나)\s+`)
	// words that mark a list of drug classes or mechanisms, not diseases
	notDisease = regexp.MustCompile(`(제|계|약물|성분|작용|효과|기능|목적|형태|환자|투여|억제|촉진|조절|개선|보충|유지|공급|회복|보조|시술|수술|촬영|용도|예|물질|치료|약|군)$`)
)

// firstSentence returns s up to and including the first "다." sentence end.
func firstSentence(s string) string {
	if i := strings.Index(s, "다."); i >= 0 {
		return s[:i+len("다.")]
	}
	return s
}

// definitionPurpose extracts what a type's drugs do from its Korean
// definition: "이뇨제는 신장에서 소변의 배출을 촉진하여 … 조절하는 약물로, …"
// → "신장에서 소변의 배출을 촉진하여 체내 수분과 염분을 조절하는".
// It returns "" when the definition does not have that shape.
func definitionPurpose(def string) string {
	s := firstSentence(def)
	s = subjectRe.ReplaceAllString(s, "")
	m := purposeRe.FindStringSubmatch(s)
	if m == nil {
		return ""
	}
	p := strings.TrimSpace(m[1])
	if strings.ContainsAny(p, "‘’'\"") || utf8.RuneCountInString(p) > 60 {
		return ""
	}
	return p
}

// definitionDiseases extracts the conditions a type treats from its
// definition ("…, 고혈압, 부종 등의 치료에 사용됩니다" → [고혈압 부종]).
// Lists of drug classes ("진통제, 항우울제 등이 포함") are not returned.
func definitionDiseases(def string) []string {
	var out []string
	for _, loc := range diseaseEnd.FindAllStringIndex(def, -1) {
		before := def[:loc[0]]
		// The list starts after the last clause break before it.
		start := 0
		for _, sep := range []string{"다.", "로, ", "며, ", "고, ", "여, ", "어 ", "서 ", "는 ", "은 ", "한 ", "된 ", "인 ", "(", ")", "주로 ", "예: "} {
			if i := strings.LastIndex(before, sep); i >= 0 && i+len(sep) > start {
				start = i + len(sep)
			}
		}
		for _, item := range listSplit.Split(before[start:], -1) {
			item = strings.TrimSpace(item)
			item = strings.TrimSuffix(strings.TrimSuffix(item, " 치료"), " 예방")
			n := utf8.RuneCountInString(item)
			if n < 2 || n > 12 || strings.Count(item, " ") > 1 || strings.Contains(item, "하여") || notDisease.MatchString(item) ||
				strings.ContainsAny(item, "()[]:;.\"'‘’") {
				continue
			}
			out = appendUnique(out, item)
		}
	}
	return out
}
