//go:build !cgo || nodnnl

package blas

import "unsafe"

// PoolRun is nil: this build has no C thread pool.
func PoolRun() unsafe.Pointer { return nil }
