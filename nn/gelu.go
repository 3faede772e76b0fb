package nn

import (
	"github.com/kormed/kormed/nn/internal/vec"
)

// GELU applies the exact (erf) GELU of HF's "gelu": x·Φ(x). out may alias in.
func GELU(out, in []float32) {
	need("GELU", "out", out, len(in))
	kGELU(out[:len(in)], in)
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

// GELUBackward accumulates din += dout·GELU'(pre), where pre is the GELU
// input saved by LinearGELU (GELU'(x) = Φ(x) + x·φ(x)).
func GELUBackward(din, pre, dout []float32) {
	need("GELUBackward", "pre", pre, len(din))
	need("GELUBackward", "dout", dout, len(din))
	if len(din) > 0 {
		kGELUBackward(din, pre[:len(din)], dout[:len(din)])
	}
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
