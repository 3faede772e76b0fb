package eval

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/kormed/kormed/metrics"
)

// Chart colours (colour-blind safe, Okabe–Ito).
var palette = []color.RGBA{
	{0, 114, 178, 255},   // blue
	{230, 159, 0, 255},   // orange
	{0, 158, 115, 255},   // green
	{204, 121, 167, 255}, // purple
	{86, 180, 233, 255},  // sky
}

// renderPNG draws p at w × h and returns the PNG bytes.
func renderPNG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	wt, err := p.WriterTo(w, h, "png")
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// leaderboardPNG draws one horizontal grouped bar per run (best at the
// top) for NDCG at the smallest and primary cut-offs, Recall and MRR at the
// largest. Labels the chart font cannot show (Hangul) become "run N".
func leaderboardPNG(groups []*group) ([]byte, error) {
	var ks []int
	for _, g := range groups {
		for _, k := range g.ks {
			if !slices.Contains(ks, k) {
				ks = append(ks, k)
			}
		}
	}
	p := plot.New()
	p.Title.Text = "kormed retrieval leaderboard"
	p.X.Label.Text = "score ×100"
	// The band right of 100 holds the legend and the value labels.
	p.X.Min, p.X.Max = 0, 128
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 20, Label: "20"}, {Value: 40, Label: "40"},
		{Value: 60, Label: "60"}, {Value: 80, Label: "80"}, {Value: 100, Label: "100"}})
	grid := plotter.NewGrid()
	grid.Horizontal.Color = nil
	p.Add(grid)
	if len(ks) == 0 {
		p.Title.Text += " (no results yet)"
		return renderPNG(p, 6*vg.Inch, 2*vg.Inch)
	}
	slices.Sort(ks)
	kmax := ks[len(ks)-1]
	primary := PrimaryMetric(ks)
	series := []string{}
	for _, key := range []string{metrics.Key(metrics.NameNDCG, ks[0]), primary, metrics.Key(metrics.NameRecall, kmax), metrics.Key(metrics.NameMRR, kmax)} {
		if !slices.Contains(series, key) {
			series = append(series, key)
		}
	}
	type row struct {
		label string
		r     *Result
	}
	var rows []row
	n := 0
	for _, g := range groups {
		for _, r := range g.rows {
			n++
			label := r.Run
			if len(groups) > 1 {
				label = g.dataset.Name + ": " + r.Run
			}
			rows = append(rows, row{plainLabel(label, fmt.Sprintf("run %d", n)), r})
		}
	}
	slices.Reverse(rows) // NominalY puts the first name at the bottom
	barW := vg.Points(7)
	names := make([]string, len(rows))
	for i, rw := range rows {
		names[i] = rw.label
	}
	for si, key := range series {
		vals := make(plotter.Values, len(rows))
		for i, rw := range rows {
			vals[i] = 100 * rw.r.Metrics[key]
		}
		bars, err := plotter.NewBarChart(vals, barW)
		if err != nil {
			return nil, err
		}
		bars.Horizontal = true
		bars.Color = palette[si%len(palette)]
		bars.LineStyle.Width = 0
		// Reverse the series order inside a group so that the first series
		// is drawn on top, matching the legend.
		bars.Offset = barW * vg.Length(float64(len(series)-1)/2-float64(si))
		p.Add(bars)
		p.Legend.Add(key, bars)
		// Value labels just right of each bar.
		var xys plotter.XYLabels
		xys.XYs = make(plotter.XYs, len(rows))
		xys.Labels = make([]string, len(rows))
		for i, v := range vals {
			xys.XYs[i] = plotter.XY{X: v + 0.8, Y: float64(i)}
			xys.Labels[i] = fmt.Sprintf("%.1f", v)
		}
		lab, err := plotter.NewLabels(xys)
		if err != nil {
			return nil, err
		}
		for i := range lab.TextStyle {
			lab.TextStyle[i].Font.Size = vg.Points(6.5)
			lab.TextStyle[i].YAlign = -0.5
		}
		lab.Offset = vg.Point{Y: bars.Offset}
		p.Add(lab)
	}
	p.NominalY(names...)
	p.Y.Min, p.Y.Max = -0.5, float64(len(rows))-0.5
	p.Legend.Top = true
	p.Legend.Left = false
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	h := vg.Length(len(rows))*barW*vg.Length(float64(len(series))+1.5) + 1.6*vg.Inch
	return renderPNG(p, 8*vg.Inch, h)
}

// collapsePNG draws the two cosine distributions as overlaid histograms
// normalised to unit area, with the means as vertical lines.
func collapsePNG(c *Collapse, title string) ([]byte, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "cosine similarity"
	p.Y.Label.Text = "density"
	lo, hi := 1.0, -1.0
	for _, xs := range [][]float64{c.RelevantCos, c.RandomCos} {
		for _, x := range xs {
			lo, hi = math.Min(lo, x), math.Max(hi, x)
		}
	}
	if lo > hi {
		lo, hi = -1, 1
	}
	// Bins of 0.02 on a grid aligned to 0.02, so both histograms share edges.
	const bw = 0.02
	lo = math.Floor(lo/bw) * bw
	hi = math.Ceil(hi/bw)*bw + bw
	nb := max(int(math.Round((hi-lo)/bw)), 1)
	p.X.Min, p.X.Max = lo, hi
	p.Add(plotter.NewGrid())
	add := func(xs []float64, name string, col color.RGBA, mean float64) error {
		if len(xs) == 0 {
			return nil
		}
		vals := make(plotter.Values, len(xs))
		copy(vals, xs)
		hist, err := plotter.NewHist(vals, nb)
		if err != nil {
			return err
		}
		// NewHist spans [min, max] of the data; re-bin on the shared grid.
		bins := make([]plotter.HistogramBin, nb)
		for i := range bins {
			bins[i].Min = lo + float64(i)*bw
			bins[i].Max = bins[i].Min + bw
		}
		for _, x := range xs {
			i := min(max(int((x-lo)/bw), 0), nb-1)
			bins[i].Weight++
		}
		hist.Bins, hist.Width = bins, bw
		hist.Normalize(1)
		// color.RGBA is alpha-premultiplied; a translucent fill needs NRGBA.
		hist.FillColor = color.NRGBA{R: col.R, G: col.G, B: col.B, A: 90}
		hist.LineStyle.Color = col
		hist.LineStyle.Width = vg.Points(0.5)
		p.Add(hist)
		ymax := 0.0
		for _, b := range hist.Bins {
			ymax = math.Max(ymax, b.Weight)
		}
		line, err := plotter.NewLine(plotter.XYs{{X: mean, Y: 0}, {X: mean, Y: ymax * 1.05}})
		if err != nil {
			return err
		}
		line.Color = col
		line.Width = vg.Points(1.5)
		line.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%s: n=%d, mean %.3f", name, len(xs), mean), hist)
		return nil
	}
	if err := add(c.RelevantCos, "relevant (query, gold doc)", palette[0], c.Relevant.Mean); err != nil {
		return nil, err
	}
	if err := add(c.RandomCos, "random (query, other doc)", palette[1], c.Random.Mean); err != nil {
		return nil, err
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(9)
	p.Legend.ThumbnailWidth = vg.Points(14)
	return renderPNG(p, 7*vg.Inch, 4.2*vg.Inch)
}
