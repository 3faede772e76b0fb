// Package tokenizer loads Hugging Face tokenizer.json files and encodes text exactly as the
// tokenizers library does, in pure Go, for three model families:
//
//   - Unigram (sentencepiece; XLM-R, multilingual-e5, bge-m3, KoE5): Precompiled charsmap
//     normalisation, Metaspace pre-tokenisation, Viterbi with fused unknowns, byte fallback.
//   - WordPiece (BERT, klue/bert-base, SapBERT, DPR): BertNormalizer, BertPreTokenizer,
//     greedy longest-match-first WordPiece.
//   - BPE (GPT-2, RoBERTa, Llama-3, Qwen2, EXAONE): byte-level BPE with the ByteLevel
//     pre-tokenizer (GPT-2's split regex), Split and Digits pre-tokenizers, rank-priority
//     merges, ignore_merges, byte fallback; Decode reverses the ByteLevel byte mapping.
//
// Special (added) tokens are matched in the raw text before normalisation; post-processing
// (TemplateProcessing, RobertaProcessing, BertProcessing), truncation (longest_first for pairs)
// and padding follow the tokenizers library. A Tokenizer is immutable after Load and safe for
// concurrent use.
package tokenizer
