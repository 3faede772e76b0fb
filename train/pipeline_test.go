package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func writeRecipe(t *testing.T, body string) string {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "r.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadPipeline(t *testing.T) {
	t.Setenv("KORMED_TEST_DATA", "/data")
	p, err := ReadPipeline(writeRecipe(t, `
name = "x"
model = "intfloat/multilingual-e5-small"
[defaults]
batch_size = 64
lr = 3e-5
freeze = { embeddings = "word" }
[[stage]]
name = "one"
data = "${KORMED_TEST_DATA}/a.csv"
loss = "cosine"
[[stage]]
data = "${KORMED_TEST_UNSET:-b}.jsonl"
loss = "mnrl"
lr = 1e-4
loss_params = { scale = 30.0, symmetric = true }
mini_batch = 16
freeze = { train_top_layers = 2 }
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Stages) != 2 {
		t.Fatalf("%d stages", len(p.Stages))
	}
	a, b := p.Stages[0], p.Stages[1]
	if a.Data != "/data/a.csv" || a.BatchSize != 64 || a.LR != 3e-5 || a.Freeze.Embeddings != "word" || a.Sampler != "random" || a.Seed != 42 {
		t.Errorf("stage 1: %+v", a)
	}
	if b.Name != "stage2" || filepath.Base(b.Data) != "b.jsonl" || !filepath.IsAbs(b.Data) && !strings.Contains(b.Data, string(filepath.Separator)) {
		t.Errorf("stage 2 name/data: %q %q", b.Name, b.Data)
	}
	if b.LR != 1e-4 || *b.LossParams.Scale != 30 || !*b.LossParams.Symmetric || b.Sampler != "no-duplicates" || b.MiniBatch != 16 {
		t.Errorf("stage 2: %+v", b)
	}
	// A stage's freeze table replaces the default's.
	if b.Freeze.TrainTopLayers != 2 || b.Freeze.Embeddings != "" {
		t.Errorf("stage 2 freeze %+v", b.Freeze)
	}
	if a.Epochs != 1 || a.WarmupRatio != 0.1 || a.MaxGradNorm != 1 || a.Beta2 != 0.999 {
		t.Errorf("defaults: %+v", a)
	}
}

func TestReadPipelineErrors(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{`[[stage]]
data = "a.csv"
loss = "cosine"
lr_rate = 1`, "unknown key stage.lr_rate"},
		{`[[stage]]
data = "a.csv"`, "loss: missing"},
		{`[[stage]]
loss = "cosine"`, "data: missing"},
		{`[[stage]]
data = "a.csv"
loss = "triplet"`, `unknown loss "triplet"`},
		{`[[stage]]
data = "a.csv"
loss = "mnrl"
loss_params = { threshold = 0.5 }`, "parameter threshold does not apply"},
		{`[[stage]]
data = "a.csv"
loss = "cosine"
batch_size = 0`, "batch_size = 0"},
		{`[[stage]]
data = "${KORMED_SURELY_UNSET}/a.csv"
loss = "cosine"`, "KORMED_SURELY_UNSET is not set"},
		{`[[stage]]
data = "a.csv"
loss = "cosine"
sampler = "groups"`, "sampler groups needs the multi-similarity loss"},
		{`[[stage]]
data = "a.csv"
loss = "cosine"
warmup_ratio = 1.5`, "warmup_ratio = 1.5"},
		{`[[stage]]
data = "a.csv"
loss = "cosine"
[[stage]]
name = "stage1"
data = "a.csv"
loss = "cosine"`, "name used twice"},
		{`name = "x"`, "no [[stage]]"},
		{`[[stage]
data = 1`, "r.toml"},
		{`[[stage]]
data = "a.csv"
loss = "mnrl"
mini_batch = 8
accumulate = 2`, "GradCache"},
	} {
		_, err := ReadPipeline(writeRecipe(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: error %v, want %q", c.body, err, c.want)
		}
	}
}

// The shipped recipe parses (its data need not exist to parse).
func TestShippedRecipes(t *testing.T) {
	files, _ := filepath.Glob("../recipes/*.toml")
	if len(files) == 0 {
		t.Fatal("no recipes")
	}
	t.Setenv("DRUG_TRAIN", "/tmp/drug-train")
	for _, f := range files {
		if _, err := ReadPipeline(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

// FuzzParsePipeline: no pipeline file panics the parser or the checks.
func FuzzParsePipeline(f *testing.F) {
	for _, s := range []string{
		"[[stage]]\ndata = \"a.csv\"\nloss = \"cosine\"\n",
		"name = \"x\"\n[defaults]\nlr = 1e-3\n[[stage]]\ndata = \"${A:-b}\"\nloss = \"mnrl\"\nloss_params = { scale = 20.0 }\nfreeze = { names = [\"encoder.layer.0.\"] }\n",
		"[[stage]]\ndata = 1\n", "model = [1,2]\n", "[[stage]]\nprefixes = [\"query: \"]\ndual = true\n",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		ParsePipeline("fuzz.toml", []byte(body))
	})
}

func TestPipelineSet(t *testing.T) {
	path := writeRecipe(t, `
[[stage]]
name = "a"
data = "a.csv"
loss = "cosine"
[[stage]]
name = "b"
data = "b.jsonl"
loss = "mnrl"
`)
	p, err := ReadPipeline(path, "lr=1e-3", "b.epochs=3", "freeze.embeddings=word", "a.schedule=cosine")
	if err != nil {
		t.Fatal(err)
	}
	a, b := p.Stages[0], p.Stages[1]
	if a.LR != 1e-3 || b.LR != 1e-3 || a.Epochs != 1 || b.Epochs != 3 || a.Freeze.Embeddings != "word" || a.Schedule != "cosine" || b.Schedule != "linear" {
		t.Errorf("a %+v\nb %+v", a, b)
	}
	for _, bad := range []string{"lr", "learning_rate=1", "c.lr=1", "epochs=many", "lr=-1"} {
		if _, err := ReadPipeline(path, bad); err == nil {
			t.Errorf("--set %s accepted", bad)
		}
	}
}
