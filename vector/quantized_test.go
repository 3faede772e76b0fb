package vector

import (
	"strings"
	"testing"
)

func TestQuantizedMatchesExact(t *testing.T) {
	data, queries := clustered(11, 6000, 60, 384, 100, 0.8)
	f := flatOf(t, 384, data[:5000])
	allow := NewBitset(6000)
	for i := 0; i < 6000; i += 3 {
		allow.Set(i)
	}
	for _, kind := range []string{"int8", "bf16"} {
		q, err := Quantize(f, kind)
		if err != nil {
			t.Fatal(err)
		}
		// Rows added through the Quantized, and rows added to the Flat then Synced.
		if _, err := q.Add(data[5000:5500]...); err != nil {
			t.Fatal(err)
		}
		f.Add(data[5500:]...)
		q.Sync()
		if q.Len() != 6000 {
			t.Fatalf("%s: %d rows encoded", kind, q.Len())
		}
		want := map[string]int64{"int8": 6000 * (384 + 4), "bf16": 6000 * 384 * 2}[kind]
		if q.Bytes() != want {
			t.Errorf("%s: %d bytes, want %d", kind, q.Bytes(), want)
		}
		for i, query := range queries {
			sameResults(t, kind, q.Search(query, 10, nil), f.Search(query, 10, nil))
			if i%4 == 0 {
				sameResults(t, kind+" filtered", q.Search(query, 10, allow), f.Search(query, 10, allow))
			}
		}
		// Back to the Flat's first 5,000 rows for the next kind.
		f = flatOf(t, 384, data[:5000])
	}
	if _, err := Quantize(f, "int4"); err == nil || !strings.Contains(err.Error(), `unknown quantisation "int4"`) {
		t.Fatalf("int4: err %v", err)
	}
}

func TestQuantizedSmall(t *testing.T) {
	// Odd dimension and row counts exercise the kernels' tails; k beyond
	// the rows returns them all, in exact order.
	data, queries := clustered(12, 37, 5, 13, 4, 0.5)
	f := flatOf(t, 13, data)
	for _, kind := range []string{"int8", "bf16"} {
		q, _ := Quantize(f, kind)
		q.Oversample = 1
		for _, query := range queries {
			sameResults(t, kind, q.Search(query, 50, nil), naive(f, query, 50, nil))
			if r := q.Search(query, 0, nil); r != nil {
				t.Fatalf("k=0: %v", r)
			}
			if r := q.Search(query, 3, NewBitset(37)); r != nil {
				t.Fatalf("nothing allowed: %v", r)
			}
		}
	}
}
