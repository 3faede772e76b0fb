package drugbench

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/dataset"
)

// Attribution is the notice every copy or derivative of the data keeps.
const Attribution = `Data: derived from the public project ryukato/fine-tuned-e5-drugmodel
(MIT License, Copyright (c) 2025 Yoon Y. Yoo). Source records come from the
Korean MFDS (식품의약품안전처) open drug APIs. Files used:
drug_data_20_per_product_type.csv and drug_type_def_list.csv.
`

// Splits returns the names of the qrels splits Write produces:
// "test", "train" and "test-<kind>", "train-<kind>" for each kind.
func Splits() []string {
	s := []string{SplitTest, SplitTrain}
	for _, sp := range []string{SplitTest, SplitTrain} {
		for _, k := range Kinds {
			s = append(s, sp+"-"+k)
		}
	}
	return s
}

// Dataset returns the benchmark as a dataset.Dataset holding every query
// and the judgements of one split ("test", "train-name", …).
func (b *Bench) Dataset(split string) *dataset.Dataset {
	sp, kind, _ := strings.Cut(split, "-")
	d := &dataset.Dataset{Name: "drug-bench", Corpus: b.Docs, Qrels: dataset.Qrels{}}
	for _, q := range b.Queries {
		d.Queries = append(d.Queries, dataset.Query{ID: q.ID, Text: q.Text})
		if q.Split == sp && (kind == "" || q.Kind == kind) {
			d.Qrels[q.ID] = q.Rel
		}
	}
	return d
}

// Write writes the BEIR dataset to dir: corpus.jsonl, queries.jsonl (all
// queries), qrels/<split>.tsv for every split of Splits, queries-meta.tsv
// (query-id, split, kind, template, entity, n-relevant, text) and
// README.md with the attribution and the template list.
func (b *Bench) Write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i, split := range Splits() {
		write := dataset.WriteQrels
		if i == 0 {
			write = dataset.WriteBEIR // corpus and queries are the same for every split
		}
		if err := write(dir, b.Dataset(split), split); err != nil {
			return err
		}
	}
	err := atomicfile.WriteFile(filepath.Join(dir, "queries-meta.tsv"), func(w io.Writer) error {
		fmt.Fprintln(w, "query-id\tsplit\tkind\ttemplate\tentity\tn-relevant\ttext")
		for _, q := range b.Queries {
			if _, err := fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", q.ID, q.Split, q.Kind, q.Template, tsv(q.Entity), len(q.Rel), tsv(q.Text)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "README.md"), func(w io.Writer) error {
		_, err := io.WriteString(w, b.readme())
		return err
	})
}

func tsv(s string) string { return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s) }

// Stats counts queries and judgements of one split and kind.
type Stats struct {
	Queries, Qrels int
}

// AvgRelevant is the mean number of judged documents per query.
func (s Stats) AvgRelevant() float64 {
	if s.Queries == 0 {
		return 0
	}
	return float64(s.Qrels) / float64(s.Queries)
}

// Count returns per-split, per-kind statistics (kind "" is the total).
func (b *Bench) Count() map[string]map[string]Stats {
	out := map[string]map[string]Stats{SplitTest: {}, SplitTrain: {}}
	for _, q := range b.Queries {
		for _, k := range []string{q.Kind, ""} {
			s := out[q.Split][k]
			s.Queries++
			s.Qrels += len(q.Rel)
			out[q.Split][k] = s
		}
	}
	return out
}

// Summary writes a table of documents, queries per kind, judgements and
// average relevant documents per query.
func (b *Bench) Summary(w io.Writer) {
	c := b.Count()
	held := ""
	if b.HoldOut {
		held = ", test entities held out of train"
	}
	fmt.Fprintf(w, "drug-bench: %d documents (%d rows of %s), seed %d%s\n", len(b.Docs), b.Source.Rows, ProductsFile, b.Seed, held)
	fmt.Fprintf(w, "%-6s %-11s %8s %8s %9s\n", "split", "kind", "queries", "qrels", "avg-rel")
	for _, sp := range []string{SplitTest, SplitTrain} {
		for _, k := range append(append([]string{}, Kinds...), "") {
			s := c[sp][k]
			name := k
			if k == "" {
				name = "all"
			}
			fmt.Fprintf(w, "%-6s %-11s %8d %8d %9.2f\n", sp, name, s.Queries, s.Qrels, s.AvgRelevant())
		}
	}
}

func (b *Bench) readme() string {
	var sb strings.Builder
	sb.WriteString("# drug-bench\n\nKorean drug retrieval benchmark in the BEIR layout, built by `kormed data drug-bench`.\n\n")
	sb.WriteString("## Attribution\n\n" + Attribution + "\n")
	sb.WriteString("## Files\n\n")
	sb.WriteString("- corpus.jsonl: one document per product (`_id` = item_sequence, title = item_name).\n")
	sb.WriteString("- queries.jsonl: all queries, ids `<split>-<kind>-NNNN`.\n")
	sb.WriteString("- qrels/test.tsv, qrels/train.tsv and per-kind qrels/<split>-<kind>.tsv.\n")
	sb.WriteString("- queries-meta.tsv: split, kind, template id, entity and relevant count per query.\n\n")
	sb.WriteString("## Counts\n\n```\n")
	var s strings.Builder
	b.Summary(&s)
	sb.WriteString(s.String())
	sb.WriteString("```\n\n## Templates (train and test are disjoint)\n\n| id | kind | split | pattern |\n| --- | --- | --- | --- |\n")
	for _, t := range Templates {
		fmt.Fprintf(&sb, "| %s | %s | %s | %s |\n", t.ID, t.Kind, t.Split, t.Pattern)
	}
	n := map[string]int{}
	for _, p := range Phrases {
		n[p.Split]++
	}
	codes := map[string]bool{}
	for _, p := range Phrases {
		codes[p.Code] = true
	}
	keys := make([]string, 0, len(codes))
	for c := range codes {
		keys = append(keys, c)
	}
	sort.Strings(keys)
	fmt.Fprintf(&sb, "\nPlus %d train and %d test hand-written type intents over %d types (e.g. train \"열을 내리는 약 알려줘\", test \"체온을 낮추는 약\").\n", n[SplitTrain], n[SplitTest], len(keys))
	return sb.String()
}
