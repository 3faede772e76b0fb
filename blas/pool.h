// pool.h: kormed's own thread pool for short parallel loops (pool.c).
//
// Why not OpenMP for these: libgomp keeps one thread pool per OS thread
// that starts a parallel region, and Go calls C from whichever OS thread
// runs the goroutine, so a Go process collects several pools. Once
// libgomp manages more threads than the machine has CPUs it "throttles":
// a thread waiting at a barrier or for the next region spins about 100
// times, not about 300,000, before it sleeps in the kernel, so every
// region pays two futex wake-ups. A product of a generated token (one
// row of input, 0.1–1 ms) lost a third of its time to that: 2 threads,
// Q4 2560×2560, 101 µs from a C program against 147 µs with one idle
// second pool present (the same as called from Go). This pool is one per
// process whichever thread calls it; its workers spin about 2 ms for the
// next loop before they sleep.
#ifndef KORMED_POOL_H
#define KORMED_POOL_H

// kp_body runs item i of a loop with the caller's context.
typedef void (*kp_body)(void *ctx, long i);

// kormed_pool_run runs body(ctx, i) for every i in [0, n) on up to nt
// threads, the caller's included, handing the items out one at a time,
// and returns when all have run. While another thread's loop holds the
// pool (or with nt ≤ 1) the caller runs the items itself, in order.
void kormed_pool_run(int nt, long n, kp_body body, void *ctx);

#endif
