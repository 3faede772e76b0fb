//go:build !purego

// Package kern holds the assembly micro-kernel of the pure-Go matrix
// product (a separate package because Go assembly cannot sit in a cgo
// package).
package kern

import "golang.org/x/sys/cpu"

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

// Available reports whether the CPU and OS support AVX2 and FMA (x/sys/cpu
// also checks that the OS saves the YMM state).
var Available = cpu.X86.HasAVX2 && cpu.X86.HasFMA
