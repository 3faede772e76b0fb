package gguf

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

// writeTiny writes a tiny random decoder of arch into a temporary folder.
func writeTiny(t *testing.T, o testmodel.DecoderOptions) string {
	t.Helper()
	dir := t.TempDir()
	if o.Shape == "" {
		o.Shape = "tiny"
	}
	if err := testmodel.WriteDecoder(dir, o); err != nil {
		t.Fatal(err)
	}
	return dir
}

// dequantized writes, beside the exported model's folder, a Hugging Face
// folder whose weights are the GGUF file's values (decoded and, for
// llama, q and k un-permuted), so that kormed runs what llama.cpp runs.
func dequantized(t *testing.T, src, path string) string {
	t.Helper()
	cfg, err := decoder.LoadConfig(src)
	if err != nil {
		t.Fatal(err)
	}
	a := archs[cfg.ModelType]
	f, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hf := map[string]string{"token_embd.weight": a.embed + ".weight", "output_norm.weight": a.norm + ".weight", "output.weight": a.head + ".weight"}
	for l := 0; l < cfg.NumLayers; l++ {
		for g, h := range map[string]string{"attn_norm": a.attnNorm, "attn_q": a.q, "attn_k": a.k, "attn_v": a.v, "attn_output": a.o,
			"ffn_norm": a.mlpNorm, "ffn_gate": a.gate, "ffn_up": a.up, "ffn_down": a.down} {
			hf[fmt.Sprintf("blk.%d.%s.weight", l, g)] = fmt.Sprintf(a.layer, l) + h + ".weight"
		}
	}
	var ts []safetensors.Tensor
	for _, ti := range f.Tensors {
		if ti.Name == "rope_freqs.weight" {
			continue
		}
		v, _, err := f.Float32(ti.Name)
		if err != nil {
			t.Fatal(err)
		}
		heads := 0
		if a.permute && filepath.Ext(ti.Name[:len(ti.Name)-len(".weight")]) == ".attn_q" {
			heads = cfg.NumHeads
		} else if a.permute && filepath.Ext(ti.Name[:len(ti.Name)-len(".weight")]) == ".attn_k" {
			heads = cfg.NumKVHeads
		}
		if heads > 0 {
			v = unpermuteRows(v, heads, ti.Shape())
		}
		ts = append(ts, safetensors.Float32s(hf[ti.Name], ti.Shape(), v))
	}
	dir := t.TempDir()
	for _, n := range []string{"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := safetensors.Write(filepath.Join(dir, "model.safetensors"), ts, nil); err != nil {
		t.Fatal(err)
	}
	return dir
}

// unpermuteRows undoes permuteRows.
func unpermuteRows(v []float32, heads int, shape []int) []float32 {
	out, in := shape[0], shape[1]
	hd := out / heads
	p := make([]float32, len(v))
	for h := 0; h < heads; h++ {
		for j := 0; j < 2; j++ {
			for i := 0; i < hd/2; i++ {
				dst := (h*hd + j*hd/2 + i) * in
				src := (h*hd + 2*i + j) * in
				copy(p[dst:dst+in], v[src:src+in])
			}
		}
	}
	return p
}

func TestExport(t *testing.T) {
	for _, c := range []struct {
		arch, tie string
		typ       Type
	}{{"llama", "", F32}, {"llama", "true", Q4_0}, {"exaone", "", Q8_0}, {"exaone", "false", F16}} {
		t.Run(c.arch+"-"+c.typ.String(), func(t *testing.T) {
			src := writeTiny(t, testmodel.DecoderOptions{Arch: c.arch, Seed: 3, Tie: c.tie})
			out := filepath.Join(t.TempDir(), "m.gguf")
			if err := Export(src, out, Options{Type: c.typ}); err != nil {
				t.Fatal(err)
			}
			f, err := Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			cfg, _ := decoder.LoadConfig(src)
			wantKV := map[string]any{
				"general.architecture": c.arch, "general.file_type": fileType[c.typ],
				c.arch + ".context_length": uint32(256), c.arch + ".embedding_length": uint32(64),
				c.arch + ".block_count": uint32(2), c.arch + ".feed_forward_length": uint32(160),
				c.arch + ".attention.head_count": uint32(4), c.arch + ".attention.head_count_kv": uint32(2),
				c.arch + ".rope.freq_base": float32(10000), c.arch + ".attention.layer_norm_rms_epsilon": float32(1e-5),
				c.arch + ".rope.dimension_count": uint32(16), c.arch + ".vocab_size": uint32(512),
				"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-2",
				"tokenizer.ggml.bos_token_id": uint32(1), "tokenizer.ggml.eos_token_id": uint32(2),
				"tokenizer.ggml.padding_token_id": uint32(0), "tokenizer.ggml.add_bos_token": false,
				"tokenizer.ggml.merges": []string{},
			}
			for k, want := range wantKV {
				if got, ok := f.Get(k); !ok || !reflect.DeepEqual(got, want) {
					t.Errorf("%s = %v (%T), want %v (%T)", k, got, got, want, want)
				}
			}
			toks, _ := f.Get("tokenizer.ggml.tokens")
			types, _ := f.Get("tokenizer.ggml.token_type")
			tl, _ := toks.([]string)
			tt, _ := types.([]int32)
			if len(tl) != 512 || len(tt) != 512 || tl[1] != "[BOS]" || tt[1] != tokenControl || tl[4] != "Ā" || tt[4] != tokenNormal ||
				tl[511] != "[PAD511]" || tt[511] != tokenUnused {
				t.Errorf("tokens: %d, %d types; [1] %q %d, [4] %q %d, [511] %q %d", len(tl), len(tt), tl[1], tt[1], tl[4], tt[4], tl[511], tt[511])
			}
			if tmpl, _ := f.Get("tokenizer.chat_template"); tmpl == "" || tmpl == nil {
				t.Error("no tokenizer.chat_template")
			}
			// Names, shapes and types.
			want := map[string][]int{"rope_freqs.weight": {8}, "token_embd.weight": {512, 64}, "output_norm.weight": {64}}
			for l := 0; l < 2; l++ {
				for n, s := range map[string][]int{"attn_norm": {64}, "attn_q": {64, 64}, "attn_k": {32, 64}, "attn_v": {32, 64},
					"attn_output": {64, 64}, "ffn_norm": {64}, "ffn_gate": {160, 64}, "ffn_up": {160, 64}, "ffn_down": {64, 160}} {
					want[fmt.Sprintf("blk.%d.%s.weight", l, n)] = s
				}
			}
			if !cfg.TieEmbeddings {
				want["output.weight"] = []int{512, 64}
			}
			if len(f.Tensors) != len(want) {
				t.Errorf("%d tensors, want %d", len(f.Tensors), len(want))
			}
			for _, ti := range f.Tensors {
				s, ok := want[ti.Name]
				if !ok || !reflect.DeepEqual(ti.Shape(), s) {
					t.Errorf("tensor %s: shape %v, want %v", ti.Name, ti.Shape(), s)
				}
				wt := c.typ
				switch {
				case len(s) == 1:
					wt = F32
				case c.typ == Q4_0 && (ti.Name == "output.weight" || ti.Name == "token_embd.weight" && cfg.TieEmbeddings):
					wt = Q8_0
				}
				if ti.Type != wt {
					t.Errorf("tensor %s: type %v, want %v", ti.Name, ti.Type, wt)
				}
			}
			// Values: the rope factors, and the weights back through
			// dequantized (un-permuted) against the source.
			rf, _, _ := f.Float32("rope_freqs.weight")
			if rf[0] != 1 || rf[7] != 8 {
				t.Errorf("rope_freqs %v: want 1 first (high frequency), 8 last", rf)
			}
			if c.typ != F32 {
				return
			}
			r, _ := safetensors.OpenDir(src)
			defer r.Close()
			back, _ := safetensors.OpenDir(dequantized(t, src, out))
			defer back.Close()
			for _, n := range r.Names() {
				in, _ := r.Info(n)
				a, _ := r.Float32(n, in.Shape)
				b, err := back.Float32(n, in.Shape)
				if err != nil || !reflect.DeepEqual(a, b) {
					t.Errorf("%s: not the same values back (%v)", n, err)
				}
			}
		})
	}
}

// TestPermuteRows checks the q/k row order on one head of 4 rows: HF's
// rotate_half pairs (0,2) and (1,3); ggml's rope pairs (0,1) and (2,3).
func TestPermuteRows(t *testing.T) {
	v := []float32{0, 1, 2, 3, 10, 11, 12, 13} // 2 heads of head_dim 4, in = 1
	got := permuteRows(v, 2, []int{8})
	if want := []float32{0, 2, 1, 3, 10, 12, 11, 13}; !reflect.DeepEqual(got, want) {
		t.Errorf("permuteRows %v, want %v", got, want)
	}
	if back := unpermuteRows(got, 2, []int{8, 1}); !reflect.DeepEqual(back, v) {
		t.Errorf("unpermuteRows %v, want %v", back, v)
	}
}

func TestDetectPre(t *testing.T) {
	for name, want := range map[string]string{"gpt2": "gpt-2", "llama3": "llama-bpe", "exaone": "exaone"} {
		b, err := os.ReadFile(filepath.Join("..", "tokenizer", "testdata", "bpe", name, "tokenizer.json"))
		if err != nil {
			t.Fatal(err)
		}
		var tk hfTokenizer
		if err := json.Unmarshal(b, &tk); err != nil {
			t.Fatal(err)
		}
		if got, err := detectPre(tk.PreTokenizer); got != want || err != nil {
			t.Errorf("%s: %q, %v; want %q", name, got, err, want)
		}
		if _, err := parseMerges(tk.Model.Merges); err != nil {
			t.Errorf("%s merges: %v", name, err)
		}
	}
}
