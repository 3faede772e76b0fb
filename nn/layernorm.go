package nn

import (
	"math"

	"github.com/kormed/kormed/blas"
)

// LayerNorm normalises each of the N rows of in [N,C] to zero mean and unit
// variance (biased, as PyTorch), then scales by w and shifts by b.
// mean and rstd ([N]) receive the statistics for the backward pass; either
// may be nil at inference. out may alias in.
func LayerNorm(out, mean, rstd, in, w, b []float32, N, C int, eps float32) {
	checkLN("LayerNorm", out, nil, mean, rstd, in, nil, w, b, N, C)
	kLayerNorm(out, nil, mean, rstd, in, nil, nil, w, b, N, C, eps)
}

// AddLayerNorm is LayerNorm(a + r), the post-LN residual of BERT, in one
// pass: out = LayerNorm(a+r)·w + b over N rows of C. sum, if non-nil,
// receives a+r (the LayerNorm input a backward needs); mean and rstd as in
// LayerNorm. out may alias a or r; sum must not alias out.
func AddLayerNorm(out, sum, mean, rstd, a, r, w, b []float32, N, C int, eps float32) {
	checkLN("AddLayerNorm", out, sum, mean, rstd, a, r, w, b, N, C)
	need("AddLayerNorm", "r", r, N*C)
	kLayerNorm(out, sum, mean, rstd, a, nil, r, w, b, N, C, eps)
}

// AddBiasLayerNorm is AddLayerNorm(a + ab, r) with ab [C] a per-column bias
// (ab may be nil): out = LayerNorm((a + ab) + r)·w + b. It lets the output
// projection's bias ride along the LayerNorm pass instead of a separate
// pass after the product: Linear(a, x, wo, nil, ...) then
// AddBiasLayerNorm(out, ..., a, bo, residual, ...) gives the same result as
// Linear with bias then AddLayerNorm.
func AddBiasLayerNorm(out, sum, mean, rstd, a, ab, r, w, b []float32, N, C int, eps float32) {
	checkLN("AddBiasLayerNorm", out, sum, mean, rstd, a, r, w, b, N, C)
	need("AddBiasLayerNorm", "r", r, N*C)
	needOpt("AddBiasLayerNorm", "ab", ab, C)
	kLayerNorm(out, sum, mean, rstd, a, ab, r, w, b, N, C, eps)
}

func checkLN(fn string, out, sum, mean, rstd, a, r, w, b []float32, N, C int) {
	need(fn, "out", out, N*C)
	need(fn, "in", a, N*C)
	need(fn, "w", w, C)
	need(fn, "b", b, C)
	needOpt(fn, "sum", sum, N*C)
	needOpt(fn, "mean", mean, N)
	needOpt(fn, "rstd", rstd, N)
}

// goLayerNorm normalises rows of a (+ ab + r when r is non-nil, ab being a
// per-column bias or nil; the sum goes to sum when non-nil). Statistics are
// accumulated in float64.
func goLayerNorm(out, sum, mean, rstd, a, ab, r, w, b []float32, N, C int, eps float32) {
	parallelRows(N, 8, func(lo, hi int) {
		var tmp []float32
		if r != nil && sum == nil {
			tmp = make([]float32, C)
		}
		for i := lo; i < hi; i++ {
			x := a[i*C : (i+1)*C]
			if r != nil {
				s := tmp
				if sum != nil {
					s = sum[i*C : (i+1)*C]
				}
				rr := r[i*C : (i+1)*C]
				if ab != nil {
					for j := range s {
						s[j] = (x[j] + ab[j]) + rr[j]
					}
				} else {
					for j := range s {
						s[j] = x[j] + rr[j]
					}
				}
				x = s
			}
			var s0, s1, s2, s3 float64
			j := 0
			for ; j+4 <= len(x); j += 4 {
				s0 += float64(x[j])
				s1 += float64(x[j+1])
				s2 += float64(x[j+2])
				s3 += float64(x[j+3])
			}
			for ; j < len(x); j++ {
				s0 += float64(x[j])
			}
			m := (s0 + s1 + s2 + s3) / float64(C)
			var v float64
			for _, e := range x {
				d := float64(e) - m
				v += d * d
			}
			v /= float64(C)
			rs := float32(1 / math.Sqrt(v+float64(eps)))
			mf := float32(m)
			o := out[i*C : (i+1)*C]
			ww, bb := w[:len(o)], b[:len(o)]
			for j := range o {
				o[j] = (x[j]-mf)*rs*ww[j] + bb[j]
			}
			if mean != nil {
				mean[i] = mf
			}
			if rstd != nil {
				rstd[i] = rs
			}
		}
	})
}

// LayerNormBackward accumulates the gradients of LayerNorm (and of the
// residual forms, with in = the saved sum) given dout [N,C]: din [N,C],
// dw [C], db [C]. in, w, mean and rstd are what the forward used and saved.
// The per-thread partial sums of dw and db are added in chunk order, so the
// result is the same on every run with the same thread count.
func LayerNormBackward(din, dw, db, dout, in, w, mean, rstd []float32, N, C int) {
	need("LayerNormBackward", "dout", dout, N*C)
	need("LayerNormBackward", "in", in, N*C)
	need("LayerNormBackward", "w", w, C)
	need("LayerNormBackward", "mean", mean, N)
	need("LayerNormBackward", "rstd", rstd, N)
	needOpt("LayerNormBackward", "din", din, N*C)
	needOpt("LayerNormBackward", "dw", dw, C)
	needOpt("LayerNormBackward", "db", db, C)
	if N > 0 {
		kLayerNormBackward(din, dw, db, dout, in, w, mean, rstd, N, C)
	}
}

// goLayerNormBackward is LayerNormBackward in Go: per-chunk float64
// partials of dw and db, added in chunk order.
func goLayerNormBackward(din, dw, db, dout, in, w, mean, rstd []float32, N, C int) {
	type partial struct{ dw, db []float64 }
	parts := make([]partial, blas.Threads())
	parallelChunks(N, 8, func(g, lo, hi int) {
		pw, pb := make([]float64, C), make([]float64, C)
		for i := lo; i < hi; i++ {
			x, gr := in[i*C:(i+1)*C], dout[i*C:(i+1)*C]
			m, rs := mean[i], rstd[i]
			var dnMean, dnNormMean float64
			for j := range x {
				norm := (x[j] - m) * rs
				dn := float64(w[j] * gr[j])
				dnMean += dn
				dnNormMean += dn * float64(norm)
			}
			dnMean /= float64(C)
			dnNormMean /= float64(C)
			for j := range x {
				norm := float64((x[j] - m) * rs)
				pb[j] += float64(gr[j])
				pw[j] += norm * float64(gr[j])
				if din != nil {
					dn := float64(w[j] * gr[j])
					din[i*C+j] += float32((dn - dnMean - norm*dnNormMean) * float64(rs))
				}
			}
		}
		parts[g] = partial{pw, pb}
	})
	for _, p := range parts {
		if p.dw == nil {
			continue
		}
		for j := 0; j < C; j++ {
			if dw != nil {
				dw[j] += float32(p.dw[j])
			}
			if db != nil {
				db[j] += float32(p.db[j])
			}
		}
	}
}
