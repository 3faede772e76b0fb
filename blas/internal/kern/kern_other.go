//go:build !amd64 || purego

// Package kern holds the assembly micro-kernel of the pure-Go matrix
// product; on this platform there is none.
package kern

// Available is false: no assembly kernel on this platform.
const Available = false

// Tile6x16 is not implemented here; callers check Available.
func Tile6x16(k int, ap, bp *float32, acc *[96]float32) { panic("kern: no assembly kernel") }

// Tile6x16Strided is not implemented here; callers check Available.
func Tile6x16Strided(k int, a *float32, lda int, bp *float32, acc *[96]float32) {
	panic("kern: no assembly kernel")
}
