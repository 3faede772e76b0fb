// Package testmodel writes random-weight BERT and XLM-RoBERTa encoders in
// the real Hugging Face layout (config.json, model.safetensors,
// tokenizer.json, tokenizer_config.json, special_tokens_map.json and the
// sentence-transformers module files, as model.Save writes them), for
// tests, oracle comparisons and benchmarks at real shapes without
// downloads.
//
// Weights are deterministic: each tensor is drawn from its own stream
// seeded by (Seed, tensor name), so a model is the same on every run.
package testmodel
