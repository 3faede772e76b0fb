package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/model"
	"github.com/kormed/kormed/safetensors"
	"github.com/kormed/kormed/testmodel"
)

const testmodelLong = `Writes config.json, model.safetensors, tokenizer.json, tokenizer_config.json,
special_tokens_map.json and the sentence-transformers module files of a random-weight
encoder (deterministic from --seed), loadable by kormed, transformers and
sentence-transformers. The tokenizer class follows tokenizer.json: XLMRobertaTokenizer
for Unigram (as multilingual-e5-small), BertTokenizer for WordPiece.

With --arch llama or exaone it writes a decoder-only LM (package decoder): config.json with
the model type's real keys, model.safetensors (or --shards N with an index),
generation_config.json and a minimal byte-level BPE tokenizer.json (bytes only, no merges).
exaone-2.4b is EXAONE-3.5-2.4B-Instruct's config (vocab 102400, hidden 2560, 30 layers;
--layers N fewer).
`

// cmdTestmodel is kormed testmodel.
var cmdTestmodel = &base.Command{
	Name: "testmodel",
	UsageLine: "testmodel --arch bert|xlmr --shape tiny|small|e5-small --seed N --out DIR [flags]\n" +
		"       kormed testmodel --arch llama|exaone --shape tiny|exaone-2.4b --seed N --out DIR [flags]",
	Short:    "write a random-weight BERT/XLM-R encoder or Llama/EXAONE decoder in the Hugging Face layout",
	Long:     testmodelLong,
	Required: []string{"out"},
	Flags:    runTestmodel,
}

func runTestmodel(fs *flag.FlagSet) base.Func {
	arch := fs.String("arch", "bert", "architecture: bert (BertModel), xlmr (XLMRobertaModel), llama (LlamaForCausalLM) or exaone (EXAONE 3.x)")
	shape := fs.String("shape", "tiny", "encoders: tiny (hidden 32, 2 layers), small (hidden 128, 2 layers: the demo's model) or e5-small (multilingual-e5-small's shape, vocab 250037); decoders: tiny (hidden 64, 2 layers, 4 heads, 2 KV heads, vocab 512, llama3 rope scaling) or exaone-2.4b")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("out", "", "output folder (required)")
	tok := fs.String("tokenizer", "", "tokenizer.json to copy (default: the repository's testdata/tokenizers wordpiece or unigram)")
	std := fs.Float64("std", 0.02, "standard deviation of the random weights")
	pooling := fs.String("pooling", "mean", "sentence-transformers pooling: mean or cls")
	normalize := fs.Bool("normalize", true, "add a Normalize module (L2-normalised embeddings)")
	dtype := fs.String("dtype", "F32", "weight dtype: F32, F16 or BF16")
	prefix := fs.String("prefix", "", `prefix in front of every weight name, e.g. "roberta."`)
	noPooler := fs.Bool("no-pooler", false, "leave out the BERT pooler weights")
	extras := fs.Bool("extras", false, "also write tensors a real checkpoint carries that the loader must skip (position_ids buffer, LM head)")
	layers := fs.Int("layers", 0, "decoders: number of layers (default: the shape's)")
	maxPos := fs.Int("max-positions", 0, "decoders: max_position_embeddings (default: the shape's; tiny has 256, too few for a RAG prompt: use 4096 with kormed ask)")
	headDim := fs.Int("head-dim", 0, "decoders: head_dim (default: hidden/heads)")
	tie := fs.String("tie", "", "decoders: tie_word_embeddings true or false (default: the shape's)")
	attnBias := fs.Bool("attention-bias", false, "llama: q/k/v/o projection biases")
	shards := fs.Int("shards", 1, "decoders: split the weights over N safetensors files with an index")
	maxSeq := fs.Int("max-seq-length", 0, "sentence_bert_config.json max_seq_length (default 64 for tiny, 512 for e5-small)")
	return func(ctx context.Context, args []string) error {
		dt := safetensors.DType(strings.ToUpper(*dtype))
		if dt != safetensors.F32 && dt != safetensors.F16 && dt != safetensors.BF16 {
			return fmt.Errorf("--dtype %q: want F32, F16 or BF16", *dtype)
		}
		if *arch == "llama" || *arch == "exaone" {
			o := testmodel.DecoderOptions{Arch: *arch, Shape: *shape, Seed: *seed, Std: *std, DType: dt, Layers: *layers,
				HeadDim: *headDim, MaxPositions: *maxPos, Tie: *tie, AttentionBias: *attnBias, Shards: *shards}
			if err := testmodel.WriteDecoder(*out, o); err != nil {
				return err
			}
			fmt.Fprintf(os.Stderr, "wrote %s %s decoder (seed %d) to %s\n", *arch, *shape, *seed, *out)
			return nil
		}
		if *pooling != "mean" && *pooling != "cls" {
			return fmt.Errorf("--pooling %q: want mean or cls", *pooling)
		}
		o := testmodel.Options{Arch: *arch, Shape: *shape, Seed: *seed, Tokenizer: *tok, Std: *std,
			Pooling: model.Pooling(*pooling), Normalize: *normalize, DType: dt, Prefix: *prefix,
			NoPooler: *noPooler, Extras: *extras, MaxSeqLength: *maxSeq}
		if err := testmodel.Write(*out, o); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "wrote %s %s model (seed %d) to %s\n", *arch, *shape, *seed, *out)
		return nil
	}
}
