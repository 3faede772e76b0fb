package eval

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/kormed/kormed/metrics"
)

// basis returns a vector of dimension dim with the given entries set.
func basis(dim int, kv map[int]float32) []float32 {
	v := make([]float32, dim)
	for i, x := range kv {
		v[i] = x
	}
	return v
}

// healthy: q_i = d_i = e_i. collapsed: q_i = d_i = a·e0 + b·e_i.
func embeddings(n int, a, b float32, docOffset int) (q, d map[string][]float32, qrels metrics.Qrels) {
	dim := 1 + n + docOffset + n
	q, d, qrels = map[string][]float32{}, map[string][]float32{}, metrics.Qrels{}
	for i := 1; i <= n; i++ {
		qid, did := fmt.Sprintf("q%d", i), fmt.Sprintf("d%d", i)
		q[qid] = basis(dim, map[int]float32{0: a, i: b})
		d[did] = basis(dim, map[int]float32{0: a, i + docOffset: b})
		qrels[qid] = map[string]int{did: 1}
	}
	return
}

func approx(t *testing.T, name string, got, want float64) {
	t.Helper()
	if math.Abs(got-want) > 1e-6 {
		t.Errorf("%s = %.9f, want %.9f", name, got, want)
	}
}

func TestDiagnoseHealthy(t *testing.T) {
	q, d, qrels := embeddings(20, 0, 3, 0) // e_i scaled: norm does not matter
	c, err := Diagnose(q, d, qrels, CollapseOptions{RandomPairs: 500})
	if err != nil {
		t.Fatal(err)
	}
	approx(t, "relevant mean", c.Relevant.Mean, 1)
	approx(t, "random mean", c.Random.Mean, 0)
	approx(t, "random max", c.Random.Max, 0)
	approx(t, "gap", c.Gap, 1)
	approx(t, "anisotropy", c.Anisotropy, 0)
	if c.Relevant.N != 20 || c.Random.N != 500 || c.AnisotropyPairs != 190 || !c.AnisotropyExact || len(c.Warnings) != 0 {
		t.Errorf("counts %+v %+v pairs %d warnings %v", c.Relevant, c.Random, c.AnisotropyPairs, c.Warnings)
	}
}

func TestDiagnoseCollapsed(t *testing.T) {
	// Shared direction 0.96, own direction 0.28: a² = 0.9216.
	q, d, qrels := embeddings(20, 0.96, 0.28, 0)
	c, err := Diagnose(q, d, qrels, CollapseOptions{RandomPairs: 500})
	if err != nil {
		t.Fatal(err)
	}
	a2 := 0.96 * 0.96
	approx(t, "relevant mean", c.Relevant.Mean, 1)
	approx(t, "random mean", c.Random.Mean, a2)
	approx(t, "random std", c.Random.Std, 0)
	approx(t, "gap", c.Gap, 1-a2)
	approx(t, "anisotropy", c.Anisotropy, a2)
	if len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "mean cosine 0.922 (> 0.85)") {
		t.Errorf("warnings %q", c.Warnings)
	}
	// A stricter gap threshold adds the gap warning.
	c, err = Diagnose(q, d, qrels, CollapseOptions{RandomPairs: 500, MinGap: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Warnings) != 2 || !strings.Contains(c.Warnings[0], "only 0.078 above random") {
		t.Errorf("warnings %q", c.Warnings)
	}

	// Fully collapsed: query and gold document own different directions, so
	// relevant and random pairs both score a² and the gap is 0.
	q, d, qrels = embeddings(10, 0.96, 0.28, 10)
	c, err = Diagnose(q, d, qrels, CollapseOptions{RandomPairs: 100})
	if err != nil {
		t.Fatal(err)
	}
	approx(t, "gap 0", c.Gap, 0)
	approx(t, "relevant mean", c.Relevant.Mean, a2)
	if len(c.Warnings) != 2 {
		t.Errorf("warnings %q", c.Warnings)
	}
}

func TestDiagnoseSampledAndMixed(t *testing.T) {
	// Half the documents collapsed (a·e0 + b·e_i), half orthogonal (e_i):
	// pairs mix 0 and a² cosines, so sampled means depend on the seed only.
	q, d, qrels := embeddings(40, 0.96, 0.28, 0)
	for i := 21; i <= 40; i++ {
		v := d[fmt.Sprintf("d%d", i)]
		v[0] = 0
	}
	opt := CollapseOptions{RandomPairs: 2000, ExactCorpus: 10, CorpusPairs: 3000, Seed: 7}
	c1, err := Diagnose(q, d, qrels, opt)
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := Diagnose(q, d, qrels, opt)
	if c1.Random != c2.Random || c1.Anisotropy != c2.Anisotropy {
		t.Errorf("same seed, different results: %+v %+v", c1.Random, c2.Random)
	}
	if c1.AnisotropyExact || c1.AnisotropyPairs != 3000 {
		t.Errorf("anisotropy sample: %d exact %v", c1.AnisotropyPairs, c1.AnisotropyExact)
	}
	// Exact anisotropy: 190 of 780 pairs are both collapsed (a²), the rest 0.
	exact, _ := Diagnose(q, d, qrels, CollapseOptions{RandomPairs: 10})
	approx(t, "exact anisotropy", exact.Anisotropy, 0.9216*190/780)
	if math.Abs(c1.Anisotropy-exact.Anisotropy) > 0.03 {
		t.Errorf("sampled anisotropy %.4f far from exact %.4f", c1.Anisotropy, exact.Anisotropy)
	}
	// Every sampled random cosine is 0 or a².
	for _, x := range c1.RandomCos {
		if math.Abs(x) > 1e-6 && math.Abs(x-0.9216) > 1e-6 {
			t.Fatalf("random cosine %v", x)
		}
	}
	// Relevant: queries 1–20 score 1; 21–40 score a·0 + b·b/(norms) = 0.28.
	approx(t, "relevant mean", c1.Relevant.Mean, (20*1+20*0.28)/40)
}

func TestDiagnoseErrors(t *testing.T) {
	q, d, qrels := embeddings(3, 0, 1, 0)
	d["d9"] = make([]float32, len(d["d1"]))
	if _, err := Diagnose(q, d, qrels, CollapseOptions{}); err == nil || !strings.Contains(err.Error(), `document "d9": vector has norm 0`) {
		t.Errorf("zero vector: %v", err)
	}
	delete(d, "d9")
	d["d8"] = []float32{1}
	if _, err := Diagnose(q, d, qrels, CollapseOptions{}); err == nil || !strings.Contains(err.Error(), "dimension") {
		t.Errorf("dimension: %v", err)
	}
	delete(d, "d8")
	if _, err := Diagnose(q, d, metrics.Qrels{}, CollapseOptions{}); err == nil {
		t.Error("no qrels accepted")
	}
}
