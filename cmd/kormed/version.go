package main

import (
	"context"
	"flag"
	"fmt"
	"runtime"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/cmd/kormed/internal/base"
)

var cmdVersion = &base.Command{
	Name:      "version",
	UsageLine: "version",
	Short:     "print version and engine backend",
	Flags: func(*flag.FlagSet) base.Func {
		return func(context.Context, []string) error {
			fmt.Printf("kormed %s (%s, %s/%s, matmul backend %s, %d threads)\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, blas.Backend(), blas.Threads())
			return nil
		}
	},
}

const version = "0.1.0-dev"
