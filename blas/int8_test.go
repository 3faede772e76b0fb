package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func randInt8(r *rand.Rand, n int) []int8 {
	q := make([]int8, n)
	for i := range q {
		q[i] = int8(r.IntN(255) - 127)
	}
	return q
}

// refS8 is the float64 reference of the integer product: every sum is
// below 2⁵³, so exact.
func refS8(m, n, k int, qa, qw []int8) []float64 {
	c := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(qa[i*k+p]) * float64(qw[j*k+p])
			}
			c[i*n+j] = s
		}
	}
	return c
}

// The C kernel quantizes rows to the same integers and scales as the Go
// code, ties and special values included.
func TestInt8QuantizeRows(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const m, k, lda = 9, 77, 80
	a := make([]float32, m*lda)
	for i := range a {
		a[i] = float32(r.NormFloat64()) * float32(math.Pow(10, float64(r.IntN(7)-3)))
	}
	clear(a[2*lda : 2*lda+k]) // a zero row
	a[3*lda+5] = float32(math.NaN())
	a[4*lda+6] = float32(math.Inf(-1))
	for p := 0; p < k; p++ { // ties: x·127/amax = j + 0.5
		a[5*lda+p] = float32(p%9) - 3.5
	}
	a[5*lda] = 127
	a[6*lda] = -1e-30 // tiny scale
	gq, cq := make([]int8, m*k), make([]int8, m*k)
	gs, cs := make([]float32, m), make([]float32, m)
	for i := 0; i < m; i++ {
		gs[i] = quantizeRow(gq[i*k:(i+1)*k], a[i*lda:i*lda+k])
	}
	quantizeRowsC(m, k, a, lda, cq, cs)
	for i := 0; i < m; i++ {
		if gs[i] != cs[i] {
			t.Errorf("row %d: scale %g (Go) vs %g (C)", i, gs[i], cs[i])
		}
		for p := 0; p < k; p++ {
			if gq[i*k+p] != cq[i*k+p] {
				t.Fatalf("row %d col %d: %d (Go) vs %d (C) from %g", i, p, gq[i*k+p], cq[i*k+p], a[i*lda+p])
			}
		}
	}
	for _, i := range []int{2, 3, 4} {
		if gs[i] != 0 {
			t.Errorf("row %d (zero, NaN or Inf): scale %g, want 0", i, gs[i])
		}
	}
	if got := gq[5*k+1]; got != -2 { // -2.5 rounds to even
		t.Errorf("tie -2.5 → %d, want -2 (scale %g)", got, gs[5])
	}
	// Each value within half a step of its quantized value.
	for i := 0; i < m; i++ {
		if gs[i] == 0 {
			continue
		}
		for p := 0; p < k; p++ {
			if d := math.Abs(float64(a[i*lda+p]) - float64(gs[i])*float64(gq[i*k+p])); d > 0.5001*float64(gs[i]) {
				t.Fatalf("row %d col %d: %g quantized to %d·%g", i, p, a[i*lda+p], gq[i*k+p], gs[i])
			}
		}
	}
}

var s8Shapes = [][3]int{{1, 1, 1}, {1, 384, 384}, {3, 17, 5}, {7, 1536, 384}, {64, 384, 1536}, {130, 33, 64}, {300, 96, 384}}

// The int32 sums, from oneDNN and from the Go kernel, equal the float64
// reference of the same integers exactly, extreme values included.
func TestInt8ExactSums(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for _, s := range s8Shapes {
		m, n, k := s[0], s[1], s[2]
		qa, qw := randInt8(r, m*k), randInt8(r, n*k)
		for p := 0; p < k; p++ { // one row and one column at the extremes
			qa[p], qw[p] = 127, 127
			if n > 1 {
				qw[k+p] = -127
			}
		}
		want := refS8(m, n, k, qa, qw)
		goAcc := make([]int32, m*n)
		for i := 0; i < m; i++ {
			goGemmS8Row(goAcc[i*n:(i+1)*n], qa[i*k:(i+1)*k], qw, n, k)
		}
		for i, v := range goAcc {
			if float64(v) != want[i] {
				t.Fatalf("%v Go: [%d] = %d, want %g", s, i, v, want[i])
			}
		}
		w := &Int8Weights{N: n, K: k, Q: qw, Scale: make([]float32, n)}
		if int8Supported() != nil {
			continue
		}
		if w.packed = packInt8(w); w.packed == nil {
			t.Logf("%v: pure Go (no oneDNN int8 matmul here)", s)
			continue
		}
		acc := make([]int32, m*n)
		if st := gemmS8(m, w, qa, acc); st != 0 {
			t.Fatalf("%v: oneDNN status %d", s, st)
		}
		for i, v := range acc {
			if float64(v) != want[i] {
				t.Fatalf("%v oneDNN (%s): [%d] = %d, want %g", s, w.packed.impl, i, v, want[i])
			}
		}
		if s == s8Shapes[len(s8Shapes)-1] {
			t.Logf("oneDNN %s at %s", w.packed.impl, int8ISA())
		}
	}
}

// MatMulInt8 equals the float64 dequantization of its exact sums to
// float32 rounding, its cgo and Go paths agree bit for bit, and it stays
// within the quantization error bound of the float32 product.
func TestMatMulInt8(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range s8Shapes {
		m, n, k := s[0], s[1], s[2]
		lda, ldc := k+3, n+2
		a, wf := make([]float32, m*lda), make([]float32, n*k)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range wf {
			wf[i] = float32(r.NormFloat64() * 0.05)
		}
		a[(m-1)*lda] = 9 // an outlier
		wt := TransposeForTest(wf, n, k)
		w, w2 := QuantizeInt8(wf, n, k, false), QuantizeInt8(wt, n, k, true)
		for i := range w.Q {
			if w.Q[i] != w2.Q[i] {
				t.Fatalf("%v: transposed quantization differs at %d", s, i)
			}
		}
		c, cg := make([]float32, m*ldc), make([]float32, m*ldc)
		MatMulInt8(m, a, lda, w, c, ldc)
		goMatMulInt8(m, a, lda, w, cg, ldc)
		f32 := make([]float32, m*n)
		sgemm(false, true, m, n, k, 1, a, lda, wf, k, 0, f32, n)
		qa, sa := make([]int8, m*k), make([]float32, m)
		for i := 0; i < m; i++ {
			sa[i] = quantizeRow(qa[i*k:(i+1)*k], a[i*lda:i*lda+k])
		}
		sums := refS8(m, n, k, qa, w.Q)
		var worst float64
		for i := 0; i < m; i++ {
			for j := 0; j < n; j++ {
				got := c[i*ldc+j]
				if got != cg[i*ldc+j] {
					t.Fatalf("%v [%d,%d]: %s gives %g, pure Go %g", s, i, j, w.Kernel(), got, cg[i*ldc+j])
				}
				ref := sums[i*n+j] * float64(sa[i]) * float64(w.Scale[j])
				if d := math.Abs(float64(got) - ref); d > 3e-7*math.Abs(ref)+1e-30 {
					t.Fatalf("%v [%d,%d]: %g, float64 dequantized %g", s, i, j, got, ref)
				}
				var bound float64
				for p := 0; p < k; p++ {
					x, y := math.Abs(float64(a[i*lda+p])), math.Abs(float64(wf[j*k+p]))
					bound += x*float64(w.Scale[j])/2 + float64(sa[i])/2*(y+float64(w.Scale[j])/2)
				}
				d := math.Abs(float64(got) - float64(f32[i*n+j]))
				if d > bound*1.0001+1e-5 {
					t.Fatalf("%v [%d,%d]: int8 %g vs float32 %g: error %g above the bound %g", s, i, j, got, f32[i*n+j], d, bound)
				}
				worst = max(worst, d/bound)
			}
		}
		for i := 0; i < m; i++ {
			for j := n; j < ldc; j++ {
				if c[i*ldc+j] != 0 {
					t.Fatalf("%v: wrote past the row into C[%d,%d]", s, i, j)
				}
			}
		}
		t.Logf("%v %s: worst error %.3f of the bound", s, w.Kernel(), worst)
	}
}

// TransposeForTest returns wᵀ [k,n] of w [n,k].
func TransposeForTest(w []float32, n, k int) []float32 {
	t := make([]float32, n*k)
	for j := 0; j < n; j++ {
		for p := 0; p < k; p++ {
			t[p*n+j] = w[j*k+p]
		}
	}
	return t
}

func TestPrecisionInt8(t *testing.T) {
	defer SetPrecision(FP32)
	p, err := ParsePrecision("int8")
	if err != nil || p != INT8 || p.String() != "int8" {
		t.Fatalf("ParsePrecision(int8) = %v, %v", p, err)
	}
	if err := SetPrecision(INT8); err != nil {
		if int8Supported() == nil {
			t.Fatal(err)
		}
		t.Logf("refused here: %v", err)
		return
	}
	if CurrentPrecision() != INT8 {
		t.Fatal("SetPrecision(INT8) not in force")
	}
	// Sgemm stays float32 under INT8.
	a, b := []float32{1.0000001, 3}, []float32{1, 1}
	c := make([]float32, 1)
	Sgemm(false, true, 1, 1, 2, 1, a, 2, b, 2, 0, c, 1)
	if c[0] != 4.0000001 {
		t.Fatalf("Sgemm under INT8: %v", c[0])
	}
}

// Every oneDNN ISA level: the VNNI levels give the exact sums, the levels
// without int8 dot products are refused with the reason (this runs the
// tests above again in a child process, oneDNN capped by
// ONEDNN_MAX_CPU_ISA, which it reads once).
func TestInt8ISALevels(t *testing.T) {
	if !strings.HasPrefix(Backend(), "oneDNN") {
		t.Skip("pure-Go build: no oneDNN levels")
	}
	if os.Getenv("KORMED_INT8_CHILD") != "" || testing.Short() {
		t.Skip()
	}
	for _, isa := range []string{"AVX512_CORE_AMX", "AVX512_CORE_VNNI", "AVX2_VNNI", "AVX512_CORE", "AVX2"} {
		cmd := exec.Command(os.Args[0], "-test.run", "^(TestInt8ExactSums|TestMatMulInt8|TestInt8Refusal)$", "-test.v")
		cmd.Env = append(os.Environ(), "ONEDNN_MAX_CPU_ISA="+isa, "KORMED_INT8_CHILD=1")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: %v\n%s", isa, err, out)
			continue
		}
		var notes []string
		for _, l := range strings.Split(string(out), "\n") {
			if strings.Contains(l, "int8:") || strings.Contains(l, "oneDNN") && strings.Contains(l, "int8_test") {
				notes = append(notes, strings.TrimSpace(l))
			}
		}
		t.Logf("ONEDNN_MAX_CPU_ISA=%s:\n  %s", isa, strings.Join(notes, "\n  "))
	}
}

// TestInt8Refusal reports whether int8 runs at this oneDNN level, and
// checks that a refusal says why.
func TestInt8Refusal(t *testing.T) {
	err := int8Supported()
	if err == nil {
		t.Logf("int8: supported at %s", int8ISA())
		return
	}
	if !strings.Contains(err.Error(), "VNNI") && !strings.Contains(err.Error(), "exact") && !strings.Contains(err.Error(), "oneDNN") {
		t.Errorf("int8 refusal without a reason: %v", err)
	}
	t.Logf("int8: refused at %s: %v", int8ISA(), err)
}

// kormed's AMX kernel (amx.c) gives the tiles' results of oneDNN's kernel
// and of the pure-Go one, bit for bit (the int32 sums are exact either
// way), over partial row blocks, column counts that are not a multiple of
// 32, inner dimensions that are not a multiple of 64, with and without a
// bias, and the extreme ±127 rows and columns.
func TestInt8AMX(t *testing.T) {
	if !setAMX(true) {
		t.Skip("no AMX kernel here (needs AMX-INT8, the cgo build and oneDNN's ISA at AMX)")
	}
	defer setAMX(true)
	defer SetThreads(Threads())
	SetThreads(1) // every product of 128 rows or more goes in tiles
	r := rand.New(rand.NewPCG(11, 12))
	for _, s := range [][3]int{{128, 1152, 384}, {130, 33, 100}, {200, 40, 5}, {300, 384, 1536}, {129, 16, 64}} {
		m, n, k := s[0], s[1], s[2]
		lda, ldc := k+1, n+3
		a, wf, b := make([]float32, m*lda), make([]float32, n*k), make([]float32, n)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range wf {
			wf[i] = float32(r.NormFloat64() * 0.05)
		}
		for i := range b {
			b[i] = float32(r.NormFloat64())
		}
		for p := 0; p < k; p++ { // a row and a column that quantize to ±127
			a[p] = float32(1 - 2*(p%2))
			wf[(n-1)*k+p] = float32(1 - 2*(p%3%2))
		}
		w := QuantizeInt8(wf, n, k, false)
		if !w.packed.amx {
			t.Fatalf("%v: weights not packed for the AMX kernel (%s)", s, w.Kernel())
		}
		for _, bias := range [][]float32{nil, b} {
			amx, dnnl, gold := make([]float32, m*ldc), make([]float32, m*ldc), make([]float32, m*ldc)
			MatMulInt8Bias(m, a, lda, w, bias, amx, ldc)
			setAMX(false)
			MatMulInt8Bias(m, a, lda, w, bias, dnnl, ldc)
			setAMX(true)
			goMatMulInt8Bias(m, a, lda, w, bias, gold, ldc)
			for i := range amx {
				if amx[i] != dnnl[i] || amx[i] != gold[i] {
					t.Fatalf("%v bias %v: c[%d,%d] AMX %g, oneDNN %g, Go %g", s, bias != nil, i/ldc, i%ldc, amx[i], dnnl[i], gold[i])
				}
			}
		}
	}
}

// BenchmarkInt8Tiles times one thread's 64-row tiles of e5-small's four
// products (quantize, multiply, dequantize) on kormed's AMX kernel and on
// oneDNN's, where the CPU has AMX.
func BenchmarkInt8Tiles(b *testing.B) {
	if !setAMX(true) {
		b.Skip("no AMX kernel here")
	}
	defer setAMX(true)
	defer SetThreads(Threads())
	SetThreads(1)
	r := rand.New(rand.NewPCG(13, 14))
	const m = 128
	for _, s := range [][2]int{{1152, 384}, {384, 384}, {1536, 384}, {384, 1536}} {
		n, k := s[0], s[1]
		a, wf := make([]float32, m*k), make([]float32, n*k)
		for i := range a {
			a[i] = float32(r.NormFloat64())
		}
		for i := range wf {
			wf[i] = float32(r.NormFloat64())
		}
		setAMX(true) // packs the weights for both kernels
		w, c := QuantizeInt8(wf, n, k, false), make([]float32, m*n)
		for _, amx := range []bool{true, false} {
			name := fmt.Sprintf("%dx%dx%d/oneDNN", m, n, k)
			if amx {
				name = fmt.Sprintf("%dx%dx%d/kormed-amx", m, n, k)
			}
			b.Run(name, func(b *testing.B) {
				setAMX(amx)
				for i := 0; i < b.N; i++ {
					MatMulInt8(m, a, k, w, c, n)
				}
				b.ReportMetric(float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GMAC/s")
			})
		}
	}
}
