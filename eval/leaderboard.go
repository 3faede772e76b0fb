package eval

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/metrics"
)

// ResultsDir is the folder, inside an output folder, that holds one JSON
// file per run. The leaderboard is rebuilt from all of them, so a run
// re-run under the same name on the same dataset replaces its old row.
const ResultsDir = "results"

// Leaderboard file names inside an output folder.
const (
	LeaderboardMD   = "leaderboard.md"
	LeaderboardHTML = "leaderboard.html"
	LeaderboardPNG  = "leaderboard.png"
)

// ResultFile is the file name of r under ResultsDir:
// "<dataset>__<run>.json", with characters other than ASCII letters,
// digits, '.', '-' and '_' replaced by '_' (plus a short hash of the
// original names when anything was replaced, so that distinct names stay
// distinct).
func ResultFile(r *Result) string {
	a, okA := safeName(r.Dataset.Name)
	b, okB := safeName(r.Run)
	name := a + "__" + b
	if !okA || !okB {
		h := sha256.Sum256([]byte(r.Dataset.Name + "\x00" + r.Run))
		name += "-" + hex.EncodeToString(h[:4])
	}
	return name + ".json"
}

func safeName(s string) (string, bool) {
	ok := s != ""
	var b strings.Builder
	for _, r := range s {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			b.WriteByte('_')
			ok = false
		}
	}
	if b.Len() == 0 {
		b.WriteString("_")
	}
	return b.String(), ok
}

// WriteResult writes r as indented JSON to dir/results/ResultFile(r),
// atomically, and returns the path.
func WriteResult(dir string, r *Result) (string, error) {
	rd := filepath.Join(dir, ResultsDir)
	if err := os.MkdirAll(rd, 0o755); err != nil {
		return "", err
	}
	p := filepath.Join(rd, ResultFile(r))
	return p, atomicfile.WriteJSON(p, r)
}

// ReadResults reads every dir/results/*.json, sorted by file name.
func ReadResults(dir string) ([]*Result, error) {
	files, err := filepath.Glob(filepath.Join(dir, ResultsDir, "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []*Result
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var r Result
		if err := json.Unmarshal(data, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		if r.Run == "" || r.Metrics == nil {
			return nil, fmt.Errorf("%s: not a kormed result (no run name or metrics)", f)
		}
		out = append(out, &r)
	}
	return out, nil
}

// UpdateLeaderboard rebuilds dir's leaderboard.md, leaderboard.html and
// leaderboard.png from all results in dir/results and returns them.
//
// Concurrent runs into one folder are serialised by a lock
// (dir/.leaderboard.lock, atomicfile.Lock, removed when released; a
// crashed run's lock is released with its process), so that every finished run's row reaches the
// leaderboard.
func UpdateLeaderboard(dir string) ([]*Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lock := filepath.Join(dir, ".leaderboard.lock")
	unlock, err := atomicfile.Lock(ctx, lock, nil)
	if errors.Is(err, context.DeadlineExceeded) {
		return nil, fmt.Errorf("%s: held by another kormed eval for 30 s", lock)
	} else if err != nil {
		return nil, err
	}
	defer func() { os.Remove(lock); unlock() }() // leave no lock file in the results folder
	rs, err := ReadResults(dir)
	if err != nil {
		return nil, err
	}
	return rs, WriteLeaderboard(dir, rs)
}

// WriteLeaderboard writes the three leaderboard files for results, each
// atomically.
func WriteLeaderboard(dir string, results []*Result) error {
	groups := groupByDataset(results)
	png, err := leaderboardPNG(groups)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, LeaderboardPNG), png); err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(filepath.Join(dir, LeaderboardMD), []byte(leaderboardMarkdown(groups))); err != nil {
		return err
	}
	return atomicfile.WriteBytes(filepath.Join(dir, LeaderboardHTML), []byte(leaderboardHTML(groups, png)))
}

// group is one dataset's results, best first.
type group struct {
	dataset DatasetInfo
	ks      []int // union of the results' cut-offs
	primary string
	rows    []*Result
}

// PrimaryMetric is the key leaderboards sort by: NDCG@10 when the results
// have it, else NDCG at their largest cut-off.
func PrimaryMetric(ks []int) string {
	if slices.Contains(ks, 10) || len(ks) == 0 {
		return metrics.Key(metrics.NameNDCG, 10)
	}
	return metrics.Key(metrics.NameNDCG, slices.Max(ks))
}

func groupByDataset(results []*Result) []*group {
	by := map[string]*group{}
	var order []string
	for _, r := range results {
		key := r.Dataset.Name + "\x00" + r.Dataset.Split
		g, ok := by[key]
		if !ok {
			g = &group{dataset: r.Dataset}
			by[key] = g
			order = append(order, key)
		}
		g.rows = append(g.rows, r)
		for _, k := range r.Ks {
			if !slices.Contains(g.ks, k) {
				g.ks = append(g.ks, k)
			}
		}
	}
	slices.Sort(order)
	out := make([]*group, len(order))
	for i, key := range order {
		g := by[key]
		slices.Sort(g.ks)
		g.primary = PrimaryMetric(g.ks)
		slices.SortStableFunc(g.rows, func(a, b *Result) int {
			va, okA := a.Metrics[g.primary]
			vb, okB := b.Metrics[g.primary]
			if okA != okB {
				if okA {
					return -1
				}
				return 1
			}
			if c := cmp.Compare(vb, va); c != 0 {
				return c
			}
			return strings.Compare(a.Run, b.Run)
		})
		out[i] = g
	}
	return out
}

// column is one metric column of a leaderboard table.
type column struct{ key, label string }

// columns are the default columns (NDCG, Recall, F1 at each k, MRR at the
// largest) when no row chose its own (Result.Columns, kormed eval
// --metrics); else the union of the rows' chosen columns, in report
// order, after the default ones when some rows chose none.
func (g *group) columns() []column {
	var chosen []string
	someDefault := false
	for _, r := range g.rows {
		if len(r.Columns) == 0 {
			someDefault = true
		}
		for _, c := range r.Columns {
			if !slices.Contains(chosen, c) {
				chosen = append(chosen, c)
			}
		}
	}
	var cols []column
	if someDefault {
		cols = g.defaultColumns()
	}
	sortKeys(chosen)
	for _, c := range chosen {
		if !slices.ContainsFunc(cols, func(x column) bool { return x.key == c }) {
			cols = append(cols, column{c, c})
		}
	}
	return cols
}

func (g *group) defaultColumns() []column {
	var cols []column
	for _, f := range []string{metrics.NameNDCG, metrics.NameRecall, metrics.NameF1} {
		for _, k := range g.ks {
			cols = append(cols, column{metrics.Key(f, k), metrics.Key(f, k)})
		}
	}
	if len(g.ks) > 0 {
		k := slices.Max(g.ks)
		cols = append(cols, column{metrics.Key(metrics.NameMRR, k), metrics.Key(metrics.NameMRR, k)})
	}
	return cols
}

// best is each column's largest value among g's rows, for the columns
// whose values are not all equal.
func (g *group) best(cols []column) map[string]float64 {
	b := map[string]float64{}
	for _, c := range cols {
		lo, hi, n := math.Inf(1), math.Inf(-1), 0
		for _, r := range g.rows {
			if v, ok := r.Metrics[c.key]; ok {
				lo, hi, n = math.Min(lo, v), math.Max(hi, v), n+1
			}
		}
		if n > 1 && hi > lo {
			b[c.key] = hi
		}
	}
	return b
}

func setting(r *Result) string {
	var parts []string
	if r.Model != "" {
		parts = append(parts, r.Model)
	}
	if r.Analyzer != "" {
		parts = append(parts, r.Analyzer)
	}
	if c := r.Calibration; c != nil {
		parts = append(parts, "calibrated: "+c.Chosen.Name())
	}
	return strings.Join(parts, ", ")
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "\r", " ").Replace(s)
}

func leaderboardMarkdown(groups []*group) string {
	var b strings.Builder
	b.WriteString("# Retrieval leaderboard\n\n")
	b.WriteString("Metrics ×100, averaged over the queries with at least one relevant document; " +
		"NDCG/Recall/MRR as trec_eval (ndcg_cut, recall, recip_rank cut at k), " +
		"F1@k = 2·P̄·R̄/(P̄+R̄) from the averaged P@k and R@k (KoE5). Best value per column in bold. " +
		"Generated by `kormed eval`; rows come from results/*.json.\n")
	if len(groups) == 0 {
		b.WriteString("\nNo results yet.\n")
	}
	for _, g := range groups {
		fmt.Fprintf(&b, "\n## %s", mdEscape(g.dataset.Name))
		if g.dataset.Split != "" {
			fmt.Fprintf(&b, " (%s)", mdEscape(g.dataset.Split))
		}
		fmt.Fprintf(&b, "\n\n%d queries evaluated, %d documents; sorted by %s.\n\n", g.dataset.Evaluated, g.dataset.Docs, g.primary)
		cols := g.columns()
		best := g.best(cols)
		b.WriteString("| # | Run | Retriever | Model / analyzer |")
		for _, c := range cols {
			b.WriteString(" " + c.label + " |")
		}
		b.WriteString(" Search | Date |\n|---:|---|---|---|")
		for range cols {
			b.WriteString("---:|")
		}
		b.WriteString("---:|---|\n")
		for i, r := range g.rows {
			fmt.Fprintf(&b, "| %d | %s | %s | %s |", i+1, mdEscape(r.Run), mdEscape(r.Retriever), mdEscape(setting(r)))
			for _, c := range cols {
				v, ok := r.Metrics[c.key]
				switch {
				case !ok:
					b.WriteString(" – |")
				case v == best[c.key]:
					fmt.Fprintf(&b, " **%.2f** |", 100*v)
				default:
					fmt.Fprintf(&b, " %.2f |", 100*v)
				}
			}
			fmt.Fprintf(&b, " %s | %s |\n", fmtSeconds(r.Timings.Search), r.Created.Format("2006-01-02"))
		}
	}
	return b.String()
}

const leaderboardCSS = `body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans KR","Malgun Gothic",sans-serif;margin:2rem auto;max-width:1200px;padding:0 1rem;color:#1f2328}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
p.note{color:#57606a;font-size:.9rem}
table{border-collapse:collapse;font-size:.85rem;width:100%}
th,td{border-bottom:1px solid #d0d7de;padding:.35rem .5rem;white-space:nowrap}
th{background:#f6f8fa;text-align:left;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:700}
tr:hover td{background-color:#f6f8fa}
img{max-width:100%;margin-top:1rem;border:1px solid #d0d7de}`

func leaderboardHTML(groups []*group, png []byte) string {
	var b strings.Builder
	b.WriteString("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>kormed retrieval leaderboard</title>\n<style>\n")
	b.WriteString(leaderboardCSS)
	b.WriteString("\n</style>\n</head>\n<body>\n<h1>kormed retrieval leaderboard</h1>\n")
	b.WriteString("<p class=\"note\">Metrics ×100, averaged over the queries with at least one relevant document. NDCG, Recall and MRR follow trec_eval (ndcg_cut, recall, recip_rank cut at k); F1@k = 2·P̄·R̄/(P̄+R̄) from the averaged P@k and R@k (KoE5). Bars show each value against the column's best; the best is in bold.</p>\n")
	if len(groups) == 0 {
		b.WriteString("<p>No results yet.</p>\n")
	}
	for _, g := range groups {
		title := g.dataset.Name
		if g.dataset.Split != "" {
			title += " (" + g.dataset.Split + ")"
		}
		fmt.Fprintf(&b, "<h2>%s</h2>\n<p class=\"note\">%d queries evaluated, %d documents; sorted by %s.</p>\n<table>\n<thead><tr><th>#</th><th>Run</th><th>Retriever</th><th>Model / analyzer</th>",
			html.EscapeString(title), g.dataset.Evaluated, g.dataset.Docs, html.EscapeString(g.primary))
		cols := g.columns()
		best := g.best(cols)
		for _, c := range cols {
			fmt.Fprintf(&b, "<th>%s</th>", html.EscapeString(c.label))
		}
		b.WriteString("<th>Search</th><th>Date</th></tr></thead>\n<tbody>\n")
		for i, r := range g.rows {
			fmt.Fprintf(&b, "<tr><td class=\"n\">%d</td><td>%s</td><td>%s</td><td>%s</td>", i+1, html.EscapeString(r.Run), html.EscapeString(r.Retriever), html.EscapeString(setting(r)))
			for _, c := range cols {
				v, ok := r.Metrics[c.key]
				if !ok {
					b.WriteString("<td class=\"n\">–</td>")
					continue
				}
				cls := "n"
				if v == best[c.key] {
					cls += " best"
				}
				pct := 0.0
				if top := max(best[c.key], v); top > 0 {
					pct = 100 * v / top
				}
				fmt.Fprintf(&b, "<td class=\"%s\" style=\"background:linear-gradient(90deg,#ddf4ff %.1f%%,transparent %.1f%%)\">%.2f</td>", cls, pct, pct, 100*v)
			}
			fmt.Fprintf(&b, "<td class=\"n\">%s</td><td>%s</td></tr>\n", fmtSeconds(r.Timings.Search), r.Created.Format("2006-01-02"))
		}
		b.WriteString("</tbody>\n</table>\n")
	}
	if len(png) > 0 && len(groups) > 0 {
		b.WriteString("<img alt=\"leaderboard chart\" src=\"data:image/png;base64,")
		b.WriteString(base64.StdEncoding.EncodeToString(png))
		b.WriteString("\">\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.String()
}

// plainLabel returns s when every rune is printable ASCII (the chart font
// has no Hangul), else fallback.
func plainLabel(s, fallback string) string {
	for _, r := range s {
		if r < 0x20 || r > 0x7e {
			return fallback
		}
	}
	if s == "" {
		return fallback
	}
	return s
}
