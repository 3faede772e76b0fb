package gguf

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kormed/kormed/blas"
)

// A blas.Q4 matrix's rows (Q4_0Row) are GGUF Q4_0 rows: the same bytes from
// Encode, and the same values from Decode and DequantizeRow.
func TestQ4_0IsBlasQ4(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const rows, cols = 3, 96
	x := make([]float32, rows*cols)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	q, err := blas.Quantize(blas.Q4, x, rows, cols)
	if err != nil {
		t.Fatal(err)
	}
	row := make([]float32, cols)
	for j := 0; j < rows; j++ {
		b, err := Encode(Q4_0, x[j*cols:(j+1)*cols])
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, q.Q4_0Row(nil, j)) {
			t.Fatalf("row %d: blas.Q4 bytes differ from Q4_0's", j)
		}
		want, _ := Decode(Q4_0, b, cols)
		q.DequantizeRow(j, row)
		if fmt.Sprint(row) != fmt.Sprint(want) {
			t.Fatalf("row %d: DequantizeRow differs from Decode", j)
		}
	}
}
