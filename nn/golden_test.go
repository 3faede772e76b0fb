package nn

import (
	"encoding/json"
	"os"
	"testing"
)

// Fixtures written by oracle/kernels.py with PyTorch (float32, CPU).
type goldenFile struct {
	LayerNorm struct {
		N, C                        int
		Eps                         float32
		EpsAdd                      float32 `json:"eps_add"`
		X, W, B, Out, Mean, Rstd, R []float32
		OutAdd                      []float32 `json:"out_add"`
	} `json:"layernorm"`
	GELU struct {
		X, Out []float32
	} `json:"gelu"`
	Linear struct {
		N, C, OC     int
		X, W, B, Out []float32
		OutGELU      []float32 `json:"out_gelu"`
	} `json:"linear"`
	Attention           goldenAttention `json:"attention"`
	AttentionSmallHeads goldenAttention `json:"attention_small_heads"`
	Pooling             struct {
		B, T, C                      int
		X, Mask, Mean, L2, CLS, Tanh []float32
	} `json:"pooling"`
}

type goldenAttention struct {
	B, T, C, NH         int
	QKV, Mask, Out, Att []float32
}

func loadGolden(t *testing.T) *goldenFile {
	t.Helper()
	data, err := os.ReadFile("testdata/kernels.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenFile
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("testdata/kernels.json: %v", err)
	}
	if len(g.GELU.X) == 0 || len(g.Attention.Att) == 0 || g.LayerNorm.Eps != 1e-12 || g.LayerNorm.EpsAdd != 1e-5 {
		t.Fatal("testdata/kernels.json: missing cases")
	}
	return &g
}

const gtol = 1e-4 // absolute + relative, against PyTorch

func TestGoldenLayerNorm(t *testing.T) {
	g := loadGolden(t).LayerNorm
	withThreads(t, func(t *testing.T) {
		out, mean, rstd := make([]float32, g.N*g.C), make([]float32, g.N), make([]float32, g.N)
		LayerNorm(out, mean, rstd, g.X, g.W, g.B, g.N, g.C, g.Eps)
		closeTo(t, "LayerNorm", out, g.Out, gtol, gtol)
		closeTo(t, "mean", mean, g.Mean, gtol, gtol)
		closeTo(t, "rstd", rstd, g.Rstd, gtol, gtol)
		goLayerNorm(out, nil, nil, nil, g.X, nil, nil, g.W, g.B, g.N, g.C, g.Eps)
		closeTo(t, "goLayerNorm", out, g.Out, gtol, gtol)
		AddLayerNorm(out, nil, nil, nil, g.X, g.R, g.W, g.B, g.N, g.C, g.EpsAdd)
		closeTo(t, "AddLayerNorm", out, g.OutAdd, gtol, gtol)
	})
}

func TestGoldenGELU(t *testing.T) {
	g := loadGolden(t).GELU
	withThreads(t, func(t *testing.T) {
		out := make([]float32, len(g.X))
		GELU(out, g.X)
		// Tighter than the shared tolerance: the erf approximations differ
		// by a few 1e-7 at most.
		closeTo(t, "GELU", out, g.Out, 2e-6, 1e-6)
		goGELU(out, g.X)
		closeTo(t, "goGELU", out, g.Out, 2e-6, 1e-6)
	})
}

func TestGoldenLinear(t *testing.T) {
	g := loadGolden(t).Linear
	withThreads(t, func(t *testing.T) {
		out := make([]float32, g.N*g.OC)
		Linear(out, g.X, g.W, g.B, g.N, g.C, g.OC)
		closeTo(t, "Linear", out, g.Out, gtol, gtol)
		pre := make([]float32, g.N*g.OC)
		LinearGELU(out, pre, g.X, g.W, g.B, g.N, g.C, g.OC)
		closeTo(t, "LinearGELU", out, g.OutGELU, gtol, gtol)
		closeTo(t, "LinearGELU pre", pre, g.Out, gtol, gtol)
	})
}

func TestGoldenAttention(t *testing.T) {
	gf := loadGolden(t)
	for name, g := range map[string]goldenAttention{"hs32": gf.Attention, "hs4": gf.AttentionSmallHeads} {
		withThreads(t, func(t *testing.T) {
			out, att := make([]float32, g.B*g.T*g.C), make([]float32, g.B*g.NH*g.T*g.T)
			Attention(out, att, g.QKV, g.Mask, g.B, g.T, g.C, g.NH)
			closeTo(t, name+" Attention", out, g.Out, gtol, gtol)
			closeTo(t, name+" att", att, g.Att, gtol, gtol)
			goAttention(out, att, g.QKV, g.Mask, g.B, g.T, g.C, g.NH)
			closeTo(t, name+" goAttention", out, g.Out, gtol, gtol)
			closeTo(t, name+" go att", att, g.Att, gtol, gtol)
		})
	}
}

func TestGoldenPooling(t *testing.T) {
	g := loadGolden(t).Pooling
	mean := make([]float32, g.B*g.C)
	MeanPool(mean, g.X, g.Mask, g.B, g.T, g.C)
	closeTo(t, "MeanPool", mean, g.Mean, gtol, gtol)
	l2 := make([]float32, g.B*g.C)
	L2Normalize(l2, mean, g.B, g.C)
	closeTo(t, "L2Normalize", l2, g.L2, gtol, gtol)
	cls := make([]float32, g.B*g.C)
	CLSPool(cls, g.X, g.B, g.T, g.C)
	closeTo(t, "CLSPool", cls, g.CLS, 0, 0)
	th := make([]float32, len(g.X))
	Tanh(th, g.X)
	closeTo(t, "Tanh", th, g.Tanh, gtol, gtol)
}
