package nn

import (
	"encoding/json"
	"os"
	"testing"
)

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

func TestGoldenLayerNormBackward(t *testing.T) {
	g := loadBackward(t).Backward.LayerNorm
	withThreads(t, func(t *testing.T) {
		out, mean, rstd := make([]float32, g.N*g.C), make([]float32, g.N), make([]float32, g.N)
		LayerNorm(out, mean, rstd, g.X, g.W, g.B, g.N, g.C, g.Eps)
		dx, dw, db := make([]float32, g.N*g.C), make([]float32, g.C), make([]float32, g.C)
		LayerNormBackward(dx, dw, db, g.Dout, g.X, g.W, mean, rstd, g.N, g.C)
		closeTo(t, "dx", dx, g.Dx, gtol, gtol)
		closeTo(t, "dw", dw, g.Dw, gtol, gtol)
		closeTo(t, "db", db, g.Db, gtol, gtol)
		// Gradients accumulate.
		LayerNormBackward(dx, dw, db, g.Dout, g.X, g.W, mean, rstd, g.N, g.C)
		closeTo(t, "2·db", db, scaled(g.Db, 2), gtol, gtol)
		closeTo(t, "2·dx", dx, scaled(g.Dx, 2), gtol, gtol)
	})
}

func scaled(s []float32, f float32) []float32 {
	o := make([]float32, len(s))
	for i, v := range s {
		o[i] = v * f
	}
	return o
}

func TestGoldenGELUBackward(t *testing.T) {
	g := loadBackward(t).Backward.GELU
	dx := make([]float32, len(g.X))
	GELUBackward(dx, g.X, g.Dout)
	closeTo(t, "GELU dx", dx, g.Dx, gtol, gtol)
}

func TestGoldenLinearBackward(t *testing.T) {
	g := loadBackward(t).Backward.Linear
	dx, dw, db := make([]float32, g.N*g.C), make([]float32, g.OC*g.C), make([]float32, g.OC)
	LinearBackward(dx, dw, db, g.Dout, g.X, g.W, g.N, g.C, g.OC)
	closeTo(t, "Linear dx", dx, g.Dx, gtol, gtol)
	closeTo(t, "Linear dw", dw, g.Dw, gtol, gtol)
	closeTo(t, "Linear db", db, g.Db, gtol, gtol)
}

func TestGoldenAttentionBackward(t *testing.T) {
	g := loadBackward(t).Backward.Attention
	withThreads(t, func(t *testing.T) {
		out, att := make([]float32, g.B*g.T*g.C), make([]float32, g.B*g.NH*g.T*g.T)
		Attention(out, att, g.QKV, g.Mask, g.B, g.T, g.C, g.NH)
		dqkv := make([]float32, len(g.QKV))
		AttentionBackward(dqkv, g.Dout, g.QKV, att, g.B, g.T, g.C, g.NH)
		closeTo(t, "dqkv", dqkv, g.DQKV, gtol, gtol)
	})
}
