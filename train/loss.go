package train

import (
	"fmt"
	"math"
)

// Loss turns the sentence embeddings of one batch into a scalar objective and
// its gradient with respect to those embeddings.
type Loss interface {
	Name() string   // as written in pipeline files: "cosine", "cosent", "mnrl", "multi-similarity"
	Spec() LossSpec // what a batch must carry
	// Compute returns the loss of the batch; when in.Grad is non-nil it also writes
	// dLoss/dEmb[c] into in.Grad[c] (overwriting, same shape as in.Emb[c]).
	Compute(in LossInput) (float64, error)
}

// LossSpec says what a batch must carry for a loss.
type LossSpec struct {
	MinColumns, MaxColumns int  // text columns per example; MaxColumns < 0 = unbounded
	Labels                 bool // needs LossInput.Labels (one float per example)
	Groups                 bool // needs LossInput.Groups (one cluster id per example)
}

// LossInput is one batch of sentence embeddings as a loss sees it.
type LossInput struct {
	Emb    [][]float32 // Emb[c]: column c's sentence embeddings, row-major [B*D], as the model outputs them (normalised or not)
	B, D   int
	Labels []float32   // [B] or nil
	Groups []int       // [B] or nil
	Grad   [][]float32 // nil, or Grad[c] of len B*D to receive the gradient
}

// LossParams are the optional settings of a loss in a pipeline file; nil = the default.
type LossParams struct {
	Scale      *float64 `toml:"scale"`      // mnrl, cosent: default 20
	Similarity string   `toml:"similarity"` // mnrl: "cos" (default) or "dot"
	Symmetric  *bool    `toml:"symmetric"`  // mnrl: add the positive→anchor term (MultipleNegativesSymmetricRankingLoss)
	Threshold  *float64 `toml:"threshold"`  // multi-similarity: default 0.8 (the medical DPR card)
	Margin     *float64 `toml:"margin"`     // multi-similarity: default 0.1
	ScalePos   *float64 `toml:"scale_pos"`  // multi-similarity: default 1
	ScaleNeg   *float64 `toml:"scale_neg"`  // multi-similarity: default 60
}

// NewLoss builds a loss by name; a parameter that the named loss does not take is an error naming it.
//
// Names, their parameters and the reference each matches:
//
//	cosine            -                                        sentence-transformers CosineSimilarityLoss
//	cosent            scale                                    sentence-transformers CoSENTLoss
//	mnrl              scale, similarity, symmetric             sentence-transformers MultipleNegatives(Symmetric)RankingLoss
//	multi-similarity  threshold, margin, scale_pos, scale_neg  msight-tech MultiSimilarityLoss
//
// Scales must be finite and > 0, threshold and margin finite, similarity
// "cos" or "dot". Example: NewLoss("mnrl", LossParams{Threshold: &t}) is the
// error "loss mnrl: parameter threshold does not apply to this loss".
func NewLoss(name string, p LossParams) (Loss, error) {
	var takes []string
	switch name {
	case "cosine":
	case "cosent":
		takes = []string{"scale"}
	case "mnrl":
		takes = []string{"scale", "similarity", "symmetric"}
	case "multi-similarity":
		takes = []string{"threshold", "margin", "scale_pos", "scale_neg"}
	default:
		return nil, fmt.Errorf("unknown loss %q (want cosine, cosent, mnrl or multi-similarity)", name)
	}
	given := []struct {
		key string
		set bool
	}{
		{"scale", p.Scale != nil},
		{"similarity", p.Similarity != ""},
		{"symmetric", p.Symmetric != nil},
		{"threshold", p.Threshold != nil},
		{"margin", p.Margin != nil},
		{"scale_pos", p.ScalePos != nil},
		{"scale_neg", p.ScaleNeg != nil},
	}
	for _, g := range given {
		if !g.set {
			continue
		}
		ok := false
		for _, k := range takes {
			ok = ok || k == g.key
		}
		if !ok {
			return nil, fmt.Errorf("loss %s: parameter %s does not apply to this loss", name, g.key)
		}
	}
	// positive returns *v, or def when v is nil; v must be finite and > 0.
	positive := func(key string, v *float64, def float64) (float64, error) {
		if v == nil {
			return def, nil
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) || *v <= 0 {
			return 0, fmt.Errorf("loss %s: parameter %s = %v, want a finite number > 0", name, key, *v)
		}
		return *v, nil
	}
	finite := func(key string, v *float64, def float64) (float64, error) {
		if v == nil {
			return def, nil
		}
		if math.IsNaN(*v) || math.IsInf(*v, 0) {
			return 0, fmt.Errorf("loss %s: parameter %s = %v, want a finite number", name, key, *v)
		}
		return *v, nil
	}
	switch name {
	case "cosine":
		return cosineLoss{}, nil
	case "cosent":
		scale, err := positive("scale", p.Scale, 20)
		if err != nil {
			return nil, err
		}
		return cosentLoss{scale: scale}, nil
	case "mnrl":
		scale, err := positive("scale", p.Scale, 20)
		if err != nil {
			return nil, err
		}
		if p.Similarity != "" && p.Similarity != "cos" && p.Similarity != "dot" {
			return nil, fmt.Errorf("loss mnrl: parameter similarity = %q, want \"cos\" or \"dot\"", p.Similarity)
		}
		return mnrlLoss{scale: scale, dot: p.Similarity == "dot", symmetric: p.Symmetric != nil && *p.Symmetric}, nil
	default: // multi-similarity
		var l multiSimilarityLoss
		var err error
		if l.threshold, err = finite("threshold", p.Threshold, 0.8); err != nil {
			return nil, err
		}
		if l.margin, err = finite("margin", p.Margin, 0.1); err != nil {
			return nil, err
		}
		if l.scalePos, err = positive("scale_pos", p.ScalePos, 1); err != nil {
			return nil, err
		}
		if l.scaleNeg, err = positive("scale_neg", p.ScaleNeg, 60); err != nil {
			return nil, err
		}
		return l, nil
	}
}

// lossBatch is a validated LossInput in float64: emb[c] is column c's [B*D]
// embeddings, labels (nil unless the loss takes them) holds B floats.
type lossBatch struct {
	emb    [][]float64
	b, d   int
	labels []float64
	groups []int
}

// lossPrepare checks in against the spec of the loss called name and
// converts it to float64. It also checks the gradient buffers.
func lossPrepare(name string, s LossSpec, in LossInput) (*lossBatch, error) {
	c := len(in.Emb)
	if c < s.MinColumns || (s.MaxColumns >= 0 && c > s.MaxColumns) {
		want := fmt.Sprintf("%d", s.MinColumns)
		switch {
		case s.MaxColumns < 0:
			want = fmt.Sprintf("at least %d", s.MinColumns)
		case s.MaxColumns != s.MinColumns:
			want = fmt.Sprintf("%d to %d", s.MinColumns, s.MaxColumns)
		}
		return nil, fmt.Errorf("loss %s: %d text columns, want %s", name, c, want)
	}
	if in.B < 1 || in.D < 1 {
		return nil, fmt.Errorf("loss %s: batch shape B=%d D=%d, want both >= 1", name, in.B, in.D)
	}
	n := in.B * in.D
	if n/in.D != in.B {
		return nil, fmt.Errorf("loss %s: batch shape B=%d D=%d overflows", name, in.B, in.D)
	}
	lb := &lossBatch{emb: make([][]float64, c), b: in.B, d: in.D}
	for k, e := range in.Emb {
		if len(e) != n {
			return nil, fmt.Errorf("loss %s: column %d has %d values, want B*D = %d*%d = %d", name, k, len(e), in.B, in.D, n)
		}
		x := make([]float64, n)
		for i, v := range e {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("loss %s: column %d row %d: non-finite embedding value %v", name, k, i/in.D, v)
			}
			x[i] = f
		}
		lb.emb[k] = x
	}
	if s.Labels {
		if in.Labels == nil {
			return nil, fmt.Errorf("loss %s: the batch has no labels (this loss needs one score per example)", name)
		}
		if len(in.Labels) != in.B {
			return nil, fmt.Errorf("loss %s: %d labels for a batch of %d", name, len(in.Labels), in.B)
		}
		lb.labels = make([]float64, in.B)
		for i, v := range in.Labels {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, fmt.Errorf("loss %s: example %d: non-finite label %v", name, i, v)
			}
			lb.labels[i] = f
		}
	}
	if s.Groups {
		if in.Groups == nil {
			return nil, fmt.Errorf("loss %s: the batch has no groups (this loss needs one cluster id per example)", name)
		}
		if len(in.Groups) != in.B {
			return nil, fmt.Errorf("loss %s: %d groups for a batch of %d", name, len(in.Groups), in.B)
		}
		lb.groups = in.Groups
	}
	if in.Grad != nil {
		if len(in.Grad) != c {
			return nil, fmt.Errorf("loss %s: %d gradient columns for %d text columns", name, len(in.Grad), c)
		}
		for k, g := range in.Grad {
			if len(g) != n {
				return nil, fmt.Errorf("loss %s: gradient column %d has %d values, want %d", name, k, len(g), n)
			}
		}
	}
	return lb, nil
}

// lossGradBuffers returns zeroed float64 gradient columns shaped like emb,
// or nil when want is false.
func lossGradBuffers(emb [][]float64, want bool) [][]float64 {
	if !want {
		return nil
	}
	g := make([][]float64, len(emb))
	for k := range emb {
		g[k] = make([]float64, len(emb[k]))
	}
	return g
}

// lossStoreGrad copies the float64 gradient into the caller's float32 buffers.
func lossStoreGrad(dst [][]float32, src [][]float64) {
	for k := range dst {
		for i, v := range src[k] {
			dst[k][i] = float32(v)
		}
	}
}

// lossCompute is the shared body of every Compute: validate, convert, run the
// float64 loss f (which accumulates its gradient into grad when grad is
// non-nil), store the gradient.
func lossCompute(name string, s LossSpec, in LossInput, f func(lb *lossBatch, grad [][]float64) float64) (float64, error) {
	lb, err := lossPrepare(name, s, in)
	if err != nil {
		return 0, err
	}
	grad := lossGradBuffers(lb.emb, in.Grad != nil)
	v := f(lb, grad)
	if grad != nil {
		lossStoreGrad(in.Grad, grad)
	}
	return v, nil
}

// lossNormalize returns the rows of x ([n*d]) divided by max(‖row‖, eps), as
// torch.nn.functional.normalize(x, p=2, dim=1, eps=eps) computes them, and the
// clamped norms max(‖row‖, eps).
//
// Example: the row (3, 4) with eps 1e-12 becomes (0.6, 0.8), norm 5.
func lossNormalize(x []float64, n, d int, eps float64) (y, norm []float64) {
	y = make([]float64, n*d)
	norm = make([]float64, n)
	for i := 0; i < n; i++ {
		row := x[i*d : (i+1)*d]
		ss := 0.0
		for _, v := range row {
			ss += v * v
		}
		r := math.Max(math.Sqrt(ss), eps)
		norm[i] = r
		for j, v := range row {
			y[i*d+j] = v / r
		}
	}
	return y, norm
}

// lossNormalizeBackward adds to dx the gradient through y = x/max(‖x‖, eps)
// of the upstream gradient dy, row by row: (dy − y·(y·dy))/‖x‖ where the norm
// is above eps, dy/eps where it is clamped (the clamp has zero gradient, as in
// torch).
func lossNormalizeBackward(dx, dy, y, norm []float64, n, d int, eps float64) {
	for i := 0; i < n; i++ {
		yr, gr := y[i*d:(i+1)*d], dy[i*d:(i+1)*d]
		r := norm[i]
		if r <= eps {
			for j := range gr {
				dx[i*d+j] += gr[j] / r
			}
			continue
		}
		yg := 0.0
		for j := range gr {
			yg += yr[j] * gr[j]
		}
		for j := range gr {
			dx[i*d+j] += (gr[j] - yr[j]*yg) / r
		}
	}
}

// lossLogSumExp returns log Σ exp(v[i]), shifted by the maximum for stability.
//
// Example: lossLogSumExp([0, log 3]) = log 4.
func lossLogSumExp(v []float64) float64 {
	m := math.Inf(-1)
	for _, x := range v {
		m = math.Max(m, x)
	}
	if math.IsInf(m, -1) {
		return m
	}
	s := 0.0
	for _, x := range v {
		s += math.Exp(x - m)
	}
	return m + math.Log(s)
}
