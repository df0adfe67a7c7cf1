/*
 * Processes vs threads: CPU-bound work over processes, I/O-bound over threads.
 *
 * The asyncio program it mirrors (SCENARIOS #16):
 *
 *     def count_primes(lo, hi): ...         # pure CPU
 *     def slow_io(): time.sleep(0.2)        # a blocking wait
 *
 *     async def main():
 *         loop = asyncio.get_running_loop()
 *         with ProcessPoolExecutor() as pool:
 *             counts = await asyncio.gather(*(
 *                 loop.run_in_executor(pool, count_primes, lo, hi)
 *                 for lo, hi in chunks))
 *         await asyncio.gather(*(asyncio.to_thread(slow_io)
 *                                for _ in range(8)))
 *
 * What to observe: the eight prime-counting chunks take about 1/CPUs of
 * the sequential time in the process pool (workers are fork()ed processes; a
 * call passes bytes in and bytes out, and names its function).  Unlike
 * Python, C has no GIL, so a thread pool runs the same CPU work in
 * parallel too (third line); processes are for isolation (a crash kills a
 * worker, not the program: see the last line) more than for speed.  Eight
 * blocking 0.2 s waits overlap in a pool of 8 threads: about 0.2 s, not
 * 1.6 s.  Timings vary with the machine's load.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cio.h>

#define LIMIT 2000000
#define CHUNKS 8 /* more chunks than workers: later ones cost more */

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t count_primes(int64_t lo, int64_t hi)
{
    int64_t n = 0;
    for (int64_t v = lo < 2 ? 2 : lo; v < hi; v++) {
        int prime = 1;
        for (int64_t d = 2; d * d <= v; d++)
            if (v % d == 0) {
                prime = 0;
                break;
            }
        n += prime;
    }
    return n;
}

/* ---- the same work as a process-pool function (bytes in, bytes out) ---- */

static int primes_proc(const void *in, size_t inlen, void **out, size_t *outlen)
{
    int64_t range[2], n;
    if (inlen != sizeof range)
        return -EINVAL;
    memcpy(range, in, sizeof range);
    n = count_primes(range[0], range[1]);
    *out = malloc(sizeof n);
    memcpy(*out, &n, sizeof n);
    *outlen = sizeof n;
    return 0;
}

static int crash_proc(const void *in, size_t inlen, void **out, size_t *outlen)
{
    raise(SIGSEGV); /* a bug in the worker */
    return 0;
}

/* ... and as a thread function (pointers in and out). */
static int primes_thread(void *arg, void **result)
{
    int64_t *range = arg;
    range[2] = count_primes(range[0], range[1]);
    return 0;
}

static int slow_io(void *arg, void **result)
{
    struct timespec t = {0, 200 * 1000 * 1000};
    nanosleep(&t, NULL);
    return 0;
}

/* ---- tasks that each run one chunk ------------------------------------- */

struct job {
    cio_process_pool *pool;    /* NULL: run in a thread */
    cio_executor *ex;
    int64_t range[3];          /* lo, hi, result */
};

static int chunk_task(void *arg, void **result)
{
    struct job *j = arg;
    if (!j->pool)
        return cio_run_in_executor(j->ex, primes_thread, j->range, NULL);
    void *out = NULL;
    int rc = cio_process_pool_call(j->pool, "primes", j->range, 2 * sizeof(int64_t), &out, NULL);
    if (rc == 0)
        memcpy(&j->range[2], out, sizeof(int64_t));
    cio_free(out);
    return rc;
}

static int64_t run_chunks(cio_process_pool *pool, cio_executor *ex)
{
    struct job jobs[CHUNKS];
    cio_task *t[CHUNKS];
    for (int i = 0; i < CHUNKS; i++) {
        jobs[i] = (struct job){pool, ex, {(int64_t)LIMIT * i / CHUNKS,
                                          (int64_t)LIMIT * (i + 1) / CHUNKS, 0}};
        cio_create_task(chunk_task, &jobs[i], NULL, &t[i]);
    }
    int64_t total = 0;
    for (int i = 0; i < CHUNKS; i++) {
        if (cio_task_await(t[i], NULL) == 0)
            total += jobs[i].range[2];
        cio_task_unref(t[i]);
    }
    return total;
}

static int io_task(void *arg, void **result)
{
    return cio_run_in_executor(arg, slow_io, NULL, NULL);
}

static int main_task(void *arg, void **result)
{
    static const cio_process_fn_entry fns[] = {{"primes", primes_proc}, {"crash", crash_proc}};
    cio_process_pool *pool;
    int rc = cio_process_pool_new(0, fns, 2, &pool);
    if (rc < 0) {
        printf("process pool: %s\n", cio_strerror(rc));
        return rc;
    }
    cio_executor *ex;
    cio_executor_new(0, &ex);

    double t0 = now();
    int64_t seq = count_primes(0, LIMIT);
    double t_seq = now() - t0;
    printf("CPU, sequential on the loop: %lld primes below %d in %.3f s (the loop was blocked)\n",
           (long long)seq, LIMIT, t_seq);

    t0 = now();
    int64_t procs = run_chunks(pool, NULL);
    double t_proc = now() - t0;
    printf("CPU, %d chunks in %zu processes: %lld primes in %.3f s (%.1fx)\n", CHUNKS,
           cio_process_pool_pids(pool, NULL, 0), (long long)procs, t_proc, t_seq / t_proc);

    t0 = now();
    int64_t threads = run_chunks(NULL, ex);
    double t_thr = now() - t0;
    printf("CPU, %d chunks in threads:  %lld primes in %.3f s (%.1fx; C has no GIL)\n", CHUNKS,
           (long long)threads, t_thr, t_seq / t_thr);

    t0 = now();
    /* The default pool (cio_to_thread) has min(32, CPUs + 4) threads, as
     * Python's: on a small machine 8 waits would take two rounds. */
    cio_executor *io_ex;
    cio_executor_new(8, &io_ex);
    cio_task *io[8];
    for (int i = 0; i < 8; i++)
        cio_create_task(io_task, io_ex, NULL, &io[i]);
    for (int i = 0; i < 8; i++) {
        cio_task_await(io[i], NULL);
        cio_task_unref(io[i]);
    }
    printf("I/O, 8 blocking waits of 0.2 s in 8 threads: %.3f s\n", now() - t0);
    cio_executor_free(io_ex);

    rc = cio_process_pool_call(pool, "crash", NULL, 0, NULL, NULL);
    printf("a worker that crashes: %s; the pool still has %zu workers\n", cio_strerror(rc),
           cio_process_pool_pids(pool, NULL, 0));

    cio_executor_free(ex);
    cio_process_pool_free(pool);
    return seq == procs && seq == threads ? 0 : -EIO;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) == 0 ? 0 : 1;
}
