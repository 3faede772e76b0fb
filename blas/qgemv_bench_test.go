package blas

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkQ4Token is one generated token (one row of input) through the
// four products of eight layers of EXAONE-3.5-2.4B's shape (q|k|v, o,
// gate|up, down) with Q4 weights: random blocks with fp16 scales in
// [2⁻⁷, 2⁻⁶), 320 MB in all, so the weights come from memory as in a
// real decoder. The MB/s figure is the weights' bytes read per second.
func BenchmarkQ4Token(b *testing.B) {
	shapes := [][2]int{{3840, 2560}, {2560, 2560}, {14336, 2560}, {2560, 7168}}
	r := rand.New(rand.NewPCG(1, 2))
	var ms []*QMatrix
	total := 0
	for l := 0; l < 8; l++ {
		for _, s := range shapes {
			n, k := s[0], s[1]
			blk := make([]byte, n*k/Q4Block*q4Bytes)
			for i := range blk {
				blk[i] = byte(r.Uint32())
			}
			for i := 0; i < len(blk); i += q4Bytes {
				blk[i+1] = 0x20
			}
			q, err := Q4FromQ4_0(n, k, blk)
			if err != nil {
				b.Fatal(err)
			}
			ms = append(ms, q)
			total += len(blk)
		}
	}
	x := make([]float32, 7168)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	c := make([]float32, 14336)
	b.SetBytes(int64(total))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, q := range ms {
			MatMulQ(1, x, q.Cols, q, 0, c, q.Rows)
		}
	}
}
