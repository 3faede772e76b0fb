// Package nn holds the encoder's layer kernels, in the style of llm.c:
// plain functions over row-major float32 slices, each forward written so
// that its backward can sit beside it (the activations a backward needs are
// written to caller-owned buffers, never hidden in state).
//
// Shapes use B (batch), T (sequence length), C (channels), NH (heads),
// OC (output channels). Masks are float32 0/1 of shape [B,T].
package nn

import (
	"math"

	"github.com/kormed/kormed/blas"
)

// Embedding writes out[i,:] = table[ids[i],:] for every position i.
// table is [V,C]; out is [len(ids),C].
func Embedding(out []float32, ids []int32, table []float32, C int) {
	for i, id := range ids {
		copy(out[i*C:(i+1)*C], table[int(id)*C:(int(id)+1)*C])
	}
}

// AddEmbedding adds table[ids[i],:] to out[i,:] (position and token-type
// embeddings are summed onto the word embeddings).
func AddEmbedding(out []float32, ids []int32, table []float32, C int) {
	for i, id := range ids {
		o := out[i*C : (i+1)*C]
		r := table[int(id)*C : (int(id)+1)*C]
		for j := range o {
			o[j] += r[j]
		}
	}
}

// LayerNorm normalises each of the N rows of in [N,C] to zero mean and unit
// variance (biased, as PyTorch), then scales by w and shifts by b.
// mean and rstd ([N]) receive the statistics for the backward pass; either
// may be nil at inference. out may alias in.
func LayerNorm(out, mean, rstd, in, w, b []float32, N, C int, eps float32) {
	for i := 0; i < N; i++ {
		x := in[i*C : (i+1)*C]
		var m float64
		for _, v := range x {
			m += float64(v)
		}
		m /= float64(C)
		var v2 float64
		for _, v := range x {
			d := float64(v) - m
			v2 += d * d
		}
		v2 /= float64(C)
		s := 1 / math.Sqrt(v2+float64(eps))
		o := out[i*C : (i+1)*C]
		for j := range x {
			o[j] = float32((float64(x[j])-m)*s)*w[j] + b[j]
		}
		if mean != nil {
			mean[i] = float32(m)
		}
		if rstd != nil {
			rstd[i] = float32(s)
		}
	}
}

// Linear computes out[N,OC] = in[N,C]·w[OC,C]ᵀ + b, the PyTorch nn.Linear
// layout. b may be nil.
func Linear(out, in, w, b []float32, N, C, OC int) {
	blas.Sgemm(false, true, N, OC, C, 1, in, C, w, C, 0, out, OC)
	if b != nil {
		for i := 0; i < N; i++ {
			o := out[i*OC : (i+1)*OC]
			for j := range o {
				o[j] += b[j]
			}
		}
	}
}

// GELU applies the exact (erf) GELU of HF's "gelu": x·Φ(x). out may alias in.
func GELU(out, in []float32) {
	for i, x := range in {
		out[i] = float32(0.5 * float64(x) * (1 + math.Erf(float64(x)/math.Sqrt2)))
	}
}

// Tanh applies tanh elementwise (BERT's pooler). out may alias in.
func Tanh(out, in []float32) {
	for i, x := range in {
		out[i] = float32(math.Tanh(float64(x)))
	}
}

// Add writes out = a + b elementwise (residual connections). out may alias a or b.
func Add(out, a, b []float32) {
	for i := range out {
		out[i] = a[i] + b[i]
	}
}

// Attention is multi-head scaled dot-product self-attention with a padding
// mask. qkv is [B,T,3C]: for each position the query, key and value vectors
// concatenated (each C = NH·hs). mask is [B,T] (1 = token, 0 = padding);
// padded keys get no weight. att [B,NH,T,T] receives the softmax
// probabilities (needed by the backward). out is [B,T,C], heads
// concatenated, before the output projection.
func Attention(out, att, qkv, mask []float32, B, T, C, NH int) {
	hs := C / NH
	scale := 1 / math.Sqrt(float64(hs))
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			for t := 0; t < T; t++ {
				q := qkv[(b*T+t)*3*C+h*hs:]
				row := att[((b*NH+h)*T+t)*T : ((b*NH+h)*T+t+1)*T]
				maxv := math.Inf(-1)
				for t2 := 0; t2 < T; t2++ {
					k := qkv[(b*T+t2)*3*C+C+h*hs:]
					var s float64
					for i := 0; i < hs; i++ {
						s += float64(q[i]) * float64(k[i])
					}
					s *= scale
					if mask != nil && mask[b*T+t2] == 0 {
						s = math.Inf(-1)
					}
					row[t2] = float32(s)
					if s > maxv {
						maxv = s
					}
				}
				var sum float64
				for t2 := range row {
					e := 0.0
					if !math.IsInf(float64(row[t2]), -1) {
						e = math.Exp(float64(row[t2]) - maxv)
					}
					row[t2] = float32(e)
					sum += e
				}
				o := out[(b*T+t)*C+h*hs : (b*T+t)*C+(h+1)*hs]
				for i := range o {
					o[i] = 0
				}
				for t2 := range row {
					row[t2] = float32(float64(row[t2]) / sum)
					v := qkv[(b*T+t2)*3*C+2*C+h*hs:]
					for i := range o {
						o[i] += row[t2] * v[i]
					}
				}
			}
		}
	}
}

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

// CLSPool copies the first position of each sequence: out[b,:] = in[b,0,:].
func CLSPool(out, in []float32, B, T, C int) {
	for b := 0; b < B; b++ {
		copy(out[b*C:(b+1)*C], in[b*T*C:b*T*C+C])
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
