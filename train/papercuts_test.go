package train

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kormed/kormed/dataset"
)

// Training papercuts: the collapse diagnosis of label-less and graded
// pairs, prefixes and tokenizer files in the saved model, the checkpoints
// a stage keeps, and shuffle = false.

// runPairsCSV writes a pairs CSV of n rows with the given header; row(i)
// gives the fields after the two texts ("" for none).
func runPairsCSV(t *testing.T, dir, name, header string, n int, row func(i int) string) string {
	t.Helper()
	var b bytes.Buffer
	b.WriteString(header + "\n")
	for i := range n {
		k := runKinds[i%len(runKinds)]
		fmt.Fprintf(&b, "%s %d번 알려줘,%s 제품 %d 설명%s\n", k, i, k, i, row(i))
	}
	return runWrite(t, dir, name, b.String())
}

// TestRunDiagnosisReadsWhatTheStageReads: pairs without a label column
// (query,context and anchor,positive) and pairs with graded labels train,
// and the collapse diagnosis before and after the stage runs on them
// (the diagnosis used to read the file again with the evaluation reader,
// which wants a 0/1 label column, and aborted the stage).
func TestRunDiagnosisReadsWhatTheStageReads(t *testing.T) {
	dir := t.TempDir()
	none := func(int) string { return "" }
	runPairsCSV(t, dir, "qc.csv", "query,context", 16, none)
	runPairsCSV(t, dir, "ap.csv", "anchor,positive", 16, none)
	graded := []string{"0.9", "0.7", "0.2", "1"}
	runPairsCSV(t, dir, "graded.csv", "query,context,label", 16, func(i int) string { return "," + graded[i%len(graded)] })
	for _, c := range []struct{ data, loss string }{{"qc.csv", "mnrl"}, {"ap.csv", "mnrl"}, {"graded.csv", "cosine"}, {"graded.csv", "mnrl"}} {
		t.Run(c.data+"/"+c.loss, func(t *testing.T) {
			recipe := fmt.Sprintf(`name = "diag"
model = %q
[[stage]]
name = "s"
data = %q
loss = %q
batch_size = 4
max_length = 16
max_steps = 2
`, runAbs(t, runTinyXLMR), c.data, c.loss)
			rep, log := runMust(t, dir, recipe, Options{Output: filepath.Join(t.TempDir(), "out")})
			rel, rnd, rel0, rnd0 := runCollapseNumbers(t, rep.Stages[0].Collapse)
			if rel <= rnd || rel0 <= rnd0 {
				t.Errorf("relevant pairs %.3f/%.3f (before %.3f/%.3f): want relevant above random", rel, rnd, rel0, rnd0)
			}
			if !strings.Contains(log, "similarity after the stage") {
				t.Errorf("log:\n%s", log)
			}
		})
	}
}

// TestPairDataset: the diagnosis set of pairs and triplets as the stage's
// reader gives them.
func TestPairDataset(t *testing.T) {
	row := func(label float32, texts ...string) dataset.Example {
		return dataset.Example{Texts: texts, Label: label}
	}
	// Graded labels: ≥ 0.5 relevant, below judged 0; a query without a
	// positive is left out; a repeated (query, document) relevant once
	// is relevant.
	d := pairDataset(&dataset.Examples{Format: dataset.FormatPairs, Columns: []string{"query", "context"}, HasLabels: true, Rows: []dataset.Example{
		row(0.9, "a", "A"), row(0.2, "a", "B"), row(0.1, "b", "A"), row(0.5, "c", "C"), row(0.4, "c", "C"),
	}})
	wantQ := []dataset.Query{{ID: "q1", Text: "a"}, {ID: "q2", Text: "c"}}
	wantDocs := []dataset.Doc{{ID: "d1", Text: "A"}, {ID: "d2", Text: "B"}, {ID: "d3", Text: "C"}}
	wantQrels := dataset.Qrels{"q1": {"d1": 1, "d2": 0}, "q2": {"d3": 1}}
	if !reflect.DeepEqual(d.Queries, wantQ) || !reflect.DeepEqual(d.Corpus, wantDocs) || !reflect.DeepEqual(d.Qrels, wantQrels) {
		t.Errorf("graded pairs: %+v %+v %v", d.Queries, d.Corpus, d.Qrels)
	}
	// No labels: every row is a positive; a third column is a judged
	// negative.
	d = pairDataset(&dataset.Examples{Format: dataset.FormatTriplets, Columns: []string{"query", "document", "hard_negative"}, Rows: []dataset.Example{
		row(0, "a", "A", "B"), row(0, "b", "B", "A"),
	}})
	wantQrels = dataset.Qrels{"q1": {"d1": 1, "d2": 0}, "q2": {"d2": 1, "d1": 0}}
	if len(d.Queries) != 2 || len(d.Corpus) != 2 || !reflect.DeepEqual(d.Qrels, wantQrels) {
		t.Errorf("triplets: %+v %+v %v", d.Queries, d.Corpus, d.Qrels)
	}
}

// TestRunSavesPrefixesAndTokenizerFiles: a stage's prefixes become the
// saved model's prompts, so the loaded model embeds a query as the stage
// trained on it ("query: " + text); the base model's other tokenizer
// files come along byte for byte.
func TestRunSavesPrefixesAndTokenizerFiles(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(dir, "base")
	if err := os.CopyFS(base, os.DirFS(runTinyXLMR)); err != nil {
		t.Fatal(err)
	}
	os.RemoveAll(filepath.Join(base, "fixtures"))
	spm := []byte{0x0a, 0x03, 's', 'p', 0x00, 0xff}
	runWrite(t, base, "sentencepiece.bpe.model", string(spm))
	runTriplets(t, dir, "triplets.jsonl", 16)
	recipe := fmt.Sprintf(`name = "prefixes"
model = %q
[[stage]]
name = "s"
data = "triplets.jsonl"
loss = "mnrl"
batch_size = 4
max_length = 24
max_steps = 2
prefixes = ["query: ", "passage: ", "passage: "]
`, base)
	out := filepath.Join(dir, "out")
	runMust(t, dir, recipe, Options{Output: out})
	saved := filepath.Join(out, "01-s")
	var st struct {
		Prompts           map[string]string `json:"prompts"`
		DefaultPromptName *string           `json:"default_prompt_name"`
	}
	b := runRead(t, filepath.Join(saved, "config_sentence_transformers.json"))
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"query": "query: ", "passage": "passage: ", "document": "passage: "}
	if !reflect.DeepEqual(st.Prompts, want) || st.DefaultPromptName != nil || !bytes.Contains(b, []byte(`"default_prompt_name": null`)) {
		t.Errorf("config_sentence_transformers.json:\n%s", b)
	}
	m := runLoad(t, filepath.Join(out, "model"))
	if m.QueryPrefix != "query: " || m.PassagePrefix != "passage: " {
		t.Fatalf("loaded prefixes %q, %q", m.QueryPrefix, m.PassagePrefix)
	}
	ctx := context.Background()
	text := "해열제 1번 알려줘"
	q, err := m.EncodeQueries(ctx, []string{text})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := m.Encode(ctx, []string{"query: " + text, text})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q[0], raw[0]) {
		t.Errorf("EncodeQueries(%q) differs from Encode(\"query: \" + text)", text)
	}
	if slices.Equal(q[0], raw[1]) {
		t.Errorf("EncodeQueries(%q) is the text without a prefix", text)
	}
	if got := runRead(t, filepath.Join(saved, "sentencepiece.bpe.model")); !bytes.Equal(got, spm) {
		t.Errorf("sentencepiece.bpe.model = %q, want the base's %q", got, spm)
	}
}

// runCheckpointNames lists OUTPUT/checkpoints.
func runCheckpointNames(t *testing.T, out string) []string {
	t.Helper()
	ents, err := os.ReadDir(filepath.Join(out, "checkpoints"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestRunKeepCheckpoints: after a stage, its keep_checkpoints newest
// checkpoints stay (they used to be deleted whatever the recipe said);
// keep_checkpoints = 0 keeps none.
func TestRunKeepCheckpoints(t *testing.T) {
	dir := t.TempDir()
	runTriplets(t, dir, "triplets.jsonl", 16)
	recipe := fmt.Sprintf(`name = "keep"
model = %q
[defaults]
data = "triplets.jsonl"
loss = "mnrl"
batch_size = 4
max_length = 16
max_steps = 6
checkpoint_steps = 1
[[stage]]
name = "a"
keep_checkpoints = 3
[[stage]]
name = "b"
[[stage]]
name = "c"
keep_checkpoints = 0
`, runAbs(t, runTinyXLMR))
	out := filepath.Join(dir, "out")
	var during []string
	runMust(t, dir, recipe, Options{Output: out, AfterStep: func(stage string, step int) {
		if stage == "c" && step == 4 {
			during = runCheckpointNames(t, out)
		}
	}})
	// Checkpoints at steps 1–5 (the stage's end is its output folder).
	want := []string{"01-a-step-000003", "01-a-step-000004", "01-a-step-000005", "02-b-step-000004", "02-b-step-000005"}
	if got := runCheckpointNames(t, out); !slices.Equal(got, want) {
		t.Errorf("checkpoints after the run %v, want %v", got, want)
	}
	// While stage c runs, its latest checkpoint is there.
	if wantC := append(slices.Clone(want), "03-c-step-000004"); !slices.Equal(during, wantC) {
		t.Errorf("checkpoints at stage c step 4 %v, want %v", during, wantC)
	}
	// A kept checkpoint is a complete one.
	for _, f := range []string{"trainer.json", "optimizer.safetensors", "model/model.safetensors"} {
		if _, err := os.Stat(filepath.Join(out, "checkpoints", want[0], f)); err != nil {
			t.Error(err)
		}
	}
	// Negative counts are refused.
	p := filepath.Join(dir, "recipe.toml")
	if _, err := ParsePipeline(p, []byte(recipe), "keep_checkpoints=-1"); err == nil || !strings.Contains(err.Error(), "keep_checkpoints = -1") {
		t.Errorf("keep_checkpoints = -1: %v", err)
	}
}

// TestShuffleOff: shuffle = false (in the file or by --set) walks the
// rows in file order every epoch, so batches are consecutive rows; by
// default each epoch is a permutation.
func TestShuffleOff(t *testing.T) {
	dir := t.TempDir()
	runPairsCSV(t, dir, "pairs.csv", "query,context,label", 10, func(i int) string { return fmt.Sprintf(",%g", float64(i%2)) })
	runTriplets(t, dir, "triplets.jsonl", 10)
	recipe := `name = "order"
model = "unused"
[defaults]
batch_size = 4
epochs = 2
[[stage]]
name = "pairs"
data = "pairs.csv"
loss = "cosine"
shuffle = false
[[stage]]
name = "triplets"
data = "triplets.jsonl"
loss = "mnrl"
`
	path := filepath.Join(dir, "recipe.toml")
	batches := func(p *Pipeline, i int) [][][]int {
		t.Helper()
		s := p.Stages[i]
		loss, err := NewLoss(s.Loss, s.LossParams)
		if err != nil {
			t.Fatal(err)
		}
		d, err := loadStageData(&s, loss, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		plan, err := d.plan(&s, &bytes.Buffer{})
		if err != nil {
			t.Fatal(err)
		}
		return plan.steps
	}
	inOrder := [][][]int{{{0, 1, 2, 3}}, {{4, 5, 6, 7}}, {{8, 9}}, {{0, 1, 2, 3}}, {{4, 5, 6, 7}}, {{8, 9}}}
	p, err := ParsePipeline(path, []byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	if got := batches(p, 0); !reflect.DeepEqual(got, inOrder) {
		t.Errorf("shuffle = false: steps %v, want %v", got, inOrder)
	}
	if got := batches(p, 1); reflect.DeepEqual(got, inOrder) {
		t.Errorf("default: steps %v in file order", got)
	}
	// --set turns it off in one stage (and on again).
	p, err = ParsePipeline(path, []byte(recipe), "triplets.shuffle=false", "pairs.shuffle=true")
	if err != nil {
		t.Fatal(err)
	}
	if got := batches(p, 1); !reflect.DeepEqual(got, inOrder) {
		t.Errorf("--set triplets.shuffle=false: steps %v, want %v", got, inOrder)
	}
	if got := batches(p, 0); reflect.DeepEqual(got, inOrder) {
		t.Errorf("--set pairs.shuffle=true: steps %v in file order", got)
	}
	// The batches Run trains on are the rows in that order.
	p, err = ParsePipeline(path, []byte(recipe))
	if err != nil {
		t.Fatal(err)
	}
	s := p.Stages[0]
	loss, _ := NewLoss(s.Loss, s.LossParams)
	d, err := loadStageData(&s, loss, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	b := d.batch(inOrder[1][0])
	if b.Texts[0][0] != "안약 4번 알려줘" || b.Texts[1][3] != "변비약 제품 7 설명" || b.Labels[0] != 0 || b.Labels[1] != 1 {
		t.Errorf("batch 2: %q %v", b.Texts, b.Labels)
	}
	// A recipe without the key keeps its resume fingerprint.
	fp1, _ := fingerprint(p, "m", 0)
	p.Stages[0].Shuffle = nil
	fp2, _ := fingerprint(p, "m", 0)
	if fp1 == fp2 {
		t.Error("shuffle = false does not change the fingerprint")
	}
	if b, _ := json.Marshal(p.Stages[0]); bytes.Contains(b, []byte(`"Shuffle"`)) {
		t.Errorf("an unset shuffle is in the fingerprint's JSON: %s", b)
	}
}
