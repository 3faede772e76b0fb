package nn

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

// withThreads runs f with 1 and 3 threads (uneven splits included).
func withThreads(t *testing.T, f func(t *testing.T)) {
	defer blas.SetThreads(blas.Threads())
	for _, n := range []int{1, 3} {
		blas.SetThreads(n)
		t.Run(fmt.Sprint("threads", n), f)
	}
}

func TestErfExp32(t *testing.T) {
	for x := -6.0; x <= 6; x += 0.001 {
		g, w := float64(erf32(float32(x))), math.Erf(float64(float32(x)))
		if math.Abs(g-w) > 4.5e-7 { // max error of the approximation is 4.19e-7
			t.Fatalf("erf32(%g)=%.9g want %.9g", x, g, w)
		}
	}
	for x := -87.0; x <= 88; x += 0.01 {
		g, w := float64(exp32(float32(x))), math.Exp(float64(float32(x)))
		if math.Abs(g-w) > 3e-7*w {
			t.Fatalf("exp32(%g)=%.9g want %.9g", x, g, w)
		}
	}
	if exp32(-3e38) != 0 || exp32(-88) != 0 {
		t.Fatal("exp32 of very negative input not 0")
	}
}

func TestGELUKernels(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	in := randn(r, 70001, 3) // above the C kernels' parallel threshold
	in = append(in, 0, -10, 10, -4, 4, 1e-20, -1e30, 1e30)
	want := make([]float32, len(in))
	for i, x := range in {
		want[i] = refGELU(x)
	}
	withThreads(t, func(t *testing.T) {
		got := make([]float32, len(in))
		GELU(got, in)
		closeTo(t, "GELU", got, want, 1.5e-6, 1e-6)
		got2 := make([]float32, len(in))
		goGELU(got2, in)
		closeTo(t, "goGELU", got2, want, 1.5e-6, 1e-6)
		cp := append([]float32(nil), in...)
		GELU(cp, cp) // in place
		closeTo(t, "GELU in place", cp, want, 1.5e-6, 1e-6)
	})
}

func TestLinearAndLinearGELU(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	for _, sh := range [][3]int{{1, 1, 1}, {3, 5, 7}, {37, 64, 129}, {300, 16, 260}} {
		N, C, OC := sh[0], sh[1], sh[2]
		in, w, b := randn(r, N*C, 1), randn(r, OC*C, 0.2), randn(r, OC, 1)
		want := make([]float32, N*OC)
		refLinear(want, in, w, b, N, C, OC)
		withThreads(t, func(t *testing.T) {
			got := make([]float32, N*OC)
			Linear(got, in, w, b, N, C, OC)
			closeTo(t, "Linear", got, want, 1e-5, 1e-5)
			pre := make([]float32, N*OC)
			LinearGELU(got, pre, in, w, b, N, C, OC)
			closeTo(t, "LinearGELU pre", pre, want, 1e-5, 1e-5)
			g := make([]float32, len(want))
			for i, x := range want {
				g[i] = refGELU(x)
			}
			closeTo(t, "LinearGELU", got, g, 1e-5, 1e-5)
			goBiasGELU(pre, nil, nil, N, OC) // Go path: GELU in place on pre
			closeTo(t, "goBiasGELU", pre, g, 1e-5, 1e-5)
			wt := TransposeWeight(w, OC, C)
			for o := 0; o < OC; o++ {
				for c := 0; c < C; c++ {
					if wt[c*OC+o] != w[o*C+c] {
						t.Fatalf("TransposeWeight[%d,%d]", c, o)
					}
				}
			}
			LinearT(got, in, wt, b, N, C, OC)
			closeTo(t, "LinearT", got, want, 1e-5, 1e-5)
			LinearGELUT(got, nil, in, wt, b, N, C, OC)
			closeTo(t, "LinearGELUT", got, g, 1e-5, 1e-5)
			LinearGELU(got, nil, in, w, nil, N, C, OC)
			refLinear(pre, in, w, nil, N, C, OC)
			for i, x := range pre {
				pre[i] = refGELU(x)
			}
			closeTo(t, "LinearGELU no bias", got, pre, 1e-5, 1e-5)
		})
	}
}

func TestLayerNormKernels(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	for _, sh := range [][2]int{{1, 1}, {3, 7}, {33, 384}, {5, 1000}, {70, 1024}} {
		N, C := sh[0], sh[1]
		a, res := randn(r, N*C, 2), randn(r, N*C, 1)
		for i := range a {
			a[i] += 5 // offset mean: a one-pass E[x²]-E[x]² would lose digits
		}
		w, b := randn(r, C, 1), randn(r, C, 1)
		want := make([]float32, N*C)
		wm, wr := refLayerNorm(want, a, w, b, N, C, 1e-12)
		sum := make([]float32, N*C)
		for i := range sum {
			sum[i] = a[i] + res[i]
		}
		wantAdd := make([]float32, N*C)
		wam, war := refLayerNorm(wantAdd, sum, w, b, N, C, 1e-5)
		withThreads(t, func(t *testing.T) {
			out, mean, rstd := make([]float32, N*C), make([]float32, N), make([]float32, N)
			LayerNorm(out, mean, rstd, a, w, b, N, C, 1e-12)
			closeTo(t, "LayerNorm", out, want, 2e-5, 2e-5)
			closeTo(t, "LayerNorm mean", mean, wm, 1e-5, 1e-6)
			closeTo(t, "LayerNorm rstd", rstd, wr, 1e-5, 1e-5)
			cp := append([]float32(nil), a...)
			LayerNorm(cp, nil, nil, cp, w, b, N, C, 1e-12)
			closeTo(t, "LayerNorm in place", cp, want, 2e-5, 2e-5)
			goLayerNorm(out, nil, mean, rstd, a, nil, nil, w, b, N, C, 1e-12)
			closeTo(t, "goLayerNorm", out, want, 2e-5, 2e-5)
			s := make([]float32, N*C)
			AddLayerNorm(out, s, mean, rstd, a, res, w, b, N, C, 1e-5)
			closeTo(t, "AddLayerNorm", out, wantAdd, 2e-5, 2e-5)
			closeTo(t, "AddLayerNorm sum", s, sum, 0, 0)
			closeTo(t, "AddLayerNorm mean", mean, wam, 1e-5, 1e-6)
			closeTo(t, "AddLayerNorm rstd", rstd, war, 1e-5, 1e-5)
			cp = append([]float32(nil), a...)
			AddLayerNorm(cp, nil, nil, nil, cp, res, w, b, N, C, 1e-5)
			closeTo(t, "AddLayerNorm aliased", cp, wantAdd, 2e-5, 2e-5)
			goLayerNorm(out, nil, nil, nil, a, nil, res, w, b, N, C, 1e-5)
			closeTo(t, "goLayerNorm add", out, wantAdd, 2e-5, 2e-5)
			// AddBiasLayerNorm: a + ab + r with the bias split off a.
			ab := randn(r, C, 1)
			a2 := make([]float32, N*C)
			for i := range a2 {
				a2[i] = a[i] - ab[i%C]
			}
			s2 := make([]float32, N*C)
			for i := range s2 {
				s2[i] = (a2[i] + ab[i%C]) + res[i]
			}
			wantBias := make([]float32, N*C)
			refLayerNorm(wantBias, s2, w, b, N, C, 1e-5)
			AddBiasLayerNorm(out, nil, nil, nil, a2, ab, res, w, b, N, C, 1e-5)
			closeTo(t, "AddBiasLayerNorm", out, wantBias, 2e-5, 2e-5)
			goLayerNorm(out, nil, nil, nil, a2, ab, res, w, b, N, C, 1e-5)
			closeTo(t, "goLayerNorm bias", out, wantBias, 2e-5, 2e-5)
		})
	}
}

func TestAttentionKernels(t *testing.T) {
	r := rand.New(rand.NewSource(4))
	for _, sh := range [][4]int{{1, 1, 4, 1}, {2, 5, 12, 3}, {3, 17, 64, 2}, {2, 64, 384, 12}} {
		B, T, C, NH := sh[0], sh[1], sh[2], sh[3]
		qkv := randn(r, B*T*3*C, 1)
		mask := make([]float32, B*T)
		for b := 0; b < B; b++ {
			n := T - b*T/3 // later sequences padded
			for t := 0; t < n; t++ {
				mask[b*T+t] = 1
			}
		}
		if B > 2 {
			clear(mask[2*T : 3*T]) // a fully padded sequence: uniform weights, as HF
		}
		if T > 3 {
			mask[1] = 0 // a hole inside the sequence
		}
		want, watt := make([]float32, B*T*C), make([]float32, B*NH*T*T)
		refAttention(want, watt, qkv, mask, B, T, C, NH)
		wantNM := make([]float32, B*T*C)
		refAttention(wantNM, nil, qkv, nil, B, T, C, NH)
		withThreads(t, func(t *testing.T) {
			out, att := make([]float32, B*T*C), make([]float32, B*NH*T*T)
			Attention(out, att, qkv, mask, B, T, C, NH)
			closeTo(t, "Attention", out, want, 1e-5, 1e-5)
			closeTo(t, "Attention att", att, watt, 1e-6, 1e-5)
			Attention(out, nil, qkv, nil, B, T, C, NH)
			closeTo(t, "Attention no mask/att", out, wantNM, 1e-5, 1e-5)
			goAttention(out, att, qkv, mask, B, T, C, NH)
			closeTo(t, "goAttention", out, want, 1e-5, 1e-5)
			closeTo(t, "goAttention att", att, watt, 1e-6, 1e-5)
			goAttention(out, nil, qkv, nil, B, T, C, NH)
			closeTo(t, "goAttention no mask/att", out, wantNM, 1e-5, 1e-5)
		})
	}
}

func TestAddAndBias(t *testing.T) {
	r := rand.New(rand.NewSource(5))
	a, b := randn(r, 70001, 1), randn(r, 70001, 1)
	want := make([]float32, len(a))
	for i := range a {
		want[i] = a[i] + b[i]
	}
	withThreads(t, func(t *testing.T) {
		out := make([]float32, len(a))
		Add(out, a, b)
		closeTo(t, "Add", out, want, 0, 0)
		goAdd(out, a, b)
		closeTo(t, "goAdd", out, want, 0, 0)
		x := append([]float32(nil), a[:7*13]...)
		goBias(x, b[:13], 7, 13)
		for i := range x {
			if x[i] != a[i]+b[i%13] {
				t.Fatalf("goBias[%d]", i)
			}
		}
	})
}

func TestShortBufferPanics(t *testing.T) {
	defer func() {
		if e := recover(); e == nil || fmt.Sprint(e) != "nn.Attention: att has 3 elements, needs 8" {
			t.Fatalf("panic = %v", e)
		}
	}()
	Attention(make([]float32, 8), make([]float32, 3), make([]float32, 24), nil, 1, 2, 4, 2)
}

// TestLayerCompositions checks that the fused layer (LinearT,
// AddBiasLayerNorm) equals the plain one (Linear with bias, AddLayerNorm).
func TestLayerCompositions(t *testing.T) {
	const B, T, C, NH, FF = 2, 7, 64, 2, 96
	r := rand.New(rand.NewSource(6))
	l := newLayer(r, C, FF)
	l.transpose(C, FF)
	x1 := randn(r, B*T*C, 1)
	x2 := append([]float32(nil), x1...)
	mask := make([]float32, B*T)
	for t := 0; t < T; t++ { // padded tails of 2 and 3 tokens
		mask[t] = float32(min(1, T-2-t))
		mask[T+t] = float32(min(1, T-3-t))
	}
	for i := range mask {
		mask[i] = max(mask[i], 0)
	}
	buf := func() *layerBufs {
		return &layerBufs{qkv: make([]float32, B*T*3*C), ctx: make([]float32, B*T*C), ao: make([]float32, B*T*C),
			h: make([]float32, B*T*FF), f: make([]float32, B*T*C)}
	}
	l.forward(x1, mask, buf(), B, T, C, NH, FF)
	l.forwardPlain(x2, mask, buf(), B, T, C, NH, FF)
	closeTo(t, "fused vs plain layer", x1, x2, 1e-5, 1e-5)
	if x1[0] == 0 && x1[1] == 0 {
		t.Fatal("layer output is zero")
	}
}
