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
 *
 * The process-wide default executor (cio__default_executor) is one of
 * these, shared by every loop: static storage (so it owes nothing to the
 * allocator hook, which may change while no loop exists), never shut
 * down, and its threads exit after IDLE_EXIT_NS without work, so an idle
 * process keeps none.  A thread that exits idle detaches itself (nobody
 * would join it: a program exits with the default pool alive); threads
 * that exit at shutdown are joined by it.  Slots bound the threads alive
 * at once to max_threads.
 */
#define _GNU_SOURCE
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include "exec.h"

/* How long a thread of the default executor waits for work before it
 * exits (user executors keep their threads until shut down). */
#define IDLE_EXIT_NS (10 * CIO_NS_PER_SEC)
/* Largest pool of the default executor (Python's min(32, CPUs + 4)). */
#define DEFAULT_MAX 32

/* A thread slot. */
enum { SLOT_FREE, SLOT_LIVE, SLOT_EXITED };
struct slot {
    pthread_t tid;             /* valid unless SLOT_FREE */
    int state;                 /* SLOT_*: EXITED = returned at shutdown,
                                  not yet joined */
};

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
    struct slot *slots;        /* max_threads of them: every thread not
                                  yet joined */
    int64_t idle_exit_ns;      /* idle threads exit after this; 0: never */
    int is_static;             /* the default executor: never freed */
    int shutdown;              /* no new work accepted */
    int joining;               /* a shutdown(wait) is joining the threads */
    int joined;                /* the threads are joined */
};

/* ---- worker ------------------------------------------------------------- */

/* Waits for work or shutdown; 0, or ETIMEDOUT after the idle timeout. */
static int idle_wait(cio_executor *ex)
{
    if (!ex->idle_exit_ns) {
        pthread_cond_wait(&ex->work_cond, &ex->lock);
        return 0;
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t ns = (int64_t)ts.tv_nsec + ex->idle_exit_ns;
    ts.tv_sec += (time_t)(ns / CIO_NS_PER_SEC);
    ts.tv_nsec = (long)(ns % CIO_NS_PER_SEC);
    return pthread_cond_timedwait(&ex->work_cond, &ex->lock, &ts);
}

static void *worker_main(void *arg)
{
    cio_executor *ex = arg;
    pthread_mutex_lock(&ex->lock);
    for (;;) {
        int timed_out = 0;
        while (!ex->head && !ex->shutdown && !timed_out) {
            ex->nidle++;
            timed_out = idle_wait(ex) == ETIMEDOUT;
            ex->nidle--;
        }
        struct cio__work *w = ex->head;
        if (!w)
            break; /* shut down, or idle too long, and nothing to run */
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
    /* At shutdown the slot waits for join_all.  An idle thread detaches
     * itself and frees its slot: nobody may be left to join it (a program
     * exits with the default pool alive), and it touches ex no more. */
    for (size_t i = 0; i < ex->max_threads; i++) {
        if (ex->slots[i].state == SLOT_LIVE && pthread_equal(ex->slots[i].tid, pthread_self())) {
            if (ex->shutdown) {
                ex->slots[i].state = SLOT_EXITED;
            } else {
                pthread_detach(pthread_self());
                ex->slots[i].state = SLOT_FREE;
            }
            break;
        }
    }
    ex->nthreads--;
    pthread_cond_broadcast(&ex->exit_cond);
    pthread_mutex_unlock(&ex->lock);
    return NULL;
}

/* Starts one worker with every signal blocked but those of faults, in a free slot; ex->lock
 * held.  (A slot is EXITED only after shutdown, when nothing starts.) */
static int start_thread(cio_executor *ex)
{
    struct slot *free_slot = NULL;
    for (size_t i = 0; i < ex->max_threads && !free_slot; i++)
        if (ex->slots[i].state == SLOT_FREE)
            free_slot = &ex->slots[i];
    if (!free_slot)
        return -EAGAIN; /* max_threads threads are live */
    sigset_t all, old;
    sigfillset(&all);
    /* But the signals of faults: blocked, a fault kills the process
     * instead of running its handler, and the handler of SIGSEGV is what
     * faults a compacted task's stack back in when a worker writes a
     * result into a caller's local variable (src/coro/stack_compact.c). */
    sigdelset(&all, SIGSEGV);
    sigdelset(&all, SIGBUS);
    sigdelset(&all, SIGILL);
    sigdelset(&all, SIGFPE);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_t tid;
    int err = pthread_create(&tid, NULL, worker_main, ex);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err)
        return -err;
    free_slot->tid = tid; /* before the worker can look: it needs ex->lock */
    free_slot->state = SLOT_LIVE;
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
    if (ex->nqueued > ex->nidle && ex->nthreads < ex->max_threads) {
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

/* Joins every thread (shutdown is set, so none starts any more). */
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
    pthread_mutex_unlock(&ex->lock);
    /* Slots change only under the lock and no thread starts now; a live
     * one turns EXITED, and only this joiner frees slots from here. */
    for (size_t i = 0; i < ex->max_threads; i++) {
        pthread_mutex_lock(&ex->lock);
        int state = ex->slots[i].state;
        pthread_t tid = ex->slots[i].tid;
        pthread_mutex_unlock(&ex->lock);
        if (state != SLOT_FREE)
            pthread_join(tid, NULL);
    }
    pthread_mutex_lock(&ex->lock);
    for (size_t i = 0; i < ex->max_threads; i++)
        ex->slots[i].state = SLOT_FREE;
    ex->joined = 1;
    pthread_cond_broadcast(&ex->exit_cond);
    pthread_mutex_unlock(&ex->lock);
}

int cio_executor_shutdown(cio_executor *ex, unsigned flags)
{
    if (!ex)
        return cio__bad_arg(NULL, __func__, "executor is NULL");
    if (flags & ~(unsigned)(CIO_SHUTDOWN_WAIT | CIO_SHUTDOWN_CANCEL_FUTURES))
        return cio__bad_arg(NULL, __func__,
                            "flags has a bit other than CIO_SHUTDOWN_WAIT and "
                            "CIO_SHUTDOWN_CANCEL_FUTURES");
    struct cio__work *dropped = NULL;
    pthread_mutex_lock(&ex->lock);
    ex->shutdown = 1;
    if (flags & CIO_SHUTDOWN_CANCEL_FUTURES) {
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
    if (flags & CIO_SHUTDOWN_WAIT)
        join_all(ex);
    return 0;
}

/* ---- creation ------------------------------------------------------------ */

/* Python's default size: min(32, CPUs + 4). */
static size_t default_size(void)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t n = (size_t)(ncpu > 0 ? ncpu : 1) + 4;
    return n > DEFAULT_MAX ? DEFAULT_MAX : n;
}

static void executor_init(cio_executor *ex, struct slot *slots, size_t nthreads)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* idle_wait's clock */
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work_cond, &ca);
    pthread_cond_init(&ex->exit_cond, NULL);
    pthread_condattr_destroy(&ca);
    ex->slots = slots;
    ex->tailp = &ex->head;
    ex->max_threads = nthreads;
}

int cio_executor_new(size_t nthreads, cio_executor **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    if (nthreads > 4096)
        return cio__bad_arg(NULL, __func__, "nthreads is above 4096");
    if (nthreads == 0)
        nthreads = default_size();
    cio_executor *ex = cio__calloc(1, sizeof *ex);
    if (!ex)
        return -ENOMEM;
    struct slot *slots = cio__calloc(nthreads, sizeof *slots);
    if (!slots) {
        cio__free(ex);
        return -ENOMEM;
    }
    executor_init(ex, slots, nthreads);
    *out = ex;
    return 0;
}

void cio_executor_free(cio_executor *ex)
{
    if (!ex)
        return;
    if (ex->is_static) {
        cio_log(CIO_LOG_ERROR, "cio_executor_free: the default executor is not freed");
        return;
    }
    cio_executor_shutdown(ex, CIO_SHUTDOWN_WAIT);
    pthread_cond_destroy(&ex->exit_cond);
    pthread_cond_destroy(&ex->work_cond);
    pthread_mutex_destroy(&ex->lock);
    cio__free(ex->slots);
    cio__free(ex);
}

/* ---- the process-wide default executor ------------------------------------ */

static cio_executor default_ex;
static struct slot default_slots[DEFAULT_MAX];
static pthread_once_t default_once = PTHREAD_ONCE_INIT;

static void default_init(void)
{
    executor_init(&default_ex, default_slots, default_size());
    default_ex.idle_exit_ns = IDLE_EXIT_NS;
    default_ex.is_static = 1;
}

cio_executor *cio__default_executor(void)
{
    pthread_once(&default_once, default_init);
    return &default_ex;
}

void cio__executor_set_idle_exit(cio_executor *ex, double seconds)
{
    pthread_mutex_lock(&ex->lock);
    ex->idle_exit_ns = seconds > 0 ? (int64_t)(seconds * 1e9) : 0;
    pthread_cond_broadcast(&ex->work_cond); /* idle threads re-arm */
    pthread_mutex_unlock(&ex->lock);
}

void cio__executor_stats(cio_executor *ex, size_t *nthreads, size_t *max_threads)
{
    pthread_mutex_lock(&ex->lock);
    if (nthreads)
        *nthreads = ex->nthreads;
    if (max_threads)
        *max_threads = ex->max_threads;
    pthread_mutex_unlock(&ex->lock);
}
