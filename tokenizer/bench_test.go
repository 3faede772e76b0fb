package tokenizer

import (
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// cpuTime is the process's user+system CPU time (the machine is shared, so wall time is noisy).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func BenchmarkLoadUnigram(b *testing.B) {
	for i := 0; i < b.N; i++ {
		load(b, "unigram")
	}
}

// benchEncode encodes every corpus line per iteration and reports tokens/s (ids with specials).
func benchEncode(b *testing.B, dir string) {
	tk := load(b, dir)
	lines := readLines(b, filepath.Join(testdata, "corpus.txt"))
	ntok := 0
	for _, l := range lines {
		ntok += len(tk.Encode(l, 0).IDs) - 2
	}
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			tk.Encode(l, 0)
		}
	}
	if cpu := (cpuTime() - c0).Seconds(); cpu > 0 {
		b.ReportMetric(float64(ntok)*float64(b.N)/cpu, "tokens/cpu-s")
	}
	b.ReportMetric(float64(ntok)*float64(b.N)/b.Elapsed().Seconds(), "tokens/s")
	b.ReportMetric(float64(len(lines))*float64(b.N)/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkUnigram: the 349-line parity corpus through the XLM-R-style Unigram tokenizer.
func BenchmarkUnigram(b *testing.B) { benchEncode(b, "unigram") }

// BenchmarkWordPiece: the same corpus through the BERT-style WordPiece tokenizer (cased).
func BenchmarkWordPiece(b *testing.B) { benchEncode(b, "wordpiece") }

// BenchmarkWordPieceUncased: lowercase + accent stripping (NFD) path.
func BenchmarkWordPieceUncased(b *testing.B) { benchEncode(b, "wordpiece_uncased") }
