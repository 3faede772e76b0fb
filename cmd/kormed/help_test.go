package main

import (
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
)

// TestHelpExitsZero runs every registered command with -h and --help, and
// "kormed help", as a separate process: each prints its usage and exits 0.
func TestHelpExitsZero(t *testing.T) {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	runs := [][]string{{"help"}, {"-h"}, {"--help"}, {"help", "-h"}, {"help", "embed"}}
	for _, n := range names {
		runs = append(runs, append(strings.Fields(n), "-h"), append(strings.Fields(n), "--help"))
	}
	for _, args := range runs {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), "KORMED_MAIN=1", "KORMED_ARGS="+strings.Join(args, " "))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("kormed %s: %v\n%s", strings.Join(args, " "), err, out)
			continue
		}
		if !strings.Contains(strings.ToLower(string(out)), "usage") && !strings.Contains(string(out), "-") {
			t.Errorf("kormed %s printed no usage:\n%s", strings.Join(args, " "), out)
		}
	}
	// No command at all is a usage error.
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "KORMED_MAIN=1", "KORMED_ARGS=")
	if err := cmd.Run(); err == nil {
		t.Error("kormed with no command exited 0")
	}
}
