//go:build !purego

#include "textflag.h"

// The float32 kernels keep two YMM accumulators per row, A over the first
// and B over the second eight floats of every 16, and reduce each row the
// same way: t = A+B, then (t0+t4 + t2+t6) + (t1+t5 + t3+t7). One row or
// four, the sums of a row are therefore bit for bit the same.

// REDUCE sums the eight lanes of ya+yb into the low float of xa (the low
// half of ya), using X15 as scratch.
#define REDUCE(ya, yb, xa) \
	VADDPS yb, ya, ya \
	VEXTRACTF128 $1, ya, X15 \
	VADDPS X15, xa, xa \
	VMOVHLPS xa, X15, X15 \
	VADDPS X15, xa, xa \
	VMOVSHDUP xa, X15 \
	VADDSS X15, xa, xa

// func dot1AVX(q, r *float32, n int) float32
//
// Σ q[j]·r[j] for j < n, n a multiple of 8.
TEXT ·dot1AVX(SB), NOSPLIT, $0-28
	MOVQ q+0(FP), SI
	MOVQ r+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	MOVQ CX, DX
	SHRQ $4, CX
	JZ tail1

loop1:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VFMADD231PS (DI), Y8, Y0
	VFMADD231PS 32(DI), Y9, Y1
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ loop1

tail1:
	TESTQ $8, DX
	JZ done1
	VMOVUPS (SI), Y8
	VFMADD231PS (DI), Y8, Y0

done1:
	REDUCE(Y0, Y1, X0)
	VZEROUPPER
	MOVSS X0, ret+24(FP)
	RET

// func dot4AVX(q, r0, r1, r2, r3 *float32, n int, out *[4]float32)
//
// out[i] = Σ q[j]·ri[j] for j < n, n a multiple of 8.
TEXT ·dot4AVX(SB), NOSPLIT, $0-56
	MOVQ q+0(FP), SI
	MOVQ r0+8(FP), R8
	MOVQ r1+16(FP), R9
	MOVQ r2+24(FP), R10
	MOVQ r3+32(FP), R11
	MOVQ n+40(FP), CX
	MOVQ out+48(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	MOVQ CX, DX
	SHRQ $4, CX
	JZ tail4

loop4:
	VMOVUPS (SI), Y8
	VMOVUPS 32(SI), Y9
	VFMADD231PS (R8), Y8, Y0
	VFMADD231PS 32(R8), Y9, Y1
	VFMADD231PS (R9), Y8, Y2
	VFMADD231PS 32(R9), Y9, Y3
	VFMADD231PS (R10), Y8, Y4
	VFMADD231PS 32(R10), Y9, Y5
	VFMADD231PS (R11), Y8, Y6
	VFMADD231PS 32(R11), Y9, Y7
	ADDQ $64, SI
	ADDQ $64, R8
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	DECQ CX
	JNZ loop4

tail4:
	TESTQ $8, DX
	JZ done4
	VMOVUPS (SI), Y8
	VFMADD231PS (R8), Y8, Y0
	VFMADD231PS (R9), Y8, Y2
	VFMADD231PS (R10), Y8, Y4
	VFMADD231PS (R11), Y8, Y6

done4:
	REDUCE(Y0, Y1, X0)
	REDUCE(Y2, Y3, X2)
	REDUCE(Y4, Y5, X4)
	REDUCE(Y6, Y7, X6)
	VZEROUPPER
	MOVSS X0, 0(DI)
	MOVSS X2, 4(DI)
	MOVSS X4, 8(DI)
	MOVSS X6, 12(DI)
	RET

// func dot4BF16AVX(q *float32, r0, r1, r2, r3 *uint16, n int, out *[4]float32)
//
// out[i] = Σ q[j]·bf16(ri[j]) for j < n, n a multiple of 8: a bfloat16 is
// the high half of a float32, so widening and shifting left by 16 is exact.
TEXT ·dot4BF16AVX(SB), NOSPLIT, $0-56
	MOVQ q+0(FP), SI
	MOVQ r0+8(FP), R8
	MOVQ r1+16(FP), R9
	MOVQ r2+24(FP), R10
	MOVQ r3+32(FP), R11
	MOVQ n+40(FP), CX
	MOVQ out+48(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ $3, CX
	JZ doneb

loopb:
	VMOVUPS (SI), Y8
	VPMOVZXWD (R8), Y10
	VPMOVZXWD (R9), Y11
	VPMOVZXWD (R10), Y12
	VPMOVZXWD (R11), Y13
	VPSLLD $16, Y10, Y10
	VPSLLD $16, Y11, Y11
	VPSLLD $16, Y12, Y12
	VPSLLD $16, Y13, Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3
	ADDQ $32, SI
	ADDQ $16, R8
	ADDQ $16, R9
	ADDQ $16, R10
	ADDQ $16, R11
	DECQ CX
	JNZ loopb

doneb:
	VXORPS Y4, Y4, Y4
	REDUCE(Y0, Y4, X0)
	REDUCE(Y1, Y4, X1)
	REDUCE(Y2, Y4, X2)
	REDUCE(Y3, Y4, X3)
	VZEROUPPER
	MOVSS X0, 0(DI)
	MOVSS X1, 4(DI)
	MOVSS X2, 8(DI)
	MOVSS X3, 12(DI)
	RET

// func dot4I8AVX(q *float32, r0, r1, r2, r3 *int8, n int, out *[4]float32)
//
// out[i] = Σ q[j]·float32(ri[j]) for j < n, n a multiple of 8.
TEXT ·dot4I8AVX(SB), NOSPLIT, $0-56
	MOVQ q+0(FP), SI
	MOVQ r0+8(FP), R8
	MOVQ r1+16(FP), R9
	MOVQ r2+24(FP), R10
	MOVQ r3+32(FP), R11
	MOVQ n+40(FP), CX
	MOVQ out+48(FP), DI
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ $3, CX
	JZ donei

loopi:
	VMOVUPS (SI), Y8
	VPMOVSXBD (R8), Y10
	VPMOVSXBD (R9), Y11
	VPMOVSXBD (R10), Y12
	VPMOVSXBD (R11), Y13
	VCVTDQ2PS Y10, Y10
	VCVTDQ2PS Y11, Y11
	VCVTDQ2PS Y12, Y12
	VCVTDQ2PS Y13, Y13
	VFMADD231PS Y10, Y8, Y0
	VFMADD231PS Y11, Y8, Y1
	VFMADD231PS Y12, Y8, Y2
	VFMADD231PS Y13, Y8, Y3
	ADDQ $32, SI
	ADDQ $8, R8
	ADDQ $8, R9
	ADDQ $8, R10
	ADDQ $8, R11
	DECQ CX
	JNZ loopi

donei:
	VXORPS Y4, Y4, Y4
	REDUCE(Y0, Y4, X0)
	REDUCE(Y1, Y4, X1)
	REDUCE(Y2, Y4, X2)
	REDUCE(Y3, Y4, X3)
	VZEROUPPER
	MOVSS X0, 0(DI)
	MOVSS X1, 4(DI)
	MOVSS X2, 8(DI)
	MOVSS X3, 12(DI)
	RET
