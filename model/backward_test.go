package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// randomEncoder builds a small encoder with weights drawn at std (large
// enough that every path carries gradient).
func randomEncoder(t *testing.T, modelType string, seed uint64) *Encoder {
	t.Helper()
	cfg := Config{ModelType: modelType, VocabSize: 23, HiddenSize: 8, NumHiddenLayers: 2, NumAttentionHeads: 2,
		IntermediateSize: 12, MaxPositionEmbeddings: 16, TypeVocabSize: 2, LayerNormEps: 1e-12, HiddenAct: "gelu",
		PadTokenID: 1, PositionEmbeddingType: "absolute"}
	if err := cfg.validate(); err != nil {
		t.Fatal(err)
	}
	w := &Weights{Layers: make([]Layer, cfg.NumHiddenLayers)}
	r := rand.New(rand.NewPCG(seed, 7))
	for _, p := range w.Params(&cfg) {
		v := make([]float32, p.Size())
		for i := range v {
			x := 0.4 * r.NormFloat64()
			if p.Layer >= 0 && !p.Decay && len(p.HF) == 1 && len(p.Name) > 15 && p.Name[len(p.Name)-15:] == "LayerNorm.weight" {
				x += 1
			}
			v[i] = float32(x)
		}
		*p.Data = v
	}
	return &Encoder{Cfg: cfg, W: w}
}

type fdBatch struct {
	ids, tt []int32
	mask    []float32
	B, T    int
}

func testBatch() fdBatch {
	// Two sequences, the second padded (pad id 1) after 3 tokens.
	return fdBatch{
		ids:  []int32{0, 5, 9, 17, 2, 0, 7, 2, 1, 1},
		tt:   []int32{0, 0, 1, 1, 1, 0, 0, 0, 0, 0},
		mask: []float32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0},
		B:    2, T: 5,
	}
}

// lossOf runs forward and pooling and returns Σ pooled·proj.
func lossOf(t *testing.T, e *Encoder, ws *Workspace, b fdBatch, p Pooling, norm bool, proj []float32) (float64, []float32) {
	t.Helper()
	h, err := e.Forward(ws, b.ids, b.tt, b.mask, b.B, b.T, nil)
	if err != nil {
		t.Fatal(err)
	}
	C := e.Cfg.HiddenSize
	out := make([]float32, b.B*C)
	if err := e.Pool(out, h, b.mask, b.B, b.T, p, norm); err != nil {
		t.Fatal(err)
	}
	var s float64
	for i, v := range out {
		s += float64(v) * float64(proj[i])
	}
	return s, h
}

// TestBackwardFiniteDifferences checks every parameter's gradient (a sample
// of elements per tensor) against central differences of the float32
// forward, for each pooling, with and without normalisation and dropout.
func TestBackwardFiniteDifferences(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		pool Pooling
		norm bool
		drop *Dropout
	}{
		{"bert", PoolMean, true, nil},
		{"bert", PoolCLS, false, nil},
		{"bert", PoolPooler, true, nil},
		{"xlm-roberta", PoolMean, false, nil},
		{"bert", PoolMean, true, &Dropout{Hidden: 0.2, Attention: 0.3, Keys: []uint64{11, 12}}},
	} {
		name := fmt.Sprintf("%s/%s/norm=%v/drop=%v", tc.typ, tc.pool, tc.norm, tc.drop != nil)
		t.Run(name, func(t *testing.T) {
			e := randomEncoder(t, tc.typ, 3)
			b := testBatch()
			C := e.Cfg.HiddenSize
			r := rand.New(rand.NewPCG(5, 5))
			proj := make([]float32, b.B*C)
			for i := range proj {
				proj[i] = float32(r.NormFloat64())
			}
			ws := &Workspace{Save: true, Drop: tc.drop}
			_, h := lossOf(t, e, ws, b, tc.pool, tc.norm, proj)
			g := NewGrads(&e.Cfg, e.W, func(Param) bool { return true })
			dh := make([]float32, len(h))
			if err := e.PoolBackward(dh, g, proj, h, b.mask, b.B, b.T, tc.pool, tc.norm); err != nil {
				t.Fatal(err)
			}
			if err := e.Backward(ws, g, dh); err != nil {
				t.Fatal(err)
			}
			wp, gp := e.W.Params(&e.Cfg), g.Params(&e.Cfg)
			checked := 0
			for i, p := range wp {
				data, grad := *p.Data, *gp[i].Data
				if data == nil {
					continue
				}
				for k := 0; k < 6; k++ {
					j := r.IntN(len(data))
					if p.Name == "embeddings.word_embeddings.weight" || p.Name == "embeddings.position_embeddings.weight" {
						// Rows that the batch uses (and pad rows: zero gradient).
						row := int(b.ids[r.IntN(len(b.ids))])
						if p.Name != "embeddings.word_embeddings.weight" {
							row = r.IntN(b.T + 2)
						}
						j = row*C + r.IntN(C)
					}
					const eps = 2e-3
					orig := data[j]
					data[j] = orig + eps
					lp, _ := lossOf(t, e, &Workspace{Save: true, Drop: tc.drop}, b, tc.pool, tc.norm, proj)
					data[j] = orig - eps
					lm, _ := lossOf(t, e, &Workspace{Save: true, Drop: tc.drop}, b, tc.pool, tc.norm, proj)
					data[j] = orig
					fd := (lp - lm) / (2 * eps)
					an := float64(grad[j])
					if math.Abs(fd-an) > 2e-3+1e-2*math.Abs(an) {
						t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", p.Name, j, an, fd)
					}
					checked++
				}
			}
			if checked < 100 {
				t.Fatalf("only %d elements checked", checked)
			}
		})
	}
}
