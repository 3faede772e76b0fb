package blas

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kormed/kormed/safetensors"
)

// The activation quantization of the cgo kernels (scalar and AVX-512) is
// goQuantAct's to the bit, and it is Q8_0's: d = max|x|/127 per block of
// 32, each x within d/2 of q·d, zero padding past k.
func TestQuantAct(t *testing.T) {
	defer setGEMVISA(0)
	r := rand.New(rand.NewPCG(3, 4))
	for _, isa := range gemvISAs {
		setGEMVISA(isa)
		for _, f := range []QFormat{Int8, Q4} {
			for _, k := range []int{1, 7, 31, 32, 33, 63, 64, 65, 100, 2560} {
				const m = 5
				lda := k + 3
				a := randMatrix(r, m*lda)
				for i := range a[:k] { // a row with exact ties, a zero block
					a[i] = float32(i%5) - 2
				}
				clear(a[lda : lda+min(k, 32)])
				got, want := quantAct(f, m, k, a, lda), goQuantAct(f, m, k, a, lda)
				if !slices.Equal(got.q, want.q) || !slices.Equal(got.d, want.d) || !slices.Equal(got.c, want.c) {
					t.Fatalf("isa %d %v k=%d: C's quantized activations differ from Go's", isa, f, k)
				}
				kp := want.kp
				for i := 0; i < m; i++ {
					for p := 0; p < kp; p++ {
						q, d := want.q[i*kp+p], want.d[i*kp/32+p/32]
						if p >= k {
							if q != 0 {
								t.Fatalf("k=%d: padding q[%d] = %d", k, p, q)
							}
							continue
						}
						x := a[i*lda+p]
						if err := math.Abs(float64(x) - float64(q)*float64(d)); !(err <= float64(d)*(0.5+1e-6)) || q < -127 || q > 127 {
							t.Fatalf("k=%d row %d: %g quantized to %d·%g", k, i, x, q, d)
						}
					}
					for b := 0; b < kp/32; b++ {
						var amax float32
						for p := 32 * b; p < min(k, 32*b+32); p++ {
							amax = max(amax, float32(math.Abs(float64(a[i*lda+p]))))
						}
						if want.d[i*kp/32+b] != amax/127 {
							t.Fatalf("k=%d row %d block %d: d %g, want %g", k, i, b, want.d[i*kp/32+b], amax/127)
						}
					}
				}
			}
		}
	}
}

// qdotRef is C[i,j] of the integer product in float64 from the same
// integers as the kernels (goQuantAct's activations, W's codes): the sum
// over blocks of the exact int32 dot times the scales; and mag, the sum
// of the absolute values of every product of codes times its scales.
func qdotRef(q *QMatrix, qa *q8Act, i, j int) (want, mag float64) {
	k, kp := q.Cols, qa.kp
	var r, nib, scs []byte
	if q.Format == Int8 {
		r = q.Data[j*k : (j+1)*k]
	} else {
		nib, scs = q.q4Row(j)
	}
	for b := 0; 32*b < k; b++ {
		var s, sa int64
		sc := float64(qa.d[i*kp/32+b])
		for p := 32 * b; p < min(k, 32*b+32); p++ {
			var w int64
			if q.Format == Int8 {
				w = int64(int8(r[p]))
			} else {
				c := nib[16*b+p%16]
				if p%32 >= 16 {
					c >>= 4
				}
				w = int64(c&15) - 8
			}
			x := int64(qa.q[i*kp+p])
			s += w * x
			sa += max(w*x, -w*x)
		}
		if q.Format == Int8 {
			sc *= float64(q.Scale[j])
		} else {
			sc *= float64(safetensors.F16ToFloat32(binary.LittleEndian.Uint16(scs[2*b:])))
		}
		want += float64(s) * sc
		mag += float64(sa) * math.Abs(sc)
	}
	return want, mag
}

// checkQDot checks got (MatMulQ's C under QDotInt) against qdotRef.
// The int32 block sums are exact at every level, so what differs is
// float32 rounding: a kernel adds at most k/4 + 8 rounded terms (partial
// sums of 4 products per vector lane, times rounded scale products,
// lanes reduced, an Int8 row's scale), each bounded by its share of mag,
// so recursive summation's bound (k/4 + 8)·2⁻²⁴·mag holds in any order.
// Against the float64 product with the unquantized A the error is at
// most half an activation step per element: Σ|w|·d/2.
func checkQDot(t *testing.T, cs qCase, got []float32) {
	t.Helper()
	n, k := cs.q.Rows, cs.q.Cols
	qa := goQuantAct(cs.q.Format, cs.m, k, cs.a, cs.lda)
	w := make([]float32, k)
	for j := 0; j < n; j++ {
		cs.q.DequantizeRow(j, w)
		for i := 0; i < cs.m; i++ {
			want, mag := qdotRef(cs.q, qa, i, j)
			var exact, step float64
			for p := 0; p < k; p++ {
				exact += float64(cs.a[i*cs.lda+p]) * float64(w[p])
				step += math.Abs(float64(w[p])) * float64(qa.d[i*qa.kp/32+p/32]) / 2
			}
			if cs.beta != 0 {
				x := float64(cs.beta) * float64(cs.c0[i*cs.ldc+j])
				want, exact, mag = want+x, exact+x, mag+math.Abs(x)
			}
			tol := float64(k/4+8) * 0x1p-24 * mag
			g := float64(got[i*cs.ldc+j])
			if d := math.Abs(g - want); !(d <= tol+1e-30) {
				t.Fatalf("%v m=%d n=%d k=%d β=%g: C[%d,%d] = %g, want %g from the same integers (|d| %.3g > %.3g)", cs.q.Format, cs.m, n, k, cs.beta, i, j, g, want, d, tol)
			}
			if d := math.Abs(g - exact); !(d <= step*(1+1e-5)+tol+1e-30) {
				t.Fatalf("%v m=%d n=%d k=%d: C[%d,%d] = %g, float product %g: |d| %.3g beyond half a step %.3g", cs.q.Format, cs.m, n, k, i, j, g, exact, d, step)
			}
		}
	}
	for i := 0; i < cs.m; i++ {
		for j := n; j < cs.ldc; j++ {
			if math.Float32bits(got[i*cs.ldc+j]) != math.Float32bits(cs.c0[i*cs.ldc+j]) {
				t.Fatalf("C[%d,%d] beyond n written", i, j)
			}
		}
	}
}

// The integer product at every kernel level (AVX512-VNNI, AVX2, scalar C)
// and in Go is the float64 sum of the same int32 block sums to float32
// rounding, for shapes around the kernels' unrolling (1 and 4 rows of A
// per pass, pairs of blocks, odd Int8 lengths, the last partial vector),
// beta 0 (C not read) and not; Go's is scalar C's to the bit.
func TestMatMulQIntDot(t *testing.T) {
	defer SetQDot(CurrentQDot())
	defer setGEMVISA(0)
	SetQDot(QDotInt)
	r := rand.New(rand.NewPCG(5, 6))
	for _, f := range []QFormat{Int8, Q4} {
		ks := []int{32, 64, 96, 160, 224}
		if f == Int8 {
			ks = append(ks, 1, 7, 8, 17, 33, 63, 65, 130, 200)
		}
		for _, m := range []int{1, 2, 3, 4, 5, 8, 9, 40} {
			for _, n := range []int{1, 3, 67} {
				for _, k := range ks {
					for _, beta := range []float32{0, 0.5} {
						cs := newQCase(t, r, f, m, n, k, beta)
						var scalar []float32
						for _, isa := range gemvISAs {
							setGEMVISA(isa)
							got := append([]float32(nil), cs.c0...)
							MatMulQ(m, cs.a, cs.lda, cs.q, beta, got, cs.ldc)
							checkQDot(t, cs, got)
							if isa == 1 || len(gemvISAs) == 1 {
								scalar = got
							}
						}
						got := append([]float32(nil), cs.c0...)
						goQDot(m, cs.a, cs.lda, cs.q, beta, got, cs.ldc)
						checkQDot(t, cs, got)
						for i := range got {
							if math.Float32bits(got[i]) != math.Float32bits(scalar[i]) && !math.IsNaN(float64(got[i])) {
								t.Fatalf("%v m=%d n=%d k=%d: Go %g, scalar C %g at %d", f, m, n, k, got[i], scalar[i], i)
							}
						}
					}
				}
			}
		}
		// Large enough for the threads, the row blocks and the tiles of A.
		for _, m := range []int{1, 3, 64, 100} {
			cs := newQCase(t, r, f, m, 1500, 704, 0)
			for _, isa := range gemvISAs {
				setGEMVISA(isa)
				got := append([]float32(nil), cs.c0...)
				MatMulQ(m, cs.a, cs.lda, cs.q, 0, got, cs.ldc)
				checkQDot(t, cs, got)
			}
		}
	}
}
