package nn

// RoPEBackward turns, in place, the gradient with respect to RoPE's output
// into the gradient with respect to its input: the rotation is orthogonal,
// so its backward is the inverse rotation (the angles negated):
//
//	dx[i]      = dy[i]·cos[i] + dy[i+hs/2]·sin[i]
//	dx[i+hs/2] = dy[i+hs/2]·cos[i] − dy[i]·sin[i]
//
// The arguments are RoPE's (the same tables, row stride and heads).
func RoPEBackward(dx []float32, ld int, cos, sin []float32, T, NH, hs int) {
	if hs%2 != 0 {
		panic("nn.RoPEBackward: odd head size")
	}
	h2 := hs / 2
	if T == 0 || NH == 0 {
		return
	}
	need("RoPEBackward", "dx", dx, (T-1)*ld+NH*hs)
	need("RoPEBackward", "cos", cos, T*h2)
	need("RoPEBackward", "sin", sin, T*h2)
	for t := 0; t < T; t++ {
		c, s := cos[t*h2:(t+1)*h2], sin[t*h2:(t+1)*h2]
		for h := 0; h < NH; h++ {
			a := dx[t*ld+h*hs : t*ld+h*hs+h2]
			b := dx[t*ld+h*hs+h2 : t*ld+(h+1)*hs]
			for i := range a {
				y1, y2 := a[i], b[i]
				a[i] = float32(y1*c[i]) + float32(y2*s[i])
				b[i] = float32(y2*c[i]) - float32(y1*s[i])
			}
		}
	}
}
