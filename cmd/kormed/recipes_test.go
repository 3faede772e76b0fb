package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/drugbench"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/testmodel"
	"github.com/kormed/kormed/train"
)

// recipeCase is one shipped recipe: the tiny model that stands in for its
// base model, the stages it must run, the published hyper-parameters it
// must keep (read back through train.ReadPipeline), and a check of the
// trained model.
type recipeCase struct {
	file   string // under recipes/
	model  string // "tiny-bert", "tiny-xlmr" or "tiny-exaone"
	stages []string
	keys   func(t *testing.T, p *train.Pipeline) // the recipe as written (nil for a causal_lm recipe)
	check  func(t *testing.T, out string)        // OUTPUT after kormed train
}

var recipeCases = []recipeCase{
	{file: "drug.toml", model: "tiny-xlmr", stages: []string{"types", "dur", "products"},
		keys: func(t *testing.T, p *train.Pipeline) {
			s := p.Stages[2]
			if p.Model != "intfloat/multilingual-e5-small" || s.Loss != "mnrl" || s.BatchSize != 32 || s.LR != 2e-5 {
				t.Errorf("drug recipe: model %s, products stage %+v", p.Model, s)
			}
		},
		// No prefixes in the recipe: the base model's own (none in tiny-xlmr).
		check: func(t *testing.T, out string) { checkEncoder(t, out, model.PoolMean, "") }},
	{file: "koe5.toml", model: "tiny-xlmr", stages: []string{"triplets"},
		// nlpai-lab/KoE5 card: CachedMultipleNegativesRankingLoss, batch 512, lr 1e-05, 1 epoch;
		// v1.1 finetune.sh: mini-batch 16, warm-up ratio 0.1, max length 512; scale 20 (the loss's default),
		// weight decay 0 (the Trainer's default).
		keys: func(t *testing.T, p *train.Pipeline) {
			s := p.Stages[0]
			if p.Model != "intfloat/multilingual-e5-large" || s.Loss != "mnrl" || s.LossParams.Scale == nil || *s.LossParams.Scale != 20 ||
				s.BatchSize != 512 || s.MiniBatch != 16 || s.LR != 1e-5 || s.WeightDecay != 0 || s.Epochs != 1 || s.WarmupRatio != 0.1 || s.MaxLength != 512 ||
				s.Pooling != "mean" || s.Prefixes == nil || strings.Join(*s.Prefixes, "|") != "query: |passage: |passage: " ||
				!strings.HasSuffix(s.Data, "triplets.jsonl") {
				t.Errorf("koe5 recipe: model %s, stage %+v", p.Model, s)
			}
		},
		check: func(t *testing.T, out string) { checkEncoder(t, out, model.PoolMean, "query: ") }},
	{file: "sapbert-ko-en.toml", model: "tiny-bert", stages: []string{"sap"},
		// medical DPR card, "(1) Self Alignment Pretraining": klue/bert-base, 1 epoch, batch 64,
		// max length 64, cls, threshold 0.8, scale positive 1, scale negative 60.
		keys: func(t *testing.T, p *train.Pipeline) {
			s := p.Stages[0]
			if p.Model != "klue/bert-base" || !sapKeys(s) {
				t.Errorf("sapbert-ko-en recipe: model %s, stage %+v", p.Model, s)
			}
		},
		check: func(t *testing.T, out string) { checkEncoder(t, out, model.PoolCLS, "") }},
	{file: "medical-dpr.toml", model: "tiny-bert", stages: []string{"sap", "dpr"},
		// the card's "(2) Dense Passage Retrieval": 10 epochs, batch 64, cls; a bi-encoder.
		keys: func(t *testing.T, p *train.Pipeline) {
			sap, dpr := p.Stages[0], p.Stages[1]
			if p.Model != "klue/bert-base" || !sapKeys(sap) || !dpr.Dual || dpr.Loss != "mnrl" || dpr.Epochs != 10 || dpr.BatchSize != 64 ||
				dpr.Pooling != "cls" || !strings.HasSuffix(dpr.CodeMix, "synonyms.txt") || dpr.CodeMixColumn != 0 ||
				!strings.HasSuffix(dpr.Data, "pairs.csv") {
				t.Errorf("medical-dpr recipe: model %s, stages %+v", p.Model, p.Stages)
			}
		},
		check: func(t *testing.T, out string) {
			dir := filepath.Join(out, "model")
			if !model.IsPair(dir) {
				t.Fatalf("%s: not a bi-encoder folder", dir)
			}
			pr, err := model.LoadPair(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range []*model.Model{pr.Query, pr.Passage} {
				if m.Pooling != model.PoolCLS {
					t.Errorf("dpr encoder pooling %q, want cls", m.Pooling)
				}
			}
			// Stage 1 is a single encoder, aligned with CLS pooling.
			if m, err := model.Load(filepath.Join(out, "01-sap")); err != nil || m.Pooling != model.PoolCLS {
				t.Errorf("01-sap: %v", err)
			}
		}},
	{file: filepath.Join("lm", "pubmedqa-ko.toml"), model: "tiny-exaone", stages: []string{"pubmedqa"},
		check: func(t *testing.T, out string) {
			if _, err := decoder.Load(filepath.Join(out, "model")); err != nil {
				t.Fatal(err)
			}
		}},
}

func sapKeys(s train.Stage) bool {
	lp := s.LossParams
	return s.Loss == "multi-similarity" && s.Format == "synonyms" && s.Sampler == "groups" && s.Epochs == 1 && s.BatchSize == 64 &&
		s.MaxLength == 64 && s.Pooling == "cls" && lp.Threshold != nil && *lp.Threshold == 0.8 && lp.ScalePos != nil && *lp.ScalePos == 1 &&
		lp.ScaleNeg != nil && *lp.ScaleNeg == 60 && strings.HasSuffix(s.Data, "synonyms.txt")
}

// checkEncoder loads OUTPUT/model as one sentence encoder with the pooling
// and query prefix the recipe trained with.
func checkEncoder(t *testing.T, out string, pool model.Pooling, queryPrefix string) {
	t.Helper()
	m, err := model.Load(filepath.Join(out, "model"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Pooling != pool || m.QueryPrefix != queryPrefix {
		t.Errorf("model: pooling %q query prefix %q, want %q %q", m.Pooling, m.QueryPrefix, pool, queryPrefix)
	}
}

// TestRecipes runs every recipe under recipes/ — one per seed project —
// with kormed train RECIPE --model TINY --max-steps 2, on the data its
// header says to build first (kormed data drug-bench --train-output
// drug-train; kormed data synonyms --output drug-train/synonyms.txt),
// passed as the recipes read it: DRUG_DATA, DRUG_TRAIN, PUBMEDQA_KO. Each
// must keep its published hyper-parameters, run every stage for 2 steps
// and save a loadable model. A recipe file without a case fails the test.
func TestRecipes(t *testing.T) {
	drugs, err := filepath.Abs(filepath.Join("..", "..", "..", "shared", "data", "drugs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(drugs, drugbench.ProductsFile)); err != nil {
		t.Skipf("no shared drug data: %v", err)
	}
	recipes := filepath.Join("..", "..", "recipes")
	var files []string
	filepath.Walk(recipes, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() && strings.HasSuffix(p, ".toml") {
			rel, _ := filepath.Rel(recipes, p)
			files = append(files, rel)
		}
		return nil
	})
	var cased []string
	for _, c := range recipeCases {
		cased = append(cased, c.file)
	}
	sort.Strings(files)
	sort.Strings(cased)
	if strings.Join(files, " ") != strings.Join(cased, " ") {
		t.Fatalf("recipes/ holds %q, the test has cases for %q", files, cased)
	}

	// The data, as the recipes' headers build it.
	tmp := t.TempDir()
	ctx := context.Background()
	trainDir := filepath.Join(tmp, "drug-train")
	if err := cmdDrugBench.Exec(ctx, []string{"--input", drugs, "--output", filepath.Join(tmp, "drug-bench"), "--train-output", trainDir}); err != nil {
		t.Fatal(err)
	}
	if err := cmdSynonyms.Exec(ctx, []string{"--input", drugs, "--output", filepath.Join(trainDir, "synonyms.txt")}); err != nil {
		t.Fatal(err)
	}
	pq := filepath.Join(tmp, "pubmedqa-ko.jsonl")
	os.WriteFile(pq, []byte(`{"question":"고혈압 환자에게 저염식이 도움이 되나요?","contexts":["저염식은 혈압을 낮춘다.","운동도 도움이 된다."],"long_answer":"예, 저염식은 혈압을 낮춥니다."}
{"question":"아세트아미노펜은 해열제인가요?","contexts":["아세트아미노펜은 해열진통제이다."],"long_answer":"예, 해열진통제입니다."}
`), 0o644)
	t.Setenv("DRUG_DATA", drugs)
	t.Setenv("DRUG_TRAIN", trainDir)
	t.Setenv("PUBMEDQA_KO", pq)

	models := map[string]string{}
	for _, name := range []string{"tiny-bert", "tiny-xlmr"} {
		models[name] = filepath.Join(tmp, "models", name)
		copyTree(t, tinyModelDir(name), models[name])
		os.RemoveAll(filepath.Join(models[name], "fixtures"))
	}
	models["tiny-exaone"] = filepath.Join(tmp, "models", "tiny-exaone")
	if err := testmodel.WriteDecoder(models["tiny-exaone"], testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 5, Layers: 4}); err != nil {
		t.Fatal(err)
	}

	for _, c := range recipeCases {
		t.Run(strings.TrimSuffix(filepath.ToSlash(c.file), ".toml"), func(t *testing.T) {
			path := filepath.Join(recipes, c.file)
			if c.keys != nil {
				p, err := train.ReadPipeline(path)
				if err != nil {
					t.Fatal(err)
				}
				c.keys(t, p)
				var names []string
				for _, s := range p.Stages {
					names = append(names, s.Name)
					if _, err := os.Stat(s.Data); err != nil {
						t.Errorf("stage %s: data %v", s.Name, err)
					}
				}
				if strings.Join(names, " ") != strings.Join(c.stages, " ") {
					t.Errorf("stages %q, want %q", names, c.stages)
				}
			}
			out := filepath.Join(tmp, "runs", strings.ReplaceAll(c.file, string(filepath.Separator), "-"))
			if err := cmdTrain.Exec(ctx, []string{path, "--model", models[c.model], "--output", out,
				"--max-steps", "2", "--no-progress", "--threads", "2"}); err != nil {
				t.Fatal(err)
			}
			if c.keys != nil {
				var rep struct {
					Stages []struct {
						Name  string
						Steps int
					}
				}
				if err := json.Unmarshal([]byte(readFile(t, filepath.Join(out, "report.json"))), &rep); err != nil || len(rep.Stages) != len(c.stages) {
					t.Fatalf("report.json: %+v, %v", rep, err)
				}
				for i, s := range rep.Stages {
					if s.Name != c.stages[i] || s.Steps != 2 {
						t.Errorf("stage %d: %+v, want %s with 2 steps", i+1, s, c.stages[i])
					}
				}
			}
			c.check(t, out)
		})
	}
}
