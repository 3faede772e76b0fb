package vector

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"hash/crc32"
	"io"
	"math"
)

// The files of this package are little-endian: a header starting with a
// four-byte magic and a uint32 version, the body, and a trailing CRC-32C
// (Castagnoli) of everything before it.

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// encoder writes little-endian values through a buffer while hashing them.
type encoder struct {
	w   *bufio.Writer
	h   hash.Hash32
	n   int64
	err error
	buf []byte
}

func newEncoder(w io.Writer) *encoder {
	return &encoder{w: bufio.NewWriterSize(w, 1<<16), h: crc32.New(castagnoli), buf: make([]byte, 0, 1<<16)}
}

// flush writes out the pending bytes once buf holds at least min of them.
func (e *encoder) flush(min int) {
	if len(e.buf) < min || e.err != nil {
		return
	}
	e.h.Write(e.buf)
	k, err := e.w.Write(e.buf)
	e.n += int64(k)
	e.err = err
	e.buf = e.buf[:0]
}

func (e *encoder) bytes(b []byte) { e.buf = append(e.buf, b...); e.flush(1 << 15) }
func (e *encoder) u32(v uint32)   { e.buf = binary.LittleEndian.AppendUint32(e.buf, v); e.flush(1 << 15) }
func (e *encoder) u64(v uint64)   { e.buf = binary.LittleEndian.AppendUint64(e.buf, v); e.flush(1 << 15) }

func (e *encoder) f32s(v []float32) {
	for _, x := range v {
		e.buf = binary.LittleEndian.AppendUint32(e.buf, math.Float32bits(x))
		if len(e.buf) >= 1<<15 {
			e.flush(0)
		}
	}
}

func (e *encoder) u32s(v []uint32) {
	for _, x := range v {
		e.buf = binary.LittleEndian.AppendUint32(e.buf, x)
		if len(e.buf) >= 1<<15 {
			e.flush(0)
		}
	}
}

// finish appends the checksum and flushes; it returns the bytes written.
func (e *encoder) finish() (int64, error) {
	e.flush(0)
	if e.err != nil {
		return e.n, e.err
	}
	e.buf = binary.LittleEndian.AppendUint32(e.buf, e.h.Sum32())
	k, err := e.w.Write(e.buf)
	e.n += int64(k)
	if err == nil {
		err = e.w.Flush()
	}
	return e.n, err
}

// decoder reads what encoder wrote, hashing it; what names the file kind
// in errors ("flat index", "HNSW graph"). It reads exactly the bytes of the
// file (no read-ahead), so several files can follow each other in one
// stream.
type decoder struct {
	r    io.Reader
	h    hash.Hash32
	what string
	buf  [8]byte
}

func newDecoder(r io.Reader, what string) *decoder {
	return &decoder{r: r, h: crc32.New(castagnoli), what: what}
}

// full fills b, reporting a short read as truncation of part.
func (d *decoder) full(b []byte, part string) error {
	if _, err := io.ReadFull(d.r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("vector: truncated %s: unexpected end of input in the %s", d.what, part)
		}
		return fmt.Errorf("vector: reading %s: %w", d.what, err)
	}
	d.h.Write(b)
	return nil
}

// header checks the magic and version.
func (d *decoder) header(magic string, version uint32) error {
	var b [8]byte
	if err := d.full(b[:], "header"); err != nil {
		return err
	}
	if string(b[:4]) != magic {
		return fmt.Errorf("vector: not a %s (magic %q, want %q)", d.what, b[:4], magic)
	}
	if v := binary.LittleEndian.Uint32(b[4:]); v != version {
		return fmt.Errorf("vector: %s version %d not supported (want %d)", d.what, v, version)
	}
	return nil
}

func (d *decoder) u32(part string) (uint32, error) {
	if err := d.full(d.buf[:4], part); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(d.buf[:4]), nil
}

func (d *decoder) u64(part string) (uint64, error) {
	if err := d.full(d.buf[:8], part); err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(d.buf[:8]), nil
}

// f32s appends n floats to dst, reading in chunks so that a header that
// claims more than the input holds fails on the short read, not on a huge
// allocation.
func (d *decoder) f32s(dst []float32, n int, part string) ([]float32, error) {
	b := make([]byte, 1<<16)
	for n > 0 {
		c := min(n, len(b)/4)
		if err := d.full(b[:4*c], part); err != nil {
			return dst, err
		}
		for j := 0; j < c; j++ {
			dst = append(dst, math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])))
		}
		n -= c
	}
	return dst, nil
}

// u32s is f32s for uint32 values.
func (d *decoder) u32s(dst []uint32, n int, part string) ([]uint32, error) {
	b := make([]byte, 1<<16)
	for n > 0 {
		c := min(n, len(b)/4)
		if err := d.full(b[:4*c], part); err != nil {
			return dst, err
		}
		for j := 0; j < c; j++ {
			dst = append(dst, binary.LittleEndian.Uint32(b[4*j:]))
		}
		n -= c
	}
	return dst, nil
}

// check reads the trailing checksum and compares it with the hash of
// everything read before it.
func (d *decoder) check() error {
	want := d.h.Sum32()
	var b [4]byte
	if _, err := io.ReadFull(d.r, b[:]); err != nil {
		return fmt.Errorf("vector: truncated %s: unexpected end of input in the checksum", d.what)
	}
	if got := binary.LittleEndian.Uint32(b[:]); got != want {
		return fmt.Errorf("vector: corrupt %s: checksum %08x, computed %08x", d.what, got, want)
	}
	return nil
}
