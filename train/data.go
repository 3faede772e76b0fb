package train

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"

	"github.com/kormed/kormed/dataset"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/hubdata"
)

// stageData is a stage's training examples in the shape batches take.
type stageData struct {
	ex     *dataset.Examples
	rows   [][]string // rows[i]: example i's text columns
	labels []float32  // nil unless the loss takes labels
	groups []int      // cluster index of each example, nil unless the loss takes groups
}

// loadStageData reads a stage's training file, applies the code-mixed
// augmentation, and checks the examples against the loss. What it changes
// (augmented rows, pairs dropped for a loss without labels) is reported to w.
func loadStageData(s *Stage, loss Loss, w io.Writer) (*stageData, error) {
	ex, err := readStageExamples(s, w)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "data: %s\n", ex)
	if s.CodeMix != "" {
		syn, err := dataset.ReadExamples(s.CodeMix, "synonyms")
		if err != nil {
			return nil, err
		}
		mixer, err := dataset.NewCodeMixer(syn)
		if err != nil {
			return nil, err
		}
		if s.CodeMixColumn >= len(ex.Columns) {
			return nil, fmt.Errorf("codemix_column %d: %s has %d text columns", s.CodeMixColumn, s.Data, len(ex.Columns))
		}
		n := mixer.Augment(ex, s.CodeMixColumn)
		fmt.Fprintf(w, "data: code-mixed augmentation from %s (%d Korean terms): %d rows added to the %s column\n",
			s.CodeMix, mixer.Len(), n, ex.Columns[s.CodeMixColumn])
	}
	spec := loss.Spec()
	if spec.Labels && !ex.HasLabels {
		return nil, fmt.Errorf("%s: loss %s needs a label per example; %s has none (columns %v)", s.Data, loss.Name(), ex.Format, ex.Columns)
	}
	d := &stageData{ex: ex}
	keep := ex.Rows
	if ex.HasLabels && !spec.Labels {
		// A labelled pairs file for an in-batch-negatives loss: its label-0
		// rows are negatives, not pairs to pull together.
		keep = keep[:0:0]
		for _, r := range ex.Rows {
			if isPositive(r.Label) {
				keep = append(keep, r)
			}
		}
		fmt.Fprintf(w, "data: loss %s takes no labels: kept the %d pairs labelled ≥ 0.5 of %d as positives\n", loss.Name(), len(keep), len(ex.Rows))
	}
	nc := len(ex.Columns)
	if nc < spec.MinColumns || spec.MaxColumns >= 0 && nc > spec.MaxColumns {
		return nil, fmt.Errorf("%s: %d text columns %v; loss %s takes %d to %d", s.Data, nc, ex.Columns, loss.Name(), spec.MinColumns, spec.MaxColumns)
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("%s: no training examples", s.Data)
	}
	codes := map[string]int{}
	for _, r := range keep {
		d.rows = append(d.rows, r.Texts)
		if spec.Labels {
			d.labels = append(d.labels, r.Label)
		}
		if spec.Groups {
			if r.Group == "" {
				return nil, fmt.Errorf("%s:%d: loss %s needs a cluster code per example (synonym clusters: CODE || term)", s.Data, r.Line, loss.Name())
			}
			g, ok := codes[r.Group]
			if !ok {
				g = len(codes)
				codes[r.Group] = g
			}
			d.groups = append(d.groups, g)
		}
	}
	return d, nil
}

// batch gathers examples idx into a Batch.
func (d *stageData) batch(idx []int) *Batch {
	b := &Batch{Texts: make([][]string, len(d.rows[0]))}
	for c := range b.Texts {
		b.Texts[c] = make([]string, len(idx))
		for i, k := range idx {
			b.Texts[c][i] = d.rows[k][c]
		}
	}
	if d.labels != nil {
		b.Labels = make([]float32, len(idx))
		for i, k := range idx {
			b.Labels[i] = d.labels[k]
		}
	}
	if d.groups != nil {
		b.Groups = make([]int, len(idx))
		for i, k := range idx {
			b.Groups[i] = d.groups[k]
		}
	}
	return b
}

// epochOrder is the shuffled order of an epoch: a permutation drawn from
// a PCG stream of (seed, epoch), so it is the same on every run and after
// a resume.
func epochOrder(n int, seed uint64, epoch int) []int {
	r := rand.New(rand.NewPCG(seed, 0x6b6f726d6564^uint64(epoch)))
	return r.Perm(n)
}

// epochBatches cuts an epoch into batches with the stage's sampler, over
// a shuffled order or, with shuffle = false, the file's.
func (d *stageData) epochBatches(s *Stage, epoch int) ([][]int, int) {
	var order []int
	if s.Shuffle == nil || *s.Shuffle {
		order = epochOrder(len(d.rows), s.Seed, epoch)
	} else {
		order = make([]int, len(d.rows))
		for i := range order {
			order[i] = i
		}
	}
	switch s.Sampler {
	case "no-duplicates":
		return NoDuplicateBatches(d.rows, order, s.BatchSize, s.DropLast), 0
	case "groups":
		return GroupBatches(d.groups, order, s.BatchSize, s.PerGroup, s.DropLast)
	}
	var bs [][]int
	for lo := 0; lo < len(order); lo += s.BatchSize {
		hi := min(lo+s.BatchSize, len(order))
		if hi-lo < s.BatchSize && s.DropLast {
			break
		}
		bs = append(bs, order[lo:hi])
	}
	return bs, 0
}

// stepPlan lists the optimiser steps of a stage: each step's micro-batches
// (Accumulate of them, fewer at the end of an epoch), epoch after epoch,
// until Epochs are done or MaxSteps steps are planned.
type stepPlan struct {
	steps  [][][]int
	epoch  []int // the epoch of each step
	epochs int   // epochs the plan covers
}

func (d *stageData) plan(s *Stage, w io.Writer) (*stepPlan, error) {
	p := &stepPlan{}
	for e := 0; ; e++ {
		if s.MaxSteps > 0 && len(p.steps) >= s.MaxSteps || s.MaxSteps == 0 && e >= s.Epochs {
			break
		}
		bs, skipped := d.epochBatches(s, e)
		if e == 0 && skipped > 0 {
			fmt.Fprintf(w, "data: %d examples left out of group batches (clusters with a single member)\n", skipped)
		}
		if len(bs) == 0 {
			return nil, fmt.Errorf("%s: %d examples make no batch of %d (sampler %s, drop_last %v)", s.Data, len(d.rows), s.BatchSize, s.Sampler, s.DropLast)
		}
		for lo := 0; lo < len(bs); lo += s.Accumulate {
			if s.MaxSteps > 0 && len(p.steps) >= s.MaxSteps {
				break
			}
			p.steps = append(p.steps, bs[lo:min(lo+s.Accumulate, len(bs))])
			p.epoch = append(p.epoch, e)
		}
		p.epochs = e + 1
	}
	return p, nil
}

// readStageExamples reads a stage's data: a local file by its format, or
// a Hub dataset (hf://…) split as pairs or triplets by its columns.
func readStageExamples(s *Stage, w io.Writer) (*dataset.Examples, error) {
	if !hubdata.IsRef(s.Data) {
		return dataset.ReadExamples(s.Data, s.Format)
	}
	if s.Format == dataset.FormatSynonyms {
		return nil, fmt.Errorf("%s: format synonyms is read from local files only", s.Data)
	}
	cols := dataset.Columns(s.Columns)
	for role := range cols {
		if _, ok := dataset.DefaultColumnNames[role]; !ok {
			return nil, fmt.Errorf("columns: unknown role %q (want query, document, negative, label, id or title)", role)
		}
	}
	files, err := hubdata.Files(context.Background(), s.Data, s.Split, hub.Options{Log: w, Progress: os.Stderr})
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "data: %s: %s\n", files.Describe(), strings.Join(files.Names, ", "))
	return dataset.ReadExampleTables(s.Data, files.Paths, cols)
}
