/*
 * to_thread.c - the loop side of the thread pool: a task submits a work
 * item and parks; the worker posts the outcome to the loop's done list and
 * kicks the loop once through cio_call_soon_threadsafe; the delivery
 * callback wakes the tasks (or frees what cancelled callers abandoned).
 *
 * Divided into: the per-loop state (a loop extension, which also records
 * the loop's default executor if one was set), posting and delivery, the
 * suspension point itself, and loop close.
 *
 * The default executor is one pool for the whole process
 * (cio__default_executor, pool.c), not one per loop: N loops in N threads
 * share its min(32, CPUs + 4) threads, as Python's loops share nothing
 * but would need N pools.  Each work item still reports to the loop that
 * submitted it, and a loop's close waits only for its own items.
 *
 * Why a done list instead of one call_soon_threadsafe per item: a burst
 * of results costs one wake-up, and a result never needs an allocation in
 * the worker that could fail after fn already ran (only the kick
 * allocates, and it is retried).  The kick is made while holding the
 * list's lock, so loop close, which waits on that lock until no work is in
 * flight, can never free the loop under a worker still touching it.
 */
#define _GNU_SOURCE
#include <time.h>

#include "exec.h"

static const char exec_key; /* identifies our loop extension */

/* ---- per-loop state -------------------------------------------------------- */

static void exec_loop_close(cio_loop *loop, struct cio__loop_ext *ext);

static struct cio__exec_loop *exec_loop_get(cio_loop *loop)
{
    struct cio__loop_ext *e = cio__loop_ext_find(loop, &exec_key);
    if (e)
        return (struct cio__exec_loop *)e;
    struct cio__exec_loop *xl = cio__calloc(1, sizeof *xl);
    if (!xl)
        return NULL;
    xl->ext.key = &exec_key;
    xl->ext.rank = CIO__EXT_EXEC;
    xl->ext.on_close = exec_loop_close;
    xl->loop = loop;
    pthread_mutex_init(&xl->lock, NULL);
    pthread_cond_init(&xl->idle, NULL);
    xl->done_tailp = &xl->done;
    cio__loop_ext_add(loop, &xl->ext);
    return xl;
}

static void works_link(struct cio__exec_loop *xl, struct cio__work *w)
{
    w->oprev = NULL;
    w->onext = xl->works;
    if (xl->works)
        xl->works->oprev = w;
    xl->works = w;
}

static void works_unlink(struct cio__exec_loop *xl, struct cio__work *w)
{
    if (w->oprev)
        w->oprev->onext = w->onext;
    else
        xl->works = w->onext;
    if (w->onext)
        w->onext->oprev = w->oprev;
    w->oprev = w->onext = NULL;
}

/* An abandoned work is finished with: let its owner free what it owns. */
static void work_drop(struct cio__exec_loop *xl, struct cio__work *w, int rc, void *result)
{
    works_unlink(xl, w);
    cio_loop_work_end(xl->loop);
    if (w->discard)
        w->discard(w->arg, rc, result);
    cio__free(w);
}

/* ---- posting and delivery ------------------------------------------------ */

static void deliver(void *arg);

void cio__work_post(struct cio__work *w)
{
    struct cio__exec_loop *xl = w->xl;
    pthread_mutex_lock(&xl->lock);
    w->posted = 1;
    w->next = NULL;
    *xl->done_tailp = w;
    xl->done_tailp = &w->next;
    xl->ninflight--;
    if (!xl->kick_pending) {
        xl->kick_pending = 1;
        /* The loop cannot close meanwhile: its close waits for this lock
         * and for ninflight == 0.  Only an allocation can fail here. */
        for (;;) {
            int rc = cio_call_soon_threadsafe(xl->loop, deliver, xl);
            if (rc != -ENOMEM)
                break;
            struct timespec ms = {0, 1000000};
            nanosleep(&ms, NULL);
        }
    }
    if (xl->ninflight == 0)
        pthread_cond_broadcast(&xl->idle);
    pthread_mutex_unlock(&xl->lock);
}

/* On the loop: hands every posted outcome to its task. */
static void deliver(void *arg)
{
    struct cio__exec_loop *xl = arg;
    pthread_mutex_lock(&xl->lock);
    struct cio__work *w = xl->done;
    xl->done = NULL;
    xl->done_tailp = &xl->done;
    xl->kick_pending = 0;
    pthread_mutex_unlock(&xl->lock);
    while (w) {
        struct cio__work *next = w->next;
        w->next = NULL;
        if (w->task) {
            works_unlink(xl, w);
            cio_loop_work_end(xl->loop);
            cio__wake(w->task, 0); /* the task reads and frees w */
        } else {
            work_drop(xl, w, w->rc, w->result);
        }
        w = next;
    }
}

/* ---- the suspension point -------------------------------------------------- */

/* The caller is cancelled or timed out: abandon the work, return at once. */
static void work_interrupt(cio_task *t, int code)
{
    struct cio__work *w = t->wait_obj;
    struct cio__exec_loop *xl = w->xl;
    w->task = NULL;
    /* A posted work is off its executor's queue, and that executor may
     * already be freed (shut down with CIO_SHUTDOWN_CANCEL_FUTURES, then freed): do not
     * look there. */
    pthread_mutex_lock(&xl->lock);
    int posted = w->posted;
    pthread_mutex_unlock(&xl->lock);
    if (!posted && cio__executor_unqueue(w->ex, w)) {
        /* It never started: nothing will post it. */
        pthread_mutex_lock(&xl->lock);
        xl->ninflight--;
        pthread_mutex_unlock(&xl->lock);
        work_drop(xl, w, -ECANCELED, NULL);
    }
    /* Otherwise it runs or ran; deliver() drops it when it arrives. */
    cio__wake(t, code);
}

int cio_run_in_executor_discard(cio_executor *ex, cio_thread_fn *fn, void *arg, void **result,
                                cio_discard_fn *on_discard)
{
    if (result)
        *result = NULL;
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    if (!fn)
        return cio__bad_arg(loop, __func__, "fn is NULL");
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    struct cio__exec_loop *xl = exec_loop_get(loop);
    if (!xl)
        return -ENOMEM;
    if (!ex)
        ex = xl->default_ex ? xl->default_ex : cio__default_executor();
    struct cio__work *w = cio__calloc(1, sizeof *w);
    if (!w)
        return -ENOMEM;
    w->ex = ex;
    w->xl = xl;
    w->fn = fn;
    w->arg = arg;
    w->discard = on_discard;
    w->task = t;
    works_link(xl, w);
    pthread_mutex_lock(&xl->lock);
    xl->ninflight++;
    pthread_mutex_unlock(&xl->lock);
    cio_loop_work_begin(loop); /* no CIO_ESTALLED while it is in flight */
    rc = cio__executor_submit(ex, w);
    if (rc < 0) {
        pthread_mutex_lock(&xl->lock);
        xl->ninflight--;
        pthread_mutex_unlock(&xl->lock);
        w->discard = NULL; /* failed before queueing: the caller keeps arg */
        work_drop(xl, w, rc, NULL);
        return rc;
    }
    rc = cio__park(t, work_interrupt, w);
    if (rc)
        return rc; /* interrupted: w now belongs to deliver() */
    rc = w->rc;
    if (result)
        *result = w->result;
    cio__free(w);
    return rc;
}

int cio_run_in_executor(cio_executor *ex, cio_thread_fn *fn, void *arg, void **result)
{
    return cio_run_in_executor_discard(ex, fn, arg, result, NULL);
}

int cio_to_thread(cio_thread_fn *fn, void *arg, void **result)
{
    return cio_run_in_executor_discard(NULL, fn, arg, result, NULL);
}

int cio_loop_set_default_executor(cio_loop *loop, cio_executor *ex)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (loop->closed)
        return CIO_ECLOSED;
    int rc = cio__check_thread(loop, __func__);
    if (rc)
        return rc;
    struct cio__exec_loop *xl = exec_loop_get(loop);
    if (!xl)
        return -ENOMEM;
    xl->default_ex = ex; /* not owned: its calls in flight are in works */
    return 0;
}

/* ---- loop close ------------------------------------------------------------ */

/*
 * The loop closes: take this loop's items off the executors' queues (the
 * shared default one included: other loops' items stay), wait for the
 * ones already running to return, then free every item, letting
 * on_discard free what the callers (tasks about to be destroyed) owned.
 * asyncio's shutdown_default_executor, for this loop's share of the pool.
 */
static void exec_loop_close(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct cio__exec_loop *xl = (struct cio__exec_loop *)ext;
    xl->default_ex = NULL;
    for (struct cio__work *w = xl->works; w; w = w->onext) {
        int queued = 0;
        pthread_mutex_lock(&xl->lock);
        int posted = w->posted;
        pthread_mutex_unlock(&xl->lock);
        if (!posted)
            queued = cio__executor_unqueue(w->ex, w);
        if (queued) {
            w->rc = -ECANCELED;
            w->result = NULL;
            pthread_mutex_lock(&xl->lock);
            w->posted = 1;
            xl->ninflight--;
            pthread_mutex_unlock(&xl->lock);
        }
    }
    pthread_mutex_lock(&xl->lock);
    if (xl->ninflight)
        cio_log(CIO_LOG_WARNING, "loop close: waiting for %zu call(s) still running in "
                "executor threads", xl->ninflight);
    while (xl->ninflight)
        pthread_cond_wait(&xl->idle, &xl->lock);
    pthread_mutex_unlock(&xl->lock);
    while (xl->works) {
        struct cio__work *w = xl->works;
        work_drop(xl, w, w->rc, w->result);
    }
    (void)loop;
    pthread_cond_destroy(&xl->idle);
    pthread_mutex_destroy(&xl->lock);
    cio__free(xl);
}
