package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"sort"
	"strings"
	"syscall"

	"github.com/kormed/kormed/cmd/kormed/internal/base"
	"github.com/kormed/kormed/cmd/kormed/internal/bench"
)

// commands is every kormed subcommand, by name ("embed", "bm25 index").
var commands = table(
	cmdAsk(os.Stdout, os.Stderr),
	bench.Decode,
	bench.Encode,
	bench.Index,
	bench.Load,
	bench.Mixed,
	bench.Restart,
	bench.Search,
	bench.Train,
	bench.TrainLM,
	cmdBM25Index,
	cmdBM25Search,
	cmdDrugBench,
	cmdSynonyms,
	cmdDiagnose,
	cmdDownload,
	cmdEmbed,
	cmdEval,
	cmdExportGGUF,
	cmdGenerate(os.Stdin, os.Stdout, os.Stderr),
	cmdIndex,
	cmdServe(os.Stderr, nil),
	cmdTestmodel,
	cmdTrain,
	cmdTrainLM(os.Stdout, os.Stderr),
	cmdVersion,
)

func table(cmds ...*base.Command) map[string]*base.Command {
	m := make(map[string]*base.Command, len(cmds))
	for _, c := range cmds {
		if _, dup := m[c.Name]; dup {
			panic("kormed: command listed twice: " + c.Name)
		}
		m[c.Name] = c
	}
	return m
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: kormed <command> [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(os.Stderr, "  %-18s %s\n", n, commands[n].Short)
	}
	fmt.Fprintln(os.Stderr, "\nRun 'kormed <command> -h' for a command's flags.")
}

// lookup finds the command named by the first one or two arguments
// ("embed", "data drug-bench") and returns it with the remaining arguments.
func lookup(args []string) (*base.Command, []string, bool) {
	if len(args) >= 2 {
		if c, ok := commands[args[0]+" "+args[1]]; ok {
			return c, args[2:], true
		}
	}
	if len(args) >= 1 {
		if c, ok := commands[args[0]]; ok {
			return c, args[1:], true
		}
	}
	return nil, nil, false
}

func main() {
	args := os.Args[1:]
	if len(args) == 0 {
		usage()
		os.Exit(2)
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		// "kormed help" lists the commands; "kormed help embed" is
		// "kormed embed -h". Asking for help is not an error.
		if len(args) == 1 || strings.HasPrefix(args[1], "-") { // "kormed help -h"
			usage()
			return
		}
		args = append(args[1:], "-h")
	}
	c, rest, ok := lookup(args)
	if !ok {
		fmt.Fprintf(os.Stderr, "kormed: unknown command %q\n\n", strings.Join(args[:min(2, len(args))], " "))
		usage()
		os.Exit(2)
	}
	if os.Getenv("GOGC") == "" {
		// kormed's heap is dominated by model weights and activations:
		// large pointer-free float slices that the collector marks almost
		// for free. Collecting at 25% growth instead of Go's default 100%
		// keeps the resident size near the live size (a 470 MB model
		// would otherwise let garbage grow to another 470 MB) at a
		// negligible cost. GOGC in the environment still wins.
		debug.SetGCPercent(25)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The first Ctrl-C or SIGTERM cancels ctx (a training run checkpoints
	// and exits); from then on the signals' default action is back, so a
	// second Ctrl-C ends the process at once.
	go func() { <-ctx.Done(); stop() }()
	if err := c.Exec(ctx, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) { // -h: the usage was printed
			return
		}
		fmt.Fprintf(os.Stderr, "kormed %s: %v\n", c.Name, err)
		os.Exit(1)
	}
}
