/*
 * Waiting for a set of tasks: first completed, all completed, and timeouts.
 *
 * The asyncio program it mirrors:
 *
 *     async def job(name, delay):
 *         await asyncio.sleep(delay)
 *         return name
 *
 *     async def main():
 *         tasks = [asyncio.create_task(job(n, d)) for n, d in
 *                  (("fast", 0.1), ("medium", 0.3), ("slow", 0.5))]
 *         done, pending = await asyncio.wait(
 *             tasks, return_when=asyncio.FIRST_COMPLETED)
 *         print("first completed:", [t.result() for t in done])
 *         done, pending = await asyncio.wait(tasks, timeout=0.1)
 *         print(len(done), "done,", len(pending), "still pending")
 *         done, pending = await asyncio.wait(tasks)   # ALL_COMPLETED
 *         print("all completed:", [t.result() for t in tasks])
 *
 *         try:
 *             await asyncio.wait_for(job("too slow", 10), timeout=0.2)
 *         except TimeoutError:
 *             print("wait_for timed out; the job was cancelled")
 *
 *         try:
 *             async with asyncio.timeout(0.2):
 *                 await asyncio.sleep(10)
 *         except TimeoutError:
 *             print("the timeout block expired")
 *
 * What to observe: wait() reports which tasks are done (here as a flag per
 * task) and cancels nothing, not even on its timeout; the times printed
 * show each call returning as soon as its condition holds (0.1 s, 0.2 s,
 * 0.5 s).  wait_for() does cancel the job on timeout, and returns only once
 * the job has finished unwinding.  A timeout scope makes every suspension
 * point inside it return -ETIMEDOUT once its deadline passes; its end
 * reports whether it fired.  About 0.9 s in all.
 */
#include <errno.h>
#include <stdio.h>
#include <cio.h>

struct job {
    const char *name;  /* what the job returns */
    double delay;      /* how long it works */
};

static int job(void *arg, void **result)
{
    struct job *j = arg;
    int rc = cio_sleep(j->delay);
    if (rc < 0)
        return rc;
    *result = (void *)j->name;
    return 0;
}

static double t0;

static double elapsed(void) { return cio_loop_time(NULL) - t0; }

static void print_done(const char *what, cio_future **futs, const uint8_t *done, int n)
{
    printf("%4.1fs %s:", elapsed(), what);
    for (int i = 0; i < n; i++) {
        void *name;
        if (done[i] && cio_future_result(futs[i], &name) == 0)
            printf(" %s", (const char *)name);
    }
    printf("\n");
}

static int main_task(void *arg, void **result)
{
    (void)arg;
    (void)result;
    t0 = cio_loop_time(NULL);
    struct job jobs[3] = {{"fast", 0.1}, {"medium", 0.3}, {"slow", 0.5}};
    cio_task *tasks[3];
    cio_future *futs[3];
    uint8_t done[3];
    int n = 0, rc = 0;
    for (; n < 3; n++) {
        if ((rc = cio_create_task(job, &jobs[n], jobs[n].name, &tasks[n])) < 0)
            goto out;
        futs[n] = cio_task_future(tasks[n]);
    }

    /* asyncio.wait(tasks, return_when=FIRST_COMPLETED) */
    if ((rc = cio_wait(futs, 3, CIO_FIRST_COMPLETED, -1, done)) < 0)
        goto out;
    print_done("first completed", futs, done, 3);

    /* asyncio.wait(tasks, timeout=0.1): returns on the timeout, cancels nothing */
    if ((rc = cio_wait(futs, 3, CIO_ALL_COMPLETED, 0.1, done)) < 0)
        goto out;
    printf("%4.1fs %d done, %d still pending\n", elapsed(), rc, 3 - rc);

    /* asyncio.wait(tasks): ALL_COMPLETED */
    if ((rc = cio_wait(futs, 3, CIO_ALL_COMPLETED, -1, done)) < 0)
        goto out;
    print_done("all completed", futs, done, 3);

    /* asyncio.wait_for(job("too slow", 10), timeout=0.2) */
    struct job slow = {"too slow", 10};
    cio_task *t;
    if ((rc = cio_create_task(job, &slow, NULL, &t)) < 0)
        goto out;
    rc = cio_wait_for(cio_task_future(t), 0.2, NULL);
    printf("%4.1fs wait_for: %s; the job %s\n", elapsed(), cio_strerror(rc),
           cio_task_cancelled(t) ? "was cancelled" : "is still running");
    cio_task_unref(t);
    if (rc != -ETIMEDOUT)
        goto out;

    /* async with asyncio.timeout(0.2): await asyncio.sleep(10) */
    cio_timeout *tm;
    if ((rc = cio_timeout_begin(0.2, &tm)) < 0)
        goto out;
    int slept = cio_sleep(10);
    rc = cio_timeout_end(tm);
    printf("%4.1fs sleep(10) in a 0.2 s timeout block: %s; the block %s\n", elapsed(),
           cio_strerror(slept), rc == -ETIMEDOUT ? "expired" : "did not expire");
    rc = 0;
out:
    for (int i = 0; i < n; i++)
        cio_task_unref(tasks[i]);
    return rc;
}

int main(void)
{
    return cio_run(main_task, NULL, NULL) < 0;
}
