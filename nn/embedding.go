package nn

import (
	"math"
)

// Embedding writes out[i,:] = table[ids[i],:] for every position i.
// table is [V,C]; out is [len(ids),C].
func Embedding(out []float32, ids []int32, table []float32, C int) {
	for i, id := range ids {
		copy(out[i*C:(i+1)*C], table[int(id)*C:(int(id)+1)*C])
	}
}

// AddEmbedding adds table[ids[i],:] to out[i,:] (position and token-type
// embeddings are summed onto the word embeddings).
func AddEmbedding(out []float32, ids []int32, table []float32, C int) {
	for i, id := range ids {
		o := out[i*C : (i+1)*C]
		r := table[int(id)*C : (int(id)+1)*C]
		for j := range o {
			o[j] += r[j]
		}
	}
}

// EmbeddingBF16 is Embedding from a bfloat16 table [V,C]: out[i,:] =
// table[ids[i],:] widened to float32.
func EmbeddingBF16(out []float32, ids []int32, table []uint16, C int) {
	for i, id := range ids {
		o := out[i*C : (i+1)*C]
		for j, h := range table[int(id)*C : (int(id)+1)*C] {
			o[j] = math.Float32frombits(uint32(h) << 16)
		}
	}
}

// EmbeddingBackward accumulates dtable[ids[i],:] += dout[i,:] (the
// scatter-add of an embedding lookup), skipping positions whose id is pad
// (nn.Embedding's padding_idx: that row never gets a gradient). pad < 0
// skips nothing. Serial, so repeated ids always add in position order.
func EmbeddingBackward(dtable []float32, ids []int32, dout []float32, C int, pad int32) {
	need("EmbeddingBackward", "dout", dout, len(ids)*C)
	for i, id := range ids {
		if id == pad {
			continue
		}
		d := dtable[int(id)*C : (int(id)+1)*C]
		for j, g := range dout[i*C : (i+1)*C] {
			d[j] += g
		}
	}
}
