package search

import (
	"unicode/utf8"

	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/dur"
)

func TestWithoutPopulation(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"임산부가 먹어도 되는 두통약", "먹어도 되는 두통약"},
		{"65세 이상 노인 수면제", "노인 수면제"}, // one population per call; Resolve repeats
		{"어린이부루펜시럽 어린이가 먹어도 돼?", "어린이부루펜시럽 먹어도 돼?"},
		{"두통약", "두통약"},
	} {
		if got := withoutPopulation(c.in, dur.Populations(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSnippet(t *testing.T) {
	terms := queryTerms("타이레놀 두통에 먹는 약")
	plain, marked, found := snippet("타이레놀정500밀리그램", "해열 진통제. 두통, 치통에 쓴다. <b>주의</b>", terms, 160)
	if !strings.HasPrefix(plain, "타이레놀정500밀리그램 — 해열") {
		t.Errorf("plain %q", plain)
	}
	if !strings.Contains(marked, "<mark>타이레놀</mark>정500") || !strings.Contains(marked, "<mark>두통</mark>, 치통") {
		t.Errorf("marked %q", marked)
	}
	if !strings.Contains(marked, "&lt;b&gt;주의&lt;/b&gt;") {
		t.Errorf("HTML not escaped: %q", marked)
	}
	if !reflect.DeepEqual(found, []string{"타이레놀", "두통"}) {
		t.Errorf("found %v (terms %v)", found, terms)
	}
	// A compound query word highlights its part in the text.
	_, marked, found = snippet("게보린정", "두통, 치통에 쓰는 진통제.", queryTerms("임산부 두통약"), 160)
	if !strings.Contains(marked, "<mark>두통</mark>") || len(found) == 0 {
		t.Errorf("compound: %q %v", marked, found)
	}
	// Lower-casing that changes byte lengths (Ⱥ → ⱥ is 2 → 3 bytes, K → k
	// 3 → 1) must not shift the marks or split a character.
	_, marked, _ = snippet("", "Ⱥ두통Ⱥ\u212a 두통약", []string{"두통"}, 160)
	if marked != "Ⱥ<mark>두통</mark>Ⱥ\u212a <mark>두통</mark>약" || !utf8.ValidString(marked) {
		t.Errorf("length-changing case: %q", marked)
	}
	// A very long query word does not blow up (its parts are not tried).
	long := strings.Repeat("a", 3000)
	if subs := subTerms(long); subs != nil {
		t.Errorf("%d parts of a 3000-rune word", len(subs))
	}
	// A long text: the window moves to the match.
	long = strings.Repeat("가나다라 ", 100) + "여기에 두통 이야기" + strings.Repeat(" 마바사", 100)
	plain, marked, _ = snippet("", long, []string{"두통"}, 40)
	if !strings.HasPrefix(plain, "…") || !strings.HasSuffix(plain, "…") || !strings.Contains(marked, "<mark>두통</mark>") {
		t.Errorf("window: %q", marked)
	}
	if n := len([]rune(strings.Trim(plain, "…"))); n != 40 {
		t.Errorf("window length %d", n)
	}
}
