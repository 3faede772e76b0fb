package blas

import (
	"sync"
	"sync/atomic"

	"github.com/kormed/kormed/blas/internal/kern"
)

// goSgemm is the reference pure-Go product (naive triple loop). It is
// always compiled so tests can compare the fast paths against it.
func goSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float32
			for p := 0; p < k; p++ {
				var x, y float32
				if transA {
					x = a[p*lda+i]
				} else {
					x = a[i*lda+p]
				}
				if transB {
					y = b[j*ldb+p]
				} else {
					y = b[p*ldb+j]
				}
				s += x * y
			}
			if beta == 0 {
				c[i*ldc+j] = alpha * s
			} else {
				c[i*ldc+j] = alpha*s + beta*c[i*ldc+j]
			}
		}
	}
}

// Blocking of the pure-Go kernel: C is cut into mcBlk×ncBlk tiles that
// goroutines take in turn; each tile accumulates over kcBlk-deep slices of
// A and B packed into mr-row and nr-column panels for an mr×nr register
// tile: 6×16 in AVX2/FMA assembly where the CPU has it, else 4×4 in Go.
const (
	mcBlk = 96
	ncBlk = 256
	kcBlk = 384
)

// useAsm selects the assembly tile (amd64 with AVX2+FMA).
var useAsm = kern.Available

func tileShape() (mr, nr int) {
	if useAsm {
		return 6, 16
	}
	return 4, 4
}

var packPool = sync.Pool{New: func() any {
	s := make([]float32, mcBlk*kcBlk+kcBlk*ncBlk)
	return &s
}}

// blockedSgemm is the pure-Go fast path: packed panels, a register tile,
// and Threads() goroutines. When C has at least as many mcBlk-row blocks
// as threads, each kcBlk×ncBlk block of B is packed once and shared while
// goroutines take row blocks (the GotoBLAS loop order); otherwise
// goroutines take (row, column) tiles and pack privately.
func blockedSgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	mr, nr := tileShape()
	mt := (m + mcBlk - 1) / mcBlk
	nt := (n + ncBlk - 1) / ncBlk
	// rows computes row block i of C against the packed block bp of B
	// (columns j0..j0+nb, depth p0..p0+kb).
	rows := func(i, j0, nb, p0, kb int, bp, ap []float32, acc *[96]float32) {
		i0 := i * mcBlk
		mb := min(mcBlk, m-i0)
		// With the assembly tile and A not transposed, full 6-row panels
		// read A in place; only a ragged last panel is packed.
		direct := useAsm && !transA
		if !direct {
			packA(ap, mr, transA, a, lda, i0, p0, mb, kb)
		} else if tail := mb % mr; tail != 0 {
			packA(ap, mr, transA, a, lda, i0+mb-tail, p0, tail, kb)
		}
		bt := beta
		if p0 > 0 {
			bt = 1
		}
		for jj := 0; jj < nb; jj += nr {
			bpan := bp[(jj/nr)*kb*nr : (jj/nr+1)*kb*nr]
			for ii := 0; ii < mb; ii += mr {
				if direct && ii+mr <= mb {
					row := (i0+ii)*lda + p0
					_ = a[row+(mr-1)*lda+kb-1] // the six rows are in bounds
					kern.Tile6x16Strided(kb, &a[row], lda, &bpan[0], acc)
					store(acc[:], nr, alpha, bt, c[(i0+ii)*ldc+j0+jj:], ldc, mr, min(nr, nb-jj))
					continue
				}
				var apan []float32
				if direct {
					apan = ap[:kb*mr] // the packed ragged panel
				} else {
					apan = ap[(ii/mr)*kb*mr : (ii/mr+1)*kb*mr]
				}
				if useAsm {
					kern.Tile6x16(kb, &apan[0], &bpan[0], acc)
				} else {
					kernel4x4(kb, apan, bpan, acc)
				}
				store(acc[:], nr, alpha, bt, c[(i0+ii)*ldc+j0+jj:], ldc, min(mr, mb-ii), min(nr, nb-jj))
			}
		}
	}
	if mt >= Threads() {
		shared := packPool.Get().(*[]float32)
		defer packPool.Put(shared)
		bp := (*shared)[mcBlk*kcBlk:]
		for j0 := 0; j0 < n; j0 += ncBlk {
			nb := min(ncBlk, n-j0)
			for p0 := 0; p0 < k; p0 += kcBlk {
				kb := min(kcBlk, k-p0)
				packB(bp, nr, transB, b, ldb, p0, j0, kb, nb)
				parallel(mt, func(i int) {
					bufp := packPool.Get().(*[]float32)
					var acc [96]float32
					rows(i, j0, nb, p0, kb, bp, (*bufp)[:mcBlk*kcBlk], &acc)
					packPool.Put(bufp)
				})
			}
		}
		return
	}
	parallel(mt*nt, func(t int) {
		bufp := packPool.Get().(*[]float32)
		buf := *bufp
		ap, bp := buf[:mcBlk*kcBlk], buf[mcBlk*kcBlk:]
		var acc [96]float32
		i := t / nt
		j0 := (t % nt) * ncBlk
		nb := min(ncBlk, n-j0)
		for p0 := 0; p0 < k; p0 += kcBlk {
			kb := min(kcBlk, k-p0)
			packB(bp, nr, transB, b, ldb, p0, j0, kb, nb)
			rows(i, j0, nb, p0, kb, bp, ap, &acc)
		}
		packPool.Put(bufp)
	})
}

// store writes the valid rows×cols part of an accumulated tile (row
// stride nr) into c as alpha·acc + beta·c (c not read when beta is 0).
func store(acc []float32, nr int, alpha, beta float32, c []float32, ldc, rows, cols int) {
	for r := 0; r < rows; r++ {
		row := c[r*ldc : r*ldc+cols]
		ar := acc[r*nr : r*nr+cols]
		if beta == 0 {
			for j := range row {
				row[j] = alpha * ar[j]
			}
		} else {
			for j := range row {
				row[j] = alpha*ar[j] + beta*row[j]
			}
		}
	}
}

// parallel runs f(0..n-1) on up to Threads() goroutines.
func parallel(n int, f func(int)) {
	w := min(Threads(), n)
	if w <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	wg.Add(w)
	for g := 0; g < w; g++ {
		go func() {
			defer wg.Done()
			for {
				t := int(next.Add(1)) - 1
				if t >= n {
					return
				}
				f(t)
			}
		}()
	}
	wg.Wait()
}

// packA copies op(A)[i0:i0+mb, p0:p0+kb] into mr-row panels: panel q holds,
// for each p, the mr values of rows q·mr.. (zero-padded past mb).
func packA(dst []float32, mr int, trans bool, a []float32, lda, i0, p0, mb, kb int) {
	for ii := 0; ii < mb; ii += mr {
		pan := dst[(ii/mr)*kb*mr : (ii/mr+1)*kb*mr]
		rows := min(mr, mb-ii)
		if trans && rows == mr {
			for p := 0; p < kb; p++ {
				copy(pan[p*mr:p*mr+mr], a[(p0+p)*lda+i0+ii:])
			}
			continue
		}
		if !trans && rows == mr && mr == 6 {
			base := (i0+ii)*lda + p0
			r0, r1, r2 := a[base:base+kb], a[base+lda:base+lda+kb], a[base+2*lda:base+2*lda+kb]
			r3, r4, r5 := a[base+3*lda:base+3*lda+kb], a[base+4*lda:base+4*lda+kb], a[base+5*lda:base+5*lda+kb]
			for p := range r0 {
				d := pan[p*6 : p*6+6 : p*6+6]
				d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
			}
			continue
		}
		for r := 0; r < mr; r++ {
			if r >= rows {
				for p := 0; p < kb; p++ {
					pan[p*mr+r] = 0
				}
				continue
			}
			i := i0 + ii + r
			if trans {
				for p := 0; p < kb; p++ {
					pan[p*mr+r] = a[(p0+p)*lda+i]
				}
			} else {
				row := a[i*lda+p0 : i*lda+p0+kb]
				for p, v := range row {
					pan[p*mr+r] = v
				}
			}
		}
	}
}

// packB copies op(B)[p0:p0+kb, j0:j0+nb] into nr-column panels: panel q
// holds, for each p, the nr values of columns q·nr.. (zero-padded).
func packB(dst []float32, nr int, trans bool, b []float32, ldb, p0, j0, kb, nb int) {
	for jj := 0; jj < nb; jj += nr {
		pan := dst[(jj/nr)*kb*nr : (jj/nr+1)*kb*nr]
		cols := min(nr, nb-jj)
		if !trans && cols == nr {
			for p := 0; p < kb; p++ {
				copy(pan[p*nr:p*nr+nr], b[(p0+p)*ldb+j0+jj:])
			}
			continue
		}
		if trans && cols == nr && nr == 16 {
			// 16 source rows read in step, the panel written in order.
			var src [16][]float32
			for cc := range src {
				j := j0 + jj + cc
				src[cc] = b[j*ldb+p0 : j*ldb+p0+kb]
			}
			for p := 0; p < kb; p++ {
				d := pan[p*16 : p*16+16 : p*16+16]
				for cc := range d {
					d[cc] = src[cc][p]
				}
			}
			continue
		}
		for cc := 0; cc < nr; cc++ {
			if cc >= cols {
				for p := 0; p < kb; p++ {
					pan[p*nr+cc] = 0
				}
				continue
			}
			j := j0 + jj + cc
			if trans {
				row := b[j*ldb+p0 : j*ldb+p0+kb]
				for p, v := range row {
					pan[p*nr+cc] = v
				}
			} else {
				for p := 0; p < kb; p++ {
					pan[p*nr+cc] = b[(p0+p)*ldb+j]
				}
			}
		}
	}
}

// kernel4x4 accumulates a 4×4 tile over kb into acc (row stride 4).
func kernel4x4(kb int, ap, bp []float32, acc *[96]float32) {
	var c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33 float32
	ap = ap[:kb*4]
	bp = bp[:kb*4]
	for p := 0; p < len(ap); p += 4 {
		a := ap[p : p+4 : p+4]
		b := bp[p : p+4 : p+4]
		a0, a1, a2, a3 := a[0], a[1], a[2], a[3]
		b0, b1, b2, b3 := b[0], b[1], b[2], b[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	*(*[16]float32)(acc[:16]) = [16]float32{c00, c01, c02, c03, c10, c11, c12, c13, c20, c21, c22, c23, c30, c31, c32, c33}
}
