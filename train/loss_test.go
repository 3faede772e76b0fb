package train

import (
	"encoding/json"
	"math"
	"math/rand"
	"os"
	"strings"
	"testing"
)

// lossGoldenCase is one case of testdata/losses.json (oracle/losses.py).
type lossGoldenCase struct {
	Name   string
	Loss   string
	Params struct {
		Scale      *float64 `json:"scale"`
		Similarity string   `json:"similarity"`
		Symmetric  *bool    `json:"symmetric"`
		Threshold  *float64 `json:"threshold"`
		Margin     *float64 `json:"margin"`
		ScalePos   *float64 `json:"scale_pos"`
		ScaleNeg   *float64 `json:"scale_neg"`
	}
	B, D   int
	Emb    [][]float32
	Labels []float32
	Groups []int
	// float32 PyTorch, and the same reference in float64
	Loss32 float64     `json:"value"`
	Grad32 [][]float64 `json:"grad"`
	Loss64 float64     `json:"value64"`
	Grad64 [][]float64 `json:"grad64"`
	// multi-similarity: per stacked anchor [kept pos, kept neg, pos candidates, neg candidates], null when skipped
	Mining [][]int
}

func lossLoadGolden(t *testing.T) []lossGoldenCase {
	t.Helper()
	data, err := os.ReadFile("testdata/losses.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Cases []lossGoldenCase }
	if err := json.Unmarshal(data, &f); err != nil {
		t.Fatalf("testdata/losses.json: %v", err)
	}
	seen := map[string]int{}
	for _, c := range f.Cases {
		seen[c.Loss]++
	}
	for _, name := range []string{"cosine", "cosent", "mnrl", "multi-similarity"} {
		if seen[name] < 4 {
			t.Fatalf("testdata/losses.json: %d cases of %s, want at least 4", seen[name], name)
		}
	}
	return f.Cases
}

func (c *lossGoldenCase) params() LossParams {
	p := c.Params
	return LossParams{Scale: p.Scale, Similarity: p.Similarity, Symmetric: p.Symmetric,
		Threshold: p.Threshold, Margin: p.Margin, ScalePos: p.ScalePos, ScaleNeg: p.ScaleNeg}
}

// lossClose reports whether got is within rel·|want| + abs of want.
func lossClose(got, want, rel, abs float64) bool {
	return math.Abs(got-want) <= rel*math.Abs(want)+abs
}

// lossRowFloor returns the absolute tolerance of gradient element j of a
// column with rows of d values: floor·max(1, max |g| over j's row), so that
// errors are judged against the magnitude of their own row.
func lossRowFloor(col []float64, d, j int, floor float64) float64 {
	r := j / d
	return floor * math.Max(1, lossMaxAbs([][]float64{col[r*d : (r+1)*d]}))
}

func lossMaxAbs(g [][]float64) float64 {
	m := 0.0
	for _, col := range g {
		for _, v := range col {
			m = math.Max(m, math.Abs(v))
		}
	}
	return m
}

// TestLossGolden checks every case of testdata/losses.json: Compute against
// PyTorch's float32 loss and gradients (1e-5 relative, 1e-6 absolute floor,
// scaled by the largest gradient element of the row when that exceeds 1), and the
// float64 core against the same reference run in float64 (1e-7 relative).
func TestLossGolden(t *testing.T) {
	for _, c := range lossLoadGolden(t) {
		t.Run(c.Name, func(t *testing.T) {
			l, err := NewLoss(c.Loss, c.params())
			if err != nil {
				t.Fatal(err)
			}
			grad := make([][]float32, len(c.Emb))
			for k := range grad {
				grad[k] = make([]float32, c.B*c.D)
				for j := range grad[k] {
					grad[k][j] = 123 // Compute must overwrite
				}
			}
			in := LossInput{Emb: c.Emb, B: c.B, D: c.D, Labels: c.Labels, Groups: c.Groups, Grad: grad}
			got, err := l.Compute(in)
			if err != nil {
				t.Fatal(err)
			}
			if !lossClose(got, c.Loss32, 1e-5, 1e-6) {
				t.Errorf("loss = %.9g, PyTorch float32 %.9g", got, c.Loss32)
			}
			in.Grad = nil
			if again, err := l.Compute(in); err != nil || again != got {
				t.Errorf("without Grad: loss %.9g, %v; with Grad %.9g", again, err, got)
			}
			bad := 0
			for k := range grad {
				for j, v := range grad[k] {
					if want := c.Grad32[k][j]; !lossClose(float64(v), want, 1e-5, lossRowFloor(c.Grad32[k], c.D, j, 1e-6)) {
						if bad++; bad <= 5 {
							t.Errorf("grad[%d][%d] = %.9g, PyTorch float32 %.9g", k, j, v, want)
						}
					}
				}
			}

			// The float64 core against the float64 reference.
			lb, err := lossPrepare(l.Name(), l.Spec(), LossInput{Emb: c.Emb, B: c.B, D: c.D, Labels: c.Labels, Groups: c.Groups})
			if err != nil {
				t.Fatal(err)
			}
			g64 := lossGradBuffers(lb.emb, true)
			var v64 float64
			switch l := l.(type) {
			case cosineLoss:
				v64 = l.eval(lb, g64)
			case cosentLoss:
				v64 = l.eval(lb, g64)
			case mnrlLoss:
				v64 = l.eval(lb, g64)
			case multiSimilarityLoss:
				var mined []multiSimPairs
				v64, mined = l.evalMined(lb, g64)
				if len(mined) != len(c.Mining) {
					t.Fatalf("%d anchors mined, oracle %d", len(mined), len(c.Mining))
				}
				for r, m := range mined {
					want := c.Mining[r]
					if want == nil {
						if m.pos0 != 0 && m.neg0 != 0 {
							t.Errorf("anchor %d: %d/%d candidates, oracle skips it (an empty set)", r, m.pos0, m.neg0)
						}
						continue
					}
					if got := []int{len(m.pos), len(m.neg), m.pos0, m.neg0}; !lossSameInts(got, want) {
						t.Errorf("anchor %d: mining %v, oracle %v", r, got, want)
					}
				}
			default:
				t.Fatalf("unexpected loss type %T", l)
			}
			if !lossClose(v64, c.Loss64, 1e-7, 1e-9) {
				t.Errorf("float64 loss = %.12g, reference float64 %.9g", v64, c.Loss64)
			}
			bad = 0
			for k := range g64 {
				for j, v := range g64[k] {
					if want := c.Grad64[k][j]; !lossClose(v, want, 1e-7, lossRowFloor(c.Grad64[k], c.D, j, 1e-9)) {
						if bad++; bad <= 5 {
							t.Errorf("float64 grad[%d][%d] = %.12g, reference %.9g", k, j, v, want)
						}
					}
				}
			}
		})
	}
}

func lossSameInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// lossEval runs the float64 core of l.
func lossEval(t *testing.T, l Loss, lb *lossBatch, grad [][]float64) float64 {
	t.Helper()
	switch l := l.(type) {
	case cosineLoss:
		return l.eval(lb, grad)
	case cosentLoss:
		return l.eval(lb, grad)
	case mnrlLoss:
		return l.eval(lb, grad)
	case multiSimilarityLoss:
		return l.eval(lb, grad)
	}
	t.Fatalf("unexpected loss type %T", l)
	return 0
}

func lossPtr[T any](v T) *T { return &v }

// TestLossFiniteDifference compares each loss's analytic float64 gradient
// with central differences on small random batches.
func TestLossFiniteDifference(t *testing.T) {
	type fdCase struct {
		name    string
		loss    string
		p       LossParams
		b, d, c int
		labels  []float64
		groups  []int
	}
	cases := []fdCase{
		{name: "cosine", loss: "cosine", b: 3, d: 5, c: 2, labels: []float64{0.1, 0.9, 0.5}},
		{name: "cosent", loss: "cosent", b: 4, d: 5, c: 2, labels: []float64{0.2, 1, 0.2, 0.7}},
		{name: "cosent/scale2", loss: "cosent", p: LossParams{Scale: lossPtr(2.0)}, b: 3, d: 4, c: 2, labels: []float64{3, 1, 2}},
		{name: "mnrl", loss: "mnrl", b: 3, d: 4, c: 2},
		{name: "mnrl/negatives", loss: "mnrl", p: LossParams{Scale: lossPtr(5.0)}, b: 3, d: 4, c: 4},
		{name: "mnrl/dot", loss: "mnrl", p: LossParams{Scale: lossPtr(0.7), Similarity: "dot"}, b: 3, d: 4, c: 3},
		{name: "mnrl/symmetric", loss: "mnrl", p: LossParams{Symmetric: lossPtr(true), Scale: lossPtr(4.0)}, b: 4, d: 3, c: 3},
		{name: "mnrl/symmetric-dot", loss: "mnrl", p: LossParams{Symmetric: lossPtr(true), Similarity: "dot"}, b: 3, d: 3, c: 2},
		{name: "multi-similarity", loss: "multi-similarity", p: LossParams{Threshold: lossPtr(0.3), ScaleNeg: lossPtr(10.0)},
			b: 6, d: 4, c: 1, groups: []int{0, 0, 1, 1, 2, 2}},
		{name: "multi-similarity/columns", loss: "multi-similarity", p: LossParams{Threshold: lossPtr(0.0), Margin: lossPtr(2.0), ScalePos: lossPtr(2.0), ScaleNeg: lossPtr(5.0)},
			b: 3, d: 4, c: 2, groups: []int{4, 5, 4}},
	}
	rng := rand.New(rand.NewSource(7))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, err := NewLoss(tc.loss, tc.p)
			if err != nil {
				t.Fatal(err)
			}
			lb := &lossBatch{b: tc.b, d: tc.d, labels: tc.labels, groups: tc.groups}
			for k := 0; k < tc.c; k++ {
				x := make([]float64, tc.b*tc.d)
				for j := range x {
					x[j] = rng.NormFloat64()
				}
				lb.emb = append(lb.emb, x)
			}
			grad := lossGradBuffers(lb.emb, true)
			v := lossEval(t, l, lb, grad)
			if v == 0 || lossMaxAbs(grad) == 0 {
				t.Fatalf("loss %g, max |grad| %g: the case exercises nothing", v, lossMaxAbs(grad))
			}
			const h = 1e-6
			for k := range lb.emb {
				for j := range lb.emb[k] {
					x0 := lb.emb[k][j]
					lb.emb[k][j] = x0 + h
					up := lossEval(t, l, lb, nil)
					lb.emb[k][j] = x0 - h
					down := lossEval(t, l, lb, nil)
					lb.emb[k][j] = x0
					num := (up - down) / (2 * h)
					if !lossClose(grad[k][j], num, 1e-5, 1e-7) {
						t.Errorf("grad[%d][%d] = %.10g, finite difference %.10g", k, j, grad[k][j], num)
					}
				}
			}
		})
	}
}

func TestLossErrors(t *testing.T) {
	emb := func(b, d int) []float32 {
		x := make([]float32, b*d)
		for i := range x {
			x[i] = float32(i%5) - 1.5
		}
		return x
	}
	cosine, _ := NewLoss("cosine", LossParams{})
	mnrl, _ := NewLoss("mnrl", LossParams{})
	ms, _ := NewLoss("multi-similarity", LossParams{})
	cases := []struct {
		name string
		l    Loss
		in   LossInput
		want string
	}{
		{"one column", cosine, LossInput{Emb: [][]float32{emb(2, 3)}, B: 2, D: 3, Labels: []float32{0, 1}}, "1 text columns, want 2"},
		{"three columns", cosine, LossInput{Emb: [][]float32{emb(2, 3), emb(2, 3), emb(2, 3)}, B: 2, D: 3, Labels: []float32{0, 1}}, "3 text columns, want 2"},
		{"mnrl one column", mnrl, LossInput{Emb: [][]float32{emb(2, 3)}, B: 2, D: 3}, "want at least 2"},
		{"ms no column", ms, LossInput{B: 2, D: 3, Groups: []int{1, 1}}, "want at least 1"},
		{"missing labels", cosine, LossInput{Emb: [][]float32{emb(2, 3), emb(2, 3)}, B: 2, D: 3}, "no labels"},
		{"label count", cosine, LossInput{Emb: [][]float32{emb(2, 3), emb(2, 3)}, B: 2, D: 3, Labels: []float32{1}}, "1 labels for a batch of 2"},
		{"NaN label", cosine, LossInput{Emb: [][]float32{emb(2, 3), emb(2, 3)}, B: 2, D: 3, Labels: []float32{1, float32(math.NaN())}}, "non-finite label"},
		{"missing groups", ms, LossInput{Emb: [][]float32{emb(2, 3)}, B: 2, D: 3}, "no groups"},
		{"group count", ms, LossInput{Emb: [][]float32{emb(2, 3)}, B: 2, D: 3, Groups: []int{1, 2, 3}}, "3 groups for a batch of 2"},
		{"B mismatch", mnrl, LossInput{Emb: [][]float32{emb(2, 3), emb(3, 3)}, B: 2, D: 3}, "column 1 has 9 values, want B*D = 2*3 = 6"},
		{"B zero", mnrl, LossInput{Emb: [][]float32{nil, nil}, B: 0, D: 3}, "B=0 D=3"},
		{"D negative", mnrl, LossInput{Emb: [][]float32{nil, nil}, B: 2, D: -1}, "B=2 D=-1"},
		{"Inf embedding", mnrl, LossInput{Emb: [][]float32{emb(2, 3), {1, 2, 3, 4, float32(math.Inf(1)), 6}}, B: 2, D: 3}, "column 1 row 1: non-finite"},
		{"grad columns", mnrl, LossInput{Emb: [][]float32{emb(2, 3), emb(2, 3)}, B: 2, D: 3, Grad: [][]float32{make([]float32, 6)}}, "1 gradient columns for 2"},
		{"grad length", mnrl, LossInput{Emb: [][]float32{emb(2, 3), emb(2, 3)}, B: 2, D: 3, Grad: [][]float32{make([]float32, 6), make([]float32, 5)}}, "gradient column 1 has 5 values"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.l.Compute(tc.in)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "loss "+tc.l.Name()) {
				t.Fatalf("error %v, want one naming the loss and containing %q", err, tc.want)
			}
		})
	}
}

func TestNewLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		p    LossParams
		want string // error substring; "" = no error
	}{
		{"cosine", LossParams{}, ""},
		{"cosine", LossParams{Scale: lossPtr(20.0)}, "parameter scale does not apply"},
		{"cosent", LossParams{Scale: lossPtr(10.0)}, ""},
		{"cosent", LossParams{Symmetric: lossPtr(true)}, "parameter symmetric does not apply"},
		{"cosent", LossParams{Scale: lossPtr(0.0)}, "scale = 0, want a finite number > 0"},
		{"mnrl", LossParams{Scale: lossPtr(5.0), Similarity: "dot", Symmetric: lossPtr(false)}, ""},
		{"mnrl", LossParams{Threshold: lossPtr(0.5)}, "loss mnrl: parameter threshold does not apply"},
		{"mnrl", LossParams{Similarity: "l2"}, `similarity = "l2"`},
		{"mnrl", LossParams{Scale: lossPtr(math.Inf(1))}, "want a finite number > 0"},
		{"multi-similarity", LossParams{Threshold: lossPtr(0.5), Margin: lossPtr(0.05), ScalePos: lossPtr(2.0), ScaleNeg: lossPtr(40.0)}, ""},
		{"multi-similarity", LossParams{Scale: lossPtr(20.0)}, "parameter scale does not apply"},
		{"multi-similarity", LossParams{Similarity: "cos"}, "parameter similarity does not apply"},
		{"multi-similarity", LossParams{ScaleNeg: lossPtr(-1.0)}, "scale_neg = -1"},
		{"multi-similarity", LossParams{Threshold: lossPtr(math.NaN())}, "threshold = NaN"},
		{"triplet", LossParams{}, `unknown loss "triplet"`},
	} {
		l, err := NewLoss(tc.name, tc.p)
		if tc.want == "" {
			if err != nil {
				t.Errorf("NewLoss(%s, %+v): %v", tc.name, tc.p, err)
			} else if l.Name() != tc.name {
				t.Errorf("NewLoss(%s).Name() = %q", tc.name, l.Name())
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewLoss(%s, %+v) error %v, want %q", tc.name, tc.p, err, tc.want)
		}
	}

	// Defaults and specs.
	l, _ := NewLoss("cosent", LossParams{})
	if l.(cosentLoss).scale != 20 || l.Spec() != (LossSpec{MinColumns: 2, MaxColumns: 2, Labels: true}) {
		t.Errorf("cosent: %+v %+v", l, l.Spec())
	}
	l, _ = NewLoss("cosine", LossParams{})
	if l.Spec() != (LossSpec{MinColumns: 2, MaxColumns: 2, Labels: true}) {
		t.Errorf("cosine spec %+v", l.Spec())
	}
	l, _ = NewLoss("mnrl", LossParams{})
	if m := l.(mnrlLoss); m.scale != 20 || m.dot || m.symmetric || l.Spec() != (LossSpec{MinColumns: 2, MaxColumns: -1}) {
		t.Errorf("mnrl: %+v %+v", m, l.Spec())
	}
	l, _ = NewLoss("mnrl", LossParams{Similarity: "cos", Symmetric: lossPtr(true)})
	if m := l.(mnrlLoss); m.dot || !m.symmetric {
		t.Errorf("mnrl cos symmetric: %+v", m)
	}
	l, _ = NewLoss("multi-similarity", LossParams{})
	if m := l.(multiSimilarityLoss); m != (multiSimilarityLoss{threshold: 0.8, margin: 0.1, scalePos: 1, scaleNeg: 60}) ||
		l.Spec() != (LossSpec{MinColumns: 1, MaxColumns: -1, Groups: true}) {
		t.Errorf("multi-similarity: %+v %+v", m, l.Spec())
	}
}

// lossCheckExample runs Compute on a worked example and compares the loss
// and the gradient (want nil: not checked) at 1e-6.
func lossCheckExample(t *testing.T, l Loss, in LossInput, loss float64, grad [][]float64) {
	t.Helper()
	in.Grad = make([][]float32, len(in.Emb))
	for k := range in.Grad {
		in.Grad[k] = make([]float32, in.B*in.D)
	}
	got, err := l.Compute(in)
	if err != nil {
		t.Fatal(err)
	}
	if !lossClose(got, loss, 1e-6, 1e-7) {
		t.Errorf("loss = %.9g, want %.9g", got, loss)
	}
	for k := range grad {
		for j, want := range grad[k] {
			if !lossClose(float64(in.Grad[k][j]), want, 1e-6, 1e-7) {
				t.Errorf("grad[%d][%d] = %.9g, want %.9g", k, j, in.Grad[k][j], want)
			}
		}
	}
}
