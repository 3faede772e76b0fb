package nn

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/kormed/kormed/blas"
)

// layer is one post-LN BERT transformer layer's weights.
type layer struct {
	wqkv, bqkv, wo, bo, ln1w, ln1b, w1, b1, w2, b2, ln2w, ln2b []float32
	// the weights transposed ([C,OC]) for LinearT
	wqkvT, woT, w1T, w2T []float32
}

type layerBufs struct {
	qkv, ctx, ao, h, f []float32
}

func (l *layer) transpose(C, FF int) {
	l.wqkvT = TransposeWeight(l.wqkv, 3*C, C)
	l.woT = TransposeWeight(l.wo, C, C)
	l.w1T = TransposeWeight(l.w1, FF, C)
	l.w2T = TransposeWeight(l.w2, C, FF)
}

func newLayer(r *rand.Rand, C, FF int) *layer {
	ones := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 1
		}
		return s
	}
	return &layer{
		wqkv: randn(r, 3*C*C, 0.05), bqkv: randn(r, 3*C, 0.02),
		wo: randn(r, C*C, 0.05), bo: randn(r, C, 0.02),
		ln1w: ones(C), ln1b: make([]float32, C),
		w1: randn(r, FF*C, 0.05), b1: randn(r, FF, 0.02),
		w2: randn(r, C*FF, 0.05), b2: randn(r, C, 0.02),
		ln2w: ones(C), ln2b: make([]float32, C),
	}
}

// forward runs the layer in place on x [B·T, C] with the fastest
// composition: transposed weights (LinearT), GELU fused into the FFN
// product's bias pass, the other biases fused into the LayerNorm passes.
func (l *layer) forward(x, mask []float32, bf *layerBufs, B, T, C, NH, FF int) {
	N := B * T
	LinearT(bf.qkv, x, l.wqkvT, l.bqkv, N, C, 3*C)
	Attention(bf.ctx, nil, bf.qkv, mask, B, T, C, NH)
	LinearT(bf.ao, bf.ctx, l.woT, nil, N, C, C)
	AddBiasLayerNorm(x, nil, nil, nil, bf.ao, l.bo, x, l.ln1w, l.ln1b, N, C, 1e-12)
	LinearGELUT(bf.h, nil, x, l.w1T, l.b1, N, C, FF)
	LinearT(bf.f, bf.h, l.w2T, nil, N, FF, C)
	AddBiasLayerNorm(x, nil, nil, nil, bf.f, l.b2, x, l.ln2w, l.ln2b, N, C, 1e-12)
}

// forwardPlain is the same layer with the [OC,C] weights as stored in a
// checkpoint and each bias added by its Linear.
func (l *layer) forwardPlain(x, mask []float32, bf *layerBufs, B, T, C, NH, FF int) {
	N := B * T
	Linear(bf.qkv, x, l.wqkv, l.bqkv, N, C, 3*C)
	Attention(bf.ctx, nil, bf.qkv, mask, B, T, C, NH)
	Linear(bf.ao, bf.ctx, l.wo, l.bo, N, C, C)
	AddLayerNorm(x, nil, nil, nil, bf.ao, x, l.ln1w, l.ln1b, N, C, 1e-12)
	LinearGELU(bf.h, nil, x, l.w1, l.b1, N, C, FF)
	Linear(bf.f, bf.h, l.w2, l.b2, N, FF, C)
	AddLayerNorm(x, nil, nil, nil, bf.f, x, l.ln2w, l.ln2b, N, C, 1e-12)
}

// BenchmarkEncoderLayer times one layer at the multilingual-e5-small shape
// (C=384, 12 heads, FFN 1536) on B=32 sequences of T=64 and reports the
// throughput of the full 12-layer encoder (seq/s) and GFLOP/s.
func BenchmarkEncoderLayer(b *testing.B) { benchEncoderLayer(b, false) }

// BenchmarkEncoderLayerPlain is BenchmarkEncoderLayer with [OC,C] weights
// and unfused biases (Linear, LinearGELU, AddLayerNorm).
func BenchmarkEncoderLayerPlain(b *testing.B) { benchEncoderLayer(b, true) }

// BenchmarkEncoderLayer1T is BenchmarkEncoderLayer on one thread; its
// seq/cpu-s metric is the least sensitive to other load on the machine.
func BenchmarkEncoderLayer1T(b *testing.B) {
	defer blas.SetThreads(blas.Threads())
	blas.SetThreads(1)
	benchEncoderLayer(b, false)
}

func benchEncoderLayer(b *testing.B, plain bool) {
	const B, T, C, NH, FF, layers = 32, 64, 384, 12, 1536, 12
	N := B * T
	r := rand.New(rand.NewSource(1))
	l := newLayer(r, C, FF)
	l.transpose(C, FF)
	fwd := l.forward
	if plain {
		fwd = l.forwardPlain
	}
	x := randn(r, N*C, 1)
	mask := make([]float32, B*T)
	for bb := 0; bb < B; bb++ {
		for t := 0; t < T-bb; t++ { // varied padding
			mask[bb*T+t] = 1
		}
	}
	bf := &layerBufs{qkv: make([]float32, N*3*C), ctx: make([]float32, N*C), ao: make([]float32, N*C),
		h: make([]float32, N*FF), f: make([]float32, N*C)}
	fwd(x, mask, bf, B, T, C, NH, FF) // warm up (JIT kernels, pages)
	cpu0 := cpuSeconds()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		fwd(x, mask, bf, B, T, C, NH, FF)
	}
	b.StopTimer()
	per := b.Elapsed().Seconds() / float64(b.N)
	cpu := (cpuSeconds() - cpu0) / float64(b.N)
	flops := 2*float64(N)*float64(C)*float64(3*C+C+2*FF) + 4*float64(B*NH*T*T*(C/NH))
	b.ReportMetric(float64(B)/(per*layers), "seq/s(12L)")
	b.ReportMetric(flops/per/1e9, "GFLOP/s")
	// CPU seconds per layer: with 1 thread this is a load-independent
	// measure (2-core throughput ≈ 2× the 1-thread rate for these kernels).
	b.ReportMetric(cpu*1e3, "cpu-ms/op")
	b.ReportMetric(float64(B)/(cpu*layers), "seq/cpu-s(12L)")
	b.Logf("threads=%d blas=%s kernels=%s", blas.Threads(), blas.Backend(), Backend())
}

// BenchmarkLayerParts times each step of the layer separately, to see
// where non-GEMM time goes.
func BenchmarkLayerParts(b *testing.B) {
	const B, T, C, NH, FF = 32, 64, 384, 12, 1536
	N := B * T
	r := rand.New(rand.NewSource(1))
	l := newLayer(r, C, FF)
	x := randn(r, N*C, 1)
	mask := make([]float32, B*T)
	for i := range mask {
		mask[i] = 1
	}
	bf := &layerBufs{qkv: randn(r, N*3*C, 1), ctx: make([]float32, N*C), ao: make([]float32, N*C),
		h: make([]float32, N*FF), f: make([]float32, N*C)}
	parts := []struct {
		name string
		f    func()
	}{
		{"qkv-linear", func() { Linear(bf.qkv, x, l.wqkv, l.bqkv, N, C, 3*C) }},
		{"attention", func() { Attention(bf.ctx, nil, bf.qkv, mask, B, T, C, NH) }},
		{"out-linear", func() { Linear(bf.ao, bf.ctx, l.wo, l.bo, N, C, C) }},
		{"add-layernorm", func() { AddLayerNorm(bf.f, nil, nil, nil, bf.ao, x, l.ln1w, l.ln1b, N, C, 1e-12) }},
		{"ffn1-linear-gelu", func() { LinearGELU(bf.h, nil, x, l.w1, l.b1, N, C, FF) }},
		{"ffn1-sgemm-only", func() { blasSgemmLinear(bf.h, x, l.w1, N, C, FF) }},
		{"bias-gelu-only", func() { kBiasGELU(bf.h, nil, l.b1, N, FF) }},
		{"ffn2-linear", func() { Linear(bf.f, bf.h, l.w2, l.b2, N, FF, C) }},
	}
	for _, p := range parts {
		b.Run(p.name, func(b *testing.B) {
			p.f()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				p.f()
			}
			b.ReportMetric(float64(time.Since(start).Microseconds())/float64(b.N), "µs/op")
		})
	}
}

// BenchmarkCausalDecode is EXAONE-3.5-2.4B's attention (32 query heads,
// 8 key/value heads of 80): one generated token against 576 cached
// positions, and a 512-token prompt.
func BenchmarkCausalDecode(b *testing.B) {
	const NH, NKV, hs = 32, 8, 80
	for _, c := range []struct{ T, P int }{{1, 576}, {512, 0}} {
		b.Run(fmt.Sprintf("T%d_P%d", c.T, c.P), func(b *testing.B) {
			S := c.P + c.T
			q := make([]float32, c.T*NH*hs)
			k := make([]float32, S*NKV*hs)
			v := make([]float32, S*NKV*hs)
			for i := range k {
				k[i] = float32(i%7) * 0.1
				v[i] = float32(i%5) * 0.1
			}
			for i := range q {
				q[i] = float32(i%3) * 0.1
			}
			out := make([]float32, c.T*NH*hs)
			for b.Loop() {
				CausalAttention(out, nil, q, NH*hs, k, v, NKV*hs, c.T, c.P, NH, NKV, hs)
			}
		})
	}
}
