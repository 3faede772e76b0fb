//go:build !purego

package vector

import "golang.org/x/sys/cpu"

// useAVX reports whether the AVX2/FMA kernels of dot_amd64.s can run (x/sys/cpu
// also checks that the OS saves the YMM state).
var useAVX = cpu.X86.HasAVX2 && cpu.X86.HasFMA

//go:noescape
func dot1AVX(q, r *float32, n int) float32

//go:noescape
func dot4AVX(q, r0, r1, r2, r3 *float32, n int, out *[4]float32)

//go:noescape
func dot4BF16AVX(q *float32, r0, r1, r2, r3 *uint16, n int, out *[4]float32)

//go:noescape
func dot4I8AVX(q *float32, r0, r1, r2, r3 *int8, n int, out *[4]float32)
