// Package safetensors reads and writes the Hugging Face safetensors format:
// an 8-byte little-endian header length, a JSON header mapping each tensor
// name to its dtype, shape and byte range, then the raw little-endian data.
//
// Readers convert the floating dtypes (F32, F16, BF16, F64) to float32 and
// the integer dtypes (I64, I32) to int64 or int32. A model folder may hold
// one model.safetensors or shards listed in model.safetensors.index.json;
// OpenDir handles both. Errors name the file and the tensor.
package safetensors
