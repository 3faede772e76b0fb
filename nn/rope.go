package nn

import (
	"math"
)

// RoPETable writes the rotary tables of positions pos0…pos0+T-1:
// cos[t,i] = cos((pos0+t)·invFreq[i]) and sin likewise, [T,len(invFreq)].
// As transformers' rotary embeddings, the angle is the float32 product of
// position and inverse frequency; its cosine and sine are rounded to
// float32. Scaling of the frequencies (llama3, linear) is the caller's:
// it is in invFreq.
func RoPETable(cos, sin, invFreq []float32, pos0, T int) {
	H := len(invFreq)
	need("RoPETable", "cos", cos, T*H)
	need("RoPETable", "sin", sin, T*H)
	for t := 0; t < T; t++ {
		p := float32(pos0 + t)
		for i, f := range invFreq {
			a := float64(p * f)
			cos[t*H+i] = float32(math.Cos(a))
			sin[t*H+i] = float32(math.Sin(a))
		}
	}
}

// RoPE rotates, in place, the NH head vectors of hs channels in each of the
// T rows of x (row stride ld; head h at columns h·hs…h·hs+hs-1) by the
// angles of cos and sin [T,hs/2] (RoPETable), in transformers' Llama
// convention (rotate_half: channel i pairs with i+hs/2):
//
//	x'[i]      = x[i]·cos[i] − x[i+hs/2]·sin[i]
//	x'[i+hs/2] = x[i+hs/2]·cos[i] + x[i]·sin[i]
//
// Its backward is the same rotation with sin negated (the rotation is
// orthogonal), so a backward needs only the tables.
func RoPE(x []float32, ld int, cos, sin []float32, T, NH, hs int) {
	if hs%2 != 0 {
		panic("nn.RoPE: odd head size")
	}
	h2 := hs / 2
	if T == 0 || NH == 0 {
		return
	}
	need("RoPE", "x", x, (T-1)*ld+NH*hs)
	need("RoPE", "cos", cos, T*h2)
	need("RoPE", "sin", sin, T*h2)
	for t := 0; t < T; t++ {
		c, s := cos[t*h2:(t+1)*h2], sin[t*h2:(t+1)*h2]
		for h := 0; h < NH; h++ {
			a := x[t*ld+h*hs : t*ld+h*hs+h2]
			b := x[t*ld+h*hs+h2 : t*ld+(h+1)*hs]
			for i := range a {
				x1, x2 := a[i], b[i]
				a[i] = float32(x1*c[i]) + float32(-x2*s[i])
				b[i] = float32(x2*c[i]) + float32(x1*s[i])
			}
		}
	}
}

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
