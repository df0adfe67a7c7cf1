/*
 * Resource cleanup: a lock is always released, even if its holder is cancelled.
 *
 * The asyncio program it mirrors:
 *
 *     lock = asyncio.Lock()
 *
 *     async def worker(name, seconds):
 *         async with lock:                      # acquired ...
 *             buf = bytearray(4096)             # ... and a resource
 *             try:
 *                 await asyncio.sleep(seconds)  # the work
 *             finally:
 *                 await flush(buf)              # cleanup that awaits
 *                 print(name, "cleaned up")
 *         # ... released here, however the block was left
 *
 *     async def main():
 *         slow = asyncio.create_task(worker("slow", 10))
 *         await asyncio.sleep(0.1)
 *         quick = asyncio.create_task(worker("quick", 0.05))  # waits
 *         slow.cancel()
 *         await asyncio.gather(slow, quick, return_exceptions=True)
 *         print("lock held at the end:", lock.locked())
 *
 * What to observe: "slow" is cancelled in the middle of its work, yet its
 * cleanup runs to the end (the flush, which itself waits, runs inside a
 * shield, so the cancellation does not cut it short) and only then is the
 * lock released; "quick", waiting in acquire all along, gets the lock
 * right after and finishes normally.  The lock is free at the end and the
 * buffers are freed (run it under ASan: no leak).  C has no "async with":
 * the pattern is acquire, check, do the work, and release on every path;
 * release never suspends, so it cannot be cancelled.  Runs in ~0.2 s.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <cio.h>

struct job {
    const char *name;
    double seconds;   /* how long the work takes */
    cio_lock *lock;   /* shared by both workers */
};

/* Cleanup that must wait (a flush, a close handshake): 10 ms here. */
static int flush(char *buf)
{
    (void)buf;
    return cio_sleep(0.01);
}

static int worker(void *arg, void **result)
{
    struct job *job = arg;
    int rc = cio_lock_acquire(job->lock);            /* async with lock: */
    if (rc < 0) {
        printf("%s: never got the lock (%s)\n", job->name, cio_strerror(rc));
        return rc;                                   /* nothing is held */
    }
    printf("%s: acquired the lock\n", job->name);
    char *buf = malloc(4096);                        /* the resource */
    if (!buf) {
        cio_lock_release(job->lock);
        return -ENOMEM;
    }

    rc = cio_sleep(job->seconds);                    /* the work */
    printf("%s: work ended: %s\n", job->name, rc < 0 ? cio_strerror(rc) : "done");

    /* finally: the task may be cancelled, and cancellation is level-
     * triggered (every wait would fail at once), so cleanup that waits
     * runs shielded. */
    cio_shield_begin();
    int frc = flush(buf);
    cio_shield_end();
    printf("%s: cleaned up (flush: %s)\n", job->name, frc < 0 ? cio_strerror(frc) : "ok");
    free(buf);
    cio_lock_release(job->lock);                     /* never suspends */
    printf("%s: released the lock\n", job->name);
    return rc;                                       /* -ECANCELED: cancelled */
}

static int main_task(void *arg, void **result)
{
    cio_lock *lock;
    int rc = cio_lock_new(NULL, &lock);
    if (rc < 0)
        return rc;
    struct job slow = {"slow", 10.0, lock}, quick = {"quick", 0.05, lock};
    cio_task *ts = NULL, *tq = NULL;
    if ((rc = cio_create_task(worker, &slow, "slow", &ts)) < 0)
        goto out;
    cio_sleep(0.1);
    if ((rc = cio_create_task(worker, &quick, "quick", &tq)) < 0)
        goto out;
    cio_sleep(0);                                    /* quick now waits */
    printf("main: cancelling slow\n");
    cio_task_cancel(ts, NULL);

    int rs = cio_task_await(ts, NULL), rq = cio_task_await(tq, NULL);
    printf("main: slow ended with %s, quick with %s\n", cio_strerror(rs), cio_strerror(rq));
    printf("main: lock held at the end: %s\n", cio_lock_locked(lock) ? "yes" : "no");
    rc = (rs == -ECANCELED && rq == 0 && !cio_lock_locked(lock)) ? 0 : -EPROTO;
out:
    cio_task_unref(ts);
    cio_task_unref(tq);
    cio_lock_free(lock);
    return rc;
}

int main(void)
{
    int rc = cio_run(main_task, NULL, NULL);
    if (rc < 0) {
        fprintf(stderr, "resource_cleanup: %s\n", cio_strerror(rc));
        return 1;
    }
    return 0;
}
