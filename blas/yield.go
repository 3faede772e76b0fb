package blas

import (
	"runtime"
	"sync/atomic"
	"time"
)

// yieldEvery is how often the products give the Go scheduler a turn
// (yield): well inside the 10 ms after which Go's sysmon treats a
// goroutine that has not been through the scheduler as running too long.
const yieldEvery = 2 * time.Millisecond

var (
	clockStart = time.Now()
	lastYield  atomic.Int64 // clockStart-relative nanoseconds of the last yield
)

// yield calls runtime.Gosched when no product has for yieldEvery. A
// goroutine that runs products back to back never passes through the
// scheduler on its own (a cgo call does not count), so after 10 ms Go's
// sysmon retakes its P during every cgo call, every 20 µs, and wakes
// another thread to hold it: about three context switches per generated
// token's product on 2 cores, each preempting a thread of the product.
// Measured, Q4 2560×2560 on 2 threads, 20,000 calls: 157 µs and 3.4
// switches a call before this yield and the thread pool (pool.h), 107 µs
// and 0.27 with both. The clock is one for all goroutines: with several
// calling at once some may still go 10 ms without a turn, costing speed
// only.
func yield() {
	now := int64(time.Since(clockStart))
	if now-lastYield.Load() < int64(yieldEvery) {
		return
	}
	lastYield.Store(now)
	runtime.Gosched()
}
