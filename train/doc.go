// Package train fine-tunes the encoders of package model: sentence
// embeddings (bi-encoders and DPR-style pairs) trained with the losses of
// the Korean projects kormed replaces, one file each — MSE on the cosine
// (cosine.go), CoSENT (cosent.go), InfoNCE / MultipleNegativesRankingLoss
// with in-batch and hard negatives and GradCache for large batches
// (mnrl.go), and the multi-similarity loss of SapBERT (multisim.go).
//
// A pipeline (pipeline.go, a TOML recipe) is a list of stages run one
// after the other on the same model — the drug recipe's drug types → DUR
// types → products curriculum — each with its data (data.go: CSV pairs,
// JSONL triplets, synonym clusters, Hub datasets), sampler (sampler.go),
// frozen parameters (freeze.go) and evaluation (evaluate.go). Run
// (run.go) executes a pipeline in a run folder: the optimiser and the
// learning-rate schedule are package optim's, the run-folder protocol
// (state.json, resume, train.jsonl, checkpoints, --set overrides) is
// package run's, shared with the decoder trainer lmtrain. Each step
// (step.go) is the explicit forward and backward of package model on
// kormed's engine; the updates match a PyTorch oracle (oracle/).
package train
