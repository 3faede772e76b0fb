package blas

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/kormed/kormed/safetensors"
)

func randMatrix(r *rand.Rand, n int) []float32 {
	w := make([]float32, n)
	for i := range w {
		w[i] = float32(r.NormFloat64())
	}
	return w
}

// Quantize then DequantizeRow gives back every weight to within half a
// quantization step (Int8: s/2) with the scale max|w|/127; Q4's searched
// blocks have at most the squared error of the reference quantizer
// (QuantizeQ4Block), whose blocks give back every weight within |d|/2, or
// |d| for the one value that the top code 7 clips, with d = m/-8.
func TestQuantizeRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const rows, cols = 37, 96
	w := randMatrix(r, rows*cols)
	copy(w[5*cols:6*cols], make([]float32, cols)) // an all-zero row
	for _, f := range []QFormat{Int8, Q4} {
		q, err := Quantize(f, w, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		if want := rows * cols; f == Int8 && q.Bytes() != want+4*rows || f == Q4 && q.Bytes() != want/32*18 {
			t.Errorf("%v: %d bytes", f, q.Bytes())
		}
		got := make([]float32, cols)
		for j := 0; j < rows; j++ {
			q.DequantizeRow(j, got)
			src := w[j*cols : (j+1)*cols]
			for b := 0; b < cols; b += Q4Block {
				var amax, m float64
				for _, v := range src[b : b+Q4Block] {
					if math.Abs(float64(v)) > amax {
						amax, m = math.Abs(float64(v)), float64(v)
					}
				}
				var step float64
				if f == Int8 {
					step = float64(q.Scale[j])
				} else {
					// The searched block's squared error is at most the
					// reference's, whose bytes are checked below.
					var ref [18]byte
					QuantizeQ4Block(ref[:], src[b:b+Q4Block])
					refBlk, err := Q4FromQ4_0(1, Q4Block, ref[:])
					if err != nil {
						t.Fatal(err)
					}
					refRow := make([]float32, Q4Block)
					refBlk.DequantizeRow(0, refRow)
					var se, seRef float64
					for i := range refRow {
						se += math.Pow(float64(got[b+i])-float64(src[b+i]), 2)
						seRef += math.Pow(float64(refRow[i])-float64(src[b+i]), 2)
					}
					if se > seRef {
						t.Fatalf("q4 row %d block %d: squared error %g above the reference quantizer's %g", j, b/32, se, seRef)
					}
					copy(got[b:b+Q4Block], refRow)
					step = math.Abs(float64(safetensors.F16ToFloat32(binary.LittleEndian.Uint16(ref[:]))))
					if want := math.Abs(m / 8); math.Abs(step-want) > want/1000 {
						t.Fatalf("q4 row %d block %d: reference |d| %g, want %g", j, b/32, step, want)
					}
				}
				for i := b; i < b+Q4Block; i++ {
					d := math.Abs(float64(got[i]) - float64(src[i]))
					// Float32 rounding: of q·s for Int8, of d to fp16 for Q4.
					lim := step/2 + 2e-7*math.Abs(float64(src[i]))
					if f == Q4 {
						lim = step * (0.5 + 1.0/200)
						if (src[i] > 0) != (m > 0) && math.Abs(float64(src[i])) > 7*step {
							lim = step * 1.01 // the clipped top code
						}
					}
					if !(d <= lim) {
						t.Fatalf("%v row %d col %d: %g round-trips to %g (step %g)", f, j, i, src[i], got[i], step)
					}
				}
			}
			if j == 5 {
				for _, v := range got {
					if v != 0 {
						t.Fatalf("%v: zero row dequantizes to %v", f, got)
					}
				}
			}
		}
		if f == Int8 {
			for j := 0; j < rows; j++ {
				var amax float32
				for _, v := range w[j*cols : (j+1)*cols] {
					amax = max(amax, float32(math.Abs(float64(v))))
				}
				if q.Scale[j] != amax/127 {
					t.Fatalf("int8 row %d: scale %g, want %g", j, q.Scale[j], amax/127)
				}
			}
		}
	}
	if _, err := Quantize(Q4, w, 2, 48); err == nil || !strings.Contains(err.Error(), "multiple of 32") {
		t.Errorf("q4 with 48 columns: %v", err)
	}
}

// A Q4 matrix's Data is laid out as QMatrix documents (block i = j·Cols/32
// + b: nibbles at 16i, scale at 16n+2i), Q4_0Row gives each row as the
// Q4_0 blocks QuantizeQ4BlockSearch writes, and Q4FromQ4_0 reads them
// back to the same Data.
func TestQ4Layout(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	const rows, cols = 5, 96
	w := randMatrix(r, rows*cols)
	q, err := Quantize(Q4, w, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	const nb, n = cols / Q4Block, rows * cols / Q4Block
	var all []byte
	for j := 0; j < rows; j++ {
		row := q.Q4_0Row(nil, j)
		for b := 0; b < nb; b++ {
			var want [18]byte
			QuantizeQ4BlockSearch(want[:], w[j*cols+b*Q4Block:])
			if !bytes.Equal(row[18*b:18*b+18], want[:]) {
				t.Fatalf("row %d block %d: Q4_0Row % x, want % x", j, b, row[18*b:18*b+18], want)
			}
			i := j*nb + b
			if !bytes.Equal(q.Data[16*i:16*i+16], want[2:]) || !bytes.Equal(q.Data[16*n+2*i:16*n+2*i+2], want[:2]) {
				t.Fatalf("row %d block %d: not at nibbles %d, scale %d", j, b, 16*i, 16*n+2*i)
			}
		}
		all = append(all, row...)
	}
	back, err := Q4FromQ4_0(rows, cols, all)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(back.Data, q.Data) || back.Rows != rows || back.Cols != cols || back.Format != Q4 {
		t.Fatal("Q4FromQ4_0(Q4_0Row…) is not the matrix")
	}
	if _, err := Q4FromQ4_0(rows, cols, all[1:]); err == nil || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("short input: %v", err)
	}
	if _, err := Q4FromQ4_0(1, 33, make([]byte, 18)); err == nil {
		t.Fatal("33 columns: no error")
	}
}

// QuantizeBF16 is Quantize of the widened weights, in blocks of rows.
func TestQuantizeBF16(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	const rows, cols = 3000, 1024 // more rows than one widening block
	h := make([]uint16, rows*cols)
	x := make([]float32, rows*cols)
	for i := range h {
		h[i] = bf16(float32(r.NormFloat64()))
		x[i] = widen1(h[i])
	}
	for _, f := range []QFormat{Int8, Q4} {
		want, err := Quantize(f, x, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		got, err := QuantizeBF16(f, h, rows, cols)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Data, want.Data) || fmt.Sprint(got.Scale) != fmt.Sprint(want.Scale) || got.Rows != rows || got.Cols != cols {
			t.Fatalf("%v: QuantizeBF16 differs from Quantize", f)
		}
	}
}

// qCase is one MatMulQ problem, checked against the float64 product with
// the dequantized weights.
type qCase struct {
	m, lda, ldc int
	a, c0       []float32
	q           *QMatrix
	beta        float32
}

func newQCase(t *testing.T, r *rand.Rand, f QFormat, m, n, k int, beta float32) qCase {
	cs := qCase{m: m, lda: k + 3, ldc: n + 2, beta: beta}
	cs.a = randMatrix(r, m*cs.lda)
	var err error
	if cs.q, err = Quantize(f, randMatrix(r, n*k), n, k); err != nil {
		t.Fatal(err)
	}
	cs.c0 = randMatrix(r, m*cs.ldc)
	for i := range cs.c0 {
		if beta == 0 && i%cs.ldc < n {
			cs.c0[i] = float32(math.NaN()) // not read when beta is 0
		}
	}
	return cs
}

func (cs qCase) check(t *testing.T, got []float32, tol float64) {
	t.Helper()
	n, k := cs.q.Rows, cs.q.Cols
	w := make([]float32, k)
	for j := 0; j < n; j++ {
		cs.q.DequantizeRow(j, w)
		for i := 0; i < cs.m; i++ {
			var want, mag float64
			for p := 0; p < k; p++ {
				x := float64(cs.a[i*cs.lda+p]) * float64(w[p])
				want += x
				mag += math.Abs(x)
			}
			if cs.beta != 0 {
				x := float64(cs.beta) * float64(cs.c0[i*cs.ldc+j])
				want += x
				mag += math.Abs(x)
			}
			g := got[i*cs.ldc+j]
			if d := math.Abs(float64(g) - want); !(d <= tol*mag+1e-30) {
				t.Fatalf("%v m=%d n=%d k=%d β=%g: C[%d,%d] = %g, want %g (|d| %.3g, Σ|aw| %.3g)", cs.q.Format, cs.m, n, k, cs.beta, i, j, g, want, d, mag)
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

// With SetQDot(QDotFloat) MatMulQ is the float32 product with the
// dequantized weights at every kernel level (the CPU's best, AVX2,
// scalar; the Go kernel beside them), in both of its paths (up to
// GEMVRows rows, and more), for shapes around the kernels' unrolling,
// beta 0 (C not read) and not.
func TestMatMulQ(t *testing.T) {
	defer SetQDot(CurrentQDot())
	SetQDot(QDotFloat)
	for _, isa := range gemvISAs {
		setGEMVISA(isa)
		testMatMulQ(t)
	}
	setGEMVISA(0)
}

func testMatMulQ(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	for _, f := range []QFormat{Int8, Q4} {
		ks := []int{32, 64, 96, 160, 224}
		if f == Int8 {
			ks = append(ks, 1, 7, 8, 17, 33, 130, 200)
		}
		for _, m := range []int{1, 2, 3, 5, 8, 9, 40} {
			for _, n := range []int{1, 3, 7, 67} {
				for _, k := range ks {
					for _, beta := range []float32{0, 0.5} {
						cs := newQCase(t, r, f, m, n, k, beta)
						got := append([]float32(nil), cs.c0...)
						MatMulQ(m, cs.a, cs.lda, cs.q, beta, got, cs.ldc)
						cs.check(t, got, 1e-6)
						got = append(got[:0], cs.c0...)
						goGemvQ(m, cs.a, cs.lda, cs.q, beta, got, cs.ldc)
						cs.check(t, got, 1e-6)
					}
				}
			}
		}
		// Large enough for the threads and the blocks of dequantGemm.
		for _, m := range []int{1, 3, 64} {
			cs := newQCase(t, r, f, m, 1500, 704, 0)
			got := append([]float32(nil), cs.c0...)
			MatMulQ(m, cs.a, cs.lda, cs.q, 0, got, cs.ldc)
			cs.check(t, got, 1e-6)
		}
	}
}

// Under BF16 precision a product of more than GEMVRows rows (a prompt)
// runs as bf16 products where the CPU has them: A and the dequantized
// weights rounded to bfloat16, float32 sums; in blocks of rows (n here
// spans a full block and a tail).
func TestMatMulQBF16Precision(t *testing.T) {
	if err := bf16Supported(); err != nil {
		t.Skip(err)
	}
	defer SetPrecision(FP32)
	if err := SetPrecision(BF16); err != nil {
		t.Fatal(err)
	}
	defer SetQDot(CurrentQDot())
	SetQDot(QDotFloat)
	r := rand.New(rand.NewPCG(11, 12))
	const m, k = 12, 704
	n := widenBlock/k + 45
	for _, f := range []QFormat{Int8, Q4} {
		for _, beta := range []float32{0, -0.25} {
			cs := newQCase(t, r, f, m, n, k, beta)
			got := append([]float32(nil), cs.c0...)
			MatMulQ(m, cs.a, cs.lda, cs.q, beta, got, cs.ldc)
			w := make([]float32, k)
			rounded := 0
			for j := 0; j < n; j++ {
				cs.q.DequantizeRow(j, w)
				for i := 0; i < m; i++ {
					var want, exact, mag float64
					for p := 0; p < k; p++ {
						a := cs.a[i*cs.lda+p]
						exact += float64(a) * float64(w[p])
						x := float64(widen1(bf16(a))) * float64(widen1(bf16(w[p])))
						want += x
						mag += math.Abs(x)
					}
					if beta != 0 {
						x := float64(beta) * float64(cs.c0[i*cs.ldc+j])
						want, exact, mag = want+x, exact+x, mag+math.Abs(x)
					}
					g := float64(got[i*cs.ldc+j])
					if d := math.Abs(g - want); !(d <= 1e-6*mag) {
						t.Fatalf("%v β=%g: C[%d,%d] = %g, want %g (|d| %.3g, Σ|aw| %.3g)", f, beta, i, j, g, want, d, mag)
					}
					if math.Abs(g-exact) > 1e-6*mag {
						rounded++
					}
				}
			}
			if rounded < m*n/2 {
				t.Fatalf("%v: only %d of %d elements differ from the float32 product: bf16 not in use", f, rounded, m*n)
			}
			for i := 0; i < m; i++ {
				for j := n; j < cs.ldc; j++ {
					if math.Float32bits(got[i*cs.ldc+j]) != math.Float32bits(cs.c0[i*cs.ldc+j]) {
						t.Fatalf("C[%d,%d] beyond n written", i, j)
					}
				}
			}
		}
	}
}

func TestMatMulQShapes(t *testing.T) {
	a, c := make([]float32, 64), make([]float32, 8)
	q, err := Quantize(Int8, make([]float32, 64), 2, 32)
	if err != nil {
		t.Fatal(err)
	}
	short := *q
	short.Data = short.Data[:40]
	for name, f := range map[string]func(){
		"short W":  func() { MatMulQ(1, a, 32, &short, 0, c, 2) },
		"negative": func() { MatMulQ(-1, a, 32, q, 0, c, 2) },
		"short A":  func() { MatMulQ(3, a, 32, q, 0, c, 2) },
		"ldc < n":  func() { MatMulQ(1, a, 32, q, 0, c, 1) },
	} {
		func() {
			defer func() {
				if p := recover(); p == nil || !strings.Contains(p.(string), "blas.") {
					t.Errorf("%s: panic %v", name, p)
				}
			}()
			f()
		}()
	}
}

// benchmarkMatMulQ is m tokens through gate|up of EXAONE-3.5-2.4B's
// shape on each product path: one token (a GEMV, reported in bytes of
// weights per second) or a prompt (a GEMM, in GFLOP/s).
func benchmarkMatMulQ(b *testing.B, f QFormat, m int) {
	const n, k = 7168 * 2, 2560
	r := rand.New(rand.NewPCG(1, 1))
	a := randMatrix(r, m*k)
	q, err := Quantize(f, randMatrix(r, n*k), n, k)
	if err != nil {
		b.Fatal(err)
	}
	c := make([]float32, m*n)
	for _, path := range []struct {
		name string
		mode QDot
	}{{"float", QDotFloat}, {"int", QDotInt}} {
		b.Run(path.name, func(b *testing.B) {
			defer SetQDot(CurrentQDot())
			SetQDot(path.mode)
			if m == 1 {
				b.SetBytes(int64(q.Bytes()))
			}
			for b.Loop() {
				MatMulQ(m, a, k, q, 0, c, n)
			}
			if m > 1 {
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			}
		})
	}
}

func BenchmarkMatMulInt8GEMV(b *testing.B) { benchmarkMatMulQ(b, Int8, 1) }
func BenchmarkMatMulQ4GEMV(b *testing.B)   { benchmarkMatMulQ(b, Q4, 1) }

// A 128-token prompt.
func BenchmarkMatMulInt8GEMM(b *testing.B) { benchmarkMatMulQ(b, Int8, 128) }
func BenchmarkMatMulQ4GEMM(b *testing.B)   { benchmarkMatMulQ(b, Q4, 128) }

// The reference Q4 quantizer against the scale search, per 32-weight
// block (what loading an int4 model costs per block of weights).
func BenchmarkQuantizeQ4Block(b *testing.B) {
	x := randMatrix(rand.New(rand.NewPCG(1, 1)), 32*1024)
	dst := make([]byte, 18)
	for _, q := range []struct {
		name string
		f    func([]byte, []float32)
	}{{"ref", QuantizeQ4Block}, {"search", QuantizeQ4BlockSearch}} {
		b.Run(q.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				q.f(dst, x[32*i:32*i+32])
				i = (i + 1) % 1024
			}
		})
	}
}

// BenchmarkGEMVStream is one token through eight gate|up matrices of
// EXAONE-3.5-2.4B's shape in turn, more than the L3 cache holds, so that
// every weight comes from memory as in generation: bytes of weights per
// second for each storage and product path, beside a plain read of as
// many bytes (the bandwidth bound).
func BenchmarkGEMVStream(b *testing.B) {
	const n, k, mats = 7168 * 2, 2560, 8
	r := rand.New(rand.NewPCG(1, 1))
	a := randMatrix(r, k)
	c := make([]float32, n)
	w := randMatrix(r, n*k)
	b.Run("read", func(b *testing.B) {
		words := make([]uint64, mats*n*k/4)
		for i := range words {
			words[i] = uint64(i)
		}
		b.SetBytes(int64(8 * len(words) / mats))
		i := 0
		var sink uint64
		for b.Loop() {
			part := words[i*len(words)/mats : (i+1)*len(words)/mats]
			var mu sync.Mutex
			parallelRows(len(part)/8, len(part), func(lo, hi int) {
				var s0, s1, s2, s3 uint64
				p := part[8*lo : 8*hi]
				for j := 0; j+8 <= len(p); j += 8 {
					s0 += p[j] + p[j+4]
					s1 += p[j+1] + p[j+5]
					s2 += p[j+2] + p[j+6]
					s3 += p[j+3] + p[j+7]
				}
				mu.Lock()
				sink += s0 + s1 + s2 + s3
				mu.Unlock()
			})
			i = (i + 1) % mats
		}
		_ = sink
	})
	b.Run("bf16", func(b *testing.B) {
		ws := make([][]uint16, mats)
		for m := range ws {
			ws[m] = make([]uint16, n*k)
			for i, v := range w {
				ws[m][i] = bf16(v)
			}
		}
		b.SetBytes(int64(2 * n * k))
		i := 0
		for b.Loop() {
			MatMulBF16(1, n, k, a, k, ws[i], k, 0, c, n)
			i = (i + 1) % mats
		}
	})
	for _, f := range []QFormat{Int8, Q4} {
		qs := make([]*QMatrix, mats)
		for m := range qs {
			q, err := Quantize(f, w, n, k)
			if err != nil {
				b.Fatal(err)
			}
			qs[m] = q
		}
		for _, path := range []struct {
			name string
			mode QDot
		}{{"float", QDotFloat}, {"int", QDotInt}, {"auto", QDotAuto}} {
			b.Run(f.String()+"/"+path.name, func(b *testing.B) {
				defer SetQDot(CurrentQDot())
				SetQDot(path.mode)
				b.SetBytes(int64(qs[0].Bytes()))
				i := 0
				for b.Loop() {
					MatMulQ(1, a, k, qs[i], 0, c, n)
					i = (i + 1) % mats
				}
			})
		}
	}
}

// BenchmarkGEMVLayer is one token through the four products of a layer of
// EXAONE-3.5-2.4B's shape (q|k|v, o, gate|up, down), eight layers in turn
// (more than the L3 cache), in bytes of weights per second: the
// generation's sequence of calls, without the rest of a layer.
func BenchmarkGEMVLayer(b *testing.B) {
	const layers = 8
	shapes := [][2]int{{3840, 2560}, {2560, 2560}, {14336, 2560}, {2560, 7168}}
	r := rand.New(rand.NewPCG(1, 1))
	a := randMatrix(r, 7168)
	c := make([]float32, 14336)
	for _, f := range []QFormat{Int8, Q4} {
		qs := make([][]*QMatrix, layers)
		bytes := 0
		for l := range qs {
			for _, s := range shapes {
				q, err := Quantize(f, randMatrix(r, s[0]*s[1]), s[0], s[1])
				if err != nil {
					b.Fatal(err)
				}
				qs[l] = append(qs[l], q)
				if l == 0 {
					bytes += q.Bytes()
				}
			}
		}
		b.Run(f.String(), func(b *testing.B) {
			b.SetBytes(int64(bytes))
			l := 0
			for b.Loop() {
				for _, q := range qs[l] {
					MatMulQ(1, a, q.Cols, q, 0, c, q.Rows)
				}
				l = (l + 1) % layers
			}
		})
	}
	ws := make([][][]uint16, layers)
	bytes := 0
	for l := range ws {
		for _, s := range shapes {
			w := make([]uint16, s[0]*s[1])
			for i := range w {
				w[i] = bf16(float32(r.NormFloat64()))
			}
			ws[l] = append(ws[l], w)
			if l == 0 {
				bytes += 2 * len(w)
			}
		}
	}
	b.Run("bf16", func(b *testing.B) {
		b.SetBytes(int64(bytes))
		l := 0
		for b.Loop() {
			for i, w := range ws[l] {
				MatMulBF16(1, shapes[i][0], shapes[i][1], a, shapes[i][1], w, shapes[i][1], 0, c, shapes[i][0])
			}
			l = (l + 1) % layers
		}
	})
}
