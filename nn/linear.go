package nn

import (
	"fmt"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/nn/internal/vec"
)

// Linear computes out[N,OC] = in[N,C]·w[OC,C]ᵀ + b, the PyTorch nn.Linear
// layout. b may be nil.
func Linear(out, in, w, b []float32, N, C, OC int) {
	need("Linear", "out", out, N*OC)
	needOpt("Linear", "b", b, OC)
	blasSgemmLinear(out, in, w, N, C, OC)
	if b != nil && N > 0 {
		kBias(out, b, N, OC)
	}
}

// LinearGELU computes out = GELU(in·wᵀ + b) (BERT's intermediate dense
// layer) with the bias and activation fused into one pass over out. pre,
// if non-nil, receives the pre-activation in·wᵀ + b for the backward; it
// must not alias out. b may be nil.
func LinearGELU(out, pre, in, w, b []float32, N, C, OC int) {
	need("LinearGELU", "out", out, N*OC)
	needOpt("LinearGELU", "pre", pre, N*OC)
	needOpt("LinearGELU", "b", b, OC)
	blasSgemmLinear(out, in, w, N, C, OC)
	if N > 0 {
		kBiasGELU(out, pre, b, N, OC)
	}
}

// TransposeWeight returns wᵀ [C,OC] of a PyTorch Linear weight w [OC,C]:
// the layout LinearT and LinearGELUT take.
func TransposeWeight(w []float32, OC, C int) []float32 {
	need("TransposeWeight", "w", w, OC*C)
	wt := make([]float32, C*OC)
	const blk = 32
	for o0 := 0; o0 < OC; o0 += blk {
		for c0 := 0; c0 < C; c0 += blk {
			for o := o0; o < min(o0+blk, OC); o++ {
				for c := c0; c < min(c0+blk, C); c++ {
					wt[c*OC+o] = w[o*C+c]
				}
			}
		}
	}
	return wt
}

// LinearT is Linear with the weight stored transposed, wt [C,OC] (see
// TransposeWeight): out[N,OC] = in[N,C]·wt + b. oneDNN's product runs about
// 3% faster on this layout than on [OC,C]; results are the same up to
// float32 summation order.
func LinearT(out, in, wt, b []float32, N, C, OC int) {
	need("LinearT", "out", out, N*OC)
	needOpt("LinearT", "b", b, OC)
	blas.Sgemm(false, false, N, OC, C, 1, in, C, wt, OC, 0, out, OC)
	if b != nil && N > 0 {
		kBias(out, b, N, OC)
	}
}

// LinearGELUT is LinearGELU with the weight stored transposed, wt [C,OC].
func LinearGELUT(out, pre, in, wt, b []float32, N, C, OC int) {
	need("LinearGELUT", "out", out, N*OC)
	needOpt("LinearGELUT", "pre", pre, N*OC)
	needOpt("LinearGELUT", "b", b, OC)
	blas.Sgemm(false, false, N, OC, C, 1, in, C, wt, OC, 0, out, OC)
	if N > 0 {
		kBiasGELU(out, pre, b, N, OC)
	}
}

// LinearTPacked is LinearT with the weight also packed for bf16 products
// (wp = blas.PackBF16(wt, C, OC, false)), for inference under BF16
// precision: out = bf16(in)·wp + b where wp is not nil and blas runs the
// packed product (up to blas.BF16PackedRows rows, where it is the faster;
// in bfloat16 however small), otherwise LinearT on wt.
func LinearTPacked(out, in []float32, wp *blas.BF16Packed, wt, b []float32, N, C, OC int) {
	needOpt("LinearTPacked", "b", b, OC)
	if !linearPacked("LinearTPacked", out, in, wp, N, C, OC) {
		LinearT(out, in, wt, b, N, C, OC)
		return
	}
	if b != nil && N > 0 {
		kBias(out, b, N, OC)
	}
}

// LinearGELUTPacked is LinearGELUT as LinearTPacked is LinearT.
func LinearGELUTPacked(out, pre, in []float32, wp *blas.BF16Packed, wt, b []float32, N, C, OC int) {
	needOpt("LinearGELUTPacked", "pre", pre, N*OC)
	needOpt("LinearGELUTPacked", "b", b, OC)
	if !linearPacked("LinearGELUTPacked", out, in, wp, N, C, OC) {
		LinearGELUT(out, pre, in, wt, b, N, C, OC)
		return
	}
	if N > 0 {
		kBiasGELU(out, pre, b, N, OC)
	}
}

// linearPacked writes out = bf16(in)·wp where it runs (wp not nil, blas
// runs it), reporting whether it did; fn names the caller in panics.
func linearPacked(fn string, out, in []float32, wp *blas.BF16Packed, N, C, OC int) bool {
	if wp == nil {
		return false
	}
	if wp.K != C || wp.N != OC {
		panic(fmt.Sprintf("nn.%s: packed weight is %dx%d, want %dx%d", fn, wp.K, wp.N, C, OC))
	}
	need(fn, "out", out, N*OC)
	need(fn, "in", in, N*C)
	return blas.MatMulBF16Packed(N, in, C, wp, out, OC)
}

// LinearBF16 is Linear with the weight kept in bfloat16, w [OC,C] (the
// bits, PyTorch's layout): out[N,OC] = in[N,C]·wᵀ + b, float32 arithmetic
// on the exactly widened weights (see blas.MatMulBF16). b may be nil.
func LinearBF16(out, in []float32, w []uint16, b []float32, N, C, OC int) {
	need("LinearBF16", "out", out, N*OC)
	need("LinearBF16", "in", in, N*C)
	needOpt("LinearBF16", "b", b, OC)
	blas.MatMulBF16(N, OC, C, in, C, w, C, 0, out, OC)
	if b != nil && N > 0 {
		kBias(out, b, N, OC)
	}
}

// blasSgemmLinear writes out = in·wᵀ (no bias).
func blasSgemmLinear(out, in, w []float32, N, C, OC int) {
	blas.Sgemm(false, true, N, OC, C, 1, in, C, w, C, 0, out, OC)
}

func goBias(out, b []float32, N, OC int) {
	parallelRows(N, 16, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*OC : (i+1)*OC]
			bb := b[:len(o)]
			for j := range o {
				o[j] += bb[j]
			}
		}
	})
}

func goBiasGELU(out, pre, b []float32, N, OC int) {
	parallelRows(N, 4, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			o := out[i*OC : (i+1)*OC]
			var p []float32
			if pre != nil {
				p = pre[i*OC : (i+1)*OC]
			}
			done := 0
			if vec.Available { // AVX2 for the first len/8·8
				if p != nil {
					for j := range o {
						x := o[j]
						if b != nil {
							x += b[j]
						}
						p[j], o[j] = x, x
					}
					done = vec.BiasGELU(o, nil)
					for j := done; j < len(o); j++ {
						o[j] = gelu32(o[j])
					}
					continue
				}
				done = vec.BiasGELU(o, b)
			}
			for j := done; j < len(o); j++ {
				x := o[j]
				if b != nil {
					x += b[j]
				}
				if p != nil {
					p[j] = x
				}
				o[j] = gelu32(x)
			}
		}
	})
}

// LinearBackward accumulates the gradients of Linear (out = in·wᵀ + b)
// given dout [N,OC]: din [N,C] += dout·w, dw [OC,C] += doutᵀ·in,
// db [OC] += column sums of dout.
func LinearBackward(din, dw, db, dout, in, w []float32, N, C, OC int) {
	need("LinearBackward", "dout", dout, N*OC)
	if din != nil {
		need("LinearBackward", "din", din, N*C)
		blas.Sgemm(false, false, N, C, OC, 1, dout, OC, w, C, 1, din, C)
	}
	if dw != nil {
		need("LinearBackward", "dw", dw, OC*C)
		blas.Sgemm(true, false, OC, C, N, 1, dout, OC, in, C, 1, dw, C)
	}
	biasBackward(db, dout, N, OC)
}

// LinearTBackward accumulates the gradients of LinearT (out = in·wt + b,
// wt [C,OC]) given dout [N,OC]: din [N,C] += dout·wtᵀ, dwt [C,OC] +=
// inᵀ·dout, db [OC] += column sums of dout. Nil buffers are skipped.
func LinearTBackward(din, dwt, db, dout, in, wt []float32, N, C, OC int) {
	need("LinearTBackward", "dout", dout, N*OC)
	if din != nil {
		LinearTInputGrad(din, dout, wt, N, C, OC, true)
	}
	if dwt != nil {
		need("LinearTBackward", "dwt", dwt, C*OC)
		blas.Sgemm(true, false, C, OC, N, 1, in, C, dout, OC, 1, dwt, OC)
	}
	biasBackward(db, dout, N, OC)
}

// LinearTInputGrad is LinearTBackward's input gradient alone: din [N,C] =
// dout·wtᵀ, added to din when accumulate is set, else overwriting it
// (which saves clearing a fresh buffer and the product reading it).
func LinearTInputGrad(din, dout, wt []float32, N, C, OC int, accumulate bool) {
	need("LinearTInputGrad", "din", din, N*C)
	var beta float32
	if accumulate {
		beta = 1
	}
	blas.Sgemm(false, true, N, C, OC, 1, dout, OC, wt, OC, beta, din, C)
}

// biasBackward accumulates db [OC] += the column sums of dout [N,OC]
// (float64 sums, rows in order, over blocks of 64 columns; deterministic).
func biasBackward(db, dout []float32, N, OC int) {
	if db == nil {
		return
	}
	need("biasBackward", "db", db, OC)
	if N > 0 {
		kBiasBackward(db, dout, N, OC)
	}
}

func goBiasBackward(db, dout []float32, N, OC int) {
	const blk = 64
	parallelRows((OC+blk-1)/blk, 1, func(lo, hi int) {
		var acc [blk]float64
		for cb := lo; cb < hi; cb++ {
			c0, c1 := cb*blk, min(cb*blk+blk, OC)
			a := acc[:c1-c0]
			clear(a)
			for i := 0; i < N; i++ {
				for j, g := range dout[i*OC+c0 : i*OC+c1] {
					a[j] += float64(g)
				}
			}
			for j, v := range a {
				db[c0+j] += float32(v)
			}
		}
	})
}
