package npy

import (
	"encoding/binary"
	"fmt"
	"math"
)

// HeaderLen is the fixed size of the .npy preamble, so that the header
// can be rewritten in place with the final row count.
const HeaderLen = 128

// Header returns a NumPy format 1.0 header for a little-endian float32
// C-order array of shape (rows, dim), padded with spaces to HeaderLen.
func Header(rows int64, dim int) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, dim)
	h := make([]byte, 0, HeaderLen)
	h = append(h, "\x93NUMPY\x01\x00"...)
	h = binary.LittleEndian.AppendUint16(h, uint16(HeaderLen-10))
	h = append(h, dict...)
	for len(h) < HeaderLen-1 {
		h = append(h, ' ')
	}
	return append(h, '\n')
}

// AppendRow appends one row's values to buf as little-endian float32.
func AppendRow(buf []byte, v []float32) []byte {
	for _, x := range v {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
	}
	return buf
}
