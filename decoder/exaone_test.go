package decoder_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kormed/kormed/decoder"
	"github.com/kormed/kormed/testmodel"
)

// These tests pin the EXAONE 3.x behaviour checked against LG AI Research's
// modeling code: the LG-authored port of modeling_exaone.py and
// configuration_exaone.py in huggingface/transformers
// (src/transformers/models/exaone/, commit 12a9bfaa562f), the
// configuration_exaone.py copies of the EXAONE-3.0 and -3.5 Hub
// repositories (as vendored by vLLM and SGLang), and vLLM's and mlx-lm's
// re-implementations. oracle/exaone_remote_check.py runs LG's own files
// against the fixtures where transformers is installed.

// exaone30Config is EXAONE-3.0-7.8B-Instruct's configuration as transformers
// 4.45.2 prints the ExaoneConfig loaded from its config.json (every key but
// _name_or_path; auto_map without the Hub prefix the loader adds).
const exaone30Config = `{
  "activation_function": "silu",
  "architectures": ["ExaoneForCausalLM"],
  "attention_dropout": 0.0,
  "auto_map": {
    "AutoConfig": "configuration_exaone.ExaoneConfig",
    "AutoModelForCausalLM": "modeling_exaone.ExaoneForCausalLM",
    "AutoModelForSequenceClassification": "modeling_exaone.ExaoneForSequenceClassification"
  },
  "bos_token_id": 1,
  "embed_dropout": 0.0,
  "eos_token_id": 361,
  "hidden_size": 4096,
  "initializer_range": 0.02,
  "intermediate_size": 14336,
  "layer_norm_epsilon": 1e-05,
  "max_position_embeddings": 4096,
  "model_type": "exaone",
  "num_attention_heads": 32,
  "num_key_value_heads": 8,
  "num_layers": 32,
  "pad_token_id": 0,
  "rope_scaling": null,
  "rope_theta": 500000.0,
  "tie_word_embeddings": false,
  "torch_dtype": "bfloat16",
  "transformers_version": "4.45.2",
  "use_cache": true,
  "vocab_size": 102400
}`

// The rotary inverse frequencies (float32 bits) of transformers'
// modeling_rope_utils, which LG's ExaoneRotaryEmbedding calls
// (ROPE_INIT_FUNCTIONS[rope_type](config)): _compute_default_rope_parameters,
// 1/(theta ** (arange(0, d, 2).float() / d)), and _compute_llama3_parameters
// on top of it, evaluated with torch 1.13 in float32.
var (
	// EXAONE-3.0-7.8B: theta 500000, head_dim 4096/32 = 128, no scaling.
	invFreqExaone30 = []uint32{
		0x3f800000, 0x3f508ac1, 0x3f29e1c6, 0x3f0a6384, 0x3ee177bc, 0x3eb7ab7d, 0x3e959ee3, 0x3e73c461,
		0x3e4693b0, 0x3e21c3a0, 0x3e03c6a0, 0x3dd6b19c, 0x3daee4ad, 0x3d8e7898, 0x3d681e67, 0x3d3d1684,
		0x3d1a08c8, 0x3cfaf53f, 0x3ccc6f49, 0x3ca68939, 0x3c87a9c3, 0x3c5d06ec, 0x3c340d6d, 0x3c12ac7f,
		0x3beef74f, 0x3bc2aa76, 0x3b9e9402, 0x3b812e35, 0x3b527720, 0x3b2b72dc, 0x3b0baa41, 0x3ae38c10,
		0x3ab95d21, 0x3a970023, 0x3a7603ea, 0x3a486886, 0x3a23418d, 0x3a04fdbf, 0x39d8ac81, 0x39b08199,
		0x398fc8f8, 0x396a426f, 0x393ed4f4, 0x391b7475, 0x38fd45c3, 0x38ce51f5, 0x38a8126b, 0x3888ea0f,
		0x385f10c4, 0x3835b687, 0x381406cb, 0x37f12b80, 0x37c47610, 0x37a00a69, 0x37825f34, 0x37546808,
		0x372d07a7, 0x370cf400, 0x36e5a54d, 0x36bb12c7, 0x369864a7, 0x367848c2, 0x364a41b0, 0x3624c2ff,
	}
	// EXAONE-3.5-2.4B: theta 1e6, head_dim 2560/32 = 80, llama3 (factor 8,
	// low 1, high 4, original_max_position_embeddings 8192).
	invFreqExaone35 = []uint32{
		0x3f800000, 0x3f353bef, 0x3f004dce, 0x3eb5aa1a, 0x3e809bcc, 0x3e361887, 0x3e00e9f9, 0x3db68738,
		0x3d813856, 0x3d36f62d, 0x3d0186e3, 0x3cb76562, 0x3c81d59d, 0x3c37d4e0, 0x3c02248b, 0x3bb8449c,
		0x3b8273a6, 0x3b272ce7, 0x3a9ad7b8, 0x3a092fae, 0x395ffbd9, 0x38b99574, 0x38836219, 0x383a0641,
		0x3803b1f5, 0x37ba7753, 0x37840208, 0x373ae8a9, 0x37045245, 0x36bb5a45, 0x3684a2b2, 0x363bcc30,
		0x3604f351, 0x35bc3e56, 0x35854420, 0x353cb0c1, 0x35059528, 0x34bd2372, 0x3485e65a, 0x343d9668,
	}
	// kormed's tiny exaone (testmodel shape tiny): theta 10000, head_dim 16,
	// llama3 with original_max_position_embeddings 32.
	invFreqTiny = []uint32{0x3f800000, 0x3dc447c0, 0x3c4ccccd, 0x3b8186e3, 0x3aa3d70a, 0x39cf3e38, 0x3903126f, 0x3825cb60}
)

// checkInvFreq compares c.InvFreq() with float32 bit patterns: they are
// equal bit for bit.
func checkInvFreq(t *testing.T, c *decoder.Config, want []uint32) {
	t.Helper()
	got := c.InvFreq()
	if len(got) != len(want) {
		t.Fatalf("%d frequencies, want %d", len(got), len(want))
	}
	for i, w := range want {
		d := int(int64(math.Float32bits(got[i])) - int64(w))
		if d < 0 {
			d = -d
		}
		if d != 0 {
			t.Errorf("inv_freq[%d] = %g, transformers %g (%d ulp)", i, got[i], math.Float32frombits(w), d)
		}
	}
}

func TestExaone30Config(t *testing.T) {
	c, err := decoder.ParseConfig([]byte(exaone30Config))
	if err != nil {
		t.Fatal(err)
	}
	want := decoder.Config{ModelType: "exaone", HiddenSize: 4096, IntermediateSize: 14336, NumLayers: 32, NumHeads: 32, NumKVHeads: 8,
		HeadDim: 128, RMSNormEps: 1e-5, RopeTheta: 500000, MaxPositions: 4096, VocabSize: 102400, BOSTokenID: 1,
		EOSTokenIDs: []int{361}, PadTokenID: 0, TieEmbeddings: false}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got  %+v\nwant %+v", *c, want)
	}
	checkInvFreq(t, c, invFreqExaone30)
}

func TestExaone35InvFreq(t *testing.T) {
	c, err := decoder.ParseConfig([]byte(exaone24B))
	if err != nil {
		t.Fatal(err)
	}
	checkInvFreq(t, c, invFreqExaone35)

	cm, err := testmodel.DecoderConfig(testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cm)
	if c, err = decoder.ParseConfig(b); err != nil {
		t.Fatal(err)
	}
	checkInvFreq(t, c, invFreqTiny)
}

// TestExaoneConfigDefaults: ExaoneConfig's defaults where config.json
// leaves a key out.
func TestExaoneConfigDefaults(t *testing.T) {
	c, err := decoder.ParseConfig([]byte(`{"model_type": "exaone"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := decoder.Config{ModelType: "exaone", HiddenSize: 2048, IntermediateSize: 8192, NumLayers: 32, NumHeads: 32, NumKVHeads: 32,
		HeadDim: 64, RMSNormEps: 1e-5, RopeTheta: 10000, MaxPositions: 2048, VocabSize: 102400, BOSTokenID: 0,
		EOSTokenIDs: []int{2}, PadTokenID: -1, TieEmbeddings: true}
	if !reflect.DeepEqual(*c, want) {
		t.Fatalf("got  %+v\nwant %+v", *c, want)
	}

	base := `"model_type": "exaone", "hidden_size": 64, "num_attention_heads": 4, "vocab_size": 100`
	parse := func(extra string) *decoder.Config {
		t.Helper()
		c, err := decoder.ParseConfig([]byte("{" + base + extra + "}"))
		if err != nil {
			t.Fatalf("%s: %v", extra, err)
		}
		return c
	}
	// num_hidden_layers is ExaoneConfig's alias of num_layers.
	if c := parse(`, "num_hidden_layers": 3`); c.NumLayers != 3 {
		t.Errorf("num_hidden_layers 3: %d layers", c.NumLayers)
	}
	if c := parse(`, "num_layers": 5, "num_hidden_layers": 3`); c.NumLayers != 5 {
		t.Errorf("num_layers 5: %d layers", c.NumLayers)
	}
	// "if intermediate_size: … else: hidden_size * 4".
	for _, v := range []string{`0`, `null`} {
		if c := parse(`, "intermediate_size": ` + v); c.IntermediateSize != 256 {
			t.Errorf("intermediate_size %s: %d, want 256", v, c.IntermediateSize)
		}
	}
	// Explicit nulls are no id; explicit values win.
	if c := parse(`, "bos_token_id": null, "eos_token_id": null`); c.BOSTokenID != -1 || c.EOSTokenIDs != nil {
		t.Errorf("null ids: bos %d eos %v", c.BOSTokenID, c.EOSTokenIDs)
	}
	if c := parse(`, "bos_token_id": 1, "eos_token_id": [361, 2], "pad_token_id": 0, "tie_word_embeddings": false`); c.BOSTokenID != 1 ||
		!reflect.DeepEqual(c.EOSTokenIDs, []int{361, 2}) || c.PadTokenID != 0 || c.TieEmbeddings {
		t.Errorf("explicit ids: %+v", *c)
	}
	// A head_dim that agrees with hidden_size/num_attention_heads is fine.
	if c := parse(`, "head_dim": 16`); c.HeadDim != 16 {
		t.Errorf("head_dim %d", c.HeadDim)
	}
	for extra, msg := range map[string]string{
		// ExaoneSelfAttention: head_dim = hidden_size // num_attention_heads.
		`, "head_dim": 8`:                     "head_dim 8",
		`, "hidden_size": 66, "head_dim": 16`: "not divisible",
		// nn.Linear(…, bias=False) everywhere.
		`, "attention_bias": true`: "no projection biases",
		`, "mlp_bias": true`:       "no projection biases",
		// ACT2FN[activation_function]; only silu makes the SwiGLU we run.
		`, "activation_function": "gelu"`: "activation",
		// hidden_act is Llama's key: EXAONE reads activation_function.
		`, "hidden_act": "gelu"`:   "",
		`, "bos_token_id": [1, 2]`: "bos_token_id",
	} {
		_, err := decoder.ParseConfig([]byte("{" + base + extra + "}"))
		switch {
		case msg == "" && err != nil:
			t.Errorf("%s: %v", extra, err)
		case msg != "" && (err == nil || !strings.Contains(err.Error(), msg)):
			t.Errorf("%s: error %v, want one with %q", extra, err, msg)
		}
	}
}

// TestRopeParametersTheta: transformers ≥ 5 writes rope_theta inside
// rope_parameters.
func TestRopeParametersTheta(t *testing.T) {
	c, err := decoder.ParseConfig([]byte(`{"model_type": "llama", "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
		"num_attention_heads": 4, "vocab_size": 100, "rope_parameters": {"rope_type": "default", "rope_theta": 500000.0}}`))
	if err != nil {
		t.Fatal(err)
	}
	if c.RopeTheta != 500000 || c.RopeScaling != nil {
		t.Fatalf("rope_theta %g, scaling %+v", c.RopeTheta, c.RopeScaling)
	}
}

// TestExaoneTiedByDefault: an EXAONE folder whose config.json has no
// tie_word_embeddings key (ExaoneConfig's default: true) and no
// lm_head.weight loads with the LM head tied to transformer.wte.
func TestExaoneTiedByDefault(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "m")
	if err := testmodel.WriteDecoder(dir, testmodel.DecoderOptions{Arch: "exaone", Shape: "tiny", Seed: 4, Tie: "true", Layers: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "config.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cfg map[string]any
	if err := json.Unmarshal(b, &cfg); err != nil {
		t.Fatal(err)
	}
	delete(cfg, "tie_word_embeddings")
	if b, err = json.Marshal(cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := decoder.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Cfg.TieEmbeddings || &m.W.LMHead[0] != &m.W.Embed[0] {
		t.Fatal("LM head not tied to the embedding")
	}
}
