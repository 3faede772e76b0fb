//go:build !amd64 || purego

// Package vec holds AVX2 assembly for package nn's pure-Go path; on this
// platform there is none.
package vec

// Available is false: no assembly here.
const Available = false

// BiasGELU does nothing here (Available is false) and returns 0.
func BiasGELU(x, b []float32) int { return 0 }
