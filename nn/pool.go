package nn

import (
	"math"
)

// MeanPool averages the token vectors of in [B,T,C] over the positions
// where mask [B,T] is 1, writing out [B,C] (sentence-transformers' mean
// pooling).
func MeanPool(out, in, mask []float32, B, T, C int) {
	for b := 0; b < B; b++ {
		o := out[b*C : (b+1)*C]
		for i := range o {
			o[i] = 0
		}
		var n float32
		for t := 0; t < T; t++ {
			m := mask[b*T+t]
			if m == 0 {
				continue
			}
			n += m
			x := in[(b*T+t)*C : (b*T+t+1)*C]
			for i := range o {
				o[i] += m * x[i]
			}
		}
		if n < 1e-9 {
			n = 1e-9 // sentence-transformers clamps the count the same way
		}
		for i := range o {
			o[i] /= n
		}
	}
}

// MeanPoolBackward accumulates din [B,T,C] += mask[b,t]·dout[b,:]/n_b, the
// gradient of MeanPool (n_b = Σ_t mask[b,t], clamped at 1e-9 as the forward).
func MeanPoolBackward(din, dout, mask []float32, B, T, C int) {
	need("MeanPoolBackward", "din", din, B*T*C)
	need("MeanPoolBackward", "dout", dout, B*C)
	need("MeanPoolBackward", "mask", mask, B*T)
	for b := 0; b < B; b++ {
		var n float32
		for t := 0; t < T; t++ {
			n += mask[b*T+t]
		}
		if n < 1e-9 {
			n = 1e-9
		}
		g := dout[b*C : (b+1)*C]
		for t := 0; t < T; t++ {
			m := mask[b*T+t]
			if m == 0 {
				continue
			}
			d := din[(b*T+t)*C : (b*T+t+1)*C]
			for j := range d {
				d[j] += m * g[j] / n
			}
		}
	}
}

// CLSPool copies the first position of each sequence: out[b,:] = in[b,0,:].
func CLSPool(out, in []float32, B, T, C int) {
	for b := 0; b < B; b++ {
		copy(out[b*C:(b+1)*C], in[b*T*C:b*T*C+C])
	}
}

// CLSPoolBackward accumulates din[b,0,:] += dout[b,:], the gradient of CLSPool.
func CLSPoolBackward(din, dout []float32, B, T, C int) {
	need("CLSPoolBackward", "din", din, B*T*C)
	need("CLSPoolBackward", "dout", dout, B*C)
	for b := 0; b < B; b++ {
		d := din[b*T*C : b*T*C+C]
		for j, g := range dout[b*C : (b+1)*C] {
			d[j] += g
		}
	}
}

// Tanh applies tanh elementwise (BERT's pooler). out may alias in.
func Tanh(out, in []float32) {
	for i, x := range in {
		out[i] = float32(math.Tanh(float64(x)))
	}
}

// TanhBackward accumulates din += dout·(1 − out²), given Tanh's output.
func TanhBackward(din, out, dout []float32) {
	need("TanhBackward", "out", out, len(din))
	need("TanhBackward", "dout", dout, len(din))
	for i := range din {
		din[i] += dout[i] * (1 - out[i]*out[i])
	}
}

// L2Normalize scales each of the N rows of in [N,C] to unit length, as
// torch.nn.functional.normalize (the norm is clamped below at 1e-12).
// out may alias in.
func L2Normalize(out, in []float32, N, C int) {
	for i := 0; i < N; i++ {
		x := in[i*C : (i+1)*C]
		var s float64
		for _, v := range x {
			s += float64(v) * float64(v)
		}
		n := math.Sqrt(s)
		if n < 1e-12 {
			n = 1e-12
		}
		o := out[i*C : (i+1)*C]
		for j := range x {
			o[j] = float32(float64(x[j]) / n)
		}
	}
}

// L2NormalizeBackward accumulates the gradient of L2Normalize given its
// input in [N,C] and dout: with n = max(‖x‖, 1e-12) and y = x/n,
// din += (dout − y·(y·dout))/n, or dout/n where the clamp is active.
func L2NormalizeBackward(din, dout, in []float32, N, C int) {
	need("L2NormalizeBackward", "din", din, N*C)
	need("L2NormalizeBackward", "dout", dout, N*C)
	need("L2NormalizeBackward", "in", in, N*C)
	for i := 0; i < N; i++ {
		x, g, d := in[i*C:(i+1)*C], dout[i*C:(i+1)*C], din[i*C:(i+1)*C]
		var ss float64
		for _, v := range x {
			ss += float64(v) * float64(v)
		}
		n := math.Sqrt(ss)
		if n < 1e-12 {
			for j := range d {
				d[j] += float32(float64(g[j]) / 1e-12)
			}
			continue
		}
		var yg float64
		for j := range x {
			yg += float64(x[j]) / n * float64(g[j])
		}
		for j := range d {
			d[j] += float32((float64(g[j]) - float64(x[j])/n*yg) / n)
		}
	}
}
