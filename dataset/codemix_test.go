package dataset

import (
	"math/rand/v2"
	"reflect"
	"sort"
	"strings"
	"testing"
	"unicode/utf8"
)

// synonyms builds in-memory synonym Examples from "CODE || term" lines.
func synonyms(lines ...string) *Examples {
	s := newSynonymSet("mem.txt")
	for i, l := range lines {
		code, term, _ := strings.Cut(l, "||")
		s.add(i+1, strings.TrimSpace(code), strings.TrimSpace(term))
	}
	return s.ex
}

func TestCodeMixerCard(t *testing.T) {
	m, err := NewCodeMixer(synonyms("D006973 || 고혈압", "D006973 || Hypertension", "D003920 || 당뇨병"))
	if err != nil {
		t.Fatal(err)
	}
	// The Korean medical DPR card's example.
	got, ok := m.Mix("아버지가 고혈압인데 그게 뭔지 모르겠어. 고혈압이 뭔지 설명좀 해줘.")
	if want := "아버지가 Hypertension 인데 그게 뭔지 모르겠어. Hypertension 이 뭔지 설명좀 해줘."; !ok || got != want {
		t.Errorf("Mix = %q, %v\nwant  %q", got, ok, want)
	}
	if m.Len() != 1 || m.Conflicts() != 0 {
		t.Errorf("Len %d, Conflicts %d", m.Len(), m.Conflicts())
	}
	for _, s := range []string{"", "당뇨병이 있어요", "고혈", "Hypertension", "\xff고혈\xfe"} {
		if got, ok := m.Mix(s); ok || got != s {
			t.Errorf("Mix(%q) = %q, %v", s, got, ok)
		}
	}
}

func TestCodeMixerLongestLeftmost(t *testing.T) {
	m, err := NewCodeMixer(synonyms(
		"D1 || 고혈압", "D1 || Hypertension",
		"D2 || 고혈압성 심장병", "D2 || Hypertensive heart disease",
		"D3 || 혈압", "D3 || Blood pressure",
		"D4 || 압성", "D4 || X", // overlaps 고혈압성 from inside: never reached
		"D5 || 심장", "D5 || Heart",
	))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ in, want string }{
		{"고혈압성 심장병과 고혈압이 있다.", "Hypertensive heart disease 과 Hypertension 이 있다."},
		{"고혈압성 심장", "Hypertension 성 Heart"},               // the long term is incomplete: fall back to the longest that matches
		{"저혈압", "저 Blood pressure"},                       // leftmost match starts inside a word
		{"고혈압혈압", "Hypertension Blood pressure"},          // adjacent replacements are separated
		{"(고혈압)? 혈압!", "(Hypertension)? Blood pressure!"}, // punctuation and spaces: no extra space
		{"2형고혈압", "2형 Hypertension"},
		{"\xff고혈압\xff", "\xffHypertension\xff"}, // invalid UTF-8 passes through
	} {
		got, ok := m.Mix(c.in)
		if !ok || got != c.want {
			t.Errorf("Mix(%q) = %q, %v; want %q", c.in, got, ok, c.want)
		}
	}
}

// naiveMix is the reference for Mix: at every position try every term,
// longest first; spacing as documented.
func naiveMix(dict map[string]string, text string) string {
	keys := make([]string, 0, len(dict))
	for k := range dict {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(a, b int) bool { return len(keys[a]) > len(keys[b]) })
	var out []rune
	afterEn := false
	for i := 0; i < len(text); {
		hit := ""
		for _, k := range keys {
			if strings.HasPrefix(text[i:], k) {
				hit = k
				break
			}
		}
		if hit != "" {
			if len(out) > 0 && wordRune(out[len(out)-1]) {
				out = append(out, ' ')
			}
			out = append(out, []rune(dict[hit])...)
			afterEn = true
			i += len(hit)
			continue
		}
		r, size := utf8.DecodeRuneInString(text[i:])
		if afterEn && wordRune(r) {
			out = append(out, ' ')
		}
		out = append(out, r)
		afterEn = false
		i += size
	}
	return string(out)
}

func TestCodeMixerMatchesNaive(t *testing.T) {
	dict := map[string]string{"가": "A", "가나": "AB", "가나다": "ABC", "나다": "BC", "다가": "CA", "라 마": "D E"}
	var lines []string
	i := 0
	for k, v := range dict {
		i++
		code := string(rune('a' + i))
		lines = append(lines, code+" || "+k, code+" || "+v)
	}
	m, err := NewCodeMixer(synonyms(lines...))
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != len(dict) {
		t.Fatalf("Len %d, want %d", m.Len(), len(dict))
	}
	alphabet := []rune("가나다라마 .x")
	rng := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := rng.IntN(12)
		rs := make([]rune, n)
		for j := range rs {
			rs[j] = alphabet[rng.IntN(len(alphabet))]
		}
		text := string(rs)
		want := naiveMix(dict, text)
		got, ok := m.Mix(text)
		hit := false
		for k := range dict {
			hit = hit || strings.Contains(text, k)
		}
		if got != want || ok != hit {
			t.Fatalf("Mix(%q) = %q, %v; naive %q", text, got, ok, want)
		}
	}
}

func TestNewCodeMixer(t *testing.T) {
	m, err := NewCodeMixer(synonyms(
		"D1 || 고혈압", "D1 || 2", "D1 || Hypertension", "D1 || 본태성 고혈압", "D1 || HTN",
		"D2 || 당뇨병",                                               // no English: nothing
		"D3 || 혈압 상승", "D3 || 고혈압", "D3 || Raised blood pressure", // 고혈압 again, another name: conflict
		"D4 || 고혈압", "D4 || Hypertension", // same name: no conflict
		"D5 || Aspirin", "D5 || L-카르니틴", "D5 || 아스피린",
	))
	if err != nil {
		t.Fatal(err)
	}
	if m.Len() != 5 || m.Conflicts() != 1 {
		t.Errorf("Len %d, Conflicts %d; want 5 and 1", m.Len(), m.Conflicts())
	}
	for in, want := range map[string]string{
		"본태성 고혈압": "Hypertension", "고혈압": "Hypertension", "혈압 상승": "Raised blood pressure",
		"L-카르니틴": "Aspirin", "아스피린": "Aspirin", "당뇨병": "당뇨병",
	} {
		if got, _ := m.Mix(in); got != want {
			t.Errorf("Mix(%q) = %q, want %q", in, got, want)
		}
	}
	for _, bad := range []*Examples{nil, synonyms("D1 || 고혈압", "D2 || Hypertension", "D3 || 123")} {
		if _, err := NewCodeMixer(bad); err == nil {
			t.Errorf("NewCodeMixer(%v) accepted", bad)
		}
	}
	if _, err := NewCodeMixer(&Examples{Path: "p.csv", Format: FormatPairs}); err == nil || !strings.Contains(err.Error(), "needs synonyms, not pairs") {
		t.Errorf("pairs: %v", err)
	}
}

func TestCodeMixerAugment(t *testing.T) {
	m, err := NewCodeMixer(synonyms("D1 || 고혈압", "D1 || Hypertension"))
	if err != nil {
		t.Fatal(err)
	}
	ex := &Examples{Format: FormatPairs, Columns: []string{"query", "context"}, HasLabels: true, Rows: []Example{
		{Texts: []string{"고혈압약 추천", "고혈압 치료제는 …"}, Label: 1, Line: 2},
		{Texts: []string{"두통약 추천", "고혈압 치료제는 …"}, Label: 0, Line: 3},
		{Texts: []string{"고혈압이 뭐야", "혈압이 높은 상태"}, Label: 0.5, Group: "g", Line: 4},
	}}
	orig := ex.Rows[0].Texts
	if n := m.Augment(ex, 0); n != 2 {
		t.Fatalf("Augment added %d, want 2", n)
	}
	want := []Example{
		{Texts: []string{"Hypertension 약 추천", "고혈압 치료제는 …"}, Label: 1, Line: 2},
		{Texts: []string{"Hypertension 이 뭐야", "혈압이 높은 상태"}, Label: 0.5, Group: "g", Line: 4},
	}
	if len(ex.Rows) != 5 || !reflect.DeepEqual(ex.Rows[3:], want) {
		t.Errorf("rows %+v", ex.Rows)
	}
	if orig[0] != "고혈압약 추천" || ex.Rows[0].Texts[0] != "고혈압약 추천" {
		t.Errorf("the original row changed: %q", ex.Rows[0].Texts)
	}
	if n := m.Augment(ex, 5); n != 0 || len(ex.Rows) != 5 {
		t.Errorf("column 5: added %d", n)
	}
}
