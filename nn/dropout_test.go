package nn

import (
	"math"
	"math/rand"
	"testing"
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
