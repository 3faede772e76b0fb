package eval

import (
	"strings"
	"testing"

	"github.com/kormed/kormed/fusion"
)

// TestGridPlans expands a grid: BM25 per analyzer, dense per model,
// hybrid per model, fusion and alpha with one calibrated run per model,
// the hybrid runs of a model sharing one base.
func TestGridPlans(t *testing.T) {
	g := Grid{
		Retrievers: []string{"bm25", "dense", "hybrid"}, Analyzers: []string{"bigram", "union"},
		Models: []string{"models/e5/", "org/KoE5"}, Fusions: []string{"rrf", "relative"}, Alphas: []string{"auto", "0.3"},
		K1: 1.2, B: 0.75, Calibrate: Calibrate{Kind: fusion.PseudoTitle, N: 50}, CalName: "calibrated",
	}
	plans, err := g.Plans()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range plans {
		names = append(names, p.Spec.Name)
	}
	want := "bm25-bigram bm25-union dense-e5 dense-KoE5 " +
		"hybrid-calibrated-bigram-e5 hybrid-rrf-a0.3-bigram-e5 hybrid-relative-a0.3-bigram-e5 " +
		"hybrid-calibrated-bigram-KoE5 hybrid-rrf-a0.3-bigram-KoE5 hybrid-relative-a0.3-bigram-KoE5"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("runs\n%s\nwant\n%s", got, want)
	}
	if b := plans[0].Spec.R.(*BM25); b.Options.K1 != 1.2 || b.Options.B != 0.75 || b.Options.Analyzer != "bigram" {
		t.Errorf("bm25 %+v", b.Options)
	}
	if p := plans[2]; p.Model != "models/e5/" || p.Base != nil || p.Spec.R != nil {
		t.Errorf("dense plan %+v", p)
	}
	h := plans[4].Spec.R.(*Hybrid)
	if h.Calibrate == nil || h.Calibrate.Kind != fusion.PseudoTitle || plans[4].Base != plans[5].Base || plans[5].Base == plans[7].Base {
		t.Errorf("hybrid plans %+v %+v", plans[4], h)
	}
	if h := plans[6].Spec.R.(*Hybrid); h.Alpha != 0.3 || h.Fusion != "relative" || h.Calibrate != nil {
		t.Errorf("hybrid %+v", h)
	}

	for _, c := range []struct {
		g    Grid
		want string
	}{
		{Grid{Retrievers: []string{"dense"}}, "--retriever dense needs --model"},
		{Grid{Retrievers: []string{"hybrid"}, Analyzers: []string{"bigram"}}, "--retriever hybrid needs --model"},
		{Grid{Retrievers: []string{"hybrid"}, Analyzers: []string{"bigram"}, Models: []string{"m"}, Fusions: []string{"max"}, Alphas: []string{"0.5"}}, `--fusion "max"`},
		{Grid{Retrievers: []string{"hybrid"}, Analyzers: []string{"bigram"}, Models: []string{"m"}, Fusions: []string{"rrf"}, Alphas: []string{"2"}}, `--alpha "2"`},
		{Grid{Retrievers: []string{"tfidf"}}, `unknown retriever "tfidf"`},
		{Grid{}, "no retriever given"},
		{Grid{Retrievers: []string{"bm25"}, Analyzers: []string{"bigram", "union"}, Name: "x"}, "this invocation has 2"},
	} {
		if _, err := c.g.Plans(); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want %q", c.g, err, c.want)
		}
	}
	plans, err = Grid{Retrievers: []string{"bm25"}, Analyzers: []string{"bigram"}, Name: "mine"}.Plans()
	if err != nil || plans[0].Spec.Name != "mine" {
		t.Errorf("--name: %v %v", plans, err)
	}
}

func TestShortModelName(t *testing.T) {
	for in, want := range map[string]string{"nlpai-lab/KoE5": "KoE5", "runs/e5/": "e5", "tiny": "tiny"} {
		if got := ShortModelName(in); got != want {
			t.Errorf("ShortModelName(%q) = %q, want %q", in, got, want)
		}
	}
}
