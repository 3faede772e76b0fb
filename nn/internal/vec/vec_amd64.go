//go:build !purego

// Package vec holds AVX2 assembly for package nn's pure-Go path (a
// separate package because Go assembly cannot sit in a cgo package).
package vec

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv0() uint32

// Available reports whether the assembly can run (AVX2 and FMA, with OS
// support for YMM state).
var Available = hasAVX2FMA()

func hasAVX2FMA() bool {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 7 {
		return false
	}
	_, _, c1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if c1&fma == 0 || c1&osxsave == 0 || c1&avx == 0 {
		return false
	}
	if xgetbv0()&6 != 6 {
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0
}

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
