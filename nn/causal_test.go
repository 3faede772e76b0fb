package nn

import (
	"math"
	"math/rand"
	"testing"

	"github.com/kormed/kormed/blas"
)

func TestCausalAttention(t *testing.T) {
	withThreads(t, func(t *testing.T) {
		r := rand.New(rand.NewSource(4))
		for _, c := range []struct{ T, P, NH, NKV, hs int }{{7, 0, 4, 2, 8}, {1, 9, 4, 1, 8}, {1, 12, 6, 3, 8}, {3, 5, 6, 6, 4}, {6, 0, 2, 2, 16},
			// A generated token at EXAONE-3.5-2.4B's head shape (32 query heads on 8
			// key/value heads of 80), long enough for the kernels' threads.
			{1, 300, 32, 8, 80}, {1, 40, 8, 8, 16},
			// Several chunks of the decode kernel's 64 keys, the last one
			// partial: plain loops (hs 8) and vectors (hs 32).
			{1, 150, 6, 3, 8}, {1, 128, 4, 2, 32}} {
			S := c.P + c.T
			ldq, ldkv := c.NH*c.hs+3, c.NKV*c.hs+1
			q := randSlice(r, c.T*ldq, 1)
			k := randSlice(r, S*ldkv, 1)
			v := randSlice(r, S*ldkv, 1)
			out := make([]float32, c.T*c.NH*c.hs)
			att := make([]float32, c.NH*c.T*S)
			for i := range att {
				att[i] = float32(math.NaN())
			}
			CausalAttention(out, att, q, ldq, k, v, ldkv, c.T, c.P, c.NH, c.NKV, c.hs)
			wo, wa := naiveCausal(q, ldq, k, v, ldkv, c.T, c.P, c.NH, c.NKV, c.hs)
			if d := maxAbsDiff(out, wo); d > 1e-5 || math.IsNaN(d) {
				t.Fatalf("%+v: out differs by %g", c, d)
			}
			if d := maxAbsDiff(att, wa); d > 1e-6 || math.IsNaN(d) {
				t.Fatalf("%+v: probabilities differ by %g", c, d)
			}
			out2 := make([]float32, len(out))
			CausalAttention(out2, nil, q, ldq, k, v, ldkv, c.T, c.P, c.NH, c.NKV, c.hs)
			if d := maxAbsDiff(out2, wo); d > 1e-5 {
				t.Fatalf("%+v: out without att differs by %g", c, d)
			}
			if c.T == 1 { // the other build's decode kernel
				clear(out2)
				goDecodeAttention(out2, q, k, v, ldkv, S, c.NKV, c.NH/c.NKV, c.hs, float32(1/math.Sqrt(float64(c.hs))))
				if d := maxAbsDiff(out2, wo); d > 1e-5 {
					t.Fatalf("%+v: goDecodeAttention differs by %g", c, d)
				}
			}
		}
	})
}

// A generated token's attention does not depend on the thread count: the
// decode kernel splits the keys into chunks of a fixed size and combines
// them in order.
func TestDecodeAttentionThreads(t *testing.T) {
	defer blas.SetThreads(blas.Threads())
	r := rand.New(rand.NewSource(6))
	const S, NH, NKV, hs = 600, 32, 8, 80
	ld := NKV * hs
	q := randSlice(r, NH*hs, 1)
	k := randSlice(r, S*ld, 1)
	v := randSlice(r, S*ld, 1)
	var first []float32
	for _, n := range []int{1, 2, 3} {
		blas.SetThreads(n)
		out := make([]float32, NH*hs)
		CausalAttention(out, nil, q, NH*hs, k, v, ld, 1, S-1, NH, NKV, hs)
		if first == nil {
			first = out
			wo, _ := naiveCausal(q, NH*hs, k, v, ld, 1, S-1, NH, NKV, hs)
			if d := maxAbsDiff(out, wo); d > 1e-5 {
				t.Fatalf("differs from the reference by %g", d)
			}
			continue
		}
		for i := range out {
			if out[i] != first[i] {
				t.Fatalf("%d threads: out[%d] = %v, %v with one", n, i, out[i], first[i])
			}
		}
	}
}

func TestCausalAttentionBackwardFD(t *testing.T) {
	for _, c := range []struct{ T, P, NH, NKV, hs int }{{5, 0, 4, 2, 4}, {4, 3, 6, 2, 4}, {3, 0, 2, 2, 8}, {4, 1, 4, 1, 4}} {
		withThreads(t, func(t *testing.T) {
			r := rand.New(rand.NewSource(5))
			T, P, NH, NKV, hs := c.T, c.P, c.NH, c.NKV, c.hs
			S, QD, KD := P+T, NH*hs, NKV*hs
			ld := QD + 2*KD // the fused layout: q at 0, k at QD, v at QD+KD
			// New rows' q, k, v in one buffer; cached keys/values before.
			kv := randSlice(r, S*ld, 1)
			q := kv[P*ld:]
			k, v := kv[QD:], kv[QD+KD:]
			dout := randSlice(r, T*QD, 1)
			out, att := make([]float32, T*QD), make([]float32, NH*T*S)
			loss := func() float64 {
				CausalAttention(out, att, q, ld, k, v, ld, T, P, NH, NKV, hs)
				return dot(out, dout)
			}
			loss()
			d := make([]float32, S*ld)
			CausalAttentionBackward(d[P*ld:], ld, d[QD:], d[QD+KD:], ld, dout, att, q, k, v, T, P, NH, NKV, hs)
			// Cached rows' q columns are unused: their gradient must stay 0.
			for i := 0; i < P*ld; i++ {
				if i%ld < QD && d[i] != 0 {
					t.Fatalf("gradient written to an unused q column %d", i)
				}
			}
			fdCheckDec(t, "CausalAttention dqkv", kv, d, 1e-2, 2e-3, loss)
		})
	}
}
