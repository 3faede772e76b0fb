//go:build cgo

package nn

/*
#cgo CFLAGS: -O3 -fopenmp
#cgo LDFLAGS: -fopenmp -lm
#include "kernels.h"
*/
import "C"

import (
	"fmt"
	"runtime"
	"unsafe"

	"github.com/kormed/kormed/blas"
)

// kernelBackend names the elementwise/attention kernels in use.
const kernelBackend = "C (OpenMP, target_clones avx512f/avx2/default)"

// The decode attention shares blas's thread pool with the products around
// it (kn_set_pool).
func init() { C.kn_set_pool(blas.PoolRun()) }

func fp(s []float32) *C.float {
	if s == nil {
		return nil
	}
	return (*C.float)(unsafe.Pointer(unsafe.SliceData(s)))
}

func nt() C.int { return C.int(blas.Threads()) }

// kFFNInt8 runs blas.MatMulInt8FFN with kn_bias_gelu_rows between the
// products; false where it does not apply.
func kFFNInt8(out, in []float32, w1 *blas.Int8Weights, b1 []float32, w2 *blas.Int8Weights, N int) bool {
	return blas.MatMulInt8FFN(N, in, w1.K, w1, b1, unsafe.Pointer(C.kn_bias_gelu_rows), w2, out, w2.N)
}

// kBlockInt8 runs kn_block_int8 with blas.Int8Rows as its products; false
// where it does not apply.
func kBlockInt8(out, in, mask []float32, k *BlockInt8, B, T, Cn, F, NH int, eps float32) bool {
	prod, each := blas.Int8Rows(), blas.Int8Each()
	if prod == nil || each == nil {
		return false
	}
	// The struct handed to C holds pointers to Go memory, which must be
	// pinned for the call.
	var pin runtime.Pinner
	defer pin.Unpin()
	f := func(s []float32) *C.float {
		if s == nil {
			return nil
		}
		pin.Pin(unsafe.SliceData(s))
		return fp(s)
	}
	q := func(w *blas.Int8Weights, b []float32) (C.kn_q8, bool) {
		h := w.Handle()
		return C.kn_q8{w: h, s: f(w.Scale), b: f(b)}, h != nil
	}
	var blk C.kn_block8
	var ok [4]bool
	blk.qkv, ok[0] = q(k.QKV, k.QKVB)
	blk.attn_out, ok[1] = q(k.AttnOut, k.AttnOutB)
	blk.inter, ok[2] = q(k.Inter, k.InterB)
	blk.out, ok[3] = q(k.Out, k.OutB)
	if ok != [4]bool{true, true, true, true} {
		return false
	}
	blk.ln1_w, blk.ln1_b, blk.ln2_w, blk.ln2_b = f(k.AttnLNW), f(k.AttnLNB), f(k.OutLNW), f(k.OutLNB)
	st := C.kn_block_int8(fp(out), fp(in), fp(mask), C.long(B), C.long(T), C.long(Cn), C.long(F), C.long(NH),
		C.float(eps), &blk, prod, each, nt())
	runtime.KeepAlive(k)
	switch {
	case st == -1:
		return false
	case st != 0 && overlap(out, in):
		panic(fmt.Sprintf("nn.EncoderBlockInt8: the int8 block failed part way, in place (status %d)", st))
	}
	return st == 0
}

// overlap reports whether a and b share memory.
func overlap(a, b []float32) bool {
	if len(a) == 0 || len(b) == 0 {
		return false
	}
	a0, b0 := uintptr(unsafe.Pointer(&a[0])), uintptr(unsafe.Pointer(&b[0]))
	return a0 < b0+uintptr(len(b))*4 && b0 < a0+uintptr(len(a))*4
}

func kBias(out, b []float32, N, OC int) {
	C.kn_bias(fp(out), fp(b), C.long(N), C.long(OC), nt())
}

func kBiasGELU(out, pre, b []float32, N, OC int) {
	C.kn_bias_gelu(fp(out), fp(pre), fp(b), C.long(N), C.long(OC), nt())
}

func kGELU(out, in []float32) {
	C.kn_gelu(fp(out), fp(in), C.long(len(out)), nt())
}

func kGELUBackward(din, pre, dout []float32) {
	C.kn_gelu_backward(fp(din), fp(pre), fp(dout), C.long(len(din)), nt())
}

func kDropRows(x []float32, B, T, Cn int, keys []uint64, th uint64, scale float32) {
	C.kn_dropout_rows(fp(x), C.long(B), C.long(T), C.long(Cn), (*C.uint64_t)(unsafe.Pointer(unsafe.SliceData(keys))), C.uint64_t(th), C.float(scale), nt())
}

func kDropProbs(dst, src []float32, T, h int, key, th uint64, scale float32) {
	C.kn_drop_probs(fp(dst), fp(src), C.long(T), C.long(h), C.uint64_t(key), C.uint64_t(th), C.float(scale))
}

func kBiasBackward(db, dout []float32, N, OC int) {
	C.kn_bias_backward(fp(db), fp(dout), C.long(N), C.long(OC), nt())
}

func kLayerNormBackward(din, dw, db, dout, in, w, mean, rstd []float32, N, Cn int) {
	C.kn_layernorm_backward(fp(din), fp(dw), fp(db), fp(dout), fp(in), fp(w), fp(mean), fp(rstd), C.long(N), C.long(Cn), nt())
}

func kAdamW(p, g, m, v []float32, a AdamWParams) {
	C.kn_adamw(fp(p), fp(g), fp(m), fp(v), C.long(len(p)), C.float(a.Decay), C.float(a.Beta1), C.float(a.Beta2),
		C.float(a.C1), C.float(a.C2), C.float(a.BC2Sqrt), C.float(a.Eps), C.float(a.StepSize), nt())
}

func kSumSquares(x []float32) float64 { return float64(C.kn_sumsq(fp(x), C.long(len(x)), nt())) }

func kAdd(out, a, b []float32) {
	C.kn_add(fp(out), fp(a), fp(b), C.long(len(out)), nt())
}

func kLayerNorm(out, sum, mean, rstd, a, ab, r, w, b []float32, N, Cn int, eps float32) {
	C.kn_layernorm(fp(out), fp(sum), fp(mean), fp(rstd), fp(a), fp(ab), fp(r), fp(w), fp(b), C.long(N), C.long(Cn), C.float(eps), nt())
}

func kAttention(out, att, qkv, mask []float32, B, T, Cn, NH int) {
	C.kn_attention(fp(out), fp(att), fp(qkv), fp(mask), C.long(B), C.long(T), C.long(Cn), C.long(NH), nt())
}

func kSwiGLU(out, gu []float32, N, F int) {
	C.kn_swiglu(fp(out), fp(gu), C.long(N), C.long(F), nt())
}

func kDecodeAttention(out, q, k, v []float32, ldkv, S, NKV, rep, hs int, scale float32) {
	if C.kn_decode_attention(fp(out), fp(q), fp(k), fp(v), C.long(ldkv), C.long(S), C.long(NKV), C.long(rep), C.long(hs), C.float(scale), nt()) == 0 {
		goDecodeAttention(out, q, k, v, ldkv, S, NKV, rep, hs, scale) // no memory for the C kernel's scratch
	}
}
