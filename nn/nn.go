package nn

import (
	"fmt"
)

// Backend describes the kernels in use (for logs and benchmark reports).
func Backend() string { return kernelBackend }

func need(fn, name string, s []float32, n int) {
	if len(s) < n {
		panic(fmt.Sprintf("nn.%s: %s has %d elements, needs %d", fn, name, len(s), n))
	}
}

func needOpt(fn, name string, s []float32, n int) {
	if s != nil {
		need(fn, name, s, n)
	}
}
