package par

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

func TestForCallsEachIndexOnce(t *testing.T) {
	for _, workers := range []int{0, 1, 2, 7} {
		for _, n := range []int{0, 1, 15, 16, 17, 1000} {
			seen := make([]int32, n)
			if err := For(context.Background(), workers, n, func(i int) { atomic.AddInt32(&seen[i], 1) }); err != nil {
				t.Fatal(err)
			}
			for i, c := range seen {
				if c != 1 {
					t.Fatalf("workers %d n %d: index %d called %d times", workers, n, i, c)
				}
			}
		}
	}
}

func TestForStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var calls int32
	err := For(ctx, 1, 1000, func(int) { atomic.AddInt32(&calls, 1) })
	if !errors.Is(err, context.Canceled) || calls != 0 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
}
