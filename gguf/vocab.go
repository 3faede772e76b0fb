package gguf

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/kormed/kormed/decoder"
)

// llama.cpp's token types (llama_token_type).
const (
	tokenNormal      int32 = 1
	tokenControl     int32 = 3
	tokenUserDefined int32 = 4
	tokenUnused      int32 = 5
)

// vocab is the tokenizer metadata of a model.
type vocab struct {
	pre          string
	tokens       []string
	types        []int32
	merges       []string
	special      map[string]int // bos, eos, unknown, padding → id
	addBOS       *bool
	addEOS       *bool
	chatTemplate string
	namedTmpls   map[string]string
}

// kvs returns the tokenizer.* metadata.
func (v *vocab) kvs() []KV {
	kvs := []KV{
		{"tokenizer.ggml.model", "gpt2"},
		{"tokenizer.ggml.pre", v.pre},
		{"tokenizer.ggml.tokens", v.tokens},
		{"tokenizer.ggml.token_type", v.types},
		{"tokenizer.ggml.merges", v.merges},
	}
	for _, k := range []string{"bos", "eos", "unknown", "padding"} {
		if id, ok := v.special[k]; ok {
			kvs = append(kvs, KV{"tokenizer.ggml." + k + "_token_id", uint32(id)})
		}
	}
	if v.addBOS != nil {
		kvs = append(kvs, KV{"tokenizer.ggml.add_bos_token", *v.addBOS})
	}
	if v.addEOS != nil {
		kvs = append(kvs, KV{"tokenizer.ggml.add_eos_token", *v.addEOS})
	}
	if v.chatTemplate != "" {
		kvs = append(kvs, KV{"tokenizer.chat_template", v.chatTemplate})
	}
	names := make([]string, 0, len(v.namedTmpls))
	for n := range v.namedTmpls {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		kvs = append(kvs, KV{"tokenizer.chat_template." + n, v.namedTmpls[n]})
	}
	return kvs
}

// hfTokenizer is the part of tokenizer.json the export reads.
type hfTokenizer struct {
	AddedTokens []struct {
		ID      int    `json:"id"`
		Content string `json:"content"`
		Special bool   `json:"special"`
	} `json:"added_tokens"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Model         struct {
		Type         string          `json:"type"`
		Vocab        map[string]int  `json:"vocab"`
		Merges       json.RawMessage `json:"merges"`
		ByteFallback bool            `json:"byte_fallback"`
	} `json:"model"`
}

// preTokenizer is a tokenizer.json pre_tokenizer.
type preTokenizer struct {
	Type             string         `json:"type"`
	UseRegex         *bool          `json:"use_regex"`
	IndividualDigits bool           `json:"individual_digits"`
	Pattern          map[string]any `json:"pattern"`
	Pretokenizers    []preTokenizer `json:"pretokenizers"`
}

// llama3Pattern is Llama 3's Split regex (llama.cpp's "llama-bpe").
const llama3Pattern = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`

// detectPre names llama.cpp's pre-tokenizer for a byte-level BPE
// pre_tokenizer: ByteLevel with its GPT-2 regex is "gpt-2", Digits
// (individual) then that is EXAONE's "exaone", Llama 3's Split then
// ByteLevel without regex is "llama-bpe".
func detectPre(raw json.RawMessage) (string, error) {
	var p preTokenizer
	if len(raw) == 0 || string(raw) == "null" {
		return "", errors.New("tokenizer.json has no pre_tokenizer")
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return "", fmt.Errorf("tokenizer.json pre_tokenizer: %w", err)
	}
	regex := func(b preTokenizer) bool { return b.Type == "ByteLevel" && (b.UseRegex == nil || *b.UseRegex) }
	seq := p.Pretokenizers
	switch {
	case regex(p):
		return "gpt-2", nil
	case p.Type == "Sequence" && len(seq) == 2 && seq[0].Type == "Digits" && seq[0].IndividualDigits && regex(seq[1]):
		return "exaone", nil
	case p.Type == "Sequence" && len(seq) == 2 && seq[0].Type == "Split" && seq[0].Pattern["Regex"] == llama3Pattern &&
		seq[1].Type == "ByteLevel" && !regex(seq[1]):
		return "llama-bpe", nil
	}
	return "", fmt.Errorf("tokenizer.json's pre_tokenizer is none that llama.cpp names here (gpt-2, exaone, llama-bpe): give its llama.cpp name (Options.Pre, --pre)")
}

// loadVocab reads the tokenizer metadata of the model in dir:
// tokenizer.json (a byte-level BPE, llama.cpp's "gpt2" model), the special
// tokens and chat template of tokenizer_config.json (or
// chat_template.jinja), the special ids config.json has where the
// tokenizer names none. The token list has cfg.VocabSize entries, ids the
// tokenizer lacks being "[PADn]" (unused), as convert_hf_to_gguf.py pads.
func loadVocab(dir string, cfg *decoder.Config, pre string) (*vocab, error) {
	b, err := os.ReadFile(filepath.Join(dir, "tokenizer.json"))
	if err != nil {
		return nil, err
	}
	var t hfTokenizer
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "tokenizer.json"), err)
	}
	if t.Model.Type != "BPE" || t.Model.ByteFallback {
		return nil, fmt.Errorf("gguf: tokenizer.json model %s (byte_fallback %v): only byte-level BPE (Llama 3, EXAONE) exports", t.Model.Type, t.Model.ByteFallback)
	}
	if pre == "" {
		if pre, err = detectPre(t.PreTokenizer); err != nil {
			return nil, fmt.Errorf("gguf: %w", err)
		}
	}
	v := &vocab{pre: pre, special: map[string]int{}}
	rev := map[int]string{}
	for s, id := range t.Model.Vocab {
		rev[id] = s
	}
	added := map[int]bool{}
	special := map[int]bool{}
	for _, a := range t.AddedTokens {
		rev[a.ID] = a.Content
		added[a.ID] = true
		special[a.ID] = a.Special
	}
	for id := range rev {
		if id < 0 || id >= cfg.VocabSize {
			return nil, fmt.Errorf("gguf: token id %d outside the model's vocab_size %d", id, cfg.VocabSize)
		}
	}
	v.tokens = make([]string, cfg.VocabSize)
	v.types = make([]int32, cfg.VocabSize)
	for id := range v.tokens {
		s, ok := rev[id]
		switch {
		case !ok:
			v.tokens[id], v.types[id] = fmt.Sprintf("[PAD%d]", id), tokenUnused
		case added[id] && (special[id] || looksSpecial(s)):
			v.tokens[id], v.types[id] = s, tokenControl
		case added[id]:
			v.tokens[id], v.types[id] = strings.ReplaceAll(s, "\u2581", " "), tokenUserDefined
		default:
			v.tokens[id], v.types[id] = s, tokenNormal
		}
	}
	if v.merges, err = parseMerges(t.Model.Merges); err != nil {
		return nil, fmt.Errorf("gguf: tokenizer.json merges: %w", err)
	}
	ids := map[string]int{}
	for id, s := range rev {
		ids[s] = id
	}
	tc, err := readJSON(filepath.Join(dir, "tokenizer_config.json"))
	if err != nil {
		return nil, err
	}
	// tokenizer_config.json's tokens first, config.json's ids after, as
	// gguf-py's SpecialVocab.
	for k, ck := range map[string]string{"bos": "bos_token", "eos": "eos_token", "unknown": "unk_token", "padding": "pad_token"} {
		if s := tokenContent(tc[ck]); s != "" {
			if id, ok := ids[s]; ok {
				v.special[k] = id
			}
		}
	}
	if _, ok := v.special["bos"]; !ok && cfg.BOSTokenID >= 0 {
		v.special["bos"] = cfg.BOSTokenID
	}
	if _, ok := v.special["eos"]; !ok && len(cfg.EOSTokenIDs) > 0 {
		v.special["eos"] = cfg.EOSTokenIDs[0]
	}
	if _, ok := v.special["padding"]; !ok && cfg.PadTokenID >= 0 {
		v.special["padding"] = cfg.PadTokenID
	}
	if x, ok := tc["add_bos_token"].(bool); ok {
		v.addBOS = &x
	} else if tp := templateBOS(t.PostProcessor); tp != nil {
		v.addBOS = tp
	}
	if x, ok := tc["add_eos_token"].(bool); ok {
		v.addEOS = &x
	}
	if err := v.readTemplates(dir, tc["chat_template"]); err != nil {
		return nil, err
	}
	return v, nil
}

// looksSpecial is gguf-py's does_token_look_special, for added tokens
// not marked special.
func looksSpecial(s string) bool {
	switch s {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(s, "<|") && strings.HasSuffix(s, "|>")) ||
		(strings.HasPrefix(s, "<\uff5c") && strings.HasSuffix(s, "\uff5c>")) ||
		(strings.HasPrefix(s, "<unused") && strings.HasSuffix(s, ">"))
}

// parseMerges reads BPE merges written as "a b" strings or [a, b] pairs.
func parseMerges(raw json.RawMessage) ([]string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return []string{}, nil
	}
	var strs []string
	if json.Unmarshal(raw, &strs) == nil {
		return strs, nil
	}
	var pairs [][]string
	if err := json.Unmarshal(raw, &pairs); err != nil {
		return nil, err
	}
	out := make([]string, len(pairs))
	for i, p := range pairs {
		if len(p) != 2 {
			return nil, fmt.Errorf("merge %d has %d parts", i, len(p))
		}
		out[i] = p[0] + " " + p[1]
	}
	return out, nil
}

// templateBOS reports whether a TemplateProcessing post_processor puts a
// special token before a single sequence (nil when it is no such
// processor).
func templateBOS(raw json.RawMessage) *bool {
	var p struct {
		Type   string           `json:"type"`
		Single []map[string]any `json:"single"`
	}
	if json.Unmarshal(raw, &p) != nil || p.Type != "TemplateProcessing" || len(p.Single) == 0 {
		return nil
	}
	_, bos := p.Single[0]["SpecialToken"]
	return &bos
}

// tokenContent is a tokenizer_config.json token: a string or an
// AddedToken object's content.
func tokenContent(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case map[string]any:
		s, _ := x["content"].(string)
		return s
	}
	return ""
}

// readTemplates reads the chat template: tokenizer_config.json's
// chat_template (a string, or named templates of which "default" is
// tokenizer.chat_template and the others tokenizer.chat_template.NAME),
// else chat_template.jinja.
func (v *vocab) readTemplates(dir string, ct any) error {
	switch x := ct.(type) {
	case string:
		v.chatTemplate = x
		return nil
	case []any:
		v.namedTmpls = map[string]string{}
		for _, e := range x {
			m, _ := e.(map[string]any)
			n, _ := m["name"].(string)
			t, _ := m["template"].(string)
			if n == "default" {
				v.chatTemplate = t
			} else if n != "" {
				v.namedTmpls[n] = t
			}
		}
		return nil
	case nil:
	default:
		return fmt.Errorf("gguf: tokenizer_config.json chat_template is a %T", ct)
	}
	b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja"))
	if err == nil {
		v.chatTemplate = string(b)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// readJSON reads a JSON object file; a missing file is an empty object.
func readJSON(path string) (map[string]any, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}
