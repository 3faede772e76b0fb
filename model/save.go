package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"

	"github.com/kormed/kormed/atomicfile"
	"github.com/kormed/kormed/nn"
	"github.com/kormed/kormed/safetensors"
)

// SaveOptions describe the model card (README.md) that Save writes. All
// fields are optional.
type SaveOptions struct {
	// Name titles the card and is the id its usage examples load
	// (SentenceTransformer("Name")); default the folder's base name.
	Name string
	// BaseModel is the Hugging Face id of the model fine-tuned from
	// (YAML base_model), e.g. "intfloat/multilingual-e5-small".
	BaseModel string
	// Language is the ISO 639-1 code of the training data ("ko").
	Language string
	// License is a Hub license id ("mit", "apache-2.0").
	License string
	// Recipe is free markdown describing the training: stages, losses,
	// hyper-parameters.
	Recipe string
	// Data describes each training data source, with its attribution
	// (one markdown list item each).
	Data []string
	// Datasets are Hub dataset ids for the YAML datasets field.
	Datasets []string
	// Metrics are evaluation results, shown as a table.
	Metrics []CardMetric
	// Tags are added to the card's tags after sentence-transformers'
	// defaults and "kormed".
	Tags []string
}

// CardMetric is one evaluation result of the model card.
type CardMetric struct {
	Dataset, Name string // e.g. "drugbench test", "nDCG@10"
	Value         float64
}

// Save writes the model to folder dir as a complete sentence-transformers
// model, which SentenceTransformer(dir), transformers' AutoModel and
// AutoTokenizer and kormed's Load read unchanged:
//
//	config.json                       the source's config.json, every key kept, architecture fields
//	                                  from Enc.Cfg, architectures BertModel/XLMRobertaModel, float32
//	model.safetensors                 the encoder weights under BertModel's names, F32 (Weights.Tensors)
//	tokenizer.json                    the source's, byte for byte
//	tokenizer_config.json             the source's, else generated (TokenizerConfig)
//	special_tokens_map.json           the source's, else generated
//	vocab.txt, sentencepiece.bpe.model, … the source's other tokenizer files, byte for byte
//	                                  (added_tokens.json, merges.txt, vocab.json, vocab.txt, *.model)
//	modules.json, 1_Pooling/config.json, 2_Normalize/ (when Normalize),
//	sentence_bert_config.json,
//	config_sentence_transformers.json Pooling, Normalize, MaxLength and the prefixes as prompts
//	                                  "query", "document" and "passage" (WriteSTConfig)
//	README.md                         the model card (o)
//
// The folder is built next to dir and then renamed into place: an existing
// dir (an empty folder or a model folder, one holding config.json or
// modules.json; anything else is refused) is replaced only once the new
// one is complete, and on any error dir is left as it was.
//
// The model must come from Load (Save writes back its tokenizer files);
// pooling "pooler" has no sentence-transformers module and is refused.
func (m *Model) Save(dir string, o SaveOptions) error {
	if m.Enc == nil || m.Enc.W == nil {
		return fmt.Errorf("save %s: model has no encoder weights", dir)
	}
	if m.tokJSON == nil {
		return fmt.Errorf("save %s: model has no tokenizer.json to write (save models read by model.Load)", dir)
	}
	cfg := &m.Enc.Cfg
	if m.MaxLength <= 0 || m.MaxLength > cfg.MaxTokens() {
		return fmt.Errorf("save %s: max length %d outside 1..%d (the model's positions)", dir, m.MaxLength, cfg.MaxTokens())
	}
	cfgJSON, err := cfg.savedJSON()
	if err != nil {
		return fmt.Errorf("save %s: config.json: %w", dir, err)
	}
	tokCfg, tokSpecial := m.tokConfig, m.tokSpecial
	if tokCfg == nil || tokSpecial == nil {
		c, s, err := TokenizerConfig(m.tokJSON, m.MaxLength)
		if err != nil {
			return fmt.Errorf("save %s: %w", dir, err)
		}
		if tokCfg == nil {
			tokCfg = c
		}
		if tokSpecial == nil {
			tokSpecial = s
		}
	}
	st := &STConfig{
		Pooling:      m.Pooling,
		Normalize:    m.Normalize,
		MaxSeqLength: m.MaxLength,
		// sentence-transformers ≥ 5 starts from the prompts {"query": "",
		// "document": ""} and its encode_document takes "document" before
		// "passage", so the passage prefix goes under both names.
		Prompts: map[string]string{"query": m.QueryPrefix, "document": m.PassagePrefix, "passage": m.PassagePrefix},
	}
	stf, err := stFiles(st, m.Dim())
	if err != nil {
		return fmt.Errorf("save %s: %w", dir, err)
	}
	if o.Name == "" {
		o.Name = filepath.Base(filepath.Clean(dir))
	}
	files := append([]namedFile{
		{"config.json", cfgJSON},
		{"tokenizer.json", m.tokJSON},
		{"tokenizer_config.json", tokCfg},
		{"special_tokens_map.json", tokSpecial},
		{"README.md", m.card(o)},
	}, m.tokOther...)
	files = append(files, stf...)
	tensors := m.Enc.W.Tensors(cfg)
	return ReplaceDir(dir, func(tmp string) error {
		if err := writeFiles(tmp, files); err != nil {
			return err
		}
		return safetensors.Write(filepath.Join(tmp, "model.safetensors"), tensors, map[string]string{"format": "pt"})
	})
}

// Tensors returns the encoder's weights as transformers' BertModel and
// XLMRobertaModel save_pretrained name and lay them out: no prefix,
// PyTorch's [out,in] Linear weights, query, key and value apart, F32,
// sorted by name. It undoes LoadWeights, so LoadWeights(Tensors(w)) == w
// bit for bit. Tensors whose layout is unchanged share w's slices.
//
// For a 1-layer model with hidden size 4 and FFN 8 the block's tensors are
// encoder.layer.0.attention.self.{query,key,value}.{weight [4,4],bias [4]},
// encoder.layer.0.attention.output.dense.weight [4,4], …,
// encoder.layer.0.intermediate.dense.weight [8,4] and
// encoder.layer.0.output.dense.weight [4,8].
func (w *Weights) Tensors(cfg *Config) []safetensors.Tensor {
	C, F := cfg.HiddenSize, cfg.IntermediateSize
	var ts []safetensors.Tensor
	add := func(name string, v []float32, shape ...int) {
		ts = append(ts, safetensors.Float32s(name, shape, v))
	}
	add("embeddings.word_embeddings.weight", w.WordEmb, cfg.VocabSize, C)
	add("embeddings.position_embeddings.weight", w.PosEmb, cfg.MaxPositionEmbeddings, C)
	add("embeddings.token_type_embeddings.weight", w.TypeEmb, cfg.TypeVocabSize, C)
	add("embeddings.LayerNorm.weight", w.EmbLNW, C)
	add("embeddings.LayerNorm.bias", w.EmbLNB, C)
	for l := range w.Layers {
		L := &w.Layers[l]
		p := fmt.Sprintf("encoder.layer.%d.", l)
		qkv := nn.TransposeWeight(L.QKVWT, C, 3*C) // [3C,C]: query, key, value rows
		for i, n := range []string{"query", "key", "value"} {
			add(p+"attention.self."+n+".weight", qkv[i*C*C:(i+1)*C*C], C, C)
			add(p+"attention.self."+n+".bias", L.QKVB[i*C:(i+1)*C], C)
		}
		add(p+"attention.output.dense.weight", nn.TransposeWeight(L.AttnOutWT, C, C), C, C)
		add(p+"attention.output.dense.bias", L.AttnOutB, C)
		add(p+"attention.output.LayerNorm.weight", L.AttnLNW, C)
		add(p+"attention.output.LayerNorm.bias", L.AttnLNB, C)
		add(p+"intermediate.dense.weight", nn.TransposeWeight(L.InterWT, C, F), F, C)
		add(p+"intermediate.dense.bias", L.InterB, F)
		add(p+"output.dense.weight", nn.TransposeWeight(L.OutWT, F, C), C, F)
		add(p+"output.dense.bias", L.OutB, C)
		add(p+"output.LayerNorm.weight", L.OutLNW, C)
		add(p+"output.LayerNorm.bias", L.OutLNB, C)
	}
	if w.PoolerW != nil {
		add("pooler.dense.weight", w.PoolerW, C, C)
		add("pooler.dense.bias", w.PoolerB, C)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	return ts
}

// savedArchitecture is the model_type and architecture of the encoder
// Save writes for a source of model type t: the bare encoder, so a DPR
// question/context encoder becomes a BertModel.
func savedArchitecture(t string) (modelType, arch string) {
	switch t {
	case "xlm-roberta":
		return t, "XLMRobertaModel"
	case "roberta":
		return t, "RobertaModel"
	}
	return "bert", "BertModel"
}

// savedJSON is the config.json Save writes: the source's object with every
// key kept, the architecture fields set from c (a key whose value already
// equals c's keeps its source spelling), the bare encoder's model_type and
// architectures, and dtype float32.
func (c *Config) savedJSON() ([]byte, error) {
	obj := map[string]json.RawMessage{}
	if len(c.raw) > 0 {
		if err := json.Unmarshal(c.raw, &obj); err != nil || obj == nil {
			return nil, fmt.Errorf("source config is not a JSON object: %w", err)
		}
	}
	mt, arch := savedArchitecture(c.ModelType)
	set := func(k string, v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		if old, ok := obj[k]; ok {
			var a, b2 any
			if json.Unmarshal(old, &a) == nil && json.Unmarshal(b, &b2) == nil && reflect.DeepEqual(a, b2) {
				return nil
			}
		}
		obj[k] = b
		return nil
	}
	for _, kv := range []struct {
		k string
		v any
	}{
		{"model_type", mt},
		{"architectures", []string{arch}},
		{"vocab_size", c.VocabSize},
		{"hidden_size", c.HiddenSize},
		{"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads},
		{"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
		{"type_vocab_size", c.TypeVocabSize},
		{"layer_norm_eps", c.LayerNormEps},
		{"hidden_act", c.HiddenAct},
		{"pad_token_id", c.PadTokenID},
		{"position_embedding_type", "absolute"},
		// transformers ≥ 4.56 writes dtype, earlier ones torch_dtype;
		// each reads both.
		{"torch_dtype", "float32"},
		{"dtype", "float32"},
	} {
		if err := set(kv.k, kv.v); err != nil {
			return nil, err
		}
	}
	return marshalJSON(obj)
}

// TokenizerConfig generates the tokenizer_config.json and
// special_tokens_map.json that transformers' save_pretrained writes next
// to a tokenizer.json, for a source that has none. The class follows the
// tokenizer model: "XLMRobertaTokenizer" for Unigram (sentencepiece, as in
// intfloat/multilingual-e5-small), "BertTokenizer" for WordPiece with
// do_lower_case, strip_accents and tokenize_chinese_chars from the
// BertNormalizer (as klue/bert-base). The special tokens present in the
// vocabulary get their roles (bos, eos, unk, sep, cls, pad, mask; cls and
// sep from the post-processor), added_tokens_decoder lists tokenizer.json's
// added_tokens, and model_max_length is maxLength.
//
// For a WordPiece tokenizer.json with [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3
// [MASK]=4 as added tokens and a cased BertNormalizer, tokenizer_config.json is
//
//	{"added_tokens_decoder": {"0": {"content": "[PAD]", "lstrip": false, …, "special": true}, …},
//	 "clean_up_tokenization_spaces": true, "cls_token": "[CLS]", "do_basic_tokenize": true,
//	 "do_lower_case": false, "mask_token": "[MASK]", "model_max_length": 512, "never_split": null,
//	 "pad_token": "[PAD]", "sep_token": "[SEP]", "strip_accents": null,
//	 "tokenize_chinese_chars": true, "tokenizer_class": "BertTokenizer", "unk_token": "[UNK]"}
func TokenizerConfig(tokenizerJSON []byte, maxLength int) (tokenizerConfig, specialTokensMap []byte, err error) {
	var tj struct {
		AddedTokens []addedToken    `json:"added_tokens"`
		Normalizer  json.RawMessage `json:"normalizer"`
		Post        json.RawMessage `json:"post_processor"`
		Model       struct {
			Type     string          `json:"type"`
			UnkID    *int            `json:"unk_id"`
			UnkToken string          `json:"unk_token"`
			Vocab    json.RawMessage `json:"vocab"`
		} `json:"model"`
	}
	if err := json.Unmarshal(tokenizerJSON, &tj); err != nil {
		return nil, nil, fmt.Errorf("tokenizer.json: %w", err)
	}
	have := map[string]bool{}
	added := map[string]addedToken{}
	for _, a := range tj.AddedTokens {
		have[a.Content] = true
		added[a.Content] = a
	}
	cfg := map[string]any{}
	roles := map[string]string{}
	var unk string
	switch tj.Model.Type {
	case "Unigram":
		var vocab [][2]any
		if err := json.Unmarshal(tj.Model.Vocab, &vocab); err != nil {
			return nil, nil, fmt.Errorf("tokenizer.json: model.vocab: %w", err)
		}
		for _, e := range vocab {
			if s, ok := e[0].(string); ok {
				have[s] = true
			}
		}
		unk = "<unk>"
		if id := tj.Model.UnkID; id != nil && *id >= 0 && *id < len(vocab) {
			unk, _ = vocab[*id][0].(string)
		}
		roles["bos_token"], roles["eos_token"], roles["cls_token"], roles["sep_token"] = "<s>", "</s>", "<s>", "</s>"
		roles["pad_token"], roles["mask_token"] = "<pad>", "<mask>"
		cfg["tokenizer_class"] = "XLMRobertaTokenizer"
		cfg["sp_model_kwargs"] = map[string]any{}
	case "WordPiece":
		var vocab map[string]int
		if err := json.Unmarshal(tj.Model.Vocab, &vocab); err != nil {
			return nil, nil, fmt.Errorf("tokenizer.json: model.vocab: %w", err)
		}
		for s := range vocab {
			have[s] = true
		}
		unk = tj.Model.UnkToken
		if unk == "" {
			unk = "[UNK]"
		}
		roles["cls_token"], roles["sep_token"], roles["pad_token"], roles["mask_token"] = "[CLS]", "[SEP]", "[PAD]", "[MASK]"
		bn := findBertNormalizer(tj.Normalizer)
		cfg["tokenizer_class"] = "BertTokenizer"
		cfg["do_lower_case"] = bn.Lowercase
		cfg["strip_accents"] = bn.StripAccents
		cfg["tokenize_chinese_chars"] = bn.HandleChineseChars
		cfg["do_basic_tokenize"] = true
		cfg["never_split"] = nil
	default:
		return nil, nil, fmt.Errorf("tokenizer.json: model type %q: kormed writes tokenizer configs for Unigram and WordPiece tokenizers", tj.Model.Type)
	}
	if !have[unk] {
		return nil, nil, fmt.Errorf("tokenizer.json: unknown token %q is not in the vocabulary", unk)
	}
	roles["unk_token"] = unk
	if cls, sep := postSpecials(tj.Post); cls != "" {
		roles["cls_token"], roles["sep_token"] = cls, sep
	}
	special := map[string]any{}
	for role, tok := range roles {
		if !have[tok] {
			continue
		}
		cfg[role] = tok
		if a, ok := added[tok]; ok {
			special[role] = map[string]any{"content": a.Content, "lstrip": a.LStrip, "normalized": a.Normalized, "rstrip": a.RStrip, "single_word": a.SingleWord}
		} else {
			special[role] = tok
		}
	}
	dec := map[string]any{}
	for _, a := range tj.AddedTokens {
		dec[fmt.Sprint(a.ID)] = map[string]any{"content": a.Content, "lstrip": a.LStrip, "normalized": a.Normalized, "rstrip": a.RStrip, "single_word": a.SingleWord, "special": a.Special}
	}
	cfg["added_tokens_decoder"] = dec
	cfg["clean_up_tokenization_spaces"] = true
	cfg["model_max_length"] = maxLength
	if tokenizerConfig, err = marshalJSON(cfg); err != nil {
		return nil, nil, err
	}
	if specialTokensMap, err = marshalJSON(special); err != nil {
		return nil, nil, err
	}
	return tokenizerConfig, specialTokensMap, nil
}

type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type bertNormalizerJSON struct {
	Type               string `json:"type"`
	Lowercase          bool   `json:"lowercase"`
	StripAccents       *bool  `json:"strip_accents"`
	HandleChineseChars bool   `json:"handle_chinese_chars"`
	Normalizers        []json.RawMessage
}

// findBertNormalizer finds the BertNormalizer of a normalizer (possibly in
// a Sequence); without one: no lowercasing, Chinese characters split (the
// BertTokenizer defaults but do_lower_case), lowercase set by a Lowercase
// normalizer.
func findBertNormalizer(raw json.RawMessage) bertNormalizerJSON {
	out := bertNormalizerJSON{HandleChineseChars: true}
	var walk func(raw json.RawMessage)
	walk = func(raw json.RawMessage) {
		var n bertNormalizerJSON
		if json.Unmarshal(raw, &n) != nil {
			return
		}
		switch n.Type {
		case "BertNormalizer":
			out = n
		case "Lowercase":
			out.Lowercase = true
		case "Sequence":
			for _, r := range n.Normalizers {
				walk(r)
			}
		}
	}
	walk(raw)
	return out
}

// postSpecials returns the special tokens a post-processor puts before
// and after a single sequence ("" when it has none).
func postSpecials(raw json.RawMessage) (cls, sep string) {
	var p struct {
		Type       string            `json:"type"`
		Cls        []json.RawMessage `json:"cls"`
		Sep        []json.RawMessage `json:"sep"`
		Processors []json.RawMessage `json:"processors"`
		Single     []struct {
			SpecialToken *struct {
				ID string `json:"id"`
			} `json:"SpecialToken"`
		} `json:"single"`
	}
	if json.Unmarshal(raw, &p) != nil {
		return "", ""
	}
	switch p.Type {
	case "BertProcessing", "RobertaProcessing":
		if len(p.Cls) == 2 && len(p.Sep) == 2 {
			json.Unmarshal(p.Cls[0], &cls)
			json.Unmarshal(p.Sep[0], &sep)
		}
		return cls, sep
	case "TemplateProcessing":
		if n := len(p.Single); n >= 2 && p.Single[0].SpecialToken != nil && p.Single[n-1].SpecialToken != nil {
			return p.Single[0].SpecialToken.ID, p.Single[n-1].SpecialToken.ID
		}
	case "Sequence":
		for _, r := range p.Processors {
			if c, s := postSpecials(r); c != "" {
				return c, s
			}
		}
	}
	return "", ""
}

// Sentence-transformers module types, as modules.json names them.
const (
	stTransformer = "sentence_transformers.models.Transformer"
	stPooling     = "sentence_transformers.models.Pooling"
	stNormalize   = "sentence_transformers.models.Normalize"
)

// stPoolingConfig is 1_Pooling/config.json with every key
// sentence-transformers' Pooling.config_keys lists, in its order.
type stPoolingConfig struct {
	WordEmbeddingDimension int  `json:"word_embedding_dimension"`
	CLSToken               bool `json:"pooling_mode_cls_token"`
	MeanTokens             bool `json:"pooling_mode_mean_tokens"`
	MaxTokens              bool `json:"pooling_mode_max_tokens"`
	MeanSqrtLenTokens      bool `json:"pooling_mode_mean_sqrt_len_tokens"`
	WeightedMeanTokens     bool `json:"pooling_mode_weightedmean_tokens"`
	LastToken              bool `json:"pooling_mode_lasttoken"`
	IncludePrompt          bool `json:"include_prompt"`
}

// stModelConfig is config_sentence_transformers.json. Its __version__
// entry is left out: sentence-transformers only reads it to warn when the
// model comes from a newer version than its own.
type stModelConfig struct {
	ModelType         string            `json:"model_type"`
	Prompts           map[string]string `json:"prompts"`
	DefaultPromptName *string           `json:"default_prompt_name"`
	SimilarityFnName  string            `json:"similarity_fn_name"`
}

type namedFile struct {
	name string // path relative to the model folder; a trailing / makes an empty folder
	data []byte
}

// stFiles are the sentence-transformers files describing st for a model
// of dimension dim, Transformer module in the root.
func stFiles(st *STConfig, dim int) ([]namedFile, error) {
	if st.Pooling != PoolMean && st.Pooling != PoolCLS {
		return nil, fmt.Errorf("pooling %q has no sentence-transformers Pooling mode (want mean or cls)", st.Pooling)
	}
	if st.MaxSeqLength <= 0 {
		return nil, fmt.Errorf("max_seq_length %d", st.MaxSeqLength)
	}
	mods := []stModule{
		{Idx: 0, Name: "0", Path: "", Type: stTransformer},
		{Idx: 1, Name: "1", Path: "1_Pooling", Type: stPooling},
	}
	if st.Normalize {
		mods = append(mods, stModule{Idx: 2, Name: "2", Path: "2_Normalize", Type: stNormalize})
	}
	prompts := st.Prompts
	if prompts == nil {
		prompts = map[string]string{}
	}
	var files []namedFile
	add := func(name string, v any) error {
		b, err := marshalJSON(v)
		files = append(files, namedFile{name, b})
		return err
	}
	if err := add("modules.json", mods); err != nil {
		return nil, err
	}
	if err := add("1_Pooling/config.json", stPoolingConfig{
		WordEmbeddingDimension: dim,
		CLSToken:               st.Pooling == PoolCLS,
		MeanTokens:             st.Pooling == PoolMean,
		IncludePrompt:          true,
	}); err != nil {
		return nil, err
	}
	if st.Normalize {
		files = append(files, namedFile{"2_Normalize/", nil})
	}
	if err := add("sentence_bert_config.json", struct {
		MaxSeqLength int  `json:"max_seq_length"`
		DoLowerCase  bool `json:"do_lower_case"`
	}{st.MaxSeqLength, false}); err != nil {
		return nil, err
	}
	if err := add("config_sentence_transformers.json", stModelConfig{
		ModelType: "SentenceTransformer", Prompts: prompts, SimilarityFnName: "cosine",
	}); err != nil {
		return nil, err
	}
	return files, nil
}

// WriteSTConfig writes the sentence-transformers files that ReadSTConfig
// reads, describing st for a model of dimension dim whose Transformer
// module is dir itself: modules.json, 1_Pooling/config.json (every
// pooling_mode_* key, include_prompt true), an empty 2_Normalize/ when
// st.Normalize, sentence_bert_config.json (max_seq_length, do_lower_case
// false) and config_sentence_transformers.json (st.Prompts, no default
// prompt, cosine similarity). Pooling must be mean or cls.
func WriteSTConfig(dir string, st *STConfig, dim int) error {
	files, err := stFiles(st, dim)
	if err != nil {
		return fmt.Errorf("%s: %w", dir, err)
	}
	return writeFiles(dir, files)
}

// marshalJSON is v as JSON indented by two spaces with a final newline,
// non-ASCII and <>& unescaped; keys of maps sorted (as transformers'
// sort_keys=True), of structs in field order (as sentence-transformers).
func marshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFiles writes files (atomically each) under dir, making folders.
func writeFiles(dir string, files []namedFile) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.name))
		if f.name[len(f.name)-1] == '/' {
			if err := os.MkdirAll(p, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := atomicfile.WriteBytes(p, f.data); err != nil {
			return err
		}
	}
	return nil
}

// ReplaceDir builds a model folder with fill in a temporary sibling of dir
// and then renames it to dir (atomicfile.ReplaceDir). An existing dir must
// be an empty folder or a model folder (holding config.json, modules.json
// or pair.json). Every model folder kormed writes (encoders, pairs,
// fine-tuned decoders) is written through it.
func ReplaceDir(dir string, fill func(tmp string) error) error {
	return atomicfile.ReplaceDir(dir, ModelFolder, fill)
}

// ModelFolder is ReplaceDir's guard: it accepts a folder holding
// config.json, modules.json or pair.json.
var ModelFolder = atomicfile.Holding("a model folder", "config.json", "modules.json", PairFile)
