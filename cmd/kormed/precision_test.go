package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/kormed/kormed/blas"
)

// --precision int8 is encoder inference and quantized decoder weights:
// the commands that train refuse it, naming where it applies, generate
// refuses it without --weights int8|int4, and each leaves the engine in
// fp32.
func TestInt8RefusedOutsideEncoderInference(t *testing.T) {
	defer blas.SetPrecision(blas.FP32)
	for name, c := range map[string]interface {
		Exec(context.Context, []string) error
	}{
		"generate": cmdGenerate(strings.NewReader(""), io.Discard, io.Discard),
		"train":    cmdTrain,
		"train-lm": cmdTrainLM(io.Discard, io.Discard),
	} {
		args := map[string][]string{
			"generate": {"--precision", "int8", "--model", "m", "hello"},
			"train":    {"--precision", "int8", "x.toml"},
			"train-lm": {"--precision", "int8", "--model", "m", "--data", "d", "--output", "o"},
		}[name]
		err := c.Exec(context.Background(), args)
		want := "--precision int8 is for encoder inference"
		if name == "generate" {
			want = "--precision int8 needs --weights int8 or int4"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s --precision int8: %v", name, err)
		}
		if blas.CurrentPrecision() != blas.FP32 {
			t.Errorf("%s left the engine in %v", name, blas.CurrentPrecision())
		}
	}
}
