package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

func TestDropoutStatistics(t *testing.T) {
	const B, T, C = 4, 33, 64
	for _, p := range []float32{0.1, 0.5} {
		x := make([]float32, B*T*C)
		for i := range x {
			x[i] = 1
		}
		Dropout(x, B, T, C, p, []uint64{1, 2, 3, 4})
		scale := float32(1) / (1 - p)
		kept := 0
		for _, v := range x {
			switch v {
			case 0:
			case scale:
				kept++
			default:
				t.Fatalf("p=%g: element %g is neither 0 nor %g", p, v, scale)
			}
		}
		frac := float64(kept) / float64(len(x))
		// 8448 Bernoulli draws: 4 standard deviations.
		sd := math.Sqrt(float64(p) * float64(1-p) / float64(len(x)))
		if math.Abs(frac-float64(1-p)) > 4*sd {
			t.Errorf("p=%g: kept fraction %.4f, want %.4f ± %.4f", p, frac, 1-p, 4*sd)
		}
	}
	// p = 0 is the identity (evaluation mode).
	x := []float32{1, 2, 3, 4}
	Dropout(x, 1, 2, 2, 0, []uint64{9})
	if x[0] != 1 || x[3] != 4 {
		t.Fatalf("p=0 changed the input: %v", x)
	}
}

// A sequence's mask depends on its key and positions, not on the batch:
// the same sequence padded to another length, at another batch position,
// with other neighbours, is dropped identically.
func TestDropoutMaskIndependentOfBatch(t *testing.T) {
	const C, L = 16, 5
	one := make([]float32, L*C)
	for i := range one {
		one[i] = float32(i + 1)
	}
	a := append([]float32(nil), one...)
	Dropout(a, 1, L, C, 0.4, []uint64{77})
	b := make([]float32, 2*9*C) // batch of 2, padded to 9, our sequence second
	for i := range b {
		b[i] = 1
	}
	copy(b[9*C:], one)
	Dropout(b, 2, 9, C, 0.4, []uint64{5, 77})
	for i := range a {
		if a[i] != b[9*C+i] {
			t.Fatalf("element %d: %g alone, %g in a padded batch", i, a[i], b[9*C+i])
		}
	}
	// Attention probabilities too.
	r := rand.New(rand.NewSource(1*100 + 2))
	const NH = 2
	qkv1 := randn(r, L*3*C, 1)
	att1, out1 := make([]float32, NH*L*L), make([]float32, L*C)
	Attention(out1, att1, qkv1, nil, 1, L, C, NH)
	AttentionDropout(out1, att1, qkv1, 1, L, C, NH, 0.3, []uint64{42})
	const T2 = 8
	qkv2 := make([]float32, T2*3*C)
	copy(qkv2, qkv1)
	mask := make([]float32, T2)
	for i := 0; i < L; i++ {
		mask[i] = 1
	}
	att2, out2 := make([]float32, NH*T2*T2), make([]float32, T2*C)
	Attention(out2, att2, qkv2, mask, 1, T2, C, NH)
	AttentionDropout(out2, att2, qkv2, 1, T2, C, NH, 0.3, []uint64{42})
	closeTo(t, "attention-dropout out, padded vs not", out2[:L*C], out1, 1e-6, 1e-6)
}

// AttentionDropout equals the explicit (P⊙mask/(1-p))·V.
func TestAttentionDropoutForward(t *testing.T) {
	const B, T, C, NH = 2, 6, 16, 2
	hs := C / NH
	r := rand.New(rand.NewSource(3*100 + 4))
	qkv := randn(r, B*T*3*C, 1)
	att, out := make([]float32, B*NH*T*T), make([]float32, B*T*C)
	Attention(out, att, qkv, nil, B, T, C, NH)
	keys := []uint64{8, 9}
	AttentionDropout(out, att, qkv, B, T, C, NH, 0.5, keys)
	want := make([]float32, B*T*C)
	th := dropThreshold(0.5)
	dropped := 0
	for b := 0; b < B; b++ {
		for h := 0; h < NH; h++ {
			for i := 0; i < T; i++ {
				for c := 0; c < hs; c++ {
					var s float32
					for j := 0; j < T; j++ {
						pr := att[((b*NH+h)*T+i)*T+j]
						if !kept(keys[b], attnIndex(h, i, j), th) {
							dropped++
							continue
						}
						s += pr * 2 * qkv[(b*T+j)*3*C+2*C+h*hs+c]
					}
					want[(b*T+i)*C+h*hs+c] = s
				}
			}
		}
	}
	if dropped == 0 {
		t.Fatal("nothing dropped at p=0.5")
	}
	closeTo(t, "AttentionDropout", out, want, 1e-5, 1e-5)
}

// fdCheck compares an analytic gradient with central differences of f.
func fdCheck(t *testing.T, what string, x []float32, grad []float32, f func() float64) {
	t.Helper()
	const eps = 1e-3
	for j := range x {
		o := x[j]
		x[j] = o + eps
		lp := f()
		x[j] = o - eps
		lm := f()
		x[j] = o
		fd := (lp - lm) / (2 * eps)
		if math.Abs(fd-float64(grad[j])) > 1e-3+5e-3*math.Abs(fd) {
			t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", what, j, grad[j], fd)
		}
	}
}

func dotWith(x, w []float32) float64 {
	var s float64
	for i := range x {
		s += float64(x[i]) * float64(w[i])
	}
	return s
}

func TestAttentionDropoutBackwardFD(t *testing.T) {
	const B, T, C, NH, p = 2, 5, 8, 2, 0.3
	r := rand.New(rand.NewSource(5*100 + 6))
	qkv := randn(r, B*T*3*C, 1)
	mask := []float32{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}
	proj := randn(r, B*T*C, 1)
	keys := []uint64{3, 4}
	f := func() float64 {
		att, out := make([]float32, B*NH*T*T), make([]float32, B*T*C)
		Attention(out, att, qkv, mask, B, T, C, NH)
		AttentionDropout(out, att, qkv, B, T, C, NH, p, keys)
		return dotWith(out, proj)
	}
	att, out := make([]float32, B*NH*T*T), make([]float32, B*T*C)
	Attention(out, att, qkv, mask, B, T, C, NH)
	dqkv := make([]float32, len(qkv))
	AttentionDropoutBackward(dqkv, proj, qkv, att, B, T, C, NH, p, keys)
	fdCheck(t, "dqkv", qkv, dqkv, f)
}

func TestPoolingBackwardFD(t *testing.T) {
	const B, T, C = 2, 4, 6
	r := rand.New(rand.NewSource(7*100 + 8))
	in := randn(r, B*T*C, 1)
	mask := []float32{1, 1, 1, 0, 1, 1, 1, 1}
	proj := randn(r, B*C, 1)
	out := make([]float32, B*C)
	din := make([]float32, B*T*C)
	MeanPoolBackward(din, proj, mask, B, T, C)
	fdCheck(t, "mean", in, din, func() float64 { MeanPool(out, in, mask, B, T, C); return dotWith(out, proj) })
	din = make([]float32, B*T*C)
	CLSPoolBackward(din, proj, B, T, C)
	fdCheck(t, "cls", in, din, func() float64 { CLSPool(out, in, B, T, C); return dotWith(out, proj) })

	x := randn(r, B*C, 2)
	dx := make([]float32, B*C)
	L2NormalizeBackward(dx, proj, x, B, C)
	fdCheck(t, "l2", x, dx, func() float64 { L2Normalize(out, x, B, C); return dotWith(out, proj) })

	th := make([]float32, B*C)
	Tanh(th, x)
	dx = make([]float32, B*C)
	TanhBackward(dx, th, proj)
	fdCheck(t, "tanh", x, dx, func() float64 { Tanh(out, x); return dotWith(out, proj) })
}

func TestEmbeddingBackwardSkipsPadding(t *testing.T) {
	const C = 2
	d := make([]float32, 4*C)
	EmbeddingBackward(d, []int32{2, 1, 2, 0}, []float32{1, 2, 3, 4, 5, 6, 7, 8}, C, 1)
	want := []float32{7, 8, 0, 0, 1 + 5, 2 + 6, 0, 0}
	for i := range want {
		if d[i] != want[i] {
			t.Fatalf("got %v want %v", d, want)
		}
	}
}

// LinearTBackward on wᵀ gives LinearBackward's results (transposed dw).
func TestLinearTBackwardMatchesLinear(t *testing.T) {
	const N, C, OC = 7, 5, 9
	r := rand.New(rand.NewSource(9*100 + 9))
	in, w, dout := randn(r, N*C, 1), randn(r, OC*C, 1), randn(r, N*OC, 1)
	dx1, dw1, db1 := make([]float32, N*C), make([]float32, OC*C), make([]float32, OC)
	LinearBackward(dx1, dw1, db1, dout, in, w, N, C, OC)
	dx2, dwt, db2 := make([]float32, N*C), make([]float32, C*OC), make([]float32, OC)
	LinearTBackward(dx2, dwt, db2, dout, in, TransposeWeight(w, OC, C), N, C, OC)
	closeTo(t, "dx", dx2, dx1, 1e-6, 1e-6)
	closeTo(t, "db", db2, db1, 1e-6, 1e-6)
	closeTo(t, "dw", TransposeWeight(dwt, C, OC), dw1, 1e-6, 1e-6)
}

// LayerNormBackward is bit-identical across runs at a fixed thread count.
func TestLayerNormBackwardDeterministic(t *testing.T) {
	defer blas.SetThreads(blas.Threads())
	blas.SetThreads(4)
	const N, C = 257, 48
	r := rand.New(rand.NewSource(1*100 + 1))
	x, w, b, dout := randn(r, N*C, 2), randn(r, C, 1), randn(r, C, 1), randn(r, N*C, 1)
	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	LayerNorm(out, mean, rstd, x, w, b, N, C, 1e-5)
	var first []float32
	for run := 0; run < 20; run++ {
		dw := make([]float32, C)
		LayerNormBackward(nil, dw, nil, dout, x, w, mean, rstd, N, C)
		if first == nil {
			first = dw
			continue
		}
		for i := range dw {
			if math.Float32bits(dw[i]) != math.Float32bits(first[i]) {
				t.Fatalf("run %d: dw[%d] = %g, first run %g", run, i, dw[i], first[i])
			}
		}
	}
}

// The kernels in use (C with cgo) drop exactly the elements the Go kernels
// drop, scaled identically.
func TestDropoutKernelsAgree(t *testing.T) {
	const B, T, C = 3, 7, 40
	r := rand.New(rand.NewSource(11))
	x := randn(r, B*T*C, 1)
	keys := []uint64{1, 1 << 63, 0xdeadbeef}
	a, b := append([]float32(nil), x...), append([]float32(nil), x...)
	th, scale := dropThreshold(0.3), float32(1)/(1-0.3)
	kDropRows(a, B, T, C, keys, th, scale)
	goDropRows(b, B, T, C, keys, th, scale)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("rows: element %d: %g vs %g", i, a[i], b[i])
		}
	}
	src := randn(r, T*T, 1)
	pa, pb := make([]float32, T*T), make([]float32, T*T)
	kDropProbs(pa, src, T, 5, 77, th, scale)
	goDropProbs(pb, src, T, 5, 77, th, scale)
	for i := range pa {
		if math.Float32bits(pa[i]) != math.Float32bits(pb[i]) {
			t.Fatalf("probs: element %d: %g vs %g", i, pa[i], pb[i])
		}
	}
}

// The backward reductions in use (C with cgo) agree with the Go kernels:
// the bias gradient bit for bit, LayerNorm's to float32 rounding.
func TestBackwardKernelsAgree(t *testing.T) {
	const N, C = 301, 72
	r := rand.New(rand.NewSource(5))
	dout, x, w := randn(r, N*C, 1), randn(r, N*C, 2), randn(r, C, 1)
	a, b := make([]float32, C), make([]float32, C)
	kBiasBackward(a, dout, N, C)
	goBiasBackward(b, dout, N, C)
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			t.Fatalf("bias: %d: %g vs %g", i, a[i], b[i])
		}
	}
	out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
	LayerNorm(out, mean, rstd, x, w, w, N, C, 1e-5)
	dx1, dw1, db1 := make([]float32, N*C), make([]float32, C), make([]float32, C)
	dx2, dw2, db2 := make([]float32, N*C), make([]float32, C), make([]float32, C)
	kLayerNormBackward(dx1, dw1, db1, dout, x, w, mean, rstd, N, C)
	goLayerNormBackward(dx2, dw2, db2, dout, x, w, mean, rstd, N, C)
	closeTo(t, "ln dx", dx1, dx2, 1e-6, 1e-6)
	closeTo(t, "ln dw", dw1, dw2, 1e-6, 1e-6)
	closeTo(t, "ln db", db1, db2, 1e-6, 1e-6)
}

// The optimiser kernels in use agree with the Go kernels.
func TestOptimKernelsAgree(t *testing.T) {
	r := rand.New(rand.NewSource(8))
	const n = 20000
	g := randn(r, n, 1)
	if a, b := kSumSquares(g), goSumSquares(g); math.Abs(a-b) > 1e-12*b {
		t.Fatalf("sum of squares %v vs %v", a, b)
	}
	p1, m1, v1 := randn(r, n, 1), randn(r, n, 0.1), randn(r, n, 0.1)
	for i := range v1 {
		v1[i] *= v1[i]
	}
	p2, m2, v2 := append([]float32(nil), p1...), append([]float32(nil), m1...), append([]float32(nil), v1...)
	a := AdamWParams{Decay: 0.999, Beta1: 0.9, Beta2: 0.999, C1: 0.1, C2: 0.001, Eps: 1e-8, BC2Sqrt: 0.0447, StepSize: 1e-3}
	kAdamW(p1, g, m1, v1, a)
	goAdamW(p2, g, m2, v2, a)
	closeTo(t, "adamw p", p1, p2, 1e-7, 1e-6)
	closeTo(t, "adamw m", m1, m2, 1e-7, 1e-6)
	closeTo(t, "adamw v", v1, v2, 1e-7, 1e-6)
}
