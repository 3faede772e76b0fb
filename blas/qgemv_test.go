package blas

import (
	"math"
	"math/rand/v2"
	"testing"
)

// quant16Ref is qgemv.c's int16 rounding of x: per block of 512 the scale
// d = max|x|/32767 and q = round-to-even(x·(1/d)) in float32.
func quant16Ref(x []float32) (q []int32, d []float32) {
	for b := 0; b < len(x); b += 512 {
		blk := x[b:min(b+512, len(x))]
		var amax float32
		for _, v := range blk {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		s := amax / 32767
		var id float32
		if s != 0 {
			id = 1 / s
		}
		d = append(d, s)
		for _, v := range blk {
			q = append(q, int32(max(-32767, min(32767, math.RoundToEven(float64(v*id))))))
		}
	}
	return q, d
}

// One row of A against Int8 weights in qgemv.c's integer kernel (int16
// activations, vpdpwssd) is the float64 sum of the same integers to
// float32 rounding, and within half an activation step (max|x|/65534 per
// element) of the float64 product with A as it is: as accurate as the
// float kernel. Shapes around the kernel's unrolling (128 weights per
// pass, blocks of 512, the masked last 32), beta 0 and not, more rows
// than one thread's block. Skipped where the CPU lacks AVX512-VNNI (and
// on the pure-Go build, which has no such kernel).
func TestGEMVInt8Int16(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	probe := newQCase(t, r, Int8, 1, 1, 32, 0)
	if !gemvInt(probe.a, probe.q, 0, append([]float32(nil), probe.c0...)) {
		t.Skip("no integer GEMV kernel on this CPU or build")
	}
	for _, n := range []int{1, 3, 130, 300} {
		for _, k := range []int{1, 31, 32, 100, 128, 129, 511, 512, 513, 1100, 2560} {
			for _, beta := range []float32{0, 0.5} {
				cs := newQCase(t, r, Int8, 1, n, k, beta)
				if k == 1100 { // an outlier, as activations have
					cs.a[7] = 40
				}
				got := append([]float32(nil), cs.c0...)
				if !gemvInt(cs.a, cs.q, beta, got) {
					t.Fatal("gemvInt refused a shape")
				}
				xq, xd := quant16Ref(cs.a[:k])
				for j := 0; j < n; j++ {
					wr := cs.q.Data[j*k : (j+1)*k]
					sj := float64(cs.q.Scale[j])
					var want, mag, exact, step float64
					for b := 0; b < len(xd); b++ {
						var s, sa int64
						for p := 512 * b; p < min(k, 512*b+512); p++ {
							w := int64(int8(wr[p]))
							s += w * int64(xq[p])
							sa += max(w*int64(xq[p]), -w*int64(xq[p]))
							exact += float64(cs.a[p]) * float64(w) * sj
							step += math.Abs(float64(w)*sj) * float64(xd[b]) / 2
						}
						want += float64(s) * float64(xd[b]) * sj
						mag += float64(sa) * float64(xd[b]) * sj
					}
					if beta != 0 {
						x := float64(beta) * float64(cs.c0[j])
						want, exact, mag = want+x, exact+x, mag+math.Abs(x)
					}
					tol := float64(k/32+24) * 0x1p-24 * mag
					g := float64(got[j])
					if d := math.Abs(g - want); !(d <= tol+1e-30) {
						t.Fatalf("n=%d k=%d β=%g: c[%d] = %g, want %g from the same integers (|d| %.3g > %.3g)", n, k, beta, j, g, want, d, tol)
					}
					if d := math.Abs(g - exact); !(d <= step*(1+1e-5)+tol+1e-30) {
						t.Fatalf("n=%d k=%d: c[%d] = %g, float product %g: |d| %.3g beyond half a step %.3g", n, k, j, g, exact, d, step)
					}
				}
				for j := n; j < len(got); j++ {
					if math.Float32bits(got[j]) != math.Float32bits(cs.c0[j]) {
						t.Fatalf("c[%d] beyond n written", j)
					}
				}
			}
		}
	}
}

// Under QDotAuto one row of A runs in the integer kernels where the CPU
// has them (Int8 as above, Q4 with QDotInt's integers), and MatMulQ's
// answer is theirs: the same numbers as gemvInt, to the bit.
func TestMatMulQAutoGEMV(t *testing.T) {
	defer SetQDot(CurrentQDot())
	SetQDot(QDotAuto)
	r := rand.New(rand.NewPCG(9, 10))
	for _, f := range []QFormat{Int8, Q4} {
		cs := newQCase(t, r, f, 1, 200, 640, 0)
		want := append([]float32(nil), cs.c0...)
		if !gemvInt(cs.a, cs.q, 0, want) {
			t.Logf("%v: no integer GEMV kernel here", f)
			continue
		}
		got := append([]float32(nil), cs.c0...)
		MatMulQ(1, cs.a, cs.lda, cs.q, 0, got, cs.ldc)
		for j := range got {
			if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
				t.Fatalf("%v: MatMulQ c[%d] = %g, gemvInt %g", f, j, got[j], want[j])
			}
		}
		if f == Q4 {
			checkQDot(t, cs, got)
		}
	}
}
