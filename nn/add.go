package nn

// Add writes out = a + b elementwise (residual connections). out may alias a or b.
func Add(out, a, b []float32) {
	need("Add", "a", a, len(out))
	need("Add", "b", b, len(out))
	if len(out) < 8192 { // small (e.g. one row): not worth a C call
		a, b := a[:len(out)], b[:len(out)]
		for i := range out {
			out[i] = a[i] + b[i]
		}
		return
	}
	kAdd(out, a[:len(out)], b[:len(out)])
}

func goAdd(out, a, b []float32) {
	parallelRows(len(out), 8192, func(lo, hi int) {
		o, x, y := out[lo:hi], a[lo:hi], b[lo:hi]
		for j := range o {
			o[j] = x[j] + y[j]
		}
	})
}
