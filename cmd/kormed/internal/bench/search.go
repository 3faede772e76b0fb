package bench

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/eval"
	"github.com/kormed/kormed/hub"
	"github.com/kormed/kormed/metrics"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/search"
	"github.com/kormed/kormed/search/embedded"
	"github.com/kormed/kormed/search/weaviate"
)

// Search is kormed bench search.
var Search = &base.Command{
	Name:      "bench search",
	UsageLine: "bench search --index DIR --data DIR [--model M] [flags]",
	Short:     "quality and latency of each search mode on a dataset, embedded index beside a Weaviate class",
	Required:  []string{"index", "data"},
	Engine:    true,
	Int8:      true,
	Flags:     benchSearch,
}

func benchSearch(fs *flag.FlagSet) base.Func {
	index := fs.String("index", "", "embedded index folder (kormed index)")
	modelArg := fs.String("model", "", "the index's model, to embed queries (none: BM25 only)")
	data := fs.String("data", "", "BEIR dataset whose corpus the index holds (e.g. the drug benchmark)")
	split := fs.String("split", "test", "qrels split")
	modes := fs.String("modes", "bm25,dense,hybrid", "comma-separated modes")
	wURL := fs.String("weaviate-url", "", "also measure this Weaviate server's class (kormed index --backend weaviate)"+base.URLsHelp)
	wClass := fs.String("class", "KormedDocs", "Weaviate class")
	wFlags := base.WeaviateFlags(fs, false)
	k := fs.Int("k", 10, "cut-off")
	hubOpts := base.HubFlags(fs)
	return func(ctx context.Context, args []string) error {
		wOpts, err := wFlags.Options(*wURL != "", "--weaviate-url", *wURL)
		if err != nil {
			return err
		}
		d, _, err := eval.LoadDataset(*data, *split)
		if err != nil {
			return err
		}
		ix, err := embedded.Open(*index)
		if err != nil {
			return err
		}
		defer ix.Close()
		var enc search.Encoder
		var mi search.ModelInfo
		if *modelArg != "" {
			dir, err := hub.Resolve(ctx, *modelArg, hubOpts())
			if err != nil {
				return err
			}
			m, err := model.Load(dir)
			if err != nil {
				return err
			}
			m.SetName(base.ModelName(*modelArg)) // as kormed index records it
			enc, mi = m, base.ModelInfo(m)
		}
		type backend struct {
			name string
			b    search.Backend
		}
		backends := []backend{{"kormed embedded", ix}}
		if *wURL != "" {
			wOpts.Model, wOpts.ExactParts = &mi, false
			wb, err := weaviate.Open(ctx, *wURL, *wClass, wOpts)
			if err != nil {
				return err
			}
			defer wb.Close()
			backends = append(backends, backend{"Weaviate 1.35.2", wb})
		}
		fmt.Printf("%s (%s split): %d queries, top %d, one client; latency includes embedding the query (hybrid: each backend's default, its index's calibration where it has one)\n\n",
			d.Name, *split, len(d.Queries), *k)
		fmt.Printf("| backend | mode | NDCG@%d | Recall@%d | p50 ms | p99 ms |\n|---|---|---:|---:|---:|---:|\n", *k, *k)
		for _, be := range backends {
			svc, err := search.NewService(ctx, be.b, enc, mi)
			if err != nil {
				return fmt.Errorf("%s: %w", be.name, err)
			}
			for _, mode := range base.SplitList(*modes) {
				if mode != search.ModeBM25 && enc == nil {
					continue
				}
				var lat []float64
				var ndcg, rec float64
				n := 0
				for _, q := range d.Queries {
					rel := d.Qrels[q.ID]
					if metrics.NumRelevant(rel) == 0 {
						continue
					}
					t0 := time.Now()
					resp, err := svc.Search(ctx, search.Request{Query: q.Text, K: *k, Mode: mode, Safety: search.SafetyOff})
					if err != nil {
						return fmt.Errorf("%s %s %q: %w", be.name, mode, q.Text, err)
					}
					lat = append(lat, float64(time.Since(t0).Microseconds())/1000)
					ranked := make([]string, len(resp.Hits))
					for i, h := range resp.Hits {
						ranked[i] = h.ID
					}
					ndcg += metrics.NDCG(ranked, rel, *k)
					rec += metrics.Recall(ranked, rel, *k)
					n++
				}
				sort.Float64s(lat)
				if n == 0 {
					return fmt.Errorf("%s: no judged queries", *data)
				}
				label := mode
				if mode == search.ModeHybrid {
					alpha, method, _, cal := svc.Defaults()
					label = fmt.Sprintf("hybrid (%s %.1f", method, alpha)
					if cal != nil {
						label += ", calibrated"
					}
					label += ")"
				}
				fmt.Printf("| %s | %s | %.2f | %.2f | %.2f | %.2f |\n", be.name, label, 100*ndcg/float64(n), 100*rec/float64(n),
					lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)])
			}
		}
		fmt.Fprintln(os.Stderr)
		return nil
	}
}
