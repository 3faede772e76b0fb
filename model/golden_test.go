package model

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/tokenizer"
)

// The golden fixtures are written by oracle/reference.py (PyTorch, op for op
// as transformers' BertModel / XLMRobertaModel) for the checked-in tiny
// models; regenerate them with `sh oracle/make_fixtures.sh`.

const goldenTol = 1e-4

type fixture struct {
	path      string
	texts     []string
	maxLength int
	B, T      int
	ids, tt   []int32
	mask      []float32
	r         *safetensors.Reader
}

func loadFixture(t *testing.T, path string) *fixture {
	t.Helper()
	r, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	f := &fixture{path: path, r: r}
	md := r.Metadata()
	if err := json.Unmarshal([]byte(md["texts"]), &f.texts); err != nil {
		t.Fatalf("%s: texts metadata: %v", path, err)
	}
	if f.maxLength, err = strconv.Atoi(md["max_length"]); err != nil {
		t.Fatalf("%s: max_length: %v", path, err)
	}
	in, _ := r.Info("input_ids")
	f.B, f.T = in.Shape[0], in.Shape[1]
	if f.ids, err = r.Int32("input_ids", nil); err != nil {
		t.Fatal(err)
	}
	if f.tt, err = r.Int32("token_type_ids", nil); err != nil {
		t.Fatal(err)
	}
	m, err := r.Int64("attention_mask", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.mask = make([]float32, len(m))
	for i, v := range m {
		f.mask[i] = float32(v)
	}
	return f
}

func (f *fixture) tensor(t *testing.T, name string) []float32 {
	t.Helper()
	v, err := f.r.Float32(name, nil)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func maxAbsDiff(a, b []float32) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var d float64
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i])-float64(b[i])))
	}
	return d
}

var goldenModels = []string{"tiny-bert", "tiny-xlmr"}

func goldenFixtures(t *testing.T, name string) []string {
	fx, _ := filepath.Glob(filepath.Join("..", "testdata", "models", name, "fixtures", "*.safetensors"))
	if len(fx) < 2 {
		t.Fatalf("%s: fixtures missing", name)
	}
	return fx
}

// TestGoldenLayers runs the encoder on the fixture's token ids and compares
// every hidden state, the poolings and the pooler with PyTorch's.
func TestGoldenLayers(t *testing.T) {
	for _, name := range goldenModels {
		dir := filepath.Join("..", "testdata", "models", name)
		enc, st, err := LoadEncoder(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, fp := range goldenFixtures(t, name) {
			f := loadFixture(t, fp)
			for _, save := range []bool{false, true} {
				ws := &Workspace{Save: save}
				var worst float64
				seen := 0
				last, err := enc.Forward(ws, f.ids, f.tt, f.mask, f.B, f.T, func(l int, h []float32) {
					want := f.tensor(t, fmt.Sprintf("hidden_states.%d", l))
					d := maxAbsDiff(h, want)
					if d > goldenTol {
						t.Errorf("%s save=%v: hidden state %d differs by %g", fp, save, l, d)
					}
					worst = math.Max(worst, d)
					seen++
				})
				if err != nil {
					t.Fatal(err)
				}
				if seen != enc.Cfg.NumHiddenLayers+1 {
					t.Fatalf("hidden callback ran %d times", seen)
				}
				C := enc.Cfg.HiddenSize
				pooled := make([]float32, f.B*C)
				check := func(what string, p Pooling, norm bool, ref string) {
					if err := enc.Pool(pooled, last, f.mask, f.B, f.T, p, norm); err != nil {
						t.Fatal(err)
					}
					d := maxAbsDiff(pooled, f.tensor(t, ref))
					if d > goldenTol {
						t.Errorf("%s: %s differs by %g", fp, what, d)
					}
					worst = math.Max(worst, d)
				}
				check("mean pooling", PoolMean, false, "pooled_mean")
				check("cls pooling", PoolCLS, false, "pooled_cls")
				check("sentence-transformers embedding", st.Pooling, st.Normalize, "embedding")
				if f.r.Has("pooler_output") {
					check("pooler", PoolPooler, false, "pooler_output")
				} else if err := enc.Pool(pooled, last, f.mask, f.B, f.T, PoolPooler, false); err == nil {
					t.Errorf("%s: pooler pooling without pooler weights should fail", name)
				}
				// No token type ids means all type 0, as in the fixture.
				keep := append([]float32(nil), last...)
				again, err := enc.Forward(ws, f.ids, nil, f.mask, f.B, f.T, nil)
				if err != nil {
					t.Fatal(err)
				}
				if d := maxAbsDiff(again, keep); d != 0 {
					t.Errorf("%s: nil token types differ by %g", fp, d)
				}
				if !save {
					t.Logf("%s %s: B=%d T=%d max |go - torch| = %.2g", name, filepath.Base(fp), f.B, f.T, worst)
				}
			}
		}
	}
}

// TestGoldenEncode checks that the Go tokenizer gives the fixture's ids
// (produced by sentencepiece / the reference WordPiece) and that Encode,
// with its length-sorted batching, gives the fixture's embeddings.
func TestGoldenEncode(t *testing.T) {
	ctx := context.Background()
	for _, name := range goldenModels {
		m, err := Load(filepath.Join("..", "testdata", "models", name))
		if err != nil {
			t.Fatal(err)
		}
		if m.MaxLength != 64 {
			t.Errorf("%s: MaxLength %d, want sentence_bert_config's 64", name, m.MaxLength)
		}
		for _, fp := range goldenFixtures(t, name) {
			f := loadFixture(t, fp)
			m.MaxLength = f.maxLength
			encs, err := m.Tokenize(f.texts, "")
			if err != nil {
				t.Fatal(err)
			}
			for b, e := range encs {
				var want []int32
				for j := 0; j < f.T; j++ {
					if f.mask[b*f.T+j] == 1 {
						want = append(want, f.ids[b*f.T+j])
					}
				}
				if fmt.Sprint(e.IDs) != fmt.Sprint(want) {
					t.Errorf("%s text %d %q: ids %v, reference %v", fp, b, f.texts[b], e.IDs, want)
				}
			}
			want := f.tensor(t, "embedding")
			D := m.Dim()
			for _, bs := range []int{32, 2, 1} {
				m.BatchSize = bs
				for _, sorted := range []bool{true, false} {
					m.SortByLength = sorted
					got, err := m.Encode(ctx, f.texts)
					if err != nil {
						t.Fatal(err)
					}
					var d float64
					for i, v := range got {
						d = math.Max(d, maxAbsDiff(v, want[i*D:(i+1)*D]))
					}
					if d > goldenTol {
						t.Errorf("%s batch %d sorted %v: embeddings differ by %g", fp, bs, sorted, d)
					}
				}
			}
		}
	}
}

// TestPadding checks that the padded batch matches the tokenizer's own Pad.
func TestPadding(t *testing.T) {
	m, err := Load(filepath.Join("..", "testdata", "models", "tiny-xlmr"))
	if err != nil {
		t.Fatal(err)
	}
	b := m.Tok.Pad([]tokenizer.Encoding{m.Tok.Encode("a", 8), m.Tok.Encode("신경계 감각기관용 의약품", 8)})
	if b.IDs[1*b.T-1] != m.Tok.PadID() || b.Mask[b.T-1] != 0 || int(m.Tok.PadID()) != m.Enc.Cfg.PadTokenID {
		t.Fatalf("padding: %v %v pad %d cfg %d", b.IDs, b.Mask, m.Tok.PadID(), m.Enc.Cfg.PadTokenID)
	}
}
