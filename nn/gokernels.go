package nn

import (
	"math"
	"sync"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/nn/internal/vec"
)

// The pure-Go kernels. They are the only path under CGO_ENABLED=0 and are
// compiled in every build so tests can check the C kernels against them.
// Each parallelises over rows (or batch×head pairs) with blas.Threads()
// goroutines and computes in float32 with the same formulas as the C code.

// parallelRows runs f over [0,n) cut into at most blas.Threads() contiguous
// chunks, each on its own goroutine. minChunk keeps tiny work serial.
func parallelRows(n, minChunk int, f func(lo, hi int)) {
	parallelChunks(n, minChunk, func(_, lo, hi int) { f(lo, hi) })
}

// erf32 is the rational approximation of erf used by Eigen, XLA and TVM
// (and by the C kernels here): |error| < 4.2e-7 in float32. The clamps are
// written as branches (min/max builtins are slower for floats).
func erf32(x float32) float32 {
	if x > 4 {
		x = 4
	} else if x < -4 {
		x = -4
	}
	x2 := x * x
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	q := x2*-1.45660718464996e-05 + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	return x * p / q
}

// gelu32 is 0.5·x·(1 + erf32(x/√2)) with erf32 written out so that it
// inlines into the loops (same operations, same result).
func gelu32(x float32) float32 {
	z := x * 0.70710678118654752
	if z > 4 {
		z = 4
	} else if z < -4 {
		z = -4
	}
	x2 := z * z
	p := x2*-2.72614225801306e-10 + 2.77068142495902e-08
	p = x2*p + -2.10102402082508e-06
	p = x2*p + -5.69250639462346e-05
	p = x2*p + -7.34990630326855e-04
	p = x2*p + -2.95459980854025e-03
	p = x2*p + -1.60960333262415e-02
	q := x2*-1.45660718464996e-05 + -2.13374055278905e-04
	q = x2*q + -1.68282697438203e-03
	q = x2*q + -7.37332916720468e-03
	q = x2*q + -1.42647390514189e-02
	return 0.5 * x * (1 + z*p/q)
}

// exp32 is Cephes' expf: 0 below -87.3, about 1 ulp elsewhere. n is
// rounded to nearest with the 1.5·2²³ trick (float32 arithmetic).
func exp32(x float32) float32 {
	if x < -87.3 {
		return 0
	}
	if x > 88.3762626647949 {
		x = 88.3762626647949
	}
	n := (x*1.44269504088896341 + 12582912) - 12582912
	r := x - n*0.693359375
	r = r - n*-2.12194440e-4
	p := float32(1.9875691500e-4)
	p = p*r + 1.3981999507e-3
	p = p*r + 8.3334519073e-3
	p = p*r + 4.1665795894e-2
	p = p*r + 1.6666665459e-1
	p = p*r + 5.0000001201e-1
	y := p*r*r + r + 1
	return y * math.Float32frombits(uint32(int32(n)+127)<<23)
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

func goGELU(out, in []float32) {
	parallelRows(len(out), 4096, func(lo, hi int) {
		o, x := out[lo:hi], in[lo:hi]
		done := 0
		if vec.Available {
			copy(o, x) // no-op when out aliases in
			done = vec.BiasGELU(o, nil)
		}
		for j := done; j < len(x); j++ {
			o[j] = gelu32(x[j])
		}
	})
}

func goAdd(out, a, b []float32) {
	parallelRows(len(out), 8192, func(lo, hi int) {
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		for j := range o {
			o[j] = x[j] + y[j]
		}
	})
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

// negMax is torch.finfo(float32).min, HF's additive mask value.
const negMax = -math.MaxFloat32

// goAttention computes each (batch, head) with two blas.Sgemm calls (the
// pure-Go product's assembly tile does the dot products) around a float32
// softmax; goroutines take (batch, head) pairs.
func goAttention(out, att, qkv, mask []float32, B, T, C, NH int) {
	hs := C / NH
	scale := float32(1 / math.Sqrt(float64(hs)))
	parallelRows(B*NH, 1, func(lo, hi int) {
		madd := make([]float32, T)
		var own []float32
		if att == nil {
			own = make([]float32, T*T)
		}
		for bh := lo; bh < hi; bh++ {
			b, h := bh/NH, bh%NH
			base := b*T*3*C + h*hs
			// Keys past the last unmasked one get probability exactly 0;
			// skip them (a fully masked row keeps all keys, as HF).
			Tk := T
			if mask != nil {
				for Tk > 0 && mask[b*T+Tk-1] == 0 {
					Tk--
				}
				if Tk == 0 {
					Tk = T
				}
			}
			for t2 := 0; t2 < Tk; t2++ {
				madd[t2] = 0
				if mask != nil {
					madd[t2] = (1 - mask[b*T+t2]) * negMax
				}
			}
			sc := own
			if att != nil {
				sc = att[bh*T*T : (bh+1)*T*T]
			}
			blas.SgemmF32(false, true, T, Tk, hs, scale, qkv[base:], 3*C, qkv[base+C:], 3*C, 0, sc, T)
			for t := 0; t < T; t++ {
				row := sc[t*T : t*T+Tk]
				clear(sc[t*T+Tk : (t+1)*T])
				mx := float32(math.Inf(-1))
				for t2, s := range row {
					s += madd[t2]
					row[t2] = s
					mx = max(mx, s)
				}
				var sum float32
				for t2, s := range row {
					e := exp32(s - mx)
					row[t2] = e
					sum += e
				}
				inv := 1 / sum
				for t2 := range row {
					row[t2] *= inv
				}
			}
			blas.SgemmF32(false, false, T, hs, Tk, 1, sc, T, qkv[base+2*C:], 3*C, 0, out[b*T*C+h*hs:], C)
		}
	})
}

// blasSgemmLinear writes out = in·wᵀ (no bias).
func blasSgemmLinear(out, in, w []float32, N, C, OC int) {
	blas.Sgemm(false, true, N, OC, C, 1, in, C, w, C, 0, out, OC)
}

// parallelChunks is parallelRows that also tells f its chunk number g
// (0 ≤ g < blas.Threads()), for per-chunk partial results that are then
// combined in a fixed order.
func parallelChunks(n, minChunk int, f func(g, lo, hi int)) {
	w := min(blas.Threads(), (n+minChunk-1)/max(minChunk, 1))
	if w <= 1 {
		f(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	wg.Add(w - 1)
	for g := 1; g < w; g++ {
		go func(g int) {
			defer wg.Done()
			f(g, g*n/w, (g+1)*n/w)
		}(g)
	}
	f(0, 0, n/w)
	wg.Wait()
}

func goGELUBackward(din, pre, dout []float32) {
	const invSqrt2Pi = 0.3989422804014327
	parallelRows(len(din), 4096, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			x := pre[i]
			cdf := 0.5 * (1 + erf32(x*0.70710678118654752))
			pdf := invSqrt2Pi * exp32(-0.5*x*x)
			din[i] += dout[i] * (cdf + x*pdf)
		}
	})
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
