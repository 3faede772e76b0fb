package gguf

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/kormed/kormed/blas"
	"github.com/kormed/kormed/safetensors"
)

// Encode returns the bytes of the values x as type t (rows of a multiple
// of 32 elements for Q8_0 and Q4_0; len(x) must then be such a multiple).
// F16 rounds to nearest even as ggml's GGML_FP32_TO_FP16; Q8_0 is ggml's
// quantize_row_q8_0_ref; Q4_0 searches the scale (quantizeQ4_0).
func Encode(t Type, x []float32) ([]byte, error) {
	n, err := t.RowSize(len(x))
	if err != nil {
		return nil, err
	}
	b := make([]byte, n)
	le := binary.LittleEndian
	switch t {
	case F32:
		for i, v := range x {
			le.PutUint32(b[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range x {
			le.PutUint16(b[2*i:], safetensors.Float32ToF16(v))
		}
	case Q8_0:
		for i := 0; i < len(x)/BlockElems; i++ {
			quantizeQ8_0(b[i*(2+BlockElems):(i+1)*(2+BlockElems)], x[i*BlockElems:(i+1)*BlockElems])
		}
	case Q4_0:
		for i := 0; i < len(x)/BlockElems; i++ {
			quantizeQ4_0(b[i*(2+BlockElems/2):(i+1)*(2+BlockElems/2)], x[i*BlockElems:(i+1)*BlockElems])
		}
	}
	return b, nil
}

// Decode returns the n values of type t in b (dequantised as ggml's
// dequantize_row_*).
func Decode(t Type, b []byte, n int) ([]float32, error) {
	size, err := t.RowSize(n)
	if err != nil {
		return nil, err
	}
	if len(b) != size {
		return nil, fmt.Errorf("gguf: %d bytes for %d %v values, want %d", len(b), n, t, size)
	}
	x := make([]float32, n)
	le := binary.LittleEndian
	switch t {
	case F32:
		for i := range x {
			x[i] = math.Float32frombits(le.Uint32(b[4*i:]))
		}
	case F16:
		for i := range x {
			x[i] = safetensors.F16ToFloat32(le.Uint16(b[2*i:]))
		}
	case Q8_0:
		for i := 0; i < n/BlockElems; i++ {
			blk, y := b[i*(2+BlockElems):], x[i*BlockElems:(i+1)*BlockElems]
			d := safetensors.F16ToFloat32(le.Uint16(blk))
			for j := range y {
				y[j] = float32(int8(blk[2+j])) * d
			}
		}
	case Q4_0:
		const half = BlockElems / 2
		for i := 0; i < n/BlockElems; i++ {
			blk, y := b[i*(2+half):], x[i*BlockElems:(i+1)*BlockElems]
			d := safetensors.F16ToFloat32(le.Uint16(blk))
			for j := 0; j < half; j++ {
				q := blk[2+j]
				y[j] = float32(int(q&0x0f)-8) * d
				y[j+half] = float32(int(q>>4)-8) * d
			}
		}
	}
	return x, nil
}

// quantizeQ8_0 is ggml's quantize_row_q8_0_ref for one block: d =
// max|x|/127 (stored as fp16), q = round(x/d) with the float32 1/d.
func quantizeQ8_0(dst []byte, x []float32) {
	var amax float32
	for _, v := range x {
		amax = max(amax, float32(math.Abs(float64(v))))
	}
	d := amax / 127
	var id float32
	if d != 0 {
		id = 1 / d
	}
	binary.LittleEndian.PutUint16(dst, safetensors.Float32ToF16(d))
	for j, v := range x {
		x0 := float32(v * id)                          // roundf(x[j]*id): away from zero
		dst[2+j] = byte(int8(math.Round(float64(x0)))) // |x0| ≤ 127
	}
}

// quantizeQ4_0 writes one Q4_0 block (element j in the low nibble of byte
// j and element j+16 in its high nibble) as blas.Quantize does,
// blas.QuantizeQ4BlockSearch: the scale, of ggml's quantize_row_q4_0_ref's
// m/-8 and a few others, with the least squared error, so that the
// decoder's int4 weights are these GGUF Q4_0 rows and llama.cpp runs the
// same weights as kormed.
func quantizeQ4_0(dst []byte, x []float32) { blas.QuantizeQ4BlockSearch(dst, x) }
