package vector

import (
	"fmt"
	"io"
	"math/bits"
	"sync"
)

const (
	hnswMagic   = "KMVH"
	hnswVersion = 1
)

// WriteTo writes the graph (not the vectors: save the Flat beside it):
// magic "KMVH", version 1, the parameters, the dimension, the row count,
// entry point and top level, then each row's level (one byte), the
// in-graph bitset, the layer-0 links (a count and 2M slots a row, uint32),
// the upper layers' links of the rows above layer 0, and a CRC-32C. At M 16
// that is about 138 bytes a row: 13.8 MB for 100,000 rows.
func (h *HNSW) WriteTo(w io.Writer) (int64, error) {
	e := newEncoder(w)
	e.bytes([]byte(hnswMagic))
	e.u32(hnswVersion)
	e.u32(uint32(h.p.M))
	e.u32(uint32(h.p.EfConstruction))
	e.u32(uint32(h.p.EfSearch))
	e.u32(uint32(int32(h.p.FlatCutoff)))
	e.u64(uint64(h.p.Seed))
	e.u32(uint32(h.f.dim))
	e.u64(uint64(len(h.level)))
	e.u64(uint64(h.entry + 1))
	e.u32(uint32(h.top))
	e.u64(uint64(h.count))
	lv := make([]byte, len(h.level))
	for i, l := range h.level {
		lv[i] = byte(l)
	}
	e.bytes(lv)
	for _, w := range h.added.w {
		e.u64(w)
	}
	e.u32s(h.links0)
	for _, u := range h.upper {
		e.u32s(u)
	}
	return e.finish()
}

// ReadHNSW reads a graph written by WriteTo over f, the Flat it was built
// on (or that Flat with rows added since: AddAll then adds them to the
// graph). It reads exactly the graph's bytes from r. Truncated input, a
// checksum mismatch, links out of range and a Flat with another dimension
// or fewer rows are errors.
func ReadHNSW(r io.Reader, f *Flat) (*HNSW, error) {
	d := newDecoder(r, "HNSW graph")
	if err := d.header(hnswMagic, hnswVersion); err != nil {
		return nil, err
	}
	var hdr [12]uint64
	for j := range hdr {
		var err error
		if j == 4 || j == 6 || j == 7 || j == 9 {
			hdr[j], err = d.u64("header")
		} else {
			var v uint32
			v, err = d.u32("header")
			hdr[j] = uint64(v)
		}
		if err != nil {
			return nil, err
		}
		if j == 9 {
			break
		}
	}
	p := HNSWParams{M: int(hdr[0]), EfConstruction: int(hdr[1]), EfSearch: int(hdr[2]), FlatCutoff: int(int32(hdr[3])), Seed: int64(hdr[4])}
	dim, rows, entry, top, count := int(hdr[5]), hdr[6], int64(hdr[7])-1, int(hdr[8]), hdr[9]
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("vector: corrupt HNSW graph: "+format, a...)
	}
	if p.M < 2 || p.M > 1<<12 || p.EfConstruction < 1 || p.EfSearch < 1 {
		return nil, corrupt("parameters %+v", p)
	}
	if dim != f.dim {
		return nil, fmt.Errorf("vector: HNSW graph of dimension %d, the Flat has %d", dim, f.dim)
	}
	if rows > uint64(f.Len()) {
		return nil, fmt.Errorf("vector: HNSW graph of %d rows, the Flat has %d", rows, f.Len())
	}
	n := int(rows)
	if count > rows || entry >= int64(n) || top > maxLevel || (entry < 0) != (count == 0) {
		return nil, corrupt("%d rows, %d in the graph, entry %d, top level %d", n, count, entry, top)
	}
	h := NewHNSW(f, p)
	h.entry, h.top, h.count = int(entry), top, int(count)
	lv := make([]byte, n)
	if err := d.full(lv, "levels"); err != nil {
		return nil, err
	}
	h.level = make([]int8, n)
	h.upper = make([][]uint32, n)
	upperLen := 0
	for i, l := range lv {
		if l > maxLevel {
			return nil, corrupt("row %d at level %d", i, l)
		}
		h.level[i] = int8(l)
		upperLen += int(l) * (p.M + 1)
	}
	h.added = NewBitset(n)
	added := 0
	for j := range h.added.w {
		w, err := d.u64("in-graph set")
		if err != nil {
			return nil, err
		}
		h.added.w[j] = w
		added += bits.OnesCount64(w)
	}
	if r := uint(n) & 63; r != 0 && h.added.w[len(h.added.w)-1]>>r != 0 || added != int(count) {
		return nil, corrupt("in-graph set of %d rows, header says %d", added, count)
	}
	var err error
	if h.links0, err = d.u32s(make([]uint32, 0, n*(h.m0+1)), n*(h.m0+1), "layer-0 links"); err != nil {
		return nil, err
	}
	flat, err := d.u32s(make([]uint32, 0, upperLen), upperLen, "upper-layer links")
	if err != nil {
		return nil, err
	}
	if err := d.check(); err != nil {
		return nil, err
	}
	for i, l := range h.level {
		if l > 0 {
			k := int(l) * (p.M + 1)
			h.upper[i], flat = flat[:k:k], flat[k:]
		}
	}
	if entry >= 0 && (int(h.level[entry]) != top || !h.added.Has(int(entry))) {
		return nil, corrupt("entry row %d at level %d, top level %d", entry, h.level[entry], top)
	}
	for i := 0; i < n; i++ {
		for l := 0; l <= int(h.level[i]); l++ {
			s := h.slot(i, l)
			if int(s[0]) > len(s)-1 || (s[0] > 0 && !h.added.Has(i)) {
				return nil, corrupt("row %d has %d links on layer %d", i, s[0], l)
			}
			for _, o := range s[1 : 1+s[0]] {
				if int(o) >= n || int(h.level[o]) < l || !h.added.Has(int(o)) {
					return nil, corrupt("row %d links to row %d on layer %d", i, o, l)
				}
			}
		}
	}
	h.locks = make([]sync.Mutex, n)
	return h, nil
}
