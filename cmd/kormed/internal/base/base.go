package base

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/kormed/kormed/blas"
)

// Func runs a command; args are its positional arguments once its flags
// are parsed (all of its arguments for a command with Run).
type Func func(ctx context.Context, args []string) error

// A Command is one kormed subcommand.
type Command struct {
	Name      string // "embed", or "bm25 index" for a nested one
	UsageLine string // the synopsis after "usage: kormed " (more lines may follow, each "kormed ...")
	Short     string // one line for the command list
	Long      string // the help text between the synopsis and the flags

	// Flags declares the command's flags on a fresh FlagSet and returns
	// the function that runs it once they are parsed: every run gets its
	// own flag values.
	Flags func(fs *flag.FlagSet) Func
	// Run, for a command that parses its own arguments, runs it (Flags is
	// then nil and none of the fields below apply).
	Run Func

	Required     []string  // flags that must be given a non-empty value
	Engine       bool      // declare --threads and --precision and apply them before running
	Int8         bool      // with Engine: its encoder inference takes --precision int8 (other commands refuse it)
	Args         bool      // takes positional arguments (without, any is an error)
	Interspersed bool      // positional arguments may come between the flags
	Output       io.Writer // usage and flag errors (default os.Stderr)
}

// Exec parses args with c's flags and runs c. Asked for help (-h, --help)
// it prints the usage and returns flag.ErrHelp.
func (c *Command) Exec(ctx context.Context, args []string) error {
	if c.Flags == nil {
		return c.Run(ctx, args)
	}
	fs := flag.NewFlagSet(c.Name, flag.ContinueOnError)
	if c.Output != nil {
		fs.SetOutput(c.Output)
	}
	fs.Usage = func() { c.Usage(fs) }
	var engine func() error
	if c.Engine {
		engine = EngineFlags(fs)
	}
	run := c.Flags(fs)
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return err
		}
		if !c.Interspersed || fs.NArg() == 0 {
			pos = append(pos, fs.Args()...)
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if !c.Args && len(pos) > 0 {
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	for _, name := range c.Required {
		if fs.Lookup(name).Value.String() == "" {
			return fmt.Errorf("--%s is required", name)
		}
	}
	if engine != nil {
		if err := engine(); err != nil {
			return err
		}
		if !c.Int8 && blas.CurrentPrecision() == blas.INT8 {
			blas.SetPrecision(blas.FP32)
			return fmt.Errorf("--precision int8 is for encoder inference (embed, eval, index, serve, ask, diagnose, bench encode|mixed|search) and quantized decoder weights (generate, bench decode with --weights int8|int4); %s computes in fp32 or bf16", c.Name)
		}
	}
	return run(ctx, pos)
}

// Usage prints c's synopsis, help text and flags to fs's output.
func (c *Command) Usage(fs *flag.FlagSet) {
	w := fs.Output()
	fmt.Fprintf(w, "usage: kormed %s\n", c.UsageLine)
	if c.Long != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimSpace(c.Long))
	}
	fmt.Fprint(w, "\nflags:\n")
	fs.PrintDefaults()
}

// Legacy is a command that parses its own arguments with run.
func Legacy(name, short string, run Func) *Command {
	return &Command{Name: name, Short: short, Run: run}
}
