package main

import (
	"flag"

	"github.com/kormed/kormed/blas"
)

// threadsFlag adds the shared --threads flag to fs; call the returned
// function after fs.Parse to apply it.
func threadsFlag(fs *flag.FlagSet) (apply func()) {
	n := fs.Int("threads", 0, "threads for the engine (0 = all cores)")
	return func() { blas.SetThreads(*n) }
}
