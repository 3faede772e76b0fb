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

type goldenBackward struct {
	Backward struct {
		LayerNorm struct {
			N, C                      int
			Eps                       float32
			X, W, B, Dout, Dx, Dw, Db []float32
		} `json:"layernorm"`
		GELU struct {
			X, Dout, Dx []float32
		} `json:"gelu"`
		Linear struct {
			N, C, OC                  int
			X, W, B, Dout, Dx, Dw, Db []float32
		} `json:"linear"`
		Attention struct {
			B, T, C, NH           int
			QKV, Mask, Dout, DQKV []float32
		} `json:"attention"`
	} `json:"backward"`
}

func loadBackward(t *testing.T) *goldenBackward {
	t.Helper()
	data, err := os.ReadFile("testdata/kernels.json")
	if err != nil {
		t.Fatal(err)
	}
	var g goldenBackward
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatalf("testdata/kernels.json: %v", err)
	}
	if len(g.Backward.Attention.DQKV) == 0 || len(g.Backward.LayerNorm.Dx) == 0 {
		t.Fatal("testdata/kernels.json: missing backward cases")
	}
	return &g
}

func scaled(s []float32, f float32) []float32 {
	o := make([]float32, len(s))
	for i, v := range s {
		o[i] = v * f
	}
	return o
}
