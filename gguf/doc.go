// Package gguf reads and writes GGUF files, the model format of llama.cpp
// and Ollama, and exports kormed's decoders (package decoder: Llama and
// EXAONE 3.x in the Hugging Face layout) to it.
//
// A GGUF v3 file is a header (magic "GGUF", version, tensor and metadata
// counts), typed metadata key/values (scalars, strings and arrays), tensor
// infos (name, dimensions in ggml's order — the row length first —, type
// and offset), padding to the alignment (general.alignment, default 32)
// and the tensor data, each tensor at an aligned offset. Writer streams a
// file tensor by tensor; Read parses one back.
//
// Tensor types are F32, F16, Q8_0 and Q4_0 with ggml's block layouts
// (quant.go): Q8_0 blocks of 32 elements are an fp16 scale and 32 int8
// values; Q4_0 blocks an fp16 scale and 16 bytes of 4-bit values, the low
// nibbles elements 0…15 and the high ones 16…31, as ggml's
// quantize_row_q4_0_ref writes them (kormed's quantizer searches the
// scale for the least squared error: blas.QuantizeQ4BlockSearch).
//
// Export (export.go) converts a model folder as llama.cpp's
// convert_hf_to_gguf.py (and llama-quantize, for q4_0) does: llama.cpp's
// architecture, tensor and metadata names, q_proj and k_proj permuted for
// the llama architecture's rotary layout, the llama3 rope scaling as a
// rope_freqs tensor, and the byte-level BPE tokenizer and chat template as
// tokenizer metadata.
package gguf
