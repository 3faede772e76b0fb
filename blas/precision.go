package blas

import (
	"fmt"
	"sync/atomic"
)

// Precision is the arithmetic of the matrix products.
type Precision int32

const (
	// FP32 computes in float32 throughout (the default): results match
	// PyTorch's float32 to rounding.
	FP32 Precision = iota
	// BF16 rounds both operands of the larger products to bfloat16 and
	// accumulates in float32, as PyTorch's
	// torch.set_float32_matmul_precision("medium") on a CPU with
	// AVX512-BF16 or AMX: the products about twice as fast, each operand
	// rounded to 8 significant bits (relative error ≤ 2⁻⁹, about 2.4
	// decimal digits). Everything else (LayerNorm,
	// softmax, GELU, the optimiser, the weights) stays float32.
	BF16
	// INT8 runs the encoder's projections at inference (model.Encoder's
	// QKV, attention output and FFN products) as int8 products,
	// MatMulInt8: weights quantized once per output channel, activations
	// per token at run time, int32 sums, as PyTorch's quantize_dynamic.
	// Everything else, Sgemm included, stays float32. It needs a CPU with
	// AVX512-VNNI, AVX-VNNI or AMX-INT8 on the cgo build; the pure-Go
	// build computes the same integers anywhere, slowly.
	INT8
)

func (p Precision) String() string {
	switch p {
	case BF16:
		return "bf16"
	case INT8:
		return "int8"
	}
	return "fp32"
}

// ParsePrecision reads "fp32", "bf16" or "int8".
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32", "float32", "":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "int8":
		return INT8, nil
	}
	return FP32, fmt.Errorf("precision %q: want fp32, bf16 or int8", s)
}

var precision atomic.Int32

// bf16MinWork is the m·n·k below which a product stays float32: the
// operand conversion and primitive call cost more than they save there
// (small batches; attention's per-head products use SgemmF32 anyway).
const bf16MinWork = 1 << 18

// SetPrecision chooses the matrix products' arithmetic. BF16 needs the cgo
// build (oneDNN) and a CPU with AVX512-BF16 or AMX-BF16; INT8 on the cgo
// build needs AVX512-VNNI, AVX-VNNI or AMX-INT8; elsewhere they are
// refused with the reason.
func SetPrecision(p Precision) error {
	switch p {
	case BF16:
		if err := bf16Supported(); err != nil {
			return err
		}
	case INT8:
		if err := int8Supported(); err != nil {
			return err
		}
	}
	precision.Store(int32(p))
	return nil
}

// CurrentPrecision reports the precision set by SetPrecision.
func CurrentPrecision() Precision { return Precision(precision.Load()) }
