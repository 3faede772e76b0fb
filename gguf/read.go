package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// File is a parsed GGUF file: its metadata and tensor infos, and the data
// read on demand.
type File struct {
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // start of the data section in the file
	r          io.ReaderAt
	closer     io.Closer
}

// Open reads the header of the GGUF file path. Close it when done.
func Open(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	gf, err := Read(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	gf.closer = f
	return gf, nil
}

// Close closes the file Open opened.
func (f *File) Close() error {
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// maxCount bounds the counts a header may claim (a corrupt file must not
// make Read allocate without end).
const maxCount = 1 << 28

// Read parses a GGUF header from r.
func Read(r io.ReaderAt) (*File, error) {
	br := &reader{r: bufio.NewReaderSize(io.NewSectionReader(r, 0, math.MaxInt64), 1<<16)}
	if m := br.bytes(4); br.err == nil && string(m) != magic {
		return nil, fmt.Errorf("gguf: bad magic %q", m)
	}
	f := &File{r: r, Alignment: DefaultAlignment}
	f.Version = br.u32()
	if br.err == nil && f.Version != 2 && f.Version != 3 {
		return nil, fmt.Errorf("gguf: version %d unsupported (want 2 or 3)", f.Version)
	}
	nt, nkv := br.u64(), br.u64()
	if br.err == nil && (nt > maxCount || nkv > maxCount) {
		return nil, fmt.Errorf("gguf: %d tensors, %d metadata entries: implausible", nt, nkv)
	}
	for i := uint64(0); i < nkv && br.err == nil; i++ {
		k := br.str()
		v := br.value(ValueType(br.u32()))
		f.KV = append(f.KV, KV{Key: k, Value: v})
		if k == "general.alignment" && br.err == nil {
			a, ok := v.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("gguf: general.alignment %v (%T): want a uint32 power of two", v, v)
			}
			f.Alignment = uint64(a)
		}
	}
	for i := uint64(0); i < nt && br.err == nil; i++ {
		var ti TensorInfo
		ti.Name = br.str()
		nd := br.u32()
		if nd > 8 {
			return nil, fmt.Errorf("gguf: tensor %s: %d dimensions", ti.Name, nd)
		}
		for j := uint32(0); j < nd; j++ {
			ti.Dims = append(ti.Dims, br.u64())
		}
		ti.Type = Type(br.u32())
		ti.Offset = br.u64()
		f.Tensors = append(f.Tensors, ti)
	}
	if br.err != nil {
		if errors.Is(br.err, io.EOF) {
			br.err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("gguf: reading the header: %w", br.err)
	}
	f.DataOffset = alignUp(br.n, f.Alignment)
	return f, nil
}

// Get returns the value of a metadata key.
func (f *File) Get(key string) (any, bool) {
	for _, kv := range f.KV {
		if kv.Key == key {
			return kv.Value, true
		}
	}
	return nil, false
}

// Tensor returns the info of a tensor by name.
func (f *File) Tensor(name string) (TensorInfo, bool) {
	for _, ti := range f.Tensors {
		if ti.Name == name {
			return ti, true
		}
	}
	return TensorInfo{}, false
}

// Raw returns a tensor's info and its encoded bytes.
func (f *File) Raw(name string) (TensorInfo, []byte, error) {
	ti, ok := f.Tensor(name)
	if !ok {
		return ti, nil, fmt.Errorf("gguf: no tensor %s", name)
	}
	if ti.Offset%f.Alignment != 0 {
		return ti, nil, fmt.Errorf("gguf: tensor %s at unaligned offset %d", name, ti.Offset)
	}
	size, err := ti.Size()
	if err != nil {
		return ti, nil, err
	}
	b := make([]byte, size)
	if _, err := f.r.ReadAt(b, int64(f.DataOffset+ti.Offset)); err != nil {
		return ti, nil, fmt.Errorf("gguf: tensor %s: %w", name, err)
	}
	return ti, b, nil
}

// Float32 returns a tensor's values, decoded (dequantised) to float32, in
// row-major order (ggml's: Dims[0] varies fastest).
func (f *File) Float32(name string) ([]float32, TensorInfo, error) {
	ti, b, err := f.Raw(name)
	if err != nil {
		return nil, ti, err
	}
	v, err := Decode(ti.Type, b, int(ti.Elems()))
	return v, ti, err
}

// reader decodes little-endian values, keeping the first error.
type reader struct {
	r   *bufio.Reader
	n   uint64
	err error
}

func (r *reader) bytes(n uint64) []byte {
	if r.err != nil {
		return nil
	}
	if n > 1<<30 {
		r.err = fmt.Errorf("a %d-byte field: implausible", n)
		return nil
	}
	b := make([]byte, n)
	_, r.err = io.ReadFull(r.r, b)
	r.n += n
	return b
}

func (r *reader) u8() uint8 {
	if b := r.bytes(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

func (r *reader) str() string { return string(r.bytes(r.u64())) }

// value reads a value of type t.
func (r *reader) value(t ValueType) any {
	switch t {
	case TypeUint8:
		return r.u8()
	case TypeInt8:
		return int8(r.u8())
	case TypeUint16:
		return r.u16()
	case TypeInt16:
		return int16(r.u16())
	case TypeUint32:
		return r.u32()
	case TypeInt32:
		return int32(r.u32())
	case TypeFloat32:
		return math.Float32frombits(r.u32())
	case TypeBool:
		return r.u8() != 0
	case TypeString:
		return r.str()
	case TypeUint64:
		return r.u64()
	case TypeInt64:
		return int64(r.u64())
	case TypeFloat64:
		return math.Float64frombits(r.u64())
	case TypeArray:
		et := ValueType(r.u32())
		n := r.u64()
		if r.err == nil && n > maxCount {
			r.err = fmt.Errorf("an array of %d elements: implausible", n)
		}
		if r.err != nil {
			return nil
		}
		switch et {
		case TypeUint8:
			return readArray(r, n, (*reader).u8)
		case TypeInt8:
			return readArray(r, n, func(r *reader) int8 { return int8(r.u8()) })
		case TypeUint16:
			return readArray(r, n, (*reader).u16)
		case TypeInt16:
			return readArray(r, n, func(r *reader) int16 { return int16(r.u16()) })
		case TypeUint32:
			return readArray(r, n, (*reader).u32)
		case TypeInt32:
			return readArray(r, n, func(r *reader) int32 { return int32(r.u32()) })
		case TypeFloat32:
			return readArray(r, n, func(r *reader) float32 { return math.Float32frombits(r.u32()) })
		case TypeBool:
			return readArray(r, n, func(r *reader) bool { return r.u8() != 0 })
		case TypeString:
			return readArray(r, n, (*reader).str)
		case TypeUint64:
			return readArray(r, n, (*reader).u64)
		case TypeInt64:
			return readArray(r, n, func(r *reader) int64 { return int64(r.u64()) })
		case TypeFloat64:
			return readArray(r, n, func(r *reader) float64 { return math.Float64frombits(r.u64()) })
		}
		r.err = fmt.Errorf("array of value type %d unsupported", et)
		return nil
	}
	if r.err == nil {
		r.err = fmt.Errorf("value type %d unknown", t)
	}
	return nil
}

func readArray[E any](r *reader, n uint64, read func(*reader) E) []E {
	xs := make([]E, 0, min(n, 1<<16))
	for i := uint64(0); i < n && r.err == nil; i++ {
		xs = append(xs, read(r))
	}
	return xs
}
