//go:build !purego

// Package kern holds the assembly micro-kernel of the pure-Go matrix
// product (a separate package because Go assembly cannot sit in a cgo
// package).
package kern

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)
func xgetbv0() uint32

// Tile6x16 sets acc = Σ_p ap[p*6+r]·bp[p*16+j] for the 6×16 tile (row
// stride 16), with AVX2 FMA instructions. Call it only when Available.
//
//go:noescape
func Tile6x16(k int, ap, bp *float32, acc *[96]float32)

// Tile6x16Strided is Tile6x16 with A read in place: row r of the tile is
// a[r*lda : r*lda+k] (all six rows must exist).
//
//go:noescape
func Tile6x16Strided(k int, a *float32, lda int, bp *float32, acc *[96]float32)

// Available reports whether the CPU and OS support AVX2 and FMA.
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
	if xgetbv0()&6 != 6 { // OS saves XMM and YMM state
		return false
	}
	_, b7, _, _ := cpuid(7, 0)
	return b7&(1<<5) != 0
}
