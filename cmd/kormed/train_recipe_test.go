package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kormed/kormed/drugbench"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/model"
)

// TestDrugRecipe runs the shipped recipes/drug.toml, all three stages, on
// the real drug data with the tiny test encoder in place of
// multilingual-e5-small and --max-steps 3: the drug-bench training
// triplets are built first, as the recipe's header says (kormed data
// drug-bench --train-output). Each stage must save a complete
// sentence-transformers folder with a card naming the stages so far and
// the data's MIT attribution, OUTPUT/model must link to the last stage,
// and kormed eval must run on it.
func TestDrugRecipe(t *testing.T) {
	drugs, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "drugs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(drugs, drugbench.ProductsFile)); err != nil {
		t.Skipf("no shared drug data: %v", err)
	}
	tmp := t.TempDir()
	src, err := drugbench.Load(drugs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := drugbench.Build(src, drugbench.Options{Seed: 42})
	if err != nil {
		t.Fatal(err)
	}
	// "drug" in the folder name, as the recipe's drug-train: the card
	// attributes data by its path.
	trainDir := filepath.Join(tmp, "drug-train")
	ts, err := b.WriteTrain(trainDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) < 32 {
		t.Fatalf("%d training triplets", len(ts))
	}
	t.Setenv("DRUG_DATA", drugs)
	t.Setenv("DRUG_TRAIN", trainDir)
	base := filepath.Join(tmp, "tiny-xlmr")
	copyTree(t, tinyModelDir("tiny-xlmr"), base)
	os.RemoveAll(filepath.Join(base, "fixtures"))
	out := filepath.Join(tmp, "run")
	ctx := context.Background()
	if err := cmdTrain.Exec(ctx, []string{filepath.Join("..", "..", "recipes", "drug.toml"), "--model", base, "--output", out,
		"--max-steps", "3", "--no-progress", "--threads", "2"}); err != nil {
		t.Fatal(err)
	}

	stages := []string{"01-types", "02-dur", "03-products"}
	for i, s := range stages {
		dir := filepath.Join(out, s)
		for _, f := range []string{"config.json", "model.safetensors", "modules.json", "1_Pooling/config.json", "2_Normalize",
			"sentence_bert_config.json", "config_sentence_transformers.json", "tokenizer.json", "tokenizer_config.json",
			"special_tokens_map.json", "README.md"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Errorf("%s: %v", s, err)
			}
		}
		var mods []struct{ Type, Path string }
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "modules.json"))), &mods); err != nil || len(mods) != 3 ||
			mods[1].Type != "sentence_transformers.models.Pooling" || mods[2].Type != "sentence_transformers.models.Normalize" {
			t.Errorf("%s: modules.json %+v, %v", s, mods, err)
		}
		var pool map[string]any
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "1_Pooling", "config.json"))), &pool); err != nil ||
			pool["pooling_mode_mean_tokens"] != true || pool["word_embedding_dimension"] != 32.0 {
			t.Errorf("%s: 1_Pooling/config.json %v, %v", s, pool, err)
		}
		var stc map[string]any
		if err := json.Unmarshal([]byte(readFile(t, filepath.Join(dir, "sentence_bert_config.json"))), &stc); err != nil || stc["max_seq_length"] != 64.0 {
			t.Errorf("%s: sentence_bert_config.json %v, %v (want the base's max_seq_length 64)", s, stc, err)
		}
		card := readFile(t, filepath.Join(dir, "README.md"))
		for j, name := range []string{"types", "dur", "products"} {
			row := "| " + string(rune('1'+j)) + " | " + name + " |"
			if has := strings.Contains(card, row); has != (j <= i) {
				t.Errorf("%s: card has stage row %q: %v, want %v", s, row, has, j <= i)
			}
		}
		for _, want := range []string{"drug-e5", "ryukato/fine-tuned-e5-drugmodel", "MIT License", "3 steps"} {
			if !strings.Contains(card, want) {
				t.Errorf("%s: card lacks %q", s, want)
			}
		}
		m, err := model.Load(dir)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		if m.Pooling != model.PoolMean || !m.Normalize || m.Dim() != 32 {
			t.Errorf("%s: pooling %q normalize %v dim %d", s, m.Pooling, m.Normalize, m.Dim())
		}
	}
	// The products card lists the drug-bench triplets and the recipe's attribution.
	if card := readFile(t, filepath.Join(out, "03-products", "README.md")); !strings.Contains(card, "`triplets.jsonl` (stage products)") ||
		!strings.Contains(card, "Korean drug data of ryukato/fine-tuned-e5-drugmodel (MIT License") {
		t.Errorf("03-products card: data or attribution missing:\n%s", card)
	}
	if target, err := os.Readlink(filepath.Join(out, "model")); err != nil || target != "03-products" {
		t.Errorf("OUTPUT/model → %q, %v", target, err)
	}
	var rep struct {
		Stages []struct {
			Name  string
			Steps int
		}
	}
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "report.json"))), &rep); err != nil || len(rep.Stages) != 3 {
		t.Fatalf("report.json: %+v, %v", rep, err)
	}
	for i, s := range rep.Stages {
		if s.Name != []string{"types", "dur", "products"}[i] || s.Steps != 3 {
			t.Errorf("stage %d: %+v, want 3 steps", i+1, s)
		}
	}
	if st, err := os.Stat(filepath.Join(out, "loss.png")); err != nil || st.Size() == 0 {
		t.Errorf("loss.png: %v", err)
	}

	// kormed eval on the trained model.
	evalOut := filepath.Join(tmp, "eval")
	if err := cmdEval.Exec(ctx, []string{"--retriever", "dense", "--model", filepath.Join(out, "model"), "--name", "drug-tiny",
		"--data", filepath.Join(drugs, "drug_dur_type_similarity_train.fixed.csv"), "--output", evalOut}); err != nil {
		t.Fatal(err)
	}
	var r eval.Result
	if err := json.Unmarshal([]byte(readFile(t, filepath.Join(evalOut, "results", "drug_dur_type_similarity_train.fixed__drug-tiny.json"))), &r); err != nil {
		t.Fatal(err)
	}
	if r.Retriever != "dense" || r.Dataset.Evaluated == 0 || r.Metrics["NDCG@10"] <= 0 || r.Metrics["NDCG@10"] > 1 {
		t.Errorf("eval result %+v", r)
	}
}
