package tokenizer

import "testing"

func BenchmarkLoadUnigram(b *testing.B) {
	for i := 0; i < b.N; i++ {
		load(b, "unigram")
	}
}
