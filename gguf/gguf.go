package gguf

import "fmt"

// Version is the GGUF version this package writes (it reads 2 and 3).
const Version = 3

// DefaultAlignment is the data alignment when general.alignment is absent.
const DefaultAlignment = 32

// magic is the file's first four bytes.
const magic = "GGUF"

// ValueType is the type of a metadata value.
type ValueType uint32

// The metadata value types (gguf_type).
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
)

// KV is one metadata entry. Value is a uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64 or float64, or a
// slice of one of them (an array; Read returns arrays as such slices).
type KV struct {
	Key   string
	Value any
}

// Type is a tensor's ggml type.
type Type uint32

// The ggml tensor types this package encodes (ggml_type values).
const (
	F32  Type = 0
	F16  Type = 1
	Q4_0 Type = 2
	Q8_0 Type = 8
)

// BlockElems is the number of elements in a Q8_0 or Q4_0 block (QK8_0,
// QK4_0).
const BlockElems = 32

func (t Type) String() string {
	switch t {
	case F32:
		return "f32"
	case F16:
		return "f16"
	case Q4_0:
		return "q4_0"
	case Q8_0:
		return "q8_0"
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// ParseType reads "f32", "f16", "q8_0" or "q4_0".
func ParseType(s string) (Type, error) {
	for _, t := range []Type{F32, F16, Q8_0, Q4_0} {
		if s == t.String() {
			return t, nil
		}
	}
	return 0, fmt.Errorf("gguf: type %q: want f32, f16, q8_0 or q4_0", s)
}

// block returns the elements and bytes of one block of t.
func (t Type) block() (elems, bytes int, ok bool) {
	switch t {
	case F32:
		return 1, 4, true
	case F16:
		return 1, 2, true
	case Q8_0:
		return BlockElems, 2 + BlockElems, true
	case Q4_0:
		return BlockElems, 2 + BlockElems/2, true
	}
	return 0, 0, false
}

// RowSize returns the bytes of n elements of type t; n must be a multiple
// of the type's block size.
func (t Type) RowSize(n int) (int, error) {
	e, b, ok := t.block()
	if !ok {
		return 0, fmt.Errorf("gguf: tensor type %v unsupported", t)
	}
	if n%e != 0 {
		return 0, fmt.Errorf("gguf: %d elements is not a whole number of %v blocks of %d", n, t, e)
	}
	return n / e * b, nil
}

// TensorInfo describes one tensor. Dims are ggml's ne: Dims[0] is the row
// length (PyTorch's last dimension), so a PyTorch [out,in] weight has Dims
// [in,out]. Offset is relative to the start of the data section.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   Type
	Offset uint64
}

// Elems returns the number of elements.
func (ti *TensorInfo) Elems() uint64 {
	n := uint64(1)
	for _, d := range ti.Dims {
		n *= d
	}
	return n
}

// Size returns the bytes of the tensor's data.
func (ti *TensorInfo) Size() (uint64, error) {
	if len(ti.Dims) == 0 {
		return 0, fmt.Errorf("gguf: tensor %s has no dimensions", ti.Name)
	}
	rows := ti.Elems() / max(ti.Dims[0], 1)
	rs, err := ti.Type.RowSize(int(ti.Dims[0]))
	if err != nil {
		return 0, fmt.Errorf("tensor %s: %w", ti.Name, err)
	}
	return uint64(rs) * rows, nil
}

// Shape returns the dimensions in PyTorch's order (the row length last).
func (ti *TensorInfo) Shape() []int {
	s := make([]int, len(ti.Dims))
	for i, d := range ti.Dims {
		s[len(s)-1-i] = int(d)
	}
	return s
}

// Dims returns ggml's dimensions of a PyTorch shape.
func Dims(shape ...int) []uint64 {
	d := make([]uint64, len(shape))
	for i, s := range shape {
		d[len(d)-1-i] = uint64(s)
	}
	return d
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }
