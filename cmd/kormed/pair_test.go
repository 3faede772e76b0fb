package main

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/fusion"
	"github.com/kormed/kormed/model"
)

// pairFixture saves a bi-encoder folder of two different test encoders:
// tiny-bert (CLS pooling, WordPiece) with the query prompt "질문: " as the
// question encoder, tiny-xlmr (mean pooling, normalised, Unigram) with the
// passage prompt "문서: " as the context encoder.
func pairFixture(t *testing.T) string {
	t.Helper()
	q, err := model.Load(tinyModelDir("tiny-bert"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := model.Load(tinyModelDir("tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	q.QueryPrefix, c.PassagePrefix = "질문: ", "문서: "
	dir := filepath.Join(t.TempDir(), "pair")
	if err := (&model.Pair{Query: q, Passage: c}).Save(dir, model.SaveOptions{Name: "test-pair"}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// pairVectors embeds texts with the encoder in dir through fn.
func pairVectors(t *testing.T, dir string, fn func(m *model.Model, texts []string) ([][]float32, error), texts []string) [][]float32 {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	v, err := fn(m, texts)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// pairMaxDiff compares a .npy of rows×dim with vectors.
func pairMaxDiff(t *testing.T, data []float32, want [][]float32) float64 {
	t.Helper()
	d := 0.0
	dim := len(want[0])
	if len(data) != len(want)*dim {
		t.Fatalf("%d values, want %d×%d", len(data), len(want), dim)
	}
	for i, v := range want {
		for j, x := range v {
			d = math.Max(d, math.Abs(float64(data[i*dim+j]-x)))
		}
	}
	return d
}

// TestEmbedPair: kormed embed on a pair folder embeds --as query with the
// question encoder and its query prompt, --as passage with the context
// encoder and its passage prompt, and refuses --as none.
func TestEmbedPair(t *testing.T) {
	pair := pairFixture(t)
	dir := t.TempDir()
	texts := []string{"열을 내리는 약은?", "판콜에이내복액은 해열진통제입니다.", "임부금기 약물"}
	in := filepath.Join(dir, "texts.txt")
	os.WriteFile(in, []byte(strings.Join(texts, "\n")+"\n"), 0o644)
	ctx := context.Background()
	qdir, cdir := filepath.Join(pair, model.QuestionEncoderDir), filepath.Join(pair, model.ContextEncoderDir)
	encQ := func(m *model.Model, s []string) ([][]float32, error) { return m.EncodeQueries(ctx, s) }
	encP := func(m *model.Model, s []string) ([][]float32, error) { return m.EncodePassages(ctx, s) }
	plain := func(m *model.Model, s []string) ([][]float32, error) { return m.Encode(ctx, s) }

	for _, c := range []struct {
		as         string
		want       [][]float32 // the side's encoder with its prompt
		notPrompt  [][]float32 // the side's encoder without it
		otherSide  [][]float32
		wantPrefix string
	}{
		{"query", pairVectors(t, qdir, encQ, texts), pairVectors(t, qdir, plain, texts), pairVectors(t, cdir, encP, texts), "질문: "},
		{"passage", pairVectors(t, cdir, encP, texts), pairVectors(t, cdir, plain, texts), pairVectors(t, qdir, encQ, texts), "문서: "},
	} {
		out := filepath.Join(dir, c.as+".npy")
		if err := cmdEmbed.Exec(ctx, []string{"--model", pair, "--as", c.as, "--input", in, "--output", out, "--quiet"}); err != nil {
			t.Fatalf("--as %s: %v", c.as, err)
		}
		rows, dim, data := readNpy(t, out)
		if rows != 3 || dim != 32 {
			t.Fatalf("--as %s: shape (%d, %d)", c.as, rows, dim)
		}
		if d := pairMaxDiff(t, data, c.want); d > 1e-6 {
			t.Errorf("--as %s: differs by %g from the %s encoder's own embeddings with prompt %q", c.as, d, c.as, c.wantPrefix)
		}
		if d := pairMaxDiff(t, data, c.notPrompt); d < 1e-3 {
			t.Errorf("--as %s: the prompt %q made no difference (%g)", c.as, c.wantPrefix, d)
		}
		if d := pairMaxDiff(t, data, c.otherSide); d < 1e-3 {
			t.Errorf("--as %s: equals the other encoder's embeddings (%g)", c.as, d)
		}
	}
	// The question encoder is tiny-bert (not normalised), the context
	// encoder tiny-xlmr (normalised): the passage side has unit rows.
	_, _, data := readNpy(t, filepath.Join(dir, "passage.npy"))
	if n := math.Sqrt(float64(dot32(data[:32], data[:32]))); math.Abs(n-1) > 1e-5 {
		t.Errorf("passage row norm %g, want 1", n)
	}

	out := filepath.Join(dir, "none.npy")
	for _, as := range []string{"none", "both"} {
		err := cmdEmbed.Exec(ctx, []string{"--model", pair, "--as", as, "--input", in, "--output", out, "--quiet"})
		if err == nil || !strings.Contains(err.Error(), "--as query or --as passage") || !strings.Contains(err.Error(), "bi-encoder") {
			t.Errorf("--as %s on a pair: %v", as, err)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Error("output written despite the error")
	}
}

func dot32(a, b []float32) float32 {
	var s float32
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// TestEvalPair: kormed eval --retriever dense on a pair folder ranks with
// the question encoder for queries and the context encoder for documents:
// every score of its run is the cosine of those two embeddings, and the
// run differs from evaluating the question encoder alone.
func TestEvalPair(t *testing.T) {
	pair := pairFixture(t)
	dir := t.TempDir()
	data := filepath.Join(dir, "toy.jsonl")
	os.WriteFile(data, []byte(`{"query": "강심제란?", "document": "강심제는 심장의 수축력을 높이는 약물입니다.", "hard_negative": "이뇨제는 소변 배출을 늘리는 약물입니다."}
{"query": "진해제란?", "document": "진해제는 기침을 멎게 하는 약물입니다.", "hard_negative": "해열제는 체온을 낮추는 약입니다."}
{"query": "위장약 알려줘", "document": "소화성궤양용제는 위산 분비를 억제합니다.", "hard_negative": "안약은 눈에 넣습니다."}
`), 0o644)
	out := filepath.Join(dir, "out")
	ctx := context.Background()
	qdir := filepath.Join(pair, model.QuestionEncoderDir)
	for _, c := range []struct{ model, name string }{{pair, "pair"}, {qdir, "question"}} {
		if err := cmdEval.Exec(ctx, []string{"--retriever", "dense", "--model", c.model, "--name", c.name, "--data", data, "--output", out, "--per-query"}); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	read := func(name string) *eval.Result {
		var r eval.Result
		b, err := os.ReadFile(filepath.Join(out, "results", "toy__"+name+".json"))
		if err == nil {
			err = json.Unmarshal(b, &r)
		}
		if err != nil {
			t.Fatal(err)
		}
		if r.Model != map[string]string{"pair": pair, "question": qdir}[name] || len(r.PerQuery) != 3 {
			t.Fatalf("%s: model %q, %d queries", name, r.Model, len(r.PerQuery))
		}
		return &r
	}
	rp, rq := read("pair"), read("question")

	// The scores, by hand: cosine of the question encoder's query (with
	// its prompt) and the context encoder's document (with its prompt).
	d, _, err := eval.LoadDataset(data, "")
	if err != nil {
		t.Fatal(err)
	}
	pr, err := model.LoadPair(pair)
	if err != nil {
		t.Fatal(err)
	}
	docText := map[string]string{}
	for _, doc := range d.Corpus {
		docText[doc.ID] = fusion.DocText(doc.Title, doc.Text)
	}
	differ := false
	for _, q := range d.Queries {
		qv, err := pr.EncodeQueries(ctx, []string{q.Text})
		if err != nil {
			t.Fatal(err)
		}
		hits, other := rp.PerQuery[q.ID].Ranking, rq.PerQuery[q.ID].Ranking
		if len(hits) != 6 || len(other) != 6 {
			t.Fatalf("%s: %d and %d hits, want the 6 documents", q.ID, len(hits), len(other))
		}
		for i, h := range hits {
			dv, err := pr.EncodePassages(ctx, []string{docText[h.ID]})
			if err != nil {
				t.Fatal(err)
			}
			want := cosine32(qv[0], dv[0])
			if math.Abs(h.Score-want) > 1e-5 {
				t.Errorf("%s → %s: score %g, want the question × context encoder cosine %g", q.ID, h.ID, h.Score, want)
			}
			if h.ID != other[i].ID || math.Abs(h.Score-other[i].Score) > 1e-4 {
				differ = true
			}
		}
	}
	if !differ {
		t.Error("the pair's run equals the question encoder's alone")
	}
}

func cosine32(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}
