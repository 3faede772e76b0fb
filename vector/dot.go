package vector

import "math"

// Dot returns the dot product Σ a[j]·b[j] (the cosine of two L2-normalised
// vectors) with the kernel every search of this package scores with, so its
// value is bit for bit the Score a search reports for the same pair. It
// panics if len(b) < len(a).
func Dot(a, b []float32) float32 { return dot(a, b) }

// dot is Dot. With AVX2 and FMA it runs dot1AVX over the largest multiple of
// 8 and adds the rest in order; elsewhere it sums groups of four products
// into one accumulator, as dot4Go does for each of its rows.
func dot(q, r []float32) float32 {
	n := len(q)
	r = r[:n]
	var s float32
	m := 0
	if useAVX {
		if m = n &^ 7; m > 0 {
			s = dot1AVX(&q[0], &r[0], m)
		}
	} else {
		for m = 0; m+4 <= n; m += 4 {
			qq := q[m : m+4 : m+4]
			rr := r[m : m+4 : m+4]
			s += qq[0]*rr[0] + qq[1]*rr[1] + qq[2]*rr[2] + qq[3]*rr[3]
		}
	}
	for j := m; j < n; j++ {
		s += q[j] * r[j]
	}
	return s
}

// dot4 sets out[i] = dot(q, ri) for four rows at once (each query element
// is loaded once for the four), bit for bit equal to four calls of dot.
func dot4(q, r0, r1, r2, r3 []float32, out *[4]float32) {
	n := len(q)
	r0, r1, r2, r3 = r0[:n], r1[:n], r2[:n], r3[:n]
	var a, b, c, d float32
	m := 0
	if useAVX {
		if m = n &^ 7; m > 0 {
			dot4AVX(&q[0], &r0[0], &r1[0], &r2[0], &r3[0], m, out)
			a, b, c, d = out[0], out[1], out[2], out[3]
		}
	} else {
		for m = 0; m+4 <= n; m += 4 {
			qq := q[m : m+4 : m+4]
			x0, x1, x2, x3 := qq[0], qq[1], qq[2], qq[3]
			rr := r0[m : m+4 : m+4]
			a += x0*rr[0] + x1*rr[1] + x2*rr[2] + x3*rr[3]
			rr = r1[m : m+4 : m+4]
			b += x0*rr[0] + x1*rr[1] + x2*rr[2] + x3*rr[3]
			rr = r2[m : m+4 : m+4]
			c += x0*rr[0] + x1*rr[1] + x2*rr[2] + x3*rr[3]
			rr = r3[m : m+4 : m+4]
			d += x0*rr[0] + x1*rr[1] + x2*rr[2] + x3*rr[3]
		}
	}
	for j := m; j < n; j++ {
		a += q[j] * r0[j]
		b += q[j] * r1[j]
		c += q[j] * r2[j]
		d += q[j] * r3[j]
	}
	out[0], out[1], out[2], out[3] = a, b, c, d
}

// bf16 rounds x to bfloat16 (nearest, ties to even), NaN staying NaN.
func bf16(x float32) uint16 {
	u := math.Float32bits(x)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40 // quiet NaN
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// fromBF16 widens a bfloat16 to float32 exactly.
func fromBF16(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// dot4BF16 sets out[i] = Σ q[j]·bf16 row i[j] (approximate scores: only
// their order matters, candidates are re-scored exactly).
func dot4BF16(q []float32, r0, r1, r2, r3 []uint16, out *[4]float32) {
	n := len(q)
	r0, r1, r2, r3 = r0[:n], r1[:n], r2[:n], r3[:n]
	var a, b, c, d float32
	m := 0
	if useAVX {
		if m = n &^ 7; m > 0 {
			dot4BF16AVX(&q[0], &r0[0], &r1[0], &r2[0], &r3[0], m, out)
			a, b, c, d = out[0], out[1], out[2], out[3]
		}
	}
	for j := m; j < n; j++ {
		x := q[j]
		a += x * fromBF16(r0[j])
		b += x * fromBF16(r1[j])
		c += x * fromBF16(r2[j])
		d += x * fromBF16(r3[j])
	}
	out[0], out[1], out[2], out[3] = a, b, c, d
}

// dot4I8 sets out[i] = Σ q[j]·float32(row i[j]) for int8 codes (the row's
// scale is applied by the caller).
func dot4I8(q []float32, r0, r1, r2, r3 []int8, out *[4]float32) {
	n := len(q)
	r0, r1, r2, r3 = r0[:n], r1[:n], r2[:n], r3[:n]
	var a, b, c, d float32
	m := 0
	if useAVX {
		if m = n &^ 7; m > 0 {
			dot4I8AVX(&q[0], &r0[0], &r1[0], &r2[0], &r3[0], m, out)
			a, b, c, d = out[0], out[1], out[2], out[3]
		}
	}
	for j := m; j < n; j++ {
		x := q[j]
		a += x * float32(r0[j])
		b += x * float32(r1[j])
		c += x * float32(r2[j])
		d += x * float32(r3[j])
	}
	out[0], out[1], out[2], out[3] = a, b, c, d
}
