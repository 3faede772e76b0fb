//go:build unix

package blas

import "syscall"

// cpuSeconds is the process's user+system CPU time, for benchmark metrics
// that hold up when other processes share the cores.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
