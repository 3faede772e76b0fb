//go:build cgo && !nodnnl

package blas

/*
#include <pthread.h>
#include <stdint.h>
#include <time.h>
#include "pool.h"

// poolProbe is a loop for the pool's test: item i adds 1 to hits[i],
// records which thread ran it and spins for spin ns.
typedef struct {
	int32_t *hits;
	uint64_t *thread;
	long spin;
} poolProbe;

static void poolProbeItem(void *ctx, long i) {
	poolProbe *p = ctx;
	__atomic_fetch_add(&p->hits[i], 1, __ATOMIC_RELAXED);
	p->thread[i] = (uint64_t)pthread_self();
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do clock_gettime(CLOCK_MONOTONIC, &t);
	while ((t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < p->spin);
}

static void poolProbeRun(int nt, long n, int32_t *hits, uint64_t *thread, long spin) {
	poolProbe p = {hits, thread, spin};
	kormed_pool_run(nt, n, poolProbeItem, &p);
}
*/
import "C"

import "unsafe"

// PoolRun is the address of pool.h's kormed_pool_run, for other packages'
// C kernels (nn's) to share the one pool: nil in builds without it.
func PoolRun() unsafe.Pointer { return unsafe.Pointer(C.kormed_pool_run) }

// poolProbe runs n items of spinNs each through the pool on nt threads:
// how often each item ran, and the thread that ran it (for the tests).
func poolProbe(nt, n int, spinNs int64) (hits []int32, threads []uint64) {
	hits, threads = make([]int32, n+1), make([]uint64, n+1) // +1: never empty
	C.poolProbeRun(C.int(nt), C.long(n), (*C.int32_t)(unsafe.Pointer(&hits[0])), (*C.uint64_t)(unsafe.Pointer(&threads[0])), C.long(spinNs))
	return hits[:n], threads[:n]
}
