package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
)

// Writer streams a GGUF file: NewWriter writes the header, metadata and
// tensor infos, WriteTensor each tensor's data in the infos' order, and
// Close checks that all were written.
type Writer struct {
	w     *bufio.Writer
	n     uint64 // bytes written
	align uint64
	infos []TensorInfo
	next  int
	start uint64 // offset of the data section
}

// NewWriter writes the header of a file with the metadata kvs and the
// tensors infos to w, computing the infos' offsets (the data in the infos'
// order, each tensor aligned). The alignment is kvs' general.alignment (a
// uint32 power of two) or DefaultAlignment. It returns the infos with
// their offsets through Infos.
func NewWriter(w io.Writer, kvs []KV, infos []TensorInfo) (*Writer, error) {
	gw := &Writer{w: bufio.NewWriterSize(w, 1<<20), align: DefaultAlignment}
	seen := map[string]bool{}
	for _, kv := range kvs {
		if seen[kv.Key] {
			return nil, fmt.Errorf("gguf: metadata key %s twice", kv.Key)
		}
		seen[kv.Key] = true
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, fmt.Errorf("gguf: general.alignment must be a uint32 power of two, got %v (%T)", kv.Value, kv.Value)
			}
			gw.align = uint64(a)
		}
	}
	gw.infos = make([]TensorInfo, len(infos))
	var off uint64
	names := map[string]bool{}
	for i, ti := range infos {
		if names[ti.Name] {
			return nil, fmt.Errorf("gguf: tensor %s twice", ti.Name)
		}
		names[ti.Name] = true
		size, err := ti.Size()
		if err != nil {
			return nil, err
		}
		ti.Dims = append([]uint64(nil), ti.Dims...)
		ti.Offset = off
		gw.infos[i] = ti
		off = alignUp(off+size, gw.align)
	}
	gw.bytes([]byte(magic))
	gw.u32(Version)
	gw.u64(uint64(len(infos)))
	gw.u64(uint64(len(kvs)))
	for _, kv := range kvs {
		gw.str(kv.Key)
		if err := gw.value(kv.Value, true); err != nil {
			return nil, fmt.Errorf("gguf: metadata %s: %w", kv.Key, err)
		}
	}
	for _, ti := range gw.infos {
		gw.str(ti.Name)
		gw.u32(uint32(len(ti.Dims)))
		for _, d := range ti.Dims {
			gw.u64(d)
		}
		gw.u32(uint32(ti.Type))
		gw.u64(ti.Offset)
	}
	gw.pad()
	gw.start = gw.n
	return gw, gw.flushErr()
}

// Infos returns the tensor infos with their offsets.
func (gw *Writer) Infos() []TensorInfo { return gw.infos }

// WriteTensor writes the data of the next tensor (the infos' order): its
// encoded bytes (Encode), exactly its Size.
func (gw *Writer) WriteTensor(data []byte) error {
	if gw.next >= len(gw.infos) {
		return fmt.Errorf("gguf: more tensors written than the %d declared", len(gw.infos))
	}
	ti := &gw.infos[gw.next]
	size, _ := ti.Size()
	if uint64(len(data)) != size {
		return fmt.Errorf("gguf: tensor %s: %d bytes, want %d", ti.Name, len(data), size)
	}
	if gw.n != gw.start+ti.Offset {
		return fmt.Errorf("gguf: tensor %s: at offset %d, want %d", ti.Name, gw.n-gw.start, ti.Offset)
	}
	gw.bytes(data)
	gw.pad()
	gw.next++
	return gw.flushErr()
}

// Close flushes the file; it fails if a declared tensor was not written.
// It does not close the underlying writer.
func (gw *Writer) Close() error {
	if gw.next != len(gw.infos) {
		return fmt.Errorf("gguf: %d of %d tensors written", gw.next, len(gw.infos))
	}
	return gw.w.Flush()
}

func (gw *Writer) flushErr() error {
	// bufio.Writer keeps the first error; Flush would push the buffer
	// out, which is not needed before the end.
	_, err := gw.w.Write(nil)
	return err
}

func (gw *Writer) bytes(b []byte) {
	gw.w.Write(b)
	gw.n += uint64(len(b))
}

func (gw *Writer) pad() {
	if p := alignUp(gw.n, gw.align) - gw.n; p > 0 {
		gw.bytes(make([]byte, p))
	}
}

func (gw *Writer) u32(v uint32) { gw.bytes(binary.LittleEndian.AppendUint32(nil, v)) }
func (gw *Writer) u64(v uint64) { gw.bytes(binary.LittleEndian.AppendUint64(nil, v)) }
func (gw *Writer) str(s string) { gw.u64(uint64(len(s))); gw.bytes([]byte(s)) }

// value writes v's type (when typed) and v.
func (gw *Writer) value(v any, typed bool) error {
	t, ok := valueType(v)
	if !ok {
		return fmt.Errorf("unsupported value type %T", v)
	}
	if typed {
		gw.u32(uint32(t))
	}
	le := binary.LittleEndian
	switch x := v.(type) {
	case uint8:
		gw.bytes([]byte{x})
	case int8:
		gw.bytes([]byte{byte(x)})
	case uint16:
		gw.bytes(le.AppendUint16(nil, x))
	case int16:
		gw.bytes(le.AppendUint16(nil, uint16(x)))
	case uint32:
		gw.u32(x)
	case int32:
		gw.u32(uint32(x))
	case float32:
		gw.u32(math.Float32bits(x))
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		gw.bytes([]byte{b})
	case string:
		gw.str(x)
	case uint64:
		gw.u64(x)
	case int64:
		gw.u64(uint64(x))
	case float64:
		gw.u64(math.Float64bits(x))
	default:
		return gw.array(v)
	}
	return nil
}

// array writes an array value: element type, count, elements.
func (gw *Writer) array(v any) error {
	switch x := v.(type) {
	case []uint8:
		return writeArray(gw, x)
	case []int8:
		return writeArray(gw, x)
	case []uint16:
		return writeArray(gw, x)
	case []int16:
		return writeArray(gw, x)
	case []uint32:
		return writeArray(gw, x)
	case []int32:
		return writeArray(gw, x)
	case []float32:
		return writeArray(gw, x)
	case []bool:
		return writeArray(gw, x)
	case []string:
		return writeArray(gw, x)
	case []uint64:
		return writeArray(gw, x)
	case []int64:
		return writeArray(gw, x)
	case []float64:
		return writeArray(gw, x)
	}
	return fmt.Errorf("unsupported value type %T", v)
}

func writeArray[E any](gw *Writer, xs []E) error {
	var zero E
	t, _ := valueType(zero)
	gw.u32(uint32(t))
	gw.u64(uint64(len(xs)))
	for _, x := range xs {
		if err := gw.value(x, false); err != nil {
			return err
		}
	}
	return nil
}

// valueType returns the GGUF type of a Go value.
func valueType(v any) (ValueType, bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, true
	case int8:
		return TypeInt8, true
	case uint16:
		return TypeUint16, true
	case int16:
		return TypeInt16, true
	case uint32:
		return TypeUint32, true
	case int32:
		return TypeInt32, true
	case float32:
		return TypeFloat32, true
	case bool:
		return TypeBool, true
	case string:
		return TypeString, true
	case uint64:
		return TypeUint64, true
	case int64:
		return TypeInt64, true
	case float64:
		return TypeFloat64, true
	case []uint8, []int8, []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []uint64, []int64, []float64:
		return TypeArray, true
	}
	return 0, false
}
