// Package decoder runs decoder-only language models of the Llama family in
// kormed's float32 engine (packages nn and blas): transformers'
// LlamaForCausalLM (model_type "llama") and LG AI's EXAONE 3.x
// ExaoneForCausalLM (model_type "exaone", the same architecture under other
// tensor names), loaded from the Hugging Face layout (config.json and
// model.safetensors or its shards, F32/F16/BF16).
//
// The architecture: token embedding; per layer RMSNorm → grouped-query
// causal self-attention with rotary position embeddings (rotate_half
// convention, llama3 or linear frequency scaling) → residual, RMSNorm →
// SwiGLU MLP (down(silu(gate(x))·up(x))) → residual; final RMSNorm; LM
// head (tied to the embedding or not) → logits. Model.Forward runs a
// sequence (a prompt, or one more token) against a KV Cache and
// Model.Generate decodes greedily or by sampling. The weights stay as the
// checkpoint stores them or as LoadOptions.Weights says: float32, bfloat16,
// or the blocks' projections quantized to int8 or 4-bit (Storage).
//
// As in package model, each layer's forward writes the activations a
// backward needs into a Workspace (all layers' with Workspace.Save). For
// training, TrainForward, CausalLMLoss and Backward (backward.go) compute
// the gradients of the top N blocks, the final norm and the LM head.
package decoder
