package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DType is a safetensors element type name as it appears in the header.
type DType string

// The element types this package understands.
const (
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	F64  DType = "F64"
	I64  DType = "I64"
	I32  DType = "I32"
	I8   DType = "I8"
	U8   DType = "U8"
	BOOL DType = "BOOL"
)

// Size returns the size in bytes of one element, or 0 for an unknown type.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16:
		return 2
	case I8, U8, BOOL:
		return 1
	}
	return 0
}

// Info describes one tensor stored in a file.
type Info struct {
	Name  string
	DType DType
	Shape []int
	// File is the path of the file holding the tensor.
	File string
	// Begin and End are byte offsets relative to the start of the data
	// section (just after the header).
	Begin, End int64
}

// NumElements is the product of the shape (1 for a scalar).
func (in Info) NumElements() int {
	n := 1
	for _, d := range in.Shape {
		n *= d
	}
	return n
}

// maxHeader bounds the JSON header (the reference implementation uses 100 MB).
const maxHeader = 100 << 20

type file struct {
	path      string
	f         *os.File
	dataStart int64
	size      int64
	meta      map[string]string
}

// Reader gives access to the tensors of one safetensors file or of a
// sharded set. It is safe for concurrent use.
type Reader struct {
	files   []*file
	tensors map[string]Info
	byFile  map[string]*file
}

// Open opens a .safetensors file, or a model.safetensors.index.json naming
// the shards of a sharded checkpoint.
func Open(path string) (*Reader, error) {
	if strings.HasSuffix(path, ".json") {
		return openIndex(path)
	}
	r := &Reader{tensors: map[string]Info{}, byFile: map[string]*file{}}
	if err := r.add(path); err != nil {
		return nil, err
	}
	return r, nil
}

// OpenDir opens the weights of a model folder: model.safetensors, or the
// shards listed in model.safetensors.index.json. A folder holding only
// PyTorch pickles (pytorch_model.bin) gets an error saying to convert them.
func OpenDir(dir string) (*Reader, error) {
	single := filepath.Join(dir, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		return Open(single)
	}
	index := filepath.Join(dir, "model.safetensors.index.json")
	if _, err := os.Stat(index); err == nil {
		return Open(index)
	}
	for _, p := range []string{"pytorch_model.bin", "pytorch_model.bin.index.json"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err == nil {
			return nil, fmt.Errorf("%s: only PyTorch weights (%s) found; kormed reads safetensors only: convert them first, e.g. in Python: "+
				"from safetensors.torch import save_file; import torch; save_file({k: v.contiguous() for k, v in torch.load('%s').items()}, 'model.safetensors')", dir, p, p)
		}
	}
	matches, _ := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if len(matches) == 1 {
		return Open(matches[0])
	}
	return nil, fmt.Errorf("%s: no model.safetensors or model.safetensors.index.json", dir)
}

func openIndex(path string) (*Reader, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("%s: bad index JSON: %v", path, err)
	}
	if len(idx.WeightMap) == 0 {
		return nil, fmt.Errorf("%s: index has no weight_map", path)
	}
	shards := map[string]bool{}
	for _, s := range idx.WeightMap {
		shards[s] = true
	}
	names := make([]string, 0, len(shards))
	for s := range shards {
		names = append(names, s)
	}
	sort.Strings(names)
	r := &Reader{tensors: map[string]Info{}, byFile: map[string]*file{}}
	dir := filepath.Dir(path)
	for _, s := range names {
		if err := r.add(filepath.Join(dir, s)); err != nil {
			r.Close()
			return nil, err
		}
	}
	for name, s := range idx.WeightMap {
		in, ok := r.tensors[name]
		if !ok {
			r.Close()
			return nil, fmt.Errorf("%s: tensor %q listed in shard %s is not in that file", path, name, s)
		}
		if filepath.Base(in.File) != filepath.Base(s) {
			r.Close()
			return nil, fmt.Errorf("%s: tensor %q listed in shard %s but found in %s", path, name, s, in.File)
		}
	}
	return r, nil
}

func (r *Reader) add(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	fl, infos, err := parseHeader(path, f)
	if err != nil {
		f.Close()
		return err
	}
	for _, in := range infos {
		if prev, dup := r.tensors[in.Name]; dup {
			f.Close()
			return fmt.Errorf("%s: tensor %q also in %s", path, in.Name, prev.File)
		}
		r.tensors[in.Name] = in
	}
	r.files = append(r.files, fl)
	r.byFile[path] = fl
	return nil
}

func parseHeader(path string, f *os.File) (*file, []Info, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	size := st.Size()
	var lenb [8]byte
	if _, err := io.ReadFull(f, lenb[:]); err != nil {
		return nil, nil, fmt.Errorf("%s: truncated: file has %d bytes, too short for a safetensors header", path, size)
	}
	n := binary.LittleEndian.Uint64(lenb[:])
	if n > maxHeader {
		return nil, nil, fmt.Errorf("%s: bad header: declared header length %d is larger than the %d-byte limit (not a safetensors file?)", path, n, maxHeader)
	}
	if int64(n)+8 > size {
		return nil, nil, fmt.Errorf("%s: truncated: header length %d exceeds file size %d", path, n, size)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, nil, fmt.Errorf("%s: reading header: %v", path, err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, nil, fmt.Errorf("%s: bad header JSON: %v", path, err)
	}
	fl := &file{path: path, f: f, dataStart: 8 + int64(n), size: size}
	dataLen := size - fl.dataStart
	var infos []Info
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &fl.meta); err != nil {
				return nil, nil, fmt.Errorf("%s: bad __metadata__ (must map strings to strings): %v", path, err)
			}
			continue
		}
		var h struct {
			DType   DType   `json:"dtype"`
			Shape   []int   `json:"shape"`
			Offsets []int64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &h); err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %q: bad header entry: %v", path, name, err)
		}
		if h.DType.Size() == 0 {
			return nil, nil, fmt.Errorf("%s: tensor %q: unsupported dtype %q", path, name, h.DType)
		}
		if len(h.Offsets) != 2 || h.Offsets[0] < 0 || h.Offsets[1] < h.Offsets[0] {
			return nil, nil, fmt.Errorf("%s: tensor %q: bad data_offsets %v", path, name, h.Offsets)
		}
		in := Info{Name: name, DType: h.DType, Shape: h.Shape, File: path, Begin: h.Offsets[0], End: h.Offsets[1]}
		if in.Shape == nil {
			in.Shape = []int{}
		}
		for _, d := range in.Shape {
			if d < 0 {
				return nil, nil, fmt.Errorf("%s: tensor %q: negative dimension in shape %v", path, name, in.Shape)
			}
		}
		if want := int64(in.NumElements()) * int64(h.DType.Size()); want != in.End-in.Begin {
			return nil, nil, fmt.Errorf("%s: tensor %q: shape %v of %s needs %d bytes but data_offsets span %d", path, name, in.Shape, in.DType, want, in.End-in.Begin)
		}
		if in.End > dataLen {
			return nil, nil, fmt.Errorf("%s: truncated: tensor %q ends at byte %d of the data section but the file holds only %d data bytes", path, name, in.End, dataLen)
		}
		infos = append(infos, in)
	}
	sort.Slice(infos, func(i, j int) bool { return infos[i].Name < infos[j].Name })
	return fl, infos, nil
}

// Close closes the underlying files.
func (r *Reader) Close() error {
	var first error
	for _, f := range r.files {
		if err := f.f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Names lists the tensor names in sorted order.
func (r *Reader) Names() []string {
	names := make([]string, 0, len(r.tensors))
	for n := range r.tensors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Info returns the description of a tensor.
func (r *Reader) Info(name string) (Info, bool) {
	in, ok := r.tensors[name]
	return in, ok
}

// Has reports whether the tensor exists.
func (r *Reader) Has(name string) bool { _, ok := r.tensors[name]; return ok }

// Metadata returns the __metadata__ map of the first file (nil if none).
func (r *Reader) Metadata() map[string]string {
	if len(r.files) == 0 {
		return nil
	}
	return r.files[0].meta
}

// ErrMissing is wrapped by errors for tensors that are not present.
var ErrMissing = errors.New("tensor not found")

func (r *Reader) lookup(name string, shape []int) (Info, error) {
	in, ok := r.tensors[name]
	if !ok {
		where := "the checkpoint"
		if len(r.files) == 1 {
			where = r.files[0].path
		}
		return Info{}, fmt.Errorf("%s: tensor %q: %w", where, name, ErrMissing)
	}
	if shape != nil && !sameShape(in.Shape, shape) {
		return Info{}, fmt.Errorf("%s: tensor %q: shape %v, want %v", in.File, name, in.Shape, shape)
	}
	return in, nil
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (r *Reader) raw(in Info) ([]byte, error) {
	fl := r.byFile[in.File]
	buf := make([]byte, in.End-in.Begin)
	if _, err := fl.f.ReadAt(buf, fl.dataStart+in.Begin); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: reading data: %v", in.File, in.Name, err)
	}
	return buf, nil
}

// Raw returns the bytes of a tensor as stored.
func (r *Reader) Raw(name string) (Info, []byte, error) {
	in, err := r.lookup(name, nil)
	if err != nil {
		return Info{}, nil, err
	}
	b, err := r.raw(in)
	return in, b, err
}

// Float32 reads a floating-point tensor converted to float32. When shape is
// non-nil the stored shape must equal it.
func (r *Reader) Float32(name string, shape []int) ([]float32, error) {
	in, err := r.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	out := make([]float32, in.NumElements())
	if err := r.readFloat32(in, out); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadFloat32 is Float32 into a caller-owned slice of exactly the
// tensor's element count.
func (r *Reader) ReadFloat32(name string, shape []int, out []float32) error {
	in, err := r.lookup(name, shape)
	if err != nil {
		return err
	}
	if len(out) != in.NumElements() {
		return fmt.Errorf("%s: tensor %q: has %d elements, destination %d", in.File, name, in.NumElements(), len(out))
	}
	return r.readFloat32(in, out)
}

// chunk bounds the temporary byte buffer used while converting.
const chunk = 1 << 20

func (r *Reader) readFloat32(in Info, out []float32) error {
	fl := r.byFile[in.File]
	es := in.DType.Size()
	switch in.DType {
	case F32, F16, BF16, F64:
	default:
		return fmt.Errorf("%s: tensor %q: dtype %s is not a floating type", in.File, in.Name, in.DType)
	}
	per := chunk / es
	buf := make([]byte, min(per, len(out))*es)
	for i := 0; i < len(out); i += per {
		n := min(per, len(out)-i)
		b := buf[:n*es]
		if _, err := fl.f.ReadAt(b, fl.dataStart+in.Begin+int64(i*es)); err != nil {
			return fmt.Errorf("%s: tensor %q: reading data: %v", in.File, in.Name, err)
		}
		o := out[i : i+n]
		switch in.DType {
		case F32:
			for j := range o {
				o[j] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:]))
			}
		case F16:
			for j := range o {
				o[j] = F16ToFloat32(binary.LittleEndian.Uint16(b[2*j:]))
			}
		case BF16:
			for j := range o {
				o[j] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*j:])) << 16)
			}
		case F64:
			for j := range o {
				o[j] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:])))
			}
		}
	}
	return nil
}

// ReadBF16 reads a floating tensor of the given shape into out as
// bfloat16 bits: BF16 data as stored, F32, F16 and F64 rounded to nearest
// even (F16 and F64 through float32).
func (r *Reader) ReadBF16(name string, shape []int, out []uint16) error {
	in, err := r.lookup(name, shape)
	if err != nil {
		return err
	}
	if in.NumElements() != len(out) {
		return fmt.Errorf("%s: tensor %q: has %d elements, destination %d", in.File, name, in.NumElements(), len(out))
	}
	if in.DType != BF16 {
		f := make([]float32, min(chunk, len(out)))
		for i := 0; i < len(out); i += len(f) {
			n := min(len(f), len(out)-i)
			part := in
			part.Begin += int64(i * in.DType.Size())
			if err := r.readFloat32(part, f[:n]); err != nil {
				return err
			}
			for j, v := range f[:n] {
				out[i+j] = Float32ToBF16(v)
			}
		}
		return nil
	}
	fl := r.byFile[in.File]
	buf := make([]byte, min(chunk, 2*len(out)))
	for i := 0; i < len(out); i += len(buf) / 2 {
		n := min(len(buf)/2, len(out)-i)
		b := buf[:2*n]
		if _, err := fl.f.ReadAt(b, fl.dataStart+in.Begin+int64(2*i)); err != nil {
			return fmt.Errorf("%s: tensor %q: reading data: %v", in.File, in.Name, err)
		}
		for j := range out[i : i+n] {
			out[i+j] = binary.LittleEndian.Uint16(b[2*j:])
		}
	}
	return nil
}

// Int64 reads an integer tensor (I64, I32, I8, U8, BOOL) as int64.
func (r *Reader) Int64(name string, shape []int) ([]int64, error) {
	in, err := r.lookup(name, shape)
	if err != nil {
		return nil, err
	}
	b, err := r.raw(in)
	if err != nil {
		return nil, err
	}
	out := make([]int64, in.NumElements())
	switch in.DType {
	case I64:
		for j := range out {
			out[j] = int64(binary.LittleEndian.Uint64(b[8*j:]))
		}
	case I32:
		for j := range out {
			out[j] = int64(int32(binary.LittleEndian.Uint32(b[4*j:])))
		}
	case I8:
		for j := range out {
			out[j] = int64(int8(b[j]))
		}
	case U8, BOOL:
		for j := range out {
			out[j] = int64(b[j])
		}
	default:
		return nil, fmt.Errorf("%s: tensor %q: dtype %s is not an integer type", in.File, name, in.DType)
	}
	return out, nil
}

// Int32 reads an integer tensor as int32, failing on values out of range.
func (r *Reader) Int32(name string, shape []int) ([]int32, error) {
	v, err := r.Int64(name, shape)
	if err != nil {
		return nil, err
	}
	out := make([]int32, len(v))
	for i, x := range v {
		if x < math.MinInt32 || x > math.MaxInt32 {
			in := r.tensors[name]
			return nil, fmt.Errorf("%s: tensor %q: value %d at %d does not fit int32", in.File, name, x, i)
		}
		out[i] = int32(x)
	}
	return out, nil
}

// F16ToFloat32 converts an IEEE 754 half-precision value.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: normalise
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		man &= 0x3ff
		return math.Float32frombits(sign | e<<23 | man<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// Float32ToF16 converts to half precision, rounding to nearest even.
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff { // Inf or NaN
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint32(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, which is correct rounding
	}
	return sign | uint16(h)
}

// Float32ToBF16 converts to bfloat16, rounding to nearest even.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 { // NaN
		return uint16(b>>16) | 0x40
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
