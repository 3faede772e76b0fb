package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"image/color"
	"io"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/kormed/kormed/atomicfile"
)

// stageColors tell the stages apart (Okabe–Ito, colour-blind safe).
var stageColors = []color.RGBA{{0, 114, 178, 255}, {230, 159, 0, 255}, {0, 158, 115, 255}, {204, 121, 167, 255}, {86, 180, 233, 255}, {213, 94, 0, 255}}

// writePlot draws the training loss of every step in the JSONL log, one
// line per stage along a step axis that runs on across stages, to a PNG.
func writePlot(path, logPath, title string) error {
	b, err := os.ReadFile(logPath)
	if err != nil {
		return err
	}
	type series struct {
		name string
		xys  plotter.XYs
	}
	var ss []*series
	byIdx := map[int]*series{}
	offset, last := 0.0, 0.0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 1<<16), 16<<20)
	for sc.Scan() {
		var r struct {
			Stage string   `json:"stage"`
			Index *int     `json:"stage_index"`
			Step  int      `json:"step"`
			Loss  *float64 `json:"loss"`
		}
		if json.Unmarshal(sc.Bytes(), &r) != nil || r.Index == nil || r.Loss == nil {
			continue
		}
		s, ok := byIdx[*r.Index]
		if !ok {
			offset = last
			s = &series{name: r.Stage}
			byIdx[*r.Index] = s
			ss = append(ss, s)
		}
		x := offset + float64(r.Step)
		s.xys = append(s.xys, plotter.XY{X: x, Y: *r.Loss})
		last = x
	}
	if len(ss) == 0 {
		return nil
	}
	p := plot.New()
	p.Title.Text = "training loss: " + plainText(title)
	p.X.Label.Text = "optimiser step (stages run on)"
	p.Y.Label.Text = "loss"
	p.Add(plotter.NewGrid())
	for i, s := range ss {
		l, err := plotter.NewLine(s.xys)
		if err != nil {
			return err
		}
		l.Color = stageColors[i%len(stageColors)]
		l.Width = vg.Points(1.5)
		p.Add(l)
		p.Legend.Add(plainText(s.name), l)
	}
	p.Legend.Top = true
	wt, err := p.WriterTo(8*vg.Inch, 4*vg.Inch, "png")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(path, func(w io.Writer) error {
		_, err := wt.WriteTo(w)
		return err
	})
}

// plainText keeps what the chart font can draw (ASCII).
func plainText(s string) string {
	out := []rune{}
	for _, r := range s {
		if r < 128 {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}
