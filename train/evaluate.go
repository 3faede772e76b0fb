package train

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/hubdata"
	"github.com/kormed/kormed/metrics"
	"github.com/kormed/kormed/model"
)

// say prints a line, above the progress bar when one is drawing.
func (sr *stageRun) say(format string, args ...any) {
	if sr.bar != nil {
		sr.bar.Printf(format, args...)
		return
	}
	fmt.Fprintf(sr.o.Log, format, args...)
}

// devSet loads the stage's dev set once.
func (sr *stageRun) devSet() (*dataset.Dataset, error) {
	if sr.dev != nil {
		return sr.dev, nil
	}
	split := sr.s.DevSplit
	if split == "" {
		split = "test"
		if _, err := os.Stat(filepath.Join(sr.s.Dev, "qrels", "dev.tsv")); err == nil {
			split = "dev"
		}
	}
	d, _, err := eval.LoadDataset(sr.s.Dev, split)
	if err != nil {
		return nil, fmt.Errorf("dev: %w", err)
	}
	sr.dev = d
	return d, nil
}

// evaluate scores the model on the dev set (NDCG@10, Recall@10), keeps the
// best model in OUTPUT/best/NN-name, and counts evaluations without
// improvement for early stopping.
// An evaluation runs to its end even after Ctrl-C (the step loop then
// checkpoints): a checkpoint must not record a step whose evaluation was
// cut short.
func (sr *stageRun) evaluate(ctx context.Context) error {
	ctx = context.WithoutCancel(ctx)
	dev, err := sr.devSet()
	if err != nil {
		return err
	}
	res, err := eval.Run(ctx, dev, eval.Spec{Name: "dev", Retriever: "dense", R: &eval.Dense{Enc: sr.enc}}, eval.Config{Ks: []int{10}})
	if err != nil {
		return fmt.Errorf("dev evaluation: %w", err)
	}
	ndcg, rec := res.Metrics[metrics.Key(metrics.NameNDCG, 10)], res.Metrics[metrics.Key(metrics.NameRecall, 10)]
	sr.lastDev = map[string]float64{"NDCG@10": ndcg, "Recall@10": rec}
	better := ndcg > sr.ts.Best
	sr.log.Write(map[string]any{"event": "eval", "stage": sr.s.Name, "stage_index": sr.idx, "step": sr.ts.Step,
		"ndcg@10": ndcg, "recall@10": rec, "best": better})
	mark := ""
	if better {
		mark = " (best)"
	}
	sr.say("%s step %d: dev NDCG@10 %.2f Recall@10 %.2f%s\n", sr.s.Name, sr.ts.Step, 100*ndcg, 100*rec, mark)
	if better {
		sr.ts.Best, sr.ts.BestStep, sr.ts.BadEvals = ndcg, sr.ts.Step, 0
		return sr.save(sr.bestDir(), sr.cardOptions(sr.lastDev))
	}
	sr.ts.BadEvals++
	if sr.s.EarlyStopping > 0 && sr.ts.BadEvals >= sr.s.EarlyStopping {
		sr.ts.Stopped = true
		sr.say("%s: early stopping at step %d: no improvement in %d evaluations (best NDCG@10 %.2f at step %d)\n",
			sr.s.Name, sr.ts.Step, sr.ts.BadEvals, 100*sr.ts.Best, sr.ts.BestStep)
	}
	return nil
}

func (sr *stageRun) bestDir() string {
	return filepath.Join(sr.out, "best", filepath.Base(stageDir(sr.out, sr.idx, sr.s.Name)))
}

// diagnosisSet is the retrieval set the collapse diagnosis embeds: the dev
// set, else one made from the examples the stage trains on, as its reader
// read them (pairs and triplets: see pairDataset; synonyms: a cluster's
// first term → its other terms), at most 500 queries.
func (sr *stageRun) diagnosisSet() (*dataset.Dataset, error) {
	if sr.s.Dev != "" {
		return sr.devSet()
	}
	var d *dataset.Dataset
	if sr.data.ex.Format == dataset.FormatSynonyms {
		d = synonymDataset(sr.data.ex)
	} else {
		d = pairDataset(sr.data.ex)
	}
	return capQueries(d, 500), nil
}

// isPositive reports whether a pair's label makes it a positive pair: the
// pairs an in-batch-negatives loss keeps from a labelled file, and the
// relevant pairs of the collapse diagnosis.
func isPositive(label float32) bool { return label >= 0.5 }

// pairDataset turns pairs or triplets into a retrieval set: each distinct
// first-column text is a query; the second column of its rows is relevant
// when the file has no labels or the row's label is positive (isPositive),
// else a judged non-relevant document, as are the further columns (hard
// negatives). Texts are deduplicated into ids in order of first
// appearance (q1, q2, …; d1, d2, …); a (query, document) pair relevant in
// any row is relevant; queries without a relevant document are left out.
func pairDataset(ex *dataset.Examples) *dataset.Dataset {
	d := &dataset.Dataset{Name: "training data", Qrels: dataset.Qrels{}}
	docID := map[string]string{}
	doc := func(text string) string {
		id, ok := docID[text]
		if !ok {
			id = fmt.Sprintf("d%d", len(docID)+1)
			docID[text] = id
			d.Corpus = append(d.Corpus, dataset.Doc{ID: id, Text: text})
		}
		return id
	}
	var queries []string
	judged := map[string]map[string]int{} // query text → doc id → relevance
	for _, r := range ex.Rows {
		if len(r.Texts) < 2 {
			continue
		}
		q := r.Texts[0]
		j, ok := judged[q]
		if !ok {
			j = map[string]int{}
			judged[q] = j
			queries = append(queries, q)
		}
		rel := 0
		if !ex.HasLabels || isPositive(r.Label) {
			rel = 1
		}
		for c, t := range r.Texts[1:] {
			id := doc(t)
			if c == 0 {
				j[id] = max(j[id], rel)
			} else if _, seen := j[id]; !seen {
				j[id] = 0
			}
		}
	}
	for _, q := range queries {
		pos := 0
		for _, v := range judged[q] {
			pos += v
		}
		if pos == 0 {
			continue
		}
		id := fmt.Sprintf("q%d", len(d.Queries)+1)
		d.Queries = append(d.Queries, dataset.Query{ID: id, Text: q})
		d.Qrels[id] = judged[q]
	}
	return d
}

// synonymDataset turns clusters into a retrieval set: each cluster's first
// term is a query whose relevant documents are the cluster's other terms.
func synonymDataset(ex *dataset.Examples) *dataset.Dataset {
	codes, terms := ex.Clusters()
	d := &dataset.Dataset{Name: "synonyms", Qrels: dataset.Qrels{}}
	for i, ts := range terms {
		if len(ts) < 2 {
			continue
		}
		q := fmt.Sprintf("q%d", i)
		d.Queries = append(d.Queries, dataset.Query{ID: q, Text: ts[0]})
		d.Qrels[q] = map[string]int{}
		for j, t := range ts[1:] {
			id := fmt.Sprintf("%s-%d", codes[i], j)
			d.Corpus = append(d.Corpus, dataset.Doc{ID: id, Text: t})
			d.Qrels[q][id] = 1
		}
	}
	return d
}

// capQueries keeps the first n queries (the corpus stays whole).
func capQueries(d *dataset.Dataset, n int) *dataset.Dataset {
	if len(d.Queries) <= n {
		return d
	}
	c := *d
	c.Queries = d.Queries[:n]
	return &c
}

// diagnose runs the collapse diagnosis of the current model.
func (sr *stageRun) diagnose(ctx context.Context) (*eval.Collapse, error) {
	d, err := sr.diagnosisSet()
	if err != nil {
		return nil, fmt.Errorf("collapse diagnosis: %w", err)
	}
	if len(d.Queries) == 0 {
		return nil, nil
	}
	return diagnoseWith(ctx, sr.enc, d)
}

func diagnoseWith(ctx context.Context, enc eval.Encoder, d *dataset.Dataset) (*eval.Collapse, error) {
	r := &eval.Dense{Enc: enc}
	if err := r.Index(ctx, d.Corpus); err != nil {
		return nil, err
	}
	if _, err := r.Search(ctx, d.Queries, 1); err != nil {
		return nil, err
	}
	qv, dv := r.Embeddings()
	return eval.Diagnose(qv, dv, metrics.Qrels(d.Qrels), eval.CollapseOptions{})
}

// finish saves the stage's model (the best on the dev set, when there is
// one), diagnoses collapse against the starting model, and reports.
func (sr *stageRun) finish(ctx context.Context, dir string) (*StageReport, error) {
	s, w := sr.s, sr.o.Log
	rep := &StageReport{Name: s.Name, Output: dir, Steps: sr.ts.Step, Examples: sr.ts.Examples,
		FirstLoss: sr.ts.First, LastLoss: sr.ts.Last, Seconds: sr.ts.Elapsed}
	rep.Trainable, rep.Parameters = sr.paramCounts()
	if sr.ts.Stopped {
		rep.StoppedAt = sr.ts.Step
	}
	// What follows runs to the end even after Ctrl-C: the stage is trained,
	// and a stage half-saved would have to be trained again.
	ctx = context.WithoutCancel(ctx)
	best := sr.bestDir()
	if s.Dev != "" && sr.ts.BestStep > 0 && sr.ts.BestStep != sr.ts.Step {
		// The best evaluation came earlier: it is the stage's model.
		fmt.Fprintf(w, "%s: keeping the best model (step %d, dev NDCG@10 %.2f)\n", s.Name, sr.ts.BestStep, 100*sr.ts.Best)
		if _, err := os.Stat(best); err == nil {
			if err := os.RemoveAll(dir); err != nil {
				return nil, err
			}
			if err := os.Rename(best, dir); err != nil {
				return nil, err
			}
		} else if _, err2 := os.Stat(dir); err2 != nil {
			return nil, fmt.Errorf("the best model %s is missing: %w", best, err)
		} // else an earlier, interrupted finish already moved it into place
		enc, err := loadEncoder(dir)
		if err != nil {
			return nil, err
		}
		sr.enc = enc
	} else {
		if err := sr.save(dir, sr.cardOptions(sr.lastDev)); err != nil {
			return nil, err
		}
		os.RemoveAll(best)
	}
	if s.Dev != "" {
		rep.Dev = map[string]float64{"NDCG@10": sr.ts.Best}
		rep.BestStep = sr.ts.BestStep
	}
	after, err := sr.diagnose(ctx)
	if err != nil {
		return nil, err
	}
	rec := map[string]any{"event": "stage_end", "stage": s.Name, "stage_index": sr.idx, "step": sr.ts.Step, "output": dir,
		"first_loss": sr.ts.First, "last_loss": sr.ts.Last, "seconds": sr.ts.Elapsed}
	if after != nil {
		before := sr.ts.Before
		rep.Collapse = collapseLine(before, after)
		rec["collapse"] = after
		fmt.Fprintf(w, "%s: similarity after the stage: %s\n", s.Name, rep.Collapse)
		switch {
		case !collapsedBy(before, after) && len(after.Warnings) > 0:
			fmt.Fprintf(w, "%s: note: similarities are compressed, as they were before the stage (%s)\n", s.Name, after.Warnings[0])
		case collapsedBy(before, after):
			rep.Collapsed = true
			fmt.Fprintf(w, "\n!!! WARNING: stage %s collapsed the similarity distribution !!!\n", s.Name)
			for _, wn := range after.Warnings {
				fmt.Fprintf(w, "!!!   %s\n", wn)
			}
			fmt.Fprintf(w, "!!! Unrelated texts now score nearly as high as related ones (the drug project's ingredient stage: every pair 0.91–0.94).\n")
			fmt.Fprintf(w, "!!! Use hard negatives or graded labels (mnrl on triplets, cosent), fewer epochs, or drop this stage.\n\n")
		}
	}
	sr.log.Write(rec)
	fmt.Fprintf(w, "%s: %d steps, loss %.4f → %.4f, %.1fs; saved %s\n", s.Name, sr.ts.Step, sr.ts.First, sr.ts.Last, sr.ts.Elapsed, dir)
	if err := writePlot(filepath.Join(sr.out, "loss.png"), sr.log.Path(), sr.p.Name); err != nil {
		fmt.Fprintf(w, "warning: loss plot: %v\n", err)
	}
	return rep, nil
}

// collapsedBy reports whether a stage collapsed the similarity
// distribution: the diagnosis warns after it, and either did not before or
// got clearly worse (the related/unrelated gap shrank by 0.01 or random
// pairs rose by 0.02 in mean cosine).
func collapsedBy(before, after *eval.Collapse) bool {
	if len(after.Warnings) == 0 {
		return false
	}
	return before == nil || len(before.Warnings) == 0 || after.Gap < before.Gap-0.01 || after.Random.Mean > before.Random.Mean+0.02
}

// collapseLine compares the diagnosis before and after a stage.
func collapseLine(before, after *eval.Collapse) string {
	s := fmt.Sprintf("relevant pairs %.3f, random pairs %.3f (gap %.3f), anisotropy %.3f",
		after.Relevant.Mean, after.Random.Mean, after.Gap, after.Anisotropy)
	if before != nil {
		s += fmt.Sprintf("; before: relevant %.3f, random %.3f (gap %.3f)", before.Relevant.Mean, before.Random.Mean, before.Gap)
	}
	return s
}

// loadEncoder loads a model or pair folder.
func loadEncoder(dir string) (eval.Encoder, error) {
	if model.IsPair(dir) {
		return model.LoadPair(dir)
	}
	return model.Load(dir)
}

// cardOptions describes the run so far for the model card.
func (sr *stageRun) cardOptions(dev map[string]float64) model.SaveOptions {
	o := model.SaveOptions{Name: sr.p.Name + "-" + sr.s.Name, Language: "ko", Tags: []string{"kormed", sr.s.Loss}}
	base := sr.p.Model
	if sr.o.Model != "" {
		base = sr.o.Model
	}
	if !strings.HasPrefix(base, ".") && !strings.HasPrefix(base, "/") && strings.Count(base, "/") == 1 {
		o.BaseModel = base // a Hugging Face id
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Fine-tuned with `kormed train` (pipeline %q), stages run in order, each from the previous one's output:\n\n", sr.p.Name)
	b.WriteString("| # | stage | data | loss | length | batch | lr | schedule | freeze |\n|---|---|---|---|---|---|---|---|---|\n")
	for i := 0; i <= sr.idx; i++ {
		s := sr.p.Stages[i].capped(sr.o.MaxSteps) // as Run trained it
		steps := plural(s.Epochs, "epoch")
		if s.MaxSteps > 0 {
			steps = plural(s.MaxSteps, "step")
		}
		warm := fmt.Sprintf("warm-up %g%%", 100*s.WarmupRatio)
		if s.WarmupSteps > 0 {
			warm = "warm-up " + plural(s.WarmupSteps, "step")
		}
		batch := fmt.Sprint(s.BatchSize)
		if s.MiniBatch > 0 {
			batch += fmt.Sprintf(" (GradCache, mini-batch %d)", s.MiniBatch)
		}
		fmt.Fprintf(&b, "| %d | %s | `%s` | %s | %s | %s | %g | %s, %s | %s |\n", i+1, s.Name, dataName(s.Data),
			s.Loss, steps, batch, s.LR, s.Schedule, warm, freezeText(s.Freeze))
		o.Data = append(o.Data, fmt.Sprintf("`%s` (stage %s)", dataName(s.Data), s.Name))
	}
	if sr.p.Attribution != "" {
		o.Data = append(o.Data, sr.p.Attribution)
	}
	o.Recipe = b.String()
	for _, k := range []string{"NDCG@10", "Recall@10"} {
		if v, ok := dev[k]; ok {
			o.Metrics = append(o.Metrics, model.CardMetric{Dataset: "dev (" + filepath.Base(sr.s.Dev) + ")", Name: k, Value: v})
		}
	}
	return o
}

// plural writes "1 epoch", "3 epochs".
func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func freezeText(f Freeze) string {
	var parts []string
	if f.Embeddings != "" && f.Embeddings != "none" {
		parts = append(parts, "embeddings "+f.Embeddings)
	}
	if f.BottomLayers > 0 {
		parts = append(parts, fmt.Sprintf("bottom %d layers", f.BottomLayers))
	}
	if f.TrainTopLayers > 0 {
		parts = append(parts, fmt.Sprintf("all but the top %d layers", f.TrainTopLayers))
	}
	if len(f.Names) > 0 {
		parts = append(parts, strings.Join(f.Names, ", "))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "; ")
}

// dataName is how reports name a stage's data: a Hub dataset in full, a
// file by its base name.
func dataName(data string) string {
	if hubdata.IsRef(data) {
		return data
	}
	return filepath.Base(data)
}
