package nn

import (
	"fmt"
	"math/rand"
	"testing"
)

func TestGoldenAttention(t *testing.T) {
	gf := loadGolden(t)
	for name, g := range map[string]goldenAttention{"hs32": gf.Attention, "hs4": gf.AttentionSmallHeads} {
		withThreads(t, func(t *testing.T) {
			out, att := make([]float32, g.B*g.T*g.C), make([]float32, g.B*g.NH*g.T*g.T)
			Attention(out, att, g.QKV, g.Mask, g.B, g.T, g.C, g.NH)
			closeTo(t, name+" Attention", out, g.Out, gtol, gtol)
			closeTo(t, name+" att", att, g.Att, gtol, gtol)
			goAttention(out, att, g.QKV, g.Mask, g.B, g.T, g.C, g.NH)
			closeTo(t, name+" goAttention", out, g.Out, gtol, gtol)
			closeTo(t, name+" go att", att, g.Att, gtol, gtol)
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

func TestShortBufferPanics(t *testing.T) {
	defer func() {
		if e := recover(); e == nil || fmt.Sprint(e) != "nn.Attention: att has 3 elements, needs 8" {
			t.Fatalf("panic = %v", e)
		}
	}()
	Attention(make([]float32, 8), make([]float32, 3), make([]float32, 24), nil, 1, 2, 4, 2)
}

func TestGoldenAttentionBackward(t *testing.T) {
	g := loadBackward(t).Backward.Attention
	withThreads(t, func(t *testing.T) {
		out, att := make([]float32, g.B*g.T*g.C), make([]float32, g.B*g.NH*g.T*g.T)
		Attention(out, att, g.QKV, g.Mask, g.B, g.T, g.C, g.NH)
		dqkv := make([]float32, len(g.QKV))
		AttentionBackward(dqkv, g.Dout, g.QKV, att, g.B, g.T, g.C, g.NH)
		closeTo(t, "dqkv", dqkv, g.DQKV, gtol, gtol)
	})
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
