//go:build cgo && !nodnnl

package blas

/*
#cgo CFLAGS: -O2 -fopenmp
#cgo LDFLAGS: -ldnnl -fopenmp
#include <stdint.h>
typedef struct kormed_w8 kormed_w8;
int kormed_int8_isa(void);
kormed_w8 *kormed_w8_pack(const int8_t *q, long n, long k, int nt);
kormed_w8 *kormed_w8_wrap(const int8_t *q, long n, long k);
void kormed_w8_free(kormed_w8 *w);
const char *kormed_w8_impl(const kormed_w8 *w);
int kormed_w8_amx(const kormed_w8 *w);
int kormed_int8_amx(int on);
void kormed_quant_rows(long m, long k, const float *a, long lda, int8_t *q, float *s, int nt);
int kormed_gemm_s8(long m, const kormed_w8 *w, const int8_t *qa, int32_t *acc, int nt);
int kormed_int8_each(long n, int nt, int (*fn)(const void *ctx, long i), const void *ctx);
int kormed_int8_rows(long rows, const float *a, long lda, const void *w, const float *ws, const float *b, float *c, long ldc);
int kormed_matmul_int8(long m, const float *a, long lda, const kormed_w8 *w, const float *ws, const float *b, float *c, long ldc, int nt);
int kormed_ffn_int8(long m, const float *a, long lda, const kormed_w8 *w1, const float *ws1, const float *b1, void *act,
		    const kormed_w8 *w2, const float *ws2, float *c, long ldc, int nt);
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unsafe"

	"golang.org/x/sys/cpu"
)

// packedInt8 is oneDNN's packed copy of an Int8Weights, freed with it,
// and where amx is set also the copy kormed's AMX kernel reads (amx.c).
type packedInt8 struct {
	w    *C.kormed_w8
	impl string
	amx  bool
}

// amxInt8 turns on kormed's AMX kernel (amx.c) for the products that run
// a thread's rows at a time (the tiles of MatMulInt8, MatMulInt8FFN and
// Int8Rows), where the CPU has AMX-INT8, oneDNN's ISA is not capped below
// AMX (ONEDNN_MAX_CPU_ISA), KORMED_INT8_AMX is not "off", and Linux grants
// the tile state. Elsewhere oneDNN's kernel runs them.
var amxInt8 = sync.OnceValue(func() bool {
	if !cpu.X86.HasAMXInt8 || os.Getenv("KORMED_INT8_AMX") == "off" {
		return false
	}
	if int(C.kormed_int8_isa())&isaAMX != isaAMX {
		return false
	}
	return C.kormed_int8_amx(1) != 0
})

// setAMX turns the AMX kernel off and on for weights packed with it (the
// tests compare the two); it reports the setting in force.
func setAMX(on bool) bool {
	if on && !amxInt8() {
		return false
	}
	v := 0
	if on {
		v = 1
	}
	return C.kormed_int8_amx(C.int(v)) != 0
}

func packInt8(q *Int8Weights) *packedInt8 {
	amxInt8()
	w := C.kormed_w8_pack((*C.int8_t)(unsafe.Pointer(&q.Q[0])), C.long(q.N), C.long(q.K), C.int(Threads()))
	if w == nil {
		return nil
	}
	p := &packedInt8{w: w, impl: C.GoString(C.kormed_w8_impl(w)), amx: C.kormed_w8_amx(w) != 0}
	runtime.SetFinalizer(p, func(p *packedInt8) { C.kormed_w8_free(p.w) })
	return p
}

// wrapInt8 is q's weights for oneDNN as they are, unpacked (kormed_w8_wrap:
// for weights used once); q.Q must stay alive while it is used.
func wrapInt8(q *Int8Weights) *packedInt8 {
	w := C.kormed_w8_wrap((*C.int8_t)(unsafe.Pointer(&q.Q[0])), C.long(q.N), C.long(q.K))
	if w == nil {
		return nil
	}
	p := &packedInt8{w: w, impl: C.GoString(C.kormed_w8_impl(w))}
	runtime.SetFinalizer(p, func(p *packedInt8) { C.kormed_w8_free(p.w) })
	return p
}

// free releases p's memory now (gemmQInt8's per-call packing) rather
// than at its finalizer.
func (p *packedInt8) free() {
	runtime.SetFinalizer(p, nil)
	C.kormed_w8_free(p.w)
	p.w = nil
}

// oneDNN's ISA values (dnnl_cpu_isa_t) are bit sets; these are the int8
// dot-product levels.
const (
	isaAVX512VNNI = 0x67
	isaAVX2VNNI   = 0x407
	isaAMX        = 0x3e7
)

func isaName(isa int) string {
	switch {
	case isa&isaAMX == isaAMX:
		return "AMX"
	case isa&isaAVX512VNNI == isaAVX512VNNI:
		return "AVX512-VNNI"
	case isa&isaAVX2VNNI == isaAVX2VNNI:
		return "AVX-VNNI"
	}
	return fmt.Sprintf("0x%x (no int8 dot-product instructions)", isa)
}

var int8Check = sync.OnceValue(func() error {
	if !cpu.X86.HasAVX512VNNI && !cpu.X86.HasAVXVNNI && !cpu.X86.HasAMXInt8 {
		return errors.New("int8 matrix products need a CPU with AVX512-VNNI, AVX-VNNI or AMX-INT8 (without them oneDNN's int8 kernels can saturate); this one has none (use fp32 or bf16)")
	}
	isa := int(C.kormed_int8_isa())
	if isa&isaAVX512VNNI != isaAVX512VNNI && isa&isaAVX2VNNI != isaAVX2VNNI {
		return fmt.Errorf("int8 matrix products need oneDNN's VNNI kernels, but its ISA is capped at %s (ONEDNN_MAX_CPU_ISA?)", isaName(isa))
	}
	// The extreme case, all ±127 (where a kernel summing pairs in int16
	// would saturate), must come out exact.
	const m, n, k = 3, 17, 96
	w := &Int8Weights{N: n, K: k, Q: make([]int8, n*k), Scale: make([]float32, n)}
	qa := make([]int8, m*k)
	for i := range w.Q {
		w.Q[i] = int8(127 - 254*(i/k%2))
	}
	for i := range qa {
		qa[i] = int8(127 - 254*((i/k)%2)*(i%2))
	}
	w.packed = packInt8(w)
	if w.packed == nil {
		return errors.New("int8 matrix products: oneDNN has no int8 matmul for this CPU")
	}
	got, want := make([]int32, m*n), make([]int32, m*n)
	if st := gemmS8(m, w, qa, got); st != 0 {
		return fmt.Errorf("int8 matrix products: oneDNN's int8 matmul failed (status %d)", st)
	}
	for i := 0; i < m; i++ {
		goGemmS8Row(want[i*n:(i+1)*n], qa[i*k:(i+1)*k], w.Q, n, k)
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("int8 matrix products: oneDNN's int8 matmul (%s) is not exact on this CPU (%d, want %d)", w.packed.impl, got[i], want[i])
		}
	}
	return nil
})

func int8Supported() error { return int8Check() }

// int8ISA names the int8 instruction level oneDNN runs at.
func int8ISA() string { return isaName(int(C.kormed_int8_isa())) }

// matMulInt8 is MatMulInt8Bias in C on oneDNN's threads; false when
// oneDNN could not (the caller computes it in Go).
func matMulInt8(m int, a []float32, lda int, w *Int8Weights, b, c []float32, ldc int) bool {
	var pb *C.float
	if b != nil {
		pb = (*C.float)(unsafe.Pointer(&b[0]))
	}
	st := C.kormed_matmul_int8(C.long(m), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda), w.packed.w,
		(*C.float)(unsafe.Pointer(&w.Scale[0])), pb, (*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
	runtime.KeepAlive(w)
	return st == 0
}

// ffnInt8 is MatMulInt8FFN in C (kormed_ffn_int8); false when it did not
// run (too few rows for its tiles, or oneDNN failed).
func ffnInt8(m int, a []float32, lda int, w1 *Int8Weights, b1 []float32, act unsafe.Pointer, w2 *Int8Weights, c []float32, ldc int) bool {
	var pb *C.float
	if b1 != nil {
		pb = (*C.float)(unsafe.Pointer(&b1[0]))
	}
	st := C.kormed_ffn_int8(C.long(m), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda), w1.packed.w,
		(*C.float)(unsafe.Pointer(&w1.Scale[0])), pb, act, w2.packed.w, (*C.float)(unsafe.Pointer(&w2.Scale[0])),
		(*C.float)(unsafe.Pointer(&c[0])), C.long(ldc), C.int(Threads()))
	runtime.KeepAlive(w1)
	runtime.KeepAlive(w2)
	return st == 0
}

func int8RowsFunc() unsafe.Pointer { return unsafe.Pointer(C.kormed_int8_rows) }

func int8EachFunc() unsafe.Pointer { return unsafe.Pointer(C.kormed_int8_each) }

func (p *packedInt8) handle() unsafe.Pointer { return unsafe.Pointer(p.w) }

// gemmS8 sets acc [m,N] = qa [m,K]·Qᵀ with oneDNN (the exact int32 sums);
// 0 or oneDNN's failure status.
func gemmS8(m int, w *Int8Weights, qa []int8, acc []int32) int {
	st := C.kormed_gemm_s8(C.long(m), w.packed.w, (*C.int8_t)(unsafe.Pointer(&qa[0])),
		(*C.int32_t)(unsafe.Pointer(&acc[0])), C.int(Threads()))
	runtime.KeepAlive(w)
	return int(st)
}

// quantizeRowsC is the C kernel's row quantization (for the tests).
func quantizeRowsC(m, k int, a []float32, lda int, q []int8, s []float32) {
	C.kormed_quant_rows(C.long(m), C.long(k), (*C.float)(unsafe.Pointer(&a[0])), C.long(lda),
		(*C.int8_t)(unsafe.Pointer(&q[0])), (*C.float)(unsafe.Pointer(&s[0])), C.int(Threads()))
}
