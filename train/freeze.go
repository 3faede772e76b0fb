package train

import (
	"fmt"
	"io"
	"strings"

	"github.com/kormed/kormed/model"
)

// Freeze says which parameters a stage leaves fixed. Layers are named by
// index and resolved against the model's own weight names, and a spec
// that matches nothing is an error: the published EXAONE recipe froze by
// the substring "layers.28"…"layers.31", which matches none of EXAONE's
// "transformer.h.N" names, and so silently trained the wrong tensors.
type Freeze struct {
	// Embeddings: "none" (default), "word" (the word-embedding table:
	// 96M of multilingual-e5-small's 118M parameters) or "all" (word,
	// position and token-type tables and the embedding LayerNorm).
	Embeddings string `toml:"embeddings"`
	// BottomLayers freezes blocks 0 … N-1.
	BottomLayers int `toml:"bottom_layers"`
	// TrainTopLayers > 0 trains only the top N blocks and the head (the
	// BERT pooler, when the pooling uses it); everything else is frozen.
	TrainTopLayers int `toml:"train_top_layers"`
	// Names freezes further tensors by Hugging Face name: an exact name
	// ("encoder.layer.3.attention.self.query.weight") or a prefix ending in
	// "." ("encoder.layer.3."). Each entry must match at least one tensor.
	Names []string `toml:"names"`
}

// Plan is the resolved trainability of every parameter.
type Plan struct {
	Layers    int // transformer blocks
	Params    []model.Param
	Trainable []bool
	Reason    []string // why a parameter is frozen ("" when trainable)
}

// Resolve applies f to the parameters of m. The BERT pooler is trained
// only when the pooling uses it (otherwise the loss never reaches it and
// PyTorch's AdamW, seeing no gradient, leaves it alone, weight decay
// included). It fails when a setting names layers the model does not have,
// a name matches nothing, or nothing is left to train.
func (f Freeze) Resolve(m *model.Model) (*Plan, error) {
	cfg := &m.Enc.Cfg
	L := cfg.NumHiddenLayers
	ps := m.Enc.W.Params(cfg)
	pl := &Plan{Layers: L, Params: ps, Trainable: make([]bool, len(ps)), Reason: make([]string, len(ps))}
	switch f.Embeddings {
	case "", "none", "word", "all":
	default:
		return nil, fmt.Errorf("freeze.embeddings = %q: want none, word or all", f.Embeddings)
	}
	if f.BottomLayers < 0 || f.BottomLayers > L {
		return nil, fmt.Errorf("freeze.bottom_layers = %d: the model has %d layers (0 to %d may be frozen)", f.BottomLayers, L, L)
	}
	if f.TrainTopLayers < 0 || f.TrainTopLayers > L {
		return nil, fmt.Errorf("freeze.train_top_layers = %d: the model has %d layers (1 to %d may be trained)", f.TrainTopLayers, L, L)
	}
	if f.TrainTopLayers > 0 && f.BottomLayers > 0 {
		return nil, fmt.Errorf("freeze: bottom_layers and train_top_layers both set; give one")
	}
	matched := make([]bool, len(f.Names))
	for i, n := range f.Names {
		if n == "" {
			return nil, fmt.Errorf("freeze.names[%d] is empty", i)
		}
	}
	for i, p := range ps {
		why := ""
		switch {
		case *p.Data == nil:
			why = "not in the checkpoint"
		case p.Layer == L && m.Pooling != model.PoolPooler:
			why = fmt.Sprintf("unused (pooling %s)", m.Pooling)
		case p.Layer == -1 && (f.Embeddings == "all" || f.Embeddings == "word" && p.Name == "embeddings.word_embeddings.weight"):
			why = fmt.Sprintf("embeddings = %q", f.Embeddings)
		case f.TrainTopLayers > 0 && p.Layer < L-f.TrainTopLayers:
			why = fmt.Sprintf("train_top_layers = %d", f.TrainTopLayers)
		case p.Layer >= 0 && p.Layer < f.BottomLayers:
			why = fmt.Sprintf("bottom_layers = %d", f.BottomLayers)
		}
		for k, n := range f.Names {
			for _, hf := range p.HF {
				if hf == n || strings.HasSuffix(n, ".") && strings.HasPrefix(hf, n) {
					matched[k] = true
					if why == "" {
						why = fmt.Sprintf("names %q", n)
					}
				}
			}
		}
		pl.Reason[i] = why
		pl.Trainable[i] = why == ""
	}
	for k, ok := range matched {
		if !ok {
			return nil, fmt.Errorf("freeze.names[%d] = %q matches no parameter of %s (names look like %q, %q; a prefix must end in \".\")",
				k, f.Names[k], m.Name(), ps[0].Name, "encoder.layer.0.")
		}
	}
	if pl.TrainableCount() == 0 {
		return nil, fmt.Errorf("freeze: no parameter of %s is left to train", m.Name())
	}
	return pl, nil
}

// Func is the plan as NewTower takes it.
func (pl *Plan) Func() func(model.Param) bool {
	ok := map[*[]float32]bool{}
	for i, p := range pl.Params {
		ok[p.Data] = pl.Trainable[i]
	}
	return func(p model.Param) bool { return ok[p.Data] }
}

// TrainableCount counts trainable elements.
func (pl *Plan) TrainableCount() (n int) {
	for i, p := range pl.Params {
		if pl.Trainable[i] {
			n += p.Size()
		}
	}
	return n
}

// WriteTable prints the trainable-parameter table: one line per embedding
// and pooler tensor and per layer (per tensor with verbose), then totals.
func (pl *Plan) WriteTable(w io.Writer, verbose bool) {
	type row struct {
		name, shape, status string
		n                   int
	}
	var rows []row
	total, train := 0, 0
	layerRows := map[int]int{}
	for i, p := range pl.Params {
		if *p.Data == nil {
			continue
		}
		n := p.Size()
		total += n
		status := "trainable"
		if !pl.Trainable[i] {
			status = "frozen: " + pl.Reason[i]
		} else {
			train += n
		}
		if verbose || p.Layer < 0 || p.Layer >= pl.Layers {
			shape := strings.Trim(strings.ReplaceAll(fmt.Sprint(p.Shape), " ", "×"), "[]")
			rows = append(rows, row{p.Name, shape, status, n})
			continue
		}
		j, seen := layerRows[p.Layer]
		if !seen {
			layerRows[p.Layer] = len(rows)
			rows = append(rows, row{fmt.Sprintf("encoder.layer.%d.*", p.Layer), "", status, n})
			continue
		}
		rows[j].n += n
		if rows[j].status != status {
			rows[j].status = "partly trainable"
		}
	}
	width := 0
	for _, r := range rows {
		width = max(width, len(r.name))
	}
	fmt.Fprintf(w, "%-*s  %-12s  %12s  %s\n", width, "parameter", "shape", "elements", "")
	for _, r := range rows {
		fmt.Fprintf(w, "%-*s  %-12s  %12s  %s\n", width, r.name, r.shape, group3(r.n), r.status)
	}
	fmt.Fprintf(w, "trainable %s of %s parameters (%.1f%%)\n", group3(train), group3(total), 100*float64(train)/float64(max(total, 1)))
}

// group3 writes n with thousands separators: 96014208 → "96,014,208".
func group3(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
