package search

import (
	"testing"

	"github.com/kormed/kormed/dur"
)

// TestWithoutPopulationWhere: the word taken out is the one that named
// the population, not an earlier word that merely starts like it.
func TestWithoutPopulationWhere(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"노인성 우울증, 노인 환자 수면제", "노인성 우울증, 환자 수면제"},
		{"아이를 가지려는데 아이가 열이 나요", "아이를 가지려는데 열이 나요"},
		{"임신성 당뇨 임산부", "임신성 당뇨"},
	} {
		if got := withoutPopulation(c.in, dur.Populations(c.in)); got != c.want {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}
