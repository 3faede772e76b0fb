package nn

import (
	"testing"
)

func TestEmbeddingBackwardSkipsPadding(t *testing.T) {
	const C = 2
	d := make([]float32, 4*C)
	EmbeddingBackward(d, []int32{2, 1, 2, 0}, []float32{1, 2, 3, 4, 5, 6, 7, 8}, C, 1)
	want := []float32{7, 8, 0, 0, 1 + 5, 2 + 6, 0, 0}
	for i := range want {
		if d[i] != want[i] {
			t.Fatalf("got %v want %v", d, want)
		}
	}
}
