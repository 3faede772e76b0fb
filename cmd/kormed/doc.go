// Command kormed embeds, fine-tunes, evaluates and searches Korean medical
// text, and answers questions from what it retrieved.
//
// Each subcommand is a base.Command (package internal/base: flags parsed
// once, -h, required flags and the engine flags handled centrally) in its
// own file, named after it; main.go's table lists them all, the bench
// commands coming from package internal/bench. The commands are thin
// adapters: the work is in the packages (ingest, train, lmtrain, eval,
// search, serve, rag, gguf …).
package main
