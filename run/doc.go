// Package run is the run-folder protocol both trainers follow (package
// train for encoders, package lmtrain for decoders). A run folder OUTPUT
// holds
//
//	state.json     the recipe's fingerprint, the engine the run started
//	               with (threads, precision) and the trainer's progress
//	train.jsonl    the log (Log), one JSON record a line
//	checkpoints/   resumable checkpoints, each built aside and renamed
//	               into place (WriteCheckpoint), pruned to the newest few
//	               (PruneCheckpoints)
//
// Open starts or resumes a run in a folder: a second run into a used
// folder needs --resume, a resume needs the same recipe (Fingerprint), and
// a resume on other threads or precision is warned about. A cancelled run
// writes a checkpoint and returns ErrInterrupted. Override and ExpandEnv
// are the recipe files' --set overrides and ${VAR} expansion.
package run
