//go:build cgo && !nodnnl

// The thread pool of pool.h. One loop at a time: a generation counter
// (also the futex word the sleeping workers wait on) announces it, the
// items are handed out by an atomic counter, and the caller waits until
// every worker taking part has reported back.
#include "pool.h"

#include <immintrin.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

enum { maxWorkers = 255 };

// spinNs is how long a worker spins for the next loop before it sleeps:
// a generated token's products follow one another within microseconds
// (with Go's norms and attention between), a token's within a
// millisecond; as long as libgomp's default spin.
static const long spinNs = 2000000;

static struct {
	_Atomic unsigned gen;  // loop number: the futex word
	_Atomic int sleepers;  // workers in futex_wait
	_Atomic int busy;      // a loop holds the pool
	_Atomic long next;     // the loop's next item
	_Atomic int pending;   // workers of the loop not yet done
	kp_body body;
	void *ctx;
	long n;
	int nt;       // threads of the loop, the caller's included
	int workers;  // started (guarded by busy)
} P;

static long nowNs(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000L + t.tv_nsec;
}

static void runItems(void) {
	long i;
	while ((i = atomic_fetch_add_explicit(&P.next, 1, memory_order_relaxed)) < P.n) P.body(P.ctx, i);
}

// worker is thread id (1…) of the pool; gen0 is the loop number when it
// was started, before the loop that needs it is announced.
typedef struct {
	int id;
	unsigned gen0;
} wstart;

static void *worker(void *arg) {
	wstart s = *(wstart *)arg;
	free(arg);
	unsigned seen = s.gen0;
	for (;;) {
		unsigned g;
		long deadline = nowNs() + spinNs;
		int spins = 0;
		while ((g = atomic_load_explicit(&P.gen, memory_order_acquire)) == seen) {
			if (++spins < 256) {
				_mm_pause();
				continue;
			}
			spins = 0;
			if (nowNs() < deadline) continue;
			atomic_fetch_add(&P.sleepers, 1);
			syscall(SYS_futex, &P.gen, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
			atomic_fetch_sub(&P.sleepers, 1);
			deadline = nowNs() + spinNs;
		}
		seen = g;
		if (s.id < P.nt) {
			runItems();
			atomic_fetch_sub_explicit(&P.pending, 1, memory_order_release);
		}
	}
	return NULL;
}

// grow starts workers up to want (the pool is held); it returns how many
// there are.
static int grow(int want) {
	if (want > maxWorkers) want = maxWorkers;
	while (P.workers < want) {
		wstart *s = malloc(sizeof *s);
		if (!s) break;
		s->id = P.workers + 1;
		s->gen0 = atomic_load(&P.gen);
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 1 << 20);
		int err = pthread_create(&t, &a, worker, s);
		pthread_attr_destroy(&a);
		if (err) {
			free(s);
			break;
		}
		P.workers++;
	}
	return P.workers;
}

void kormed_pool_run(int nt, long n, kp_body body, void *ctx) {
	if (n <= 0) return;
	if (nt > n) nt = (int)n;
	int idle = 0;
	if (nt <= 1 || !atomic_compare_exchange_strong(&P.busy, &idle, 1)) {
		for (long i = 0; i < n; i++) body(ctx, i);
		return;
	}
	int w = grow(nt - 1);
	if (nt - 1 > w) nt = w + 1;
	P.body = body, P.ctx = ctx, P.n = n, P.nt = nt;
	atomic_store_explicit(&P.next, 0, memory_order_relaxed);
	atomic_store_explicit(&P.pending, nt - 1, memory_order_relaxed);
	atomic_fetch_add(&P.gen, 1); // publishes the loop (sequentially consistent: before sleepers is read)
	if (atomic_load(&P.sleepers) > 0) syscall(SYS_futex, &P.gen, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
	runItems();
	for (long spins = 0; atomic_load_explicit(&P.pending, memory_order_acquire) > 0; spins++) {
		if (spins < 1 << 16)
			_mm_pause();
		else
			sched_yield(); // a worker was descheduled: let it finish
	}
	atomic_store_explicit(&P.busy, 0, memory_order_release);
}
