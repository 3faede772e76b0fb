// Package lmtrain fine-tunes decoder-only language models (package decoder)
// on question/answer data with a causal-LM loss on the answer: the recipe of
// the EXAONE-3.5 PubMedQA-Ko project — the top N transformer blocks, the
// final norm and the LM head trainable, everything below frozen; AdamW at
// lr 1e-5 with a linear warm-up (10%) and decay, gradient clipping at 1.0,
// batch 1 with optional gradient accumulation.
//
// It sits above packages decoder (the model, its backward and its
// optimiser slots) and optim (AdamW, the schedules, clipping), beside
// package train, which it does not import. Run writes a run folder by
// package run's protocol, as train.Run does: a JSONL log of every step,
// resumable checkpoints (the trainable tensors, AdamW's moments and the
// step; the data order is a function of the seed and the epoch, so no RNG
// state needs saving) and the final model in the Hugging Face layout
// (Save).
package lmtrain
