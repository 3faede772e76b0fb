package hub

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// stModule is one entry of a sentence-transformers modules.json.
type stModule struct {
	Idx  int    `json:"idx"`
	Name string `json:"name"`
	Path string `json:"path"`
	Type string `json:"type"`
}

// Weight formats kormed cannot read; their presence without safetensors
// gets a dedicated error.
var otherWeights = []string{"pytorch_model.bin", "pytorch_model.bin.index.json", "tf_model.h5", "flax_model.msgpack", "model.onnx", "onnx/model.onnx", "openvino_model.bin"}

// plan lists the repo files kormed needs, in download order. It may read
// modules.json and model.safetensors.index.json through src (downloading
// them when online).
func plan(src fileSource, id string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	opt := func(n string) {
		if src.has(n) {
			add(n)
		}
	}

	var modules []stModule
	if src.has("modules.json") {
		add("modules.json")
		b, err := src.read("modules.json")
		if err != nil {
			return nil, err
		}
		if err := json.Unmarshal(b, &modules); err != nil {
			return nil, fmt.Errorf("modules.json of %s: %w", id, err)
		}
		for i, m := range modules {
			if m.Path != "" && !isLocalFile(m.Path) {
				return nil, fmt.Errorf("modules.json of %s: entry %d has unsafe path %q", id, i, m.Path)
			}
		}
	}
	opt("config_sentence_transformers.json")

	transformers := 0
	for _, m := range modules {
		if kind(m.Type) == "Transformer" {
			transformers++
			if err := mainFiles(src, id, m.Path, add, opt); err != nil {
				return nil, err
			}
		}
	}
	if transformers == 0 {
		if err := mainFiles(src, id, "", add, opt); err != nil {
			return nil, err
		}
	}
	for _, m := range modules {
		pre := prefix(m.Path)
		switch kind(m.Type) {
		case "Transformer", "Normalize":
		case "Dense":
			opt(pre + "config.json")
			if err := weights(src, id, pre, add); err != nil {
				return nil, err
			}
		default: // Pooling and anything else: its config
			opt(pre + "config.json")
		}
	}
	if len(modules) == 0 {
		opt("1_Pooling/config.json")
	}
	return out, nil
}

func kind(typ string) string {
	if i := strings.LastIndexByte(typ, '.'); i >= 0 {
		return typ[i+1:]
	}
	return typ
}

func prefix(path string) string {
	path = strings.Trim(path, "/")
	if path == "" {
		return ""
	}
	return path + "/"
}

// mainFiles adds the transformer's config, tokenizer and weights under
// folder path ("" for the repo root).
func mainFiles(src fileSource, id, path string, add, opt func(string)) error {
	pre := prefix(path)
	if !src.has(pre + "config.json") {
		return errorf(ErrNotFound, "model %s has no %sconfig.json, so it is not a transformers model kormed can load", id, pre)
	}
	add(pre + "config.json")
	opt(pre + "tokenizer.json")
	opt(pre + "tokenizer_config.json")
	opt(pre + "special_tokens_map.json")
	opt(pre + "sentence_bert_config.json")
	for _, n := range slowTokenizerFiles {
		opt(pre + n)
	}
	return weights(src, id, pre, add)
}

// slowTokenizerFiles are the tokenizer files besides tokenizer.json that a
// repo may have (sentencepiece models, vocabularies, merges, added
// tokens): fetched when present, so that a model kormed saves from this
// one (kormed train) carries every tokenizer file of its base, as
// model.Save copies them.
var slowTokenizerFiles = []string{"added_tokens.json", "merges.txt", "sentencepiece.bpe.model", "sentencepiece.model",
	"spiece.model", "spm.model", "tokenizer.model", "vocab.json", "vocab.txt"}

// weights adds model.safetensors, or the index and every shard it names.
func weights(src fileSource, id, pre string, add func(string)) error {
	if src.has(pre + "model.safetensors") {
		add(pre + "model.safetensors")
		return nil
	}
	index := pre + "model.safetensors.index.json"
	if src.has(index) {
		add(index)
		b, err := src.read(index)
		if err != nil {
			return err
		}
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(b, &idx); err != nil {
			return fmt.Errorf("%s of %s: %w", index, id, err)
		}
		if len(idx.WeightMap) == 0 {
			return fmt.Errorf("%s of %s: empty weight_map", index, id)
		}
		shards := map[string]bool{}
		for tensor, f := range idx.WeightMap {
			if !isLocalFile(f) || strings.Contains(f, "/") {
				return fmt.Errorf("%s of %s: tensor %s maps to unsafe file name %q", index, id, tensor, f)
			}
			shards[f] = true
		}
		names := make([]string, 0, len(shards))
		for f := range shards {
			names = append(names, f)
		}
		sort.Strings(names)
		for _, f := range names {
			if src.listed() && !src.has(pre+f) { // offline: a missing shard is reported as missing

				return errorf(ErrNotFound, "%s of %s names shard %s, which the repo does not have", index, id, pre+f)
			}
			add(pre + f)
		}
		return nil
	}
	for _, o := range otherWeights {
		if src.has(pre + o) {
			return errorf(ErrNoSafetensors, "model %s has %s%s but no %smodel.safetensors; kormed reads safetensors only. "+
				"Try a revision with safetensors (the Hub's conversion bot often has one: --revision refs/pr/N), "+
				"or convert once with Python: AutoModel.from_pretrained(%q).save_pretrained(\"out\", safe_serialization=True) and pass --model out",
				id, pre, o, pre, id)
		}
	}
	return errorf(ErrNoSafetensors, "model %s has no %smodel.safetensors or %smodel.safetensors.index.json", id, pre, pre)
}
