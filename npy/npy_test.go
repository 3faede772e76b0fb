package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

func TestHeader(t *testing.T) {
	for _, c := range []struct {
		rows int64
		dim  int
	}{{0, 384}, {3, 2}, {123456789012, 4096}} {
		h := Header(c.rows, c.dim)
		if len(h) != HeaderLen || (HeaderLen)%64 != 0 || !bytes.HasPrefix(h, []byte("\x93NUMPY\x01\x00")) || h[len(h)-1] != '\n' {
			t.Fatalf("header %q", h)
		}
		if n := binary.LittleEndian.Uint16(h[8:10]); int(n) != HeaderLen-10 {
			t.Errorf("header length field %d", n)
		}
		want := "{'descr': '<f4', 'fortran_order': False, 'shape': (" + itoa(c.rows) + ", " + itoa(int64(c.dim)) + "), }"
		if !bytes.HasPrefix(h[10:], []byte(want)) || len(bytes.TrimRight(h[10:len(h)-1], " ")) != len(want) {
			t.Errorf("header dict %q, want %q", h[10:], want)
		}
	}
}

func itoa(n int64) string {
	var b []byte
	for {
		b = append([]byte{byte('0' + n%10)}, b...)
		if n /= 10; n == 0 {
			return string(b)
		}
	}
}

func TestAppendRow(t *testing.T) {
	b := AppendRow([]byte("x"), []float32{1, -0.5, float32(math.Inf(1))})
	if len(b) != 13 || b[0] != 'x' {
		t.Fatalf("%d bytes", len(b))
	}
	for i, want := range []float32{1, -0.5, float32(math.Inf(1))} {
		if got := math.Float32frombits(binary.LittleEndian.Uint32(b[1+4*i:])); got != want {
			t.Errorf("value %d: %v, want %v", i, got, want)
		}
	}
}
