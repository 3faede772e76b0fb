package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/metrics"
	"github.com/kormed/kormed/model"
)

// End-to-end tests of Run on the random-weight test encoders of
// testdata/models, with small generated data: a few dozen optimiser steps
// of a 2-layer, 32-wide model, so each runs in about a second.

// runTinyXLMR is the mean-pooling, normalising test encoder (Unigram).
var runTinyXLMR = filepath.Join("..", "testdata", "models", "tiny-xlmr")

// runKinds are drug kinds the generated data is made of.
var runKinds = []string{"해열제", "진통제", "소화제", "항생제", "안약", "기침약", "감기약", "변비약", "수면제", "비타민"}

// runWrite writes a file under dir and returns its path.
func runWrite(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// runTriplets writes n JSONL triplets: a question about product i of a
// kind, its description, and the description of product i of another kind
// as the hard negative.
func runTriplets(t *testing.T, dir, name string, n int) string {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		k, other := runKinds[i%len(runKinds)], runKinds[(i+3)%len(runKinds)]
		rec, _ := json.Marshal(map[string]string{
			"query":         fmt.Sprintf("%s %d번 알려줘", k, i),
			"document":      fmt.Sprintf("%s 제품 %d 설명", k, i),
			"hard_negative": fmt.Sprintf("%s 제품 %d 설명", other, i),
		})
		b.Write(append(rec, '\n'))
	}
	return runWrite(t, dir, name, b.String())
}

// runDev writes dev.csv: 20 questions about products the training
// triplets do not name, each with its description as the positive.
func runDev(t *testing.T, dir string) string {
	t.Helper()
	var dev bytes.Buffer
	dev.WriteString("query,context,label\n")
	for i := 0; i < 20; i++ {
		k := runKinds[i%len(runKinds)]
		fmt.Fprintf(&dev, "%s %d번 알려줘,%s 제품 %d 설명,1\n", k, 100+i, k, 100+i)
	}
	return runWrite(t, dir, "dev.csv", dev.String())
}

// runRecipe parses a recipe written in dir (relative paths resolve
// against dir) and runs it into dir/out unless o.Output is set, with the
// log captured. It returns the report, the log text and Run's error.
func runRecipe(t *testing.T, dir, recipe string, o Options) (*Report, string, error) {
	t.Helper()
	p, err := ParsePipeline(filepath.Join(dir, "recipe.toml"), []byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	var log bytes.Buffer
	o.Log = &log
	off := false
	o.Progress = &off
	if o.Output == "" {
		o.Output = filepath.Join(dir, "out")
	}
	rep, err := Run(context.Background(), p, o)
	return rep, log.String(), err
}

// runMust is runRecipe that fails the test on an error.
func runMust(t *testing.T, dir, recipe string, o Options) (*Report, string) {
	t.Helper()
	rep, log, err := runRecipe(t, dir, recipe, o)
	if err != nil {
		t.Fatalf("Run: %v\nlog:\n%s", err, log)
	}
	return rep, log
}

// runLog reads OUTPUT/train.jsonl.
func runLog(t *testing.T, out string) []map[string]any {
	t.Helper()
	f, err := os.Open(filepath.Join(out, "train.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var recs []map[string]any
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("train.jsonl: %v: %s", err, sc.Text())
		}
		recs = append(recs, r)
	}
	return recs
}

// runLosses is the logged loss of every step of a stage, in step order.
func runLosses(t *testing.T, recs []map[string]any, stage string) []float64 {
	t.Helper()
	var ls []float64
	for _, r := range recs {
		if r["stage"] == stage && r["event"] == nil {
			if int(r["step"].(float64)) != len(ls)+1 {
				t.Fatalf("stage %s: step %v logged after %d steps", stage, r["step"], len(ls))
			}
			ls = append(ls, r["loss"].(float64))
		}
	}
	return ls
}

func runMean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// runTensors is a model's weights by Hugging Face name.
func runTensors(m *model.Model) map[string][]float32 {
	ts := map[string][]float32{}
	for _, p := range m.Enc.W.Params(&m.Enc.Cfg) {
		if *p.Data != nil {
			ts[p.Name] = *p.Data
		}
	}
	return ts
}

// runMaxDiff is the largest absolute difference between two models'
// tensors of the given name ("" for all of them).
func runMaxDiff(t *testing.T, a, b *model.Model, name string) float64 {
	t.Helper()
	ta, tb := runTensors(a), runTensors(b)
	if len(ta) != len(tb) {
		t.Fatalf("%d tensors vs %d", len(ta), len(tb))
	}
	d := 0.0
	for n, x := range ta {
		if name != "" && n != name {
			continue
		}
		y := tb[n]
		if len(x) != len(y) {
			t.Fatalf("%s: %d vs %d values", n, len(x), len(y))
		}
		for i := range x {
			d = math.Max(d, math.Abs(float64(x[i])-float64(y[i])))
		}
	}
	return d
}

func runLoad(t *testing.T, dir string) *model.Model {
	t.Helper()
	m, err := model.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

const runWordEmb = "embeddings.word_embeddings.weight"

// TestRunDual trains a DPR stage (separate question and context encoders,
// CLS pooling, MNRL on triplets), then a second dual stage from its pair
// output with frozen word embeddings, and checks the pair folders, that
// the encoders part ways, that the loss falls, and that the second stage
// continues each encoder from its own weights.
func TestRunDual(t *testing.T) {
	dir := t.TempDir()
	runTriplets(t, dir, "triplets.jsonl", 24)
	// Dropout off: on this 32-wide random model its noise swamps the CLS
	// token, and the loss would fall too slowly for a short test.
	recipe := fmt.Sprintf(`name = "dpr"
model = %q
seed = 3
[defaults]
batch_size = 8
lr = 1e-3
max_length = 24
schedule = "constant"
warmup_ratio = 0.0
dropout = false
data = "triplets.jsonl"
loss = "mnrl"
dual = true
pooling = "cls"
[[stage]]
name = "dpr"
epochs = 6
[[stage]]
name = "more"
max_steps = 4
freeze = { embeddings = "word" }
`, runAbs(t, runTinyXLMR))
	rep, log := runMust(t, dir, recipe, Options{})
	out := filepath.Join(dir, "out")
	s1, s2 := filepath.Join(out, "01-dpr"), filepath.Join(out, "02-more")
	if len(rep.Stages) != 2 || rep.Stages[0].Output != s1 || rep.Stages[0].Steps != 18 || rep.Stages[1].Steps != 4 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(log, "question encoder:") || !strings.Contains(log, "context encoder:") {
		t.Errorf("log lacks the two parameter tables:\n%s", log)
	}
	// Both stages save pair folders whose encoders load on their own,
	// with the stage's CLS pooling.
	for _, d := range []string{s1, s2} {
		if !model.IsPair(d) {
			t.Fatalf("%s: no %s", d, model.PairFile)
		}
		for _, sub := range []string{model.QuestionEncoderDir, model.ContextEncoderDir} {
			m := runLoad(t, filepath.Join(d, sub))
			if m.Pooling != model.PoolCLS {
				t.Errorf("%s/%s: pooling %q, want cls", d, sub, m.Pooling)
			}
		}
	}
	pr, err := model.LoadPair(s1)
	if err != nil {
		t.Fatal(err)
	}
	if pr.Dim() != 32 || pr.Query.Pooling != model.PoolCLS || pr.Passage.Pooling != model.PoolCLS {
		t.Errorf("pair: dim %d, poolings %q %q", pr.Dim(), pr.Query.Pooling, pr.Passage.Pooling)
	}
	if target, err := os.Readlink(filepath.Join(out, "model")); err != nil || target != "02-more" {
		t.Errorf("OUTPUT/model → %q, %v", target, err)
	}
	if loaded, err := model.LoadPair(filepath.Join(out, "model")); err != nil || loaded.Dim() != 32 {
		t.Errorf("LoadPair(OUTPUT/model): %v", err)
	}

	// The question and context encoders started equal (both the base
	// model) and were trained apart, each away from the base.
	base := runLoad(t, runTinyXLMR)
	q1, c1 := runLoad(t, filepath.Join(s1, model.QuestionEncoderDir)), runLoad(t, filepath.Join(s1, model.ContextEncoderDir))
	for _, c := range []struct {
		what string
		a, b *model.Model
	}{{"question vs context encoder", q1, c1}, {"question encoder vs base", q1, base}, {"context encoder vs base", c1, base}} {
		if d := runMaxDiff(t, c.a, c.b, ""); d < 1e-3 {
			t.Errorf("%s: weights differ by at most %g after 18 steps at lr 1e-3", c.what, d)
		}
		if d := runMaxDiff(t, c.a, c.b, runWordEmb); d < 1e-3 {
			t.Errorf("%s: word embeddings differ by at most %g", c.what, d)
		}
	}

	// The loss falls: 6 epochs over the same 24 triplets.
	recs := runLog(t, out)
	ls := runLosses(t, recs, "dpr")
	if len(ls) != 18 {
		t.Fatalf("%d logged steps, want 18", len(ls))
	}
	first, last := runMean(ls[:3]), runMean(ls[len(ls)-3:])
	if !(last < 0.7*first) {
		t.Errorf("mnrl loss %.4f (first 3 steps) → %.4f (last 3): not falling; all %v", first, last, ls)
	}
	if rep.Stages[0].FirstLoss != ls[0] || rep.Stages[0].LastLoss != ls[len(ls)-1] {
		t.Errorf("report losses %g → %g, log %g → %g", rep.Stages[0].FirstLoss, rep.Stages[0].LastLoss, ls[0], ls[len(ls)-1])
	}

	// Stage 2 continued each encoder from its own stage-1 weights: the
	// frozen word embeddings are stage 1's, bit for bit (and the question
	// encoder's are not the context encoder's), the rest moved on.
	q2, c2 := runLoad(t, filepath.Join(s2, model.QuestionEncoderDir)), runLoad(t, filepath.Join(s2, model.ContextEncoderDir))
	if d := runMaxDiff(t, q2, q1, runWordEmb); d != 0 {
		t.Errorf("stage 2 question encoder: word embeddings differ from stage 1's by %g", d)
	}
	if d := runMaxDiff(t, c2, c1, runWordEmb); d != 0 {
		t.Errorf("stage 2 context encoder: word embeddings differ from stage 1's by %g", d)
	}
	if d := runMaxDiff(t, q2, c1, runWordEmb); d == 0 {
		t.Errorf("stage 2 question encoder has the context encoder's word embeddings")
	}
	for _, c := range []struct {
		what string
		a, b *model.Model
	}{{"question", q2, q1}, {"context", c2, c1}} {
		if d := runMaxDiff(t, c.a, c.b, "encoder.layer.1.output.dense.weight"); d < 1e-4 {
			t.Errorf("stage 2 %s encoder: trainable weights moved only %g from stage 1", c.what, d)
		}
	}
	for _, r := range recs {
		if r["event"] == "stage_start" && r["stage"] == "more" && r["from"] != s1 {
			t.Errorf("stage 2 started from %v, want %s", r["from"], s1)
		}
	}
}

// TestRunPairIntoSingleStage: a stage training one encoder refuses to
// start from a pair folder.
func TestRunPairIntoSingleStage(t *testing.T) {
	dir := t.TempDir()
	runTriplets(t, dir, "triplets.jsonl", 8)
	m := runLoad(t, runTinyXLMR)
	pairDir := filepath.Join(dir, "pair")
	if err := (&model.Pair{Query: m, Passage: m}).Save(pairDir, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	_, log, err := runRecipe(t, dir, `name = "single"
[[stage]]
name = "one"
from = "pair"
data = "triplets.jsonl"
loss = "mnrl"
max_steps = 1
`, Options{})
	if err == nil || !strings.Contains(err.Error(), "bi-encoder (pair) folder") || !strings.Contains(err.Error(), "dual = true") ||
		!strings.Contains(err.Error(), "stage 1 (one)") {
		t.Fatalf("err = %v, want the pair-folder refusal naming the stage and dual = true\n%s", err, log)
	}
}

func runAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// runSynonyms is a handful of "CODE || term" clusters, Korean and English
// terms mixed, and one single-term cluster (D007). Twelve Korean terms
// share a cluster with an English name (D001–D006, two each).
const runSynonyms = `# test clusters
D001 || 고혈압
D001 || Hypertension
D001 || 본태성고혈압
D001 || HTN
D002 || 당뇨병
D002 || Diabetes mellitus
D002 || 제2형 당뇨
D003 || 두통
D003 || Headache
D003 || 머리 통증
D004 || 기침
D004 || Cough
D004 || 마른기침
D005 || 위염
D005 || Gastritis
D005 || 위점막 염증
D006 || 변비
D006 || Constipation
D006 || 배변 곤란
D007 || 빈혈
`

// TestRunMultiSimilarity trains multi-similarity on synonym clusters:
// the groups sampler puts each cluster's terms in a batch together (the
// single-term cluster is left out), every step's loss is positive (an
// anchor contributes only with a cluster partner in its batch) and
// finite, and the collapse diagnosis runs on the clusters.
func TestRunMultiSimilarity(t *testing.T) {
	dir := t.TempDir()
	runWrite(t, dir, "synonyms.txt", runSynonyms)
	recipe := fmt.Sprintf(`name = "sapbert"
model = %q
[[stage]]
name = "syn"
data = "synonyms.txt"
loss = "multi-similarity"
batch_size = 8
lr = 1e-3
max_length = 16
epochs = 3
`, runAbs(t, runTinyXLMR))
	p, err := ParsePipeline(filepath.Join(dir, "recipe.toml"), []byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Stages[0]
	if s.Sampler != "groups" || s.PerGroup != 2 {
		t.Fatalf("sampler %q per_group %d, want groups, 2", s.Sampler, s.PerGroup)
	}
	// The batches Run will train on: every cluster in a batch has at
	// least two of its terms there, and the single term is in none.
	loss, _ := NewLoss(s.Loss, s.LossParams)
	var dlog bytes.Buffer
	data, err := loadStageData(&s, loss, &dlog)
	if err != nil {
		t.Fatal(err)
	}
	if len(data.rows) != 20 || len(data.groups) != 20 {
		t.Fatalf("%d rows, %d groups; want 20", len(data.rows), len(data.groups))
	}
	plan, err := data.plan(&s, &dlog)
	if err != nil {
		t.Fatal(err)
	}
	// 19 paired terms a epoch in batches of ≤ 8: 3 steps, 3 epochs.
	if len(plan.steps) != 9 {
		t.Errorf("%d steps planned, want 9", len(plan.steps))
	}
	for i, st := range plan.steps {
		count := map[int]int{}
		n := 0
		for _, mb := range st {
			for _, k := range mb {
				count[data.groups[k]]++
				n++
				if data.rows[k][0] == "빈혈" {
					t.Errorf("step %d: the single-term cluster's term is batched", i+1)
				}
			}
		}
		if n > 8 {
			t.Errorf("step %d: %d examples", i+1, n)
		}
		for g, c := range count {
			if c < 2 {
				t.Errorf("step %d: cluster %d has %d term in the batch, want ≥ 2", i+1, g, c)
			}
		}
	}

	rep, log := runMust(t, dir, recipe, Options{})
	if !strings.Contains(log, "data: 1 examples left out of group batches (clusters with a single member)") ||
		!strings.Contains(log, "(sampler groups)") || !strings.Contains(log, "20 rows [term], 7 groups") {
		t.Errorf("log:\n%s", log)
	}
	sr := rep.Stages[0]
	if sr.Steps != 9 || sr.Examples != 3*19 {
		t.Errorf("stage: %d steps, %d examples; want 9, 57", sr.Steps, sr.Examples)
	}
	ls := runLosses(t, runLog(t, filepath.Join(dir, "out")), "syn")
	if len(ls) != 9 {
		t.Fatalf("%d logged steps", len(ls))
	}
	for i, l := range ls {
		if !(l > 0) || math.IsInf(l, 0) {
			t.Errorf("step %d: loss %v, want positive and finite", i+1, l)
		}
	}
	if sr.Collapse == "" || !strings.Contains(log, "syn: similarity after the stage: relevant pairs") {
		t.Errorf("no collapse diagnosis on the clusters: %q", sr.Collapse)
	}
	m := runLoad(t, filepath.Join(dir, "out", "01-syn"))
	if d := runMaxDiff(t, m, runLoad(t, runTinyXLMR), ""); d < 1e-3 {
		t.Errorf("weights moved only %g", d)
	}
}

// TestRunCodeMix adds code-mixed copies of the triplets whose query holds
// a Korean term of the synonym clusters.
func TestRunCodeMix(t *testing.T) {
	dir := t.TempDir()
	syn := runWrite(t, dir, "synonyms.txt", runSynonyms)
	queries := []string{
		"고혈압 약 추천해줘", "당뇨병에 좋은 약", "두통이 심할 때 먹는 약", "마른기침 멈추는 약", "위염 치료제", "변비약 알려줘", // mixed
		"해열제 알려줘", "안약 추천", "소화제 종류", "비타민 효능", // no term
	}
	english := []string{"Hypertension", "Diabetes mellitus", "Headache", "Cough", "Gastritis", "Constipation"}
	var b bytes.Buffer
	for i, q := range queries {
		rec, _ := json.Marshal(map[string]string{"query": q, "document": fmt.Sprintf("제품 %d 설명", i), "hard_negative": fmt.Sprintf("다른 제품 %d 설명", i)})
		b.Write(append(rec, '\n'))
	}
	runWrite(t, dir, "triplets.jsonl", b.String())
	recipe := fmt.Sprintf(`name = "mix"
model = %q
[[stage]]
name = "mixed"
data = "triplets.jsonl"
codemix = "synonyms.txt"
loss = "mnrl"
batch_size = 4
max_length = 16
max_steps = 2
`, runAbs(t, runTinyXLMR))
	_, log := runMust(t, dir, recipe, Options{})
	want := fmt.Sprintf("data: code-mixed augmentation from %s (12 Korean terms): 6 rows added to the query column", syn)
	if !strings.Contains(log, want) {
		t.Errorf("log lacks %q:\n%s", want, log)
	}
	if !strings.Contains(log, "16 examples, ") {
		t.Errorf("log lacks the 16 examples:\n%s", log)
	}
	found := false
	for _, r := range runLog(t, filepath.Join(dir, "out")) {
		if r["event"] == "stage_start" {
			found = true
			if r["examples"] != 16.0 {
				t.Errorf("stage_start: %v examples, want 16", r["examples"])
			}
		}
	}
	if !found {
		t.Error("no stage_start record")
	}
	// The added rows: the six queries with their English names, the
	// documents unchanged.
	p, err := ParsePipeline(filepath.Join(dir, "recipe.toml"), []byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	loss, _ := NewLoss("mnrl", LossParams{})
	data, err := loadStageData(&p.Stages[0], loss, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if len(data.rows) != 16 {
		t.Fatalf("%d rows", len(data.rows))
	}
	for i, en := range english {
		r := data.rows[10+i]
		if !strings.Contains(r[0], en) || r[0] == queries[i] || r[1] != fmt.Sprintf("제품 %d 설명", i) {
			t.Errorf("added row %d: %q, want query %q with %s", i, r, queries[i], en)
		}
	}
}

// TestRunDevEarlyStopping evaluates on a dev set after every step with a
// learning rate so large that the first evaluation stays the best: the
// stage stops after two evaluations without improvement, and its output
// holds the best step's weights (not the last step's), which score the
// best logged NDCG@10 again.
func TestRunDevEarlyStopping(t *testing.T) {
	dir := t.TempDir()
	runTriplets(t, dir, "triplets.jsonl", 24)
	devPath := runDev(t, dir)
	recipe := fmt.Sprintf(`name = "early"
model = %q
[[stage]]
name = "big-lr"
data = "triplets.jsonl"
loss = "mnrl"
batch_size = 8
lr = 0.1
schedule = "constant"
warmup_ratio = 0.0
max_length = 24
max_steps = 10
dev = "dev.csv"
eval_steps = 1
early_stopping = 2
checkpoint_steps = 1
`, runAbs(t, runTinyXLMR))
	out := filepath.Join(dir, "out")
	// After each step: the weights of that step (its checkpoint, written
	// before AfterStep) and the best model kept so far.
	weights, best := map[int][]byte{}, map[int][]byte{}
	o := Options{AfterStep: func(stage string, step int) {
		ck := filepath.Join(out, "checkpoints", fmt.Sprintf("01-big-lr-step-%06d", step), "model", "model.safetensors")
		b, err := os.ReadFile(ck)
		if err != nil {
			t.Errorf("step %d: %v", step, err)
		}
		weights[step] = b
		if b, err := os.ReadFile(filepath.Join(out, "best", "01-big-lr", "model.safetensors")); err == nil {
			best[step] = b
		}
	}}
	rep, log := runMust(t, dir, recipe, o)
	sr := rep.Stages[0]

	// The evaluations: one a step, each with NDCG@10 and Recall@10.
	var ndcg []float64
	var flags []bool
	for _, r := range runLog(t, out) {
		if r["event"] != "eval" {
			continue
		}
		if int(r["step"].(float64)) != len(ndcg)+1 {
			t.Fatalf("eval at step %v after %d evaluations", r["step"], len(ndcg))
		}
		v, ok := r["ndcg@10"].(float64)
		if _, okr := r["recall@10"].(float64); !ok || !okr || v < 0 || v > 1 {
			t.Fatalf("eval record %v", r)
		}
		ndcg = append(ndcg, v)
		flags = append(flags, r["best"].(bool))
	}
	if len(ndcg) < 3 {
		t.Fatalf("%d evaluations; want at least 3:\n%s", len(ndcg), log)
	}
	// Early stopping after the second evaluation in a row without
	// improvement on the best so far.
	bestStep, bestV, bad, stop := 0, -1.0, 0, 0
	for i, v := range ndcg {
		if flags[i] != (v > bestV) {
			t.Errorf("step %d: best flag %v for NDCG@10 %g (best so far %g)", i+1, flags[i], v, bestV)
		}
		if v > bestV {
			bestStep, bestV, bad = i+1, v, 0
		} else if bad++; bad == 2 {
			stop = i + 1
			break
		}
	}
	if stop == 0 || stop != len(ndcg) {
		t.Fatalf("NDCG@10 by step %v: want a stop after two evaluations without improvement, at the last one", ndcg)
	}
	if sr.StoppedAt != stop || sr.Steps != stop || sr.BestStep != bestStep || sr.Dev["NDCG@10"] != bestV {
		t.Errorf("report: stopped at %d, %d steps, best step %d, dev %v; want %d, %d, %d, %g", sr.StoppedAt, sr.Steps, sr.BestStep, sr.Dev, stop, stop, bestStep, bestV)
	}
	if !strings.Contains(log, fmt.Sprintf("big-lr: early stopping at step %d: no improvement in 2 evaluations", stop)) ||
		!strings.Contains(log, fmt.Sprintf("big-lr: keeping the best model (step %d,", bestStep)) {
		t.Errorf("log:\n%s", log)
	}
	if bestStep == stop {
		t.Fatal("the last step is the best: nothing to keep")
	}

	// The output is the best step's model, not the last step's.
	got, err := os.ReadFile(filepath.Join(out, "01-big-lr", "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, weights[bestStep]) || !bytes.Equal(got, best[stop]) {
		t.Errorf("01-big-lr holds other weights than step %d's", bestStep)
	}
	if bytes.Equal(got, weights[stop]) {
		t.Errorf("01-big-lr holds the last step's weights")
	}
	if _, err := os.Stat(filepath.Join(out, "best", "01-big-lr")); err == nil {
		t.Errorf("best/01-big-lr left behind")
	}
	// keep_checkpoints (default 2): the stage's last two stay.
	if got, want := runCheckpointNames(t, out), []string{fmt.Sprintf("01-big-lr-step-%06d", stop-1), fmt.Sprintf("01-big-lr-step-%06d", stop)}; !slices.Equal(got, want) {
		t.Errorf("checkpoints left after the stage: %v, want %v", got, want)
	}
	card, err := os.ReadFile(filepath.Join(out, "01-big-lr", "README.md"))
	if err != nil || !strings.Contains(string(card), "NDCG@10") {
		t.Errorf("card without the dev metric: %v", err)
	}
	// Evaluating the output again gives the best logged NDCG@10.
	m := runLoad(t, filepath.Join(out, "model"))
	d, _, err := eval.LoadDataset(devPath, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := eval.Run(context.Background(), d, eval.Spec{Name: "dev", Retriever: "dense", R: &eval.Dense{Enc: m}}, eval.Config{Ks: []int{10}})
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Metrics[metrics.Key(metrics.NameNDCG, 10)]; math.Abs(v-bestV) > 1e-12 {
		t.Errorf("the output scores NDCG@10 %g on the dev set, the best logged is %g", v, bestV)
	}
}

// runCollapseLine matches StageReport.Collapse: the mean cosines of
// relevant and random pairs after the stage, then before it.
var runCollapseLine = regexp.MustCompile(`^relevant pairs ([0-9.-]+), random pairs ([0-9.-]+) \(gap [0-9.-]+\), anisotropy [0-9.-]+; before: relevant ([0-9.-]+), random ([0-9.-]+) `)

func runCollapseNumbers(t *testing.T, line string) (rel, rnd, rel0, rnd0 float64) {
	t.Helper()
	m := runCollapseLine.FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("collapse line %q", line)
	}
	var v [4]float64
	for i := range v {
		v[i], _ = strconv.ParseFloat(m[i+1], 64)
	}
	return v[0], v[1], v[2], v[3]
}

// TestRunCollapseWarning reruns the drug project's failed ingredient
// stage in small: positive-only templated pairs ("X은(는) Y 제제에서
// 사용되는 의약 성분이다", label 1.0 on every row) with the cosine loss
// pull every text together, and the stage is flagged loudly; a stage of
// MNRL on triplets with hard negatives from the same base is not.
func TestRunCollapseWarning(t *testing.T) {
	dir := t.TempDir()
	ingredients := []string{"디곡신", "옥수수전분", "젤라틴", "아세트아미노펜", "이부프로펜", "카페인", "덱스트로메토르판", "구아이페네신", "클로르페니라민", "유당"}
	types := []string{"강심제", "해열진통소염제", "진해거담제", "소화성궤양용제", "항히스타민제"}
	var b bytes.Buffer
	b.WriteString("query,context,label\n")
	for i, x := range ingredients {
		for j := range 4 {
			fmt.Fprintf(&b, "%s,%s은(는) %s 제제에서 사용되는 의약 성분이다.,1.0\n", x, x, types[(i+j)%len(types)])
		}
	}
	runWrite(t, dir, "ingredients.csv", b.String())
	runTriplets(t, dir, "triplets.jsonl", 40)
	base := runAbs(t, runTinyXLMR)
	recipe := fmt.Sprintf(`name = "collapse"
model = %q
[defaults]
batch_size = 8
lr = 2e-3
max_length = 32
epochs = 4
[[stage]]
name = "ingredients"
data = "ingredients.csv"
loss = "cosine"
[[stage]]
name = "products"
from = %q
data = "triplets.jsonl"
loss = "mnrl"
`, base, base)
	rep, log := runMust(t, dir, recipe, Options{})
	ing, prod := rep.Stages[0], rep.Stages[1]
	if !ing.Collapsed {
		t.Errorf("ingredients: not flagged as collapsed (%s)", ing.Collapse)
	}
	if prod.Collapsed {
		t.Errorf("products: flagged as collapsed (%s)", prod.Collapse)
	}
	rel, rnd, _, rnd0 := runCollapseNumbers(t, ing.Collapse)
	if !(rnd > 0.95 && rnd > rnd0+0.02 && rel-rnd < 0.05) {
		t.Errorf("ingredients: relevant %.3f, random %.3f (before %.3f): want random pairs near 1", rel, rnd, rnd0)
	}
	rel, rnd, _, rnd0 = runCollapseNumbers(t, prod.Collapse)
	if !(rnd < rnd0-0.05 && rel-rnd > 0.1) {
		t.Errorf("products: relevant %.3f, random %.3f (before %.3f): want random pairs pushed apart", rel, rnd, rnd0)
	}
	block := "\n!!! WARNING: stage ingredients collapsed the similarity distribution !!!\n!!!   collapse: "
	if strings.Count(log, "!!! WARNING: stage ") != 1 || !strings.Contains(log, block) ||
		!strings.Contains(log, "!!! Use hard negatives or graded labels") {
		t.Errorf("want one warning block, for ingredients:\n%s", log)
	}
	// The diagnosis is in the log's stage_end records.
	n := 0
	for _, r := range runLog(t, filepath.Join(dir, "out")) {
		if r["event"] == "stage_end" {
			c, ok := r["collapse"].(map[string]any)
			if !ok {
				t.Errorf("stage_end of %v without a diagnosis", r["stage"])
				continue
			}
			n++
			w, _ := c["warnings"].([]any)
			if (r["stage"] == "ingredients") != (len(w) > 0) {
				t.Errorf("stage %v: warnings %v", r["stage"], w)
			}
		}
	}
	if n != 2 {
		t.Errorf("%d stage_end records with a diagnosis", n)
	}
}

// TestRunMaxStepsAndResumeGuards: Options.MaxSteps caps each stage (a
// stage's own smaller max_steps stays); a finished run's output is
// refused without Resume, and with Resume when the recipe or MaxSteps
// changed; with Resume and the same recipe the done stages are skipped.
func TestRunMaxStepsAndResumeGuards(t *testing.T) {
	dir := t.TempDir()
	runTriplets(t, dir, "triplets.jsonl", 40)
	recipe := fmt.Sprintf(`name = "capped"
model = %q
[defaults]
data = "triplets.jsonl"
loss = "mnrl"
batch_size = 4
max_length = 16
[[stage]]
name = "long"
epochs = 3
[[stage]]
name = "short"
max_steps = 2
`, runAbs(t, runTinyXLMR))
	rep, log := runMust(t, dir, recipe, Options{MaxSteps: 3})
	if len(rep.Stages) != 2 || rep.Stages[0].Steps != 3 || rep.Stages[1].Steps != 2 || rep.Stages[0].Examples != 12 {
		t.Fatalf("stages %+v", rep.Stages)
	}
	if !strings.Contains(log, "3 optimiser steps of 4×1 examples") || !strings.Contains(log, "2 optimiser steps of 4×1 examples") {
		t.Errorf("log:\n%s", log)
	}
	recs := runLog(t, filepath.Join(dir, "out"))
	if a, b := len(runLosses(t, recs, "long")), len(runLosses(t, recs, "short")); a != 3 || b != 2 {
		t.Errorf("logged %d and %d steps, want 3 and 2", a, b)
	}
	weights := runRead(t, filepath.Join(dir, "out", "02-short", "model.safetensors"))

	// The same output again, without Resume.
	_, _, err := runRecipe(t, dir, recipe, Options{MaxSteps: 3})
	if err == nil || !strings.Contains(err.Error(), "--resume") || !strings.Contains(err.Error(), "already holds a run") {
		t.Errorf("rerun without resume: %v", err)
	}
	// Resume after the recipe changed, or with another MaxSteps.
	_, _, err = runRecipe(t, dir, strings.Replace(recipe, "batch_size = 4", "batch_size = 5", 1), Options{MaxSteps: 3, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "changed since this run started") {
		t.Errorf("resume with a changed recipe: %v", err)
	}
	_, _, err = runRecipe(t, dir, recipe, Options{MaxSteps: 4, Resume: true})
	if err == nil || !strings.Contains(err.Error(), "changed since this run started") {
		t.Errorf("resume with another --max-steps: %v", err)
	}
	// Resume of the finished run: nothing to redo, and the report still
	// holds both stages (kept in state.json).
	rep, log = runMust(t, dir, recipe, Options{MaxSteps: 3, Resume: true})
	if len(rep.Stages) != 2 || rep.Stages[0].Name != "long" || rep.Stages[0].Steps != 3 || rep.Stages[1].Steps != 2 ||
		!strings.Contains(log, "stage 1/2 long: done earlier") || !strings.Contains(log, "stage 2/2 short: done earlier") {
		t.Errorf("resume of a finished run: %+v\n%s", rep.Stages, log)
	}
	if !bytes.Equal(weights, runRead(t, filepath.Join(dir, "out", "02-short", "model.safetensors"))) {
		t.Error("resume of a finished run changed the weights")
	}
	if target, err := os.Readlink(filepath.Join(dir, "out", "model")); err != nil || target != "02-short" {
		t.Errorf("OUTPUT/model → %q, %v", target, err)
	}
}

func runRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
