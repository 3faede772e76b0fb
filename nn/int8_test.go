package nn

import (
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

// LinearInt8 and LinearGELUInt8 equal their float32 forms run on the
// dequantized product: MatMulInt8, then the float32 bias (and GELU).
func TestLinearInt8(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	const N, C, OC = 37, 96, 200
	in, w, b := randn(r, N*C, 1), randn(r, OC*C, 0.05), randn(r, OC, 0.1)
	q := blas.QuantizeInt8(w, OC, C, false)
	withThreads(t, func(t *testing.T) {
		prod := make([]float32, N*OC)
		blas.MatMulInt8(N, in, C, q, prod, OC)
		out, g := make([]float32, N*OC), make([]float32, N*OC)
		LinearInt8(out, in, q, b, N, C, OC)
		LinearGELUInt8(g, in, q, b, N, C, OC)
		want, wantG := make([]float32, N*OC), make([]float32, N*OC)
		for i := 0; i < N; i++ {
			for j := 0; j < OC; j++ {
				x := prod[i*OC+j] + b[j]
				want[i*OC+j], wantG[i*OC+j] = x, gelu32(x)
			}
		}
		closeTo(t, "LinearInt8", out, want, 0, 0)
		closeTo(t, "LinearGELUInt8", g, wantG, 1e-6, 1e-5)
		// And within int8 error of the float32 Linear.
		f32 := make([]float32, N*OC)
		Linear(f32, in, w, b, N, C, OC)
		closeTo(t, "LinearInt8 vs Linear", out, f32, 0.05, 0.02)
	})
}

// FFNInt8 is LinearGELUInt8 then LinearInt8, bit for bit, whether it runs
// fused (blas.MatMulInt8FFN: enough rows for two tiles of 64 a thread) or
// not, with a last tile that is partial; the fused form leaves g alone.
func TestFFNInt8(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	const C, F = 96, 384
	w1, b1 := randn(r, F*C, 0.05), randn(r, F, 0.1)
	w2 := randn(r, C*F, 0.05)
	q1, q2 := blas.QuantizeInt8(w1, F, C, false), blas.QuantizeInt8(w2, C, F, false)
	for _, N := range []int{5, 130, 300, 1000} {
		in := randn(r, N*C, 1)
		withThreads(t, func(t *testing.T) {
			g, want := make([]float32, N*F), make([]float32, N*C)
			LinearGELUInt8(g, in, q1, b1, N, C, F)
			LinearInt8(want, g, q2, nil, N, F, C)
			got, g2 := make([]float32, N*C), make([]float32, N*F)
			for i := range g2 {
				g2[i] = -1
			}
			FFNInt8(got, g2, in, q1, b1, q2, N, C, F)
			for i := range got {
				if got[i] != want[i] {
					t.Fatalf("N=%d: out[%d] = %v, want %v", N, i, got[i], want[i])
				}
			}
			// The fused form runs where oneDNN packed the weights.
			fused, expect := g2[0] == -1, N >= 2*64*blas.Threads() && q1.Kernel() != "pure-go"
			if fused != expect {
				t.Fatalf("N=%d, %d threads, kernel %s: fused %v, want %v", N, blas.Threads(), q1.Kernel(), fused, expect)
			}
		})
	}
}

// EncoderBlockInt8 is the block's steps run one after another, bit for
// bit: short sequences in groups (with a partial last group), sequences
// longer than one product's 64 rows, heads of 12 (the plain attention
// kernel) and of 16 and 32, padded masks, nil biases, and out = in. Where
// the groups would leave threads idle it declines and writes nothing.
func TestEncoderBlockInt8(t *testing.T) {
	cases := []struct {
		B, T, C, NH, F int
		mask, noBias   bool
	}{
		{B: 8, T: 64, C: 64, NH: 4, F: 256},
		{B: 22, T: 13, C: 48, NH: 4, F: 96, mask: true},
		{B: 3, T: 100, C: 64, NH: 2, F: 128, mask: true, noBias: true},
		{B: 2, T: 64, C: 32, NH: 2, F: 64},
		{B: 6, T: 40, C: 64, NH: 4, F: 128, mask: true}, // one sequence of 40 rows a group
	}
	const eps = 1e-12
	for ci, c := range cases {
		r := rand.New(rand.NewSource(int64(20 + ci)))
		N, C, F := c.B*c.T, c.C, c.F
		k := &BlockInt8{
			QKV:     blas.QuantizeInt8(randn(r, 3*C*C, 0.1), 3*C, C, false),
			AttnOut: blas.QuantizeInt8(randn(r, C*C, 0.1), C, C, false),
			Inter:   blas.QuantizeInt8(randn(r, F*C, 0.1), F, C, false),
			Out:     blas.QuantizeInt8(randn(r, C*F, 0.05), C, F, false),
			AttnLNW: randn(r, C, 1), AttnLNB: randn(r, C, 0.1), OutLNW: randn(r, C, 1), OutLNB: randn(r, C, 0.1),
		}
		if !c.noBias {
			k.QKVB, k.AttnOutB, k.InterB, k.OutB = randn(r, 3*C, 0.1), randn(r, C, 0.1), randn(r, F, 0.1), randn(r, C, 0.1)
		}
		in := randn(r, N*C, 1)
		var mask []float32
		if c.mask {
			mask = make([]float32, N)
			for b := 0; b < c.B; b++ {
				n := c.T - r.Intn(c.T) // 1..T real tokens
				if b == 1 {
					n = 0 // all padding
				}
				for i := 0; i < n; i++ {
					mask[b*c.T+i] = 1
				}
			}
		}
		// The steps one after another.
		want := make([]float32, N*C)
		qkv, y, tmp, ln1, g := make([]float32, N*3*C), make([]float32, N*C), make([]float32, N*C), make([]float32, N*C), make([]float32, N*F)
		LinearInt8(qkv, in, k.QKV, k.QKVB, N, C, 3*C)
		Attention(y, nil, qkv, mask, c.B, c.T, C, c.NH)
		LinearInt8(tmp, y, k.AttnOut, nil, N, C, C)
		AddBiasLayerNorm(ln1, nil, nil, nil, tmp, k.AttnOutB, in, k.AttnLNW, k.AttnLNB, N, C, eps)
		FFNInt8(tmp, g, ln1, k.Inter, k.InterB, k.Out, N, C, F)
		AddBiasLayerNorm(want, nil, nil, nil, tmp, k.OutB, ln1, k.OutLNW, k.OutLNB, N, C, eps)

		withThreads(t, func(t *testing.T) {
			nt := blas.Threads()
			g := 1
			if c.T < 64 {
				g = 64 / c.T
			}
			groups := (c.B + g - 1) / g
			expect := k.QKV.Kernel() != "pure-go" && (nt == 1 || groups%nt == 0 || groups >= 2*nt)
			got := make([]float32, N*C)
			for i := range got {
				got[i] = -7
			}
			if ran := EncoderBlockInt8(got, in, mask, k, c.B, c.T, C, F, c.NH, eps); ran != expect {
				t.Fatalf("case %d: ran %v, want %v (%d groups, %d threads, %s)", ci, ran, expect, groups, nt, k.QKV.Kernel())
			} else if !ran {
				for i, v := range got {
					if v != -7 {
						t.Fatalf("case %d: declined but wrote out[%d]", ci, i)
					}
				}
				return
			}
			same := func(what string, got []float32) {
				for i := range got {
					if got[i] != want[i] {
						t.Fatalf("case %d, %s: out[%d] = %v, want %v", ci, what, i, got[i], want[i])
					}
				}
			}
			same("out", got)
			inPlace := append([]float32(nil), in...)
			EncoderBlockInt8(inPlace, inPlace, mask, k, c.B, c.T, C, F, c.NH, eps)
			same("out = in", inPlace)
		})
	}
}
