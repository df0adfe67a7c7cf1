/*
 * pool.c - the executor: a FIFO of work items and up to max_threads
 * worker threads (concurrent.futures.ThreadPoolExecutor).  Everything here
 * may be called from any thread; it knows nothing of loops except that a
 * finished work item is handed to cio__work_post().
 *
 * Divided into: the worker thread, submission (which starts threads on
 * demand), shutdown, and creation/free.
 *
 * Threads start lazily, as Python's pool does: a submission starts one
 * when more items are queued than threads are idle.  Workers block every
 * signal, so that signals reach the loop's thread (signalfd, SIGINT) and
 * never interrupt a blocking call in a worker.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <unistd.h>

#include "exec.h"

struct cio_executor {
    pthread_mutex_t lock;      /* guards every field below */
    pthread_cond_t work_cond;  /* idle workers wait here */
    pthread_cond_t exit_cond;  /* shutdown waits here for the join */
    struct cio__work *head;    /* queued items (FIFO) */
    struct cio__work **tailp;
    size_t nqueued;
    size_t max_threads;        /* the pool's size */
    size_t nthreads;           /* threads started and not yet exited */
    size_t nidle;              /* threads waiting for work */
    pthread_t *tids;           /* every thread started, for the join */
    size_t ntids;
    int shutdown;              /* no new work accepted */
    int joining;               /* a shutdown(wait) is joining the threads */
    int joined;                /* the threads are joined */
};

/* ---- worker ------------------------------------------------------------- */

static void *worker_main(void *arg)
{
    cio_executor *ex = arg;
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        while (!ex->head && !ex->shutdown) {
            ex->nidle++;
            pthread_cond_wait(&ex->work_cond, &ex->lock);
            ex->nidle--;
        }
        struct cio__work *w = ex->head;
        if (!w)
            break; /* shut down and nothing left to run */
        ex->head = w->next;
        if (!ex->head)
            ex->tailp = &ex->head;
        ex->nqueued--;
        w->next = NULL;
        pthread_mutex_unlock(&ex->lock);

        void *result = NULL;
        int rc = w->fn(w->arg, &result);
        w->rc = rc;
        w->result = result;
        cio__work_post(w); /* w belongs to its loop from here */

        pthread_mutex_lock(&ex->lock);
    }
    ex->nthreads--;
    pthread_cond_broadcast(&ex->exit_cond);
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

/* Starts one worker with every signal blocked; ex->lock held. */
static int start_thread(cio_executor *ex)
{
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    int err = pthread_create(&tid, NULL, worker_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return -err;
    ex->tids[ex->ntids++] = tid;
    ex->nthreads++;
    return 0;
}

/* ---- submission ---------------------------------------------------------- */

static int unqueue_locked(cio_executor *ex, struct cio__work *w);

int cio__executor_submit(cio_executor *ex, struct cio__work *w)
{
    pthread_mutex_lock(&ex->lock);
    if (ex->shutdown) {
        pthread_mutex_unlock(&ex->lock);
        return CIO_ESHUTDOWN;
    }
    w->next = NULL;
    *ex->tailp = w;
    ex->tailp = &w->next;
    ex->nqueued++;
    if (ex->nqueued > ex->nidle && ex->ntids < ex->max_threads) {
        int rc = start_thread(ex);
        if (rc < 0 && ex->nthreads == 0) {
            /* No thread would ever run it: take it back. */
            unqueue_locked(ex, w);
            pthread_mutex_unlock(&ex->lock);
            return -EAGAIN;
        }
        if (rc < 0)
            cio_log(CIO_LOG_WARNING, "executor: could not start a thread (%s); "
                    "running with %zu", cio_strerror(rc), ex->nthreads);
    }
    pthread_cond_signal(&ex->work_cond);
    pthread_mutex_unlock(&ex->lock);
    return 0;
}

/* Unlinks w from the queue; the caller holds ex->lock. */
static int unqueue_locked(cio_executor *ex, struct cio__work *w)
{
    for (struct cio__work **pp = &ex->head; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            if (ex->tailp == &w->next)
                ex->tailp = pp;
            w->next = NULL;
            ex->nqueued--;
            return 1;
        }
    }
    return 0;
}

int cio__executor_unqueue(cio_executor *ex, struct cio__work *w)
{
    pthread_mutex_lock(&ex->lock);
    int r = unqueue_locked(ex, w);
    pthread_mutex_unlock(&ex->lock);
    return r;
}

/* ---- shutdown ------------------------------------------------------------ */

static void join_all(cio_executor *ex)
{
    pthread_mutex_lock(&ex->lock);
    if (ex->joining) {
        while (!ex->joined)
            pthread_cond_wait(&ex->exit_cond, &ex->lock);
        pthread_mutex_unlock(&ex->lock);
        return;
    }
    ex->joining = 1;
    size_t n = ex->ntids; /* no thread starts after shutdown */
    pthread_mutex_unlock(&ex->lock);
    for (size_t i = 0; i < n; i++)
        pthread_join(ex->tids[i], NULL);
    pthread_mutex_lock(&ex->lock);
    ex->joined = 1;
    pthread_cond_broadcast(&ex->exit_cond);
    pthread_mutex_unlock(&ex->lock);
}

int cio_executor_shutdown(cio_executor *ex, int wait, int cancel_pending)
{
    if (!ex)
        return cio__bad_arg(NULL, __func__, "executor is NULL");
    struct cio__work *dropped = NULL;
    pthread_mutex_lock(&ex->lock);
    ex->shutdown = 1;
    if (cancel_pending) {
        dropped = ex->head;
        ex->head = NULL;
        ex->tailp = &ex->head;
        ex->nqueued = 0;
    }
    pthread_cond_broadcast(&ex->work_cond);
    pthread_mutex_unlock(&ex->lock);
    while (dropped) {
        struct cio__work *w = dropped;
        dropped = w->next;
        w->next = NULL;
        w->rc = -ECANCELED;
        w->result = NULL;
        cio__work_post(w);
    }
    if (wait)
        join_all(ex);
    return 0;
}

/* ---- creation ------------------------------------------------------------ */

int cio_executor_new(size_t nthreads, cio_executor **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    if (nthreads > 4096)
        return cio__bad_arg(NULL, __func__, "nthreads is above 4096");
    if (nthreads == 0) {
        long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
        nthreads = (size_t)(ncpu > 0 ? ncpu : 1) + 4;
        if (nthreads > 32)
            nthreads = 32;
    }
    cio_executor *ex = cio__calloc(1, sizeof *ex);
    if (!ex)
        return -ENOMEM;
    ex->tids = cio__calloc(nthreads, sizeof *ex->tids);
    if (!ex->tids) {
        cio__free(ex);
        return -ENOMEM;
    }
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work_cond, NULL);
    pthread_cond_init(&ex->exit_cond, NULL);
    ex->tailp = &ex->head;
    ex->max_threads = nthreads;
    *out = ex;
    return 0;
}

void cio_executor_free(cio_executor *ex)
{
    if (!ex)
        return;
    cio_executor_shutdown(ex, 1, 0);
    pthread_cond_destroy(&ex->exit_cond);
    pthread_cond_destroy(&ex->work_cond);
    pthread_mutex_destroy(&ex->lock);
    cio__free(ex->tids);
    cio__free(ex);
}
