//go:build !unix

package blas

func cpuSeconds() float64 { return 0 }
