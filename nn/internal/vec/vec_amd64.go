//go:build !purego

// Package vec holds AVX2 assembly for package nn's pure-Go path (a
// separate package because Go assembly cannot sit in a cgo package).
package vec

import "golang.org/x/sys/cpu"

// Available reports whether the assembly can run: AVX2 and FMA, with OS
// support for the YMM state (which x/sys/cpu checks).
var Available = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func biasGELU(x, b *float32, n int)

// BiasGELU sets x[i] = GELU(x[i] + b[i]) for the first len(x)/8·8
// elements (b nil: no bias) and returns how many it did; the caller does
// the rest. Call only when Available.
func BiasGELU(x, b []float32) int {
	n := len(x) &^ 7
	if n == 0 {
		return 0
	}
	var bp *float32
	if b != nil {
		_ = b[n-1]
		bp = &b[0]
	}
	biasGELU(&x[0], bp, n)
	return n
}
