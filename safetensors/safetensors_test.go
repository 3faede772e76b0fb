package safetensors

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// handFile builds a safetensors file byte by byte, independent of Write.
func handFile(t *testing.T, header string, data []byte) string {
	t.Helper()
	var b []byte
	b = binary.LittleEndian.AppendUint64(b, uint64(len(header)))
	b = append(b, header...)
	b = append(b, data...)
	p := filepath.Join(t.TempDir(), "x.safetensors")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadHandBuilt(t *testing.T) {
	var data []byte
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(1))
	data = binary.LittleEndian.AppendUint32(data, math.Float32bits(-2.5))
	data = binary.LittleEndian.AppendUint16(data, 0x3c00) // f16 1.0
	data = binary.LittleEndian.AppendUint16(data, 0xc000) // f16 -2
	data = binary.LittleEndian.AppendUint16(data, 0x0001) // f16 smallest subnormal 2^-24
	data = binary.LittleEndian.AppendUint16(data, 0x3f80) // bf16 1.0
	data = binary.LittleEndian.AppendUint16(data, 0xc0a0) // bf16 -5
	data = binary.LittleEndian.AppendUint64(data, uint64(1<<40+3))
	data = binary.LittleEndian.AppendUint32(data, uint32(0xffffffff)) // i32 -1
	hdr := `{"__metadata__":{"format":"pt"},` +
		`"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},` +
		`"h":{"dtype":"F16","shape":[3,1],"data_offsets":[8,14]},` +
		`"b":{"dtype":"BF16","shape":[2],"data_offsets":[14,18]},` +
		`"i":{"dtype":"I64","shape":[1],"data_offsets":[18,26]},` +
		`"j":{"dtype":"I32","shape":[],"data_offsets":[26,30]}}`
	r, err := Open(handFile(t, hdr, data))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got := strings.Join(r.Names(), ","); got != "a,b,h,i,j" {
		t.Fatalf("names %s", got)
	}
	if r.Metadata()["format"] != "pt" {
		t.Fatalf("metadata %v", r.Metadata())
	}
	check := func(name string, want []float32) {
		t.Helper()
		got, err := r.Float32(name, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("%s: %v want %v", name, got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("%s: %v want %v", name, got, want)
			}
		}
	}
	check("a", []float32{1, -2.5})
	check("h", []float32{1, -2, float32(math.Ldexp(1, -24))})
	check("b", []float32{1, -5})
	iv, err := r.Int64("i", []int{1})
	if err != nil || iv[0] != 1<<40+3 {
		t.Fatalf("i64 %v %v", iv, err)
	}
	jv, err := r.Int32("j", []int{})
	if err != nil || jv[0] != -1 {
		t.Fatalf("i32 %v %v", jv, err)
	}
	if _, err := r.Int32("i", nil); err == nil || !strings.Contains(err.Error(), "does not fit int32") {
		t.Fatalf("want range error, got %v", err)
	}
	if _, err := r.Float32("i", nil); err == nil || !strings.Contains(err.Error(), "not a floating type") {
		t.Fatalf("want dtype error, got %v", err)
	}
}

func TestRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "m.safetensors")
	vals := []float32{0, 1, -1, 0.1, 3.14159, -65504, 1e-3, 123.456}
	ts := []Tensor{
		Float32s("w.f32", []int{2, 4}, vals),
		{Name: "w.f16", DType: F16, Shape: []int{8}, Floats: vals},
		{Name: "w.bf16", DType: BF16, Shape: []int{4, 2}, Floats: vals},
		{Name: "w.f64", DType: F64, Shape: []int{8}, Floats: vals},
		Int64s("ids", []int{3}, []int64{0, -7, 1 << 33}),
		{Name: "ids32", DType: I32, Shape: []int{2}, Ints: []int64{5, -5}},
	}
	if err := Write(p, ts, map[string]string{"k": "v"}); err != nil {
		t.Fatal(err)
	}
	raw, _ := os.ReadFile(p)
	if hl := binary.LittleEndian.Uint64(raw); hl%8 != 0 {
		t.Fatalf("header length %d not 8-aligned", hl)
	}
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f32, _ := r.Float32("w.f32", []int{2, 4})
	f64, _ := r.Float32("w.f64", nil)
	f16, _ := r.Float32("w.f16", nil)
	bf, _ := r.Float32("w.bf16", []int{4, 2})
	for i, v := range vals {
		if f32[i] != v || f64[i] != v {
			t.Fatalf("f32/f64 %d: %v %v want %v", i, f32[i], f64[i], v)
		}
		if d := math.Abs(float64(f16[i] - v)); d > math.Abs(float64(v))/1024+1e-7 {
			t.Fatalf("f16 %d: %v want %v", i, f16[i], v)
		}
		if d := math.Abs(float64(bf[i] - v)); d > math.Abs(float64(v))/128+1e-7 {
			t.Fatalf("bf16 %d: %v want %v", i, bf[i], v)
		}
	}
	if bf[2] != -1 || f16[5] != -65504 {
		t.Fatalf("exact values lost: bf16 %v f16 %v", bf[2], f16[5])
	}
	ids, _ := r.Int64("ids", nil)
	if ids[1] != -7 || ids[2] != 1<<33 {
		t.Fatalf("ids %v", ids)
	}
	ids32, _ := r.Int32("ids32", nil)
	if ids32[1] != -5 {
		t.Fatalf("ids32 %v", ids32)
	}
	if r.Metadata()["k"] != "v" {
		t.Fatal("metadata lost")
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(p))
	if len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
}

func TestF16AllValues(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := F16ToFloat32(uint16(h))
		if f != f { // NaN
			if back := Float32ToF16(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %04x -> %04x", h, back)
			}
			continue
		}
		if back := Float32ToF16(f); back != uint16(h) {
			t.Fatalf("%04x -> %v -> %04x", h, f, back)
		}
	}
	// Rounding: halfway between 1 and the next f16 (1+2^-10) rounds to even (1).
	if got := Float32ToF16(1 + float32(math.Ldexp(1, -11))); got != 0x3c00 {
		t.Fatalf("tie rounding: %04x", got)
	}
	if got := Float32ToF16(1e6); got != 0x7c00 {
		t.Fatalf("overflow: %04x", got)
	}
	if got := Float32ToBF16(1 + float32(math.Ldexp(1, -8))); got != 0x3f80 {
		t.Fatalf("bf16 tie: %04x", got)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "g.safetensors")
	if err := Write(good, []Tensor{Float32s("w", []int{2, 3}, make([]float32, 6))}, nil); err != nil {
		t.Fatal(err)
	}
	r, err := Open(good)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Float32("nope", nil); !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), good) || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("missing: %v", err)
	}
	if _, err := r.Float32("w", []int{3, 2}); err == nil || !strings.Contains(err.Error(), "shape [2 3], want [3 2]") {
		t.Fatalf("shape: %v", err)
	}
	r.Close()

	raw, _ := os.ReadFile(good)
	trunc := filepath.Join(dir, "t.safetensors")
	os.WriteFile(trunc, raw[:len(raw)-4], 0o644)
	if _, err := Open(trunc); err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), `"w"`) {
		t.Fatalf("truncated: %v", err)
	}
	short := filepath.Join(dir, "s.safetensors")
	os.WriteFile(short, raw[:5], 0o644)
	if _, err := Open(short); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("short: %v", err)
	}
	notst := filepath.Join(dir, "n.safetensors")
	os.WriteFile(notst, []byte("PK\x03\x04 this is a zip file, not safetensors"), 0o644)
	if _, err := Open(notst); err == nil || !strings.Contains(err.Error(), "bad header") {
		t.Fatalf("not safetensors: %v", err)
	}
	cases := map[string]string{
		`{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`:   "needs 8 bytes",
		`{"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,4]}}`:    "unsupported dtype",
		`{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}`:   "bad data_offsets",
		`{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}`:    "bad header JSON",
		`{"w":{"dtype":"F32","shape":[1],"data_offsets":[64,68]}}`: "truncated",
	}
	for hdr, want := range cases {
		p := handFile(t, hdr, make([]byte, 8))
		if _, err := Open(p); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), p) {
			t.Errorf("header %s: got %v, want %q", hdr, err, want)
		}
	}
}

func TestShardedAndDir(t *testing.T) {
	dir := t.TempDir()
	if err := Write(filepath.Join(dir, "model-00001-of-00002.safetensors"), []Tensor{Float32s("a", []int{1}, []float32{1})}, nil); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "model-00002-of-00002.safetensors"), []Tensor{Float32s("b", []int{2}, []float32{2, 3})}, nil); err != nil {
		t.Fatal(err)
	}
	idx := `{"metadata":{"total_size":12},"weight_map":{"a":"model-00001-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(idx), 0o644)
	r, err := OpenDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Float32("b", []int{2})
	if err != nil || b[1] != 3 {
		t.Fatalf("b %v %v", b, err)
	}
	a, err := r.Float32("a", nil)
	if err != nil || a[0] != 1 {
		t.Fatalf("a %v %v", a, err)
	}
	r.Close()

	bad := `{"weight_map":{"a":"model-00002-of-00002.safetensors","b":"model-00002-of-00002.safetensors"}}`
	os.WriteFile(filepath.Join(dir, "model.safetensors.index.json"), []byte(bad), 0o644)
	if _, err := OpenDir(dir); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("bad index: %v", err)
	}

	pt := t.TempDir()
	os.WriteFile(filepath.Join(pt, "pytorch_model.bin"), []byte("x"), 0o644)
	if _, err := OpenDir(pt); err == nil || !strings.Contains(err.Error(), "convert") {
		t.Fatalf("pytorch only: %v", err)
	}
	if _, err := OpenDir(t.TempDir()); err == nil || !strings.Contains(err.Error(), "no model.safetensors") {
		t.Fatalf("empty dir: %v", err)
	}
}

// ReadBF16 keeps BF16 data's bits and rounds the other floating dtypes to
// nearest even.
func TestReadBF16(t *testing.T) {
	vals := []float32{1, -2.5, 1.00390625, 1.01171875, 3.1415927, 65504, 1e-3, 0}
	// 1.00390625 = 1 + 2⁻⁸ is a tie between 1 and 1 + 2⁻⁷: even keeps 1;
	// 1.01171875 = 1 + 3·2⁻⁸ ties to 1 + 2⁻⁶ (even).
	want := []uint16{0x3f80, 0xc020, 0x3f80, 0x3f82, 0x4049, 0x4780, 0x3a83, 0}
	path := filepath.Join(t.TempDir(), "m.safetensors")
	ts := []Tensor{
		{Name: "f32", DType: F32, Shape: []int{2, 4}, Floats: vals},
		{Name: "f16", DType: F16, Shape: []int{8}, Floats: vals},
		{Name: "bf16", DType: BF16, Shape: []int{8}, Floats: vals},
	}
	if err := Write(path, ts, nil); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make([]uint16, 8)
	if err := r.ReadBF16("f32", []int{2, 4}, got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("from F32: %#x, want %#x", got, want)
	}
	if err := r.ReadBF16("bf16", []int{8}, got); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) { // written rounded, read as stored
		t.Errorf("from BF16: %#x, want %#x", got, want)
	}
	if err := r.ReadBF16("f16", []int{8}, got); err != nil {
		t.Fatal(err)
	}
	for i, v := range vals {
		h := Float32ToBF16(F16ToFloat32(Float32ToF16(v)))
		if got[i] != h {
			t.Errorf("from F16 [%d]: %#x, want %#x", i, got[i], h)
		}
	}
	if err := r.ReadBF16("f32", []int{8}, got); err == nil || !strings.Contains(err.Error(), `"f32"`) {
		t.Errorf("wrong shape: %v", err)
	}
	if err := r.ReadBF16("f32", []int{2, 4}, got[:3]); err == nil || !strings.Contains(err.Error(), "destination 3") {
		t.Errorf("short destination: %v", err)
	}
}
