package main

import (
	"context"
	"fmt"
	"runtime"

	"github.com/kormed/kormed/blas"
)

func init() {
	register(command{name: "version", summary: "print version and engine backend", run: func(ctx context.Context, args []string) error {
		fmt.Printf("kormed %s (%s, %s/%s, matmul backend %s, %d threads)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, blas.Backend(), blas.Threads())
		return nil
	}})
}

const version = "0.1.0-dev"
