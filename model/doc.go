// Package model loads Hugging Face BERT and XLM-RoBERTa encoders (config.json,
// safetensors weights, tokenizer.json, the sentence-transformers module
// files) and turns texts into sentence embeddings with kormed's float32
// engine (packages nn and blas). Model.Save writes a model back as a
// complete sentence-transformers folder.
//
// The forward pass follows transformers' modeling_bert / modeling_xlm_roberta
// exactly (post-LayerNorm blocks, erf GELU, absolute positions numbered the
// BERT or the RoBERTa way); oracle/reference.py is its PyTorch twin and the
// golden fixtures under testdata/models check every layer.
package model
