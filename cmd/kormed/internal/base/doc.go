// Package base holds what kormed's commands share, as cmd/go/internal/base
// does for the go command: the Command type, the one place that parses a
// command's flags (help, required flags, positional arguments, the engine
// flags) and the flag groups several commands declare (engine, Hugging Face
// hub, LLM) with the one repeatable List flag. Packages of commands (main,
// internal/bench) define Commands; main lists them all.
package base
