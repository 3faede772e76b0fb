package gguf

import (
	"bytes"
	"math"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, align := range []uint32{0, 64} {
		kvs := []KV{
			{"general.architecture", "llama"},
			{"u8", uint8(7)}, {"i8", int8(-7)}, {"u16", uint16(65535)}, {"i16", int16(-300)},
			{"u32", uint32(1 << 31)}, {"i32", int32(-1 << 30)}, {"f32", float32(1.5e-5)}, {"b", true},
			{"s", "한국어 text"}, {"u64", uint64(1) << 40}, {"i64", int64(-1) << 40}, {"f64", 1e300},
			{"tokens", []string{"a", "", "Ġb"}}, {"types", []int32{1, 3, -1}}, {"scores", []float32{-1, 0.5}},
			{"empty", []string{}}, {"flags", []bool{true, false}}, {"bytes", []uint8{1, 2, 3}},
		}
		if align != 0 {
			kvs = append(kvs, KV{"general.alignment", align})
		}
		rng := rand.New(rand.NewPCG(1, 2))
		vals := map[string][]float32{}
		infos := []TensorInfo{
			{Name: "norm", Dims: Dims(5), Type: F32},
			{Name: "w16", Dims: Dims(3, 7), Type: F16},
			{Name: "q8", Dims: Dims(2, 64), Type: Q8_0},
			{Name: "q4", Dims: Dims(3, 32), Type: Q4_0},
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, kvs, infos)
		if err != nil {
			t.Fatal(err)
		}
		for _, ti := range infos {
			v := make([]float32, ti.Elems())
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			b, err := Encode(ti.Type, v)
			if err != nil {
				t.Fatal(err)
			}
			vals[ti.Name], _ = Decode(ti.Type, b, len(v))
			if err := w.WriteTensor(b); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		f, err := Read(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatal(err)
		}
		if f.Version != 3 || !reflect.DeepEqual(f.KV, kvs) {
			t.Fatalf("metadata: got %v, want %v", f.KV, kvs)
		}
		a := uint64(max(align, DefaultAlignment))
		if f.Alignment != a || f.DataOffset%a != 0 {
			t.Errorf("alignment %d, data at %d; want %d", f.Alignment, f.DataOffset, a)
		}
		for i, ti := range f.Tensors {
			want := w.Infos()[i]
			if !reflect.DeepEqual(ti, want) || ti.Offset%a != 0 {
				t.Errorf("tensor %d: %+v, want %+v", i, ti, want)
			}
			got, _, err := f.Float32(ti.Name)
			if err != nil || !reflect.DeepEqual(got, vals[ti.Name]) {
				t.Errorf("tensor %s: %v (%v), want %v", ti.Name, got, err, vals[ti.Name])
			}
		}
		if got := f.Tensors[1].Shape(); !reflect.DeepEqual(got, []int{3, 7}) {
			t.Errorf("Shape %v, want [3 7]", got)
		}
	}
}

func TestWriterErrors(t *testing.T) {
	var buf bytes.Buffer
	if _, err := NewWriter(&buf, nil, []TensorInfo{{Name: "x", Dims: Dims(33), Type: Q8_0}}); err == nil {
		t.Error("a Q8_0 row of 33: no error")
	}
	if _, err := NewWriter(&buf, []KV{{"general.alignment", uint32(24)}}, nil); err == nil {
		t.Error("alignment 24: no error")
	}
	w, err := NewWriter(&buf, nil, []TensorInfo{{Name: "x", Dims: Dims(4), Type: F32}})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WriteTensor(make([]byte, 8)); err == nil {
		t.Error("8 bytes for 16: no error")
	}
	if err := w.Close(); err == nil {
		t.Error("Close with a tensor unwritten: no error")
	}
	if _, err := Read(bytes.NewReader([]byte("GGUF\x03\x00\x00\x00"))); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Errorf("truncated header: %v", err)
	}
}

// TestQ8_0Block checks the bytes of a hand-computed block: max|x| = 127
// gives d = 1 (fp16 0x3c00) and q = round(x).
func TestQ8_0Block(t *testing.T) {
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i) - 16.5 // -16.5 … 14.5: rounds away from zero
	}
	x[31] = -127
	b, err := Encode(Q8_0, x)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 0x3c}
	for i := 0; i < 31; i++ {
		q := int8(math.Round(float64(i) - 16.5))
		want = append(want, byte(q))
	}
	want = append(want, byte(0x81)) // -127
	if !bytes.Equal(b, want) {
		t.Fatalf("block\n got %x\nwant %x", b, want)
	}
}

// TestQ4_0Block checks a hand-computed block: the largest magnitude is
// -16, so d = -16/-8 = 2 (fp16 0x4000) and x = 2k gives q = k+8 exactly
// (no other scale has less error, so the search keeps it); element j is
// byte j's low nibble, element 16+j its high nibble.
func TestQ4_0Block(t *testing.T) {
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(2 * (i%16 - 8)) // -16 … 14
	}
	b, err := Encode(Q4_0, x)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0x00, 0x40}
	for j := 0; j < 16; j++ {
		want = append(want, byte(j)|byte(j)<<4)
	}
	if !bytes.Equal(b, want) {
		t.Fatalf("block\n got %x\nwant %x", b, want)
	}
	got, _ := Decode(Q4_0, b, 32)
	for i, v := range got {
		if w := x[i]; v != w {
			t.Errorf("element %d: %g, want %g", i, v, w)
		}
	}
}

// TestQuantError checks the dequantised error against a float64
// reference of each block: Q8_0 within d/2, Q4_0 within d (its top step
// is clamped), each plus the fp16 rounding of d.
func TestQuantError(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([]float32, 32*200)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * math.Pow(10, float64(i/32%7-3)))
	}
	for i := 0; i < 32; i++ {
		x[32*5+i] = 0 // an all-zero block
	}
	for _, c := range []struct {
		t    Type
		levs float64 // d = max|x|/levs
	}{{Q8_0, 127}, {Q4_0, 8}} {
		b, err := Encode(c.t, x)
		if err != nil {
			t.Fatal(err)
		}
		y, err := Decode(c.t, b, len(x))
		if err != nil {
			t.Fatal(err)
		}
		var sq, ref float64
		for blk := 0; blk < len(x)/32; blk++ {
			var amax float64
			for _, v := range x[blk*32 : blk*32+32] {
				amax = math.Max(amax, math.Abs(float64(v)))
			}
			d := amax / c.levs
			for i := blk * 32; i < blk*32+32; i++ {
				e := math.Abs(float64(y[i]) - float64(x[i]))
				// d is stored as fp16: off by at most 2^-11 relative, or
				// 2^-25 where it is subnormal, times |q| ≤ levs.
				fp16 := c.levs * math.Max(d*0x1p-11, 0x1p-25)
				bound := d/2 + fp16
				if c.t == Q4_0 {
					bound = d + fp16
				}
				if e > bound {
					t.Fatalf("%v block %d element %d: %g → %g, error %g > %g", c.t, blk, i, x[i], y[i], e, bound)
				}
				sq += e * e
				ref += float64(x[i]) * float64(x[i])
			}
		}
		t.Logf("%v: relative RMS error %.4f", c.t, math.Sqrt(sq/ref))
	}
}

func TestParseType(t *testing.T) {
	for _, s := range []string{"f32", "f16", "q8_0", "q4_0"} {
		typ, err := ParseType(s)
		if err != nil || typ.String() != s {
			t.Errorf("ParseType(%q) = %v, %v", s, typ, err)
		}
	}
	if _, err := ParseType("q4_k"); err == nil {
		t.Error("q4_k: no error")
	}
}
