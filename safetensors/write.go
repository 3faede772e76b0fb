package safetensors

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/kormed/kormed/atomicfile"
)

// Tensor is one tensor to write. Floating dtypes (F32, F16, BF16, F64) take
// their values from Floats, integer dtypes (I64, I32, I8, U8, BOOL) from
// Ints; the values are converted to DType as they are written.
type Tensor struct {
	Name   string
	DType  DType
	Shape  []int
	Floats []float32
	Ints   []int64
}

// Float32s returns an F32 tensor.
func Float32s(name string, shape []int, v []float32) Tensor {
	return Tensor{Name: name, DType: F32, Shape: shape, Floats: v}
}

// Int64s returns an I64 tensor.
func Int64s(name string, shape []int, v []int64) Tensor {
	return Tensor{Name: name, DType: I64, Shape: shape, Ints: v}
}

func (t Tensor) count() int {
	n := 1
	for _, d := range t.Shape {
		n *= d
	}
	return n
}

type headerEntry struct {
	DType   DType   `json:"dtype"`
	Shape   []int   `json:"shape"`
	Offsets []int64 `json:"data_offsets"`
}

// Write writes the tensors to path in the order given, with optional
// metadata, atomically: the data goes to a temporary file in the same
// folder, which is renamed over path once complete.
func Write(path string, tensors []Tensor, metadata map[string]string) error {
	header := map[string]any{}
	if len(metadata) > 0 {
		header["__metadata__"] = metadata
	}
	var off int64
	for _, t := range tensors {
		if t.DType.Size() == 0 {
			return fmt.Errorf("%s: tensor %q: unsupported dtype %q", path, t.Name, t.DType)
		}
		if _, dup := header[t.Name]; dup || t.Name == "" {
			return fmt.Errorf("%s: tensor name %q empty or repeated", path, t.Name)
		}
		n := t.count()
		switch t.DType {
		case F32, F16, BF16, F64:
			if len(t.Floats) != n {
				return fmt.Errorf("%s: tensor %q: shape %v needs %d values, got %d floats", path, t.Name, t.Shape, n, len(t.Floats))
			}
		default:
			if len(t.Ints) != n {
				return fmt.Errorf("%s: tensor %q: shape %v needs %d values, got %d ints", path, t.Name, t.Shape, n, len(t.Ints))
			}
		}
		shape := t.Shape
		if shape == nil {
			shape = []int{}
		}
		size := int64(n) * int64(t.DType.Size())
		header[t.Name] = headerEntry{DType: t.DType, Shape: shape, Offsets: []int64{off, off + size}}
		off += size
	}
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 { // align the data section, as the reference writer does
		hb = append(hb, ' ')
	}

	tmp, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer tmp.Abort() // no-op after Commit
	w := bufio.NewWriterSize(tmp, 1<<20)
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(len(hb)))
	w.Write(lenb[:])
	w.Write(hb)
	var b [8]byte
	for _, t := range tensors {
		switch t.DType {
		case F32:
			for _, v := range t.Floats {
				binary.LittleEndian.PutUint32(b[:], math.Float32bits(v))
				w.Write(b[:4])
			}
		case F64:
			for _, v := range t.Floats {
				binary.LittleEndian.PutUint64(b[:], math.Float64bits(float64(v)))
				w.Write(b[:8])
			}
		case F16:
			for _, v := range t.Floats {
				binary.LittleEndian.PutUint16(b[:], Float32ToF16(v))
				w.Write(b[:2])
			}
		case BF16:
			for _, v := range t.Floats {
				binary.LittleEndian.PutUint16(b[:], Float32ToBF16(v))
				w.Write(b[:2])
			}
		case I64:
			for _, v := range t.Ints {
				binary.LittleEndian.PutUint64(b[:], uint64(v))
				w.Write(b[:8])
			}
		case I32:
			for _, v := range t.Ints {
				binary.LittleEndian.PutUint32(b[:], uint32(int32(v)))
				w.Write(b[:4])
			}
		case I8, U8, BOOL:
			for _, v := range t.Ints {
				w.WriteByte(byte(v))
			}
		}
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return tmp.Commit()
}
