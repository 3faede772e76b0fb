package nn

import (
	"math/rand"
	"testing"
)

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
