/*
 * loop.c - the event loop: creation, one iteration, run/stop/close, the
 * clock, settings and error reporting.
 *
 * One iteration (run_once) follows asyncio's BaseEventLoop._run_once:
 *   1. poll for I/O, with a timeout of 0 if anything is ready, else until
 *      the next timer (or forever);
 *   2. move due timers to the ready queue;
 *   3. run exactly the nodes that are ready now (a batch); what they
 *      schedule waits for the next batch.
 * Unlike asyncio, when only tasks are ready step 3 runs up to
 * CIO__TICKS_PER_POLL batches before going back to step 1 (as tokio does),
 * so tasks passing control around do not pay a syscall per batch; I/O and
 * timers are still looked at after a bounded number of batches.  A ready
 * plain callback ends the chain, so callbacks keep asyncio's semantics.  Tasks switch directly to the next ready task
 * when they suspend (see ../task/sched.c) and charge that to the same
 * budget, so the bound holds however the nodes run.
 */
#define _GNU_SOURCE
#include <math.h>
#include <stdlib.h>
#include <unistd.h>

#include "loop.h"

CIO_TLS cio_loop *cio__running_loop;

int cio__loop_create(cio_loop **out)
{
    cio_loop *loop = cio__calloc(1, sizeof *loop);
    if (!loop)
        return -ENOMEM;
    cio__queue_init(&loop->ready);
    loop->wakefd = -1;
    loop->debug = (uint8_t)cio__env_debug();
    loop->slow_ns = CIO_NS_PER_SEC / 10;
    loop->stack_size = 128 * 1024;
    /* On: other code touching a compacted stack faults its bytes back in
     * (src/coro/stack_compact.c).  5 s: a resume after compaction costs
     * a few microseconds, nothing beside 5 s of waiting, and tasks that
     * wait less (most, in a busy server) are never looked at twice. */
    loop->compact_after_ns = 5 * CIO_NS_PER_SEC;
    /* CIO_STACK_COMPACTION=seconds overrides it (0: off), for a program
     * that cannot call the setter, and for running a test suite with
     * every wait compacted. */
    const char *ce = getenv("CIO_STACK_COMPACTION");
    if (ce && *ce) {
        char *end;
        double sec = strtod(ce, &end);
        if (*end == '\0' && sec >= 0 && sec <= 1e9)
            loop->compact_after_ns = sec > 0 && cio__sec_to_ns(sec) < 1 ? 1 : cio__sec_to_ns(sec);
    }
    pthread_mutex_init(&loop->ts_lock, NULL);
    loop->ts_tailp = &loop->ts_head;
    int rc = cio__threadsafe_init(loop);
    if (rc < 0) {
        pthread_mutex_destroy(&loop->ts_lock);
        cio__free(loop);
        return rc;
    }
    __atomic_add_fetch(&cio__loops_alive, 1, __ATOMIC_ACQ_REL);
    *out = loop;
    return 0;
}

void cio__loop_destroy(cio_loop *loop)
{
    cio__threadsafe_fini(loop);
    pthread_mutex_destroy(&loop->ts_lock);
    cio__free(loop);
    __atomic_sub_fetch(&cio__loops_alive, 1, __ATOMIC_ACQ_REL);
}

int cio__check_thread_debug(const cio_loop *loop, const char *fn)
{
    if (loop->has_owner && !pthread_equal(loop->owner, pthread_self())) {
        cio_log(CIO_LOG_ERROR, "%s: called from a thread that does not own the loop", fn);
        return CIO_EWRONGTHREAD;
    }
    return 0;
}

int cio_loop_is_closed(const cio_loop *loop) { return loop && loop->closed; }
int cio_loop_is_running(const cio_loop *loop)
{
    return loop && __atomic_load_n(&loop->running, __ATOMIC_RELAXED);
}
cio_loop *cio_get_running_loop(void) { return cio__running_loop; }

/* Phase 1 of close: the list is sorted highest rank first. */
static void closing_lowest_first(cio_loop *loop, struct cio__loop_ext *e)
{
    if (!e)
        return;
    closing_lowest_first(loop, e->next);
    if (e->on_closing)
        e->on_closing(loop, e);
}

int cio_loop_close(cio_loop *loop)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (loop->running)
        return CIO_ERUNNING;
    if (loop->closed)
        return 0;
    int rc = cio__check_thread(loop, __func__);
    if (rc)
        return rc;
    /* The layers above go first, in the two phases struct cio__loop_ext
     * describes (the task layer destroys pending tasks there, asyncio's
     * "Task was destroyed but it is pending!"), while handles, timers,
     * descriptors and the thread-safe queue still exist. */
    struct cio__loop_ext *e;
    closing_lowest_first(loop, loop->exts);
    while ((e = loop->exts)) {
        loop->exts = e->next;
        e->next = NULL;
        e->on_close(loop, e);
    }
    cio__ready_drop_all(loop);
    cio__timers_fini(loop);
    cio__threadsafe_fini(loop);
    /* Dropping a handle may release a future whose done callbacks queue
     * more: drop those too. */
    cio__ready_drop_all(loop);
    if (loop->poller)
        loop->poller->fini(loop);
    loop->poller = NULL;
    while (loop->free_handles) {
        cio_handle *h = loop->free_handles;
        loop->free_handles = (cio_handle *)(void *)h->node.next;
        cio__handle_dispose(h);
    }
    loop->nfree_handles = 0;
    loop->closed = 1;
    return 0;
}

struct cio__loop_ext *cio__loop_ext_find(cio_loop *loop, const void *key)
{
    for (struct cio__loop_ext *e = loop->exts; e; e = e->next)
        if (e->key == key)
            return e;
    return NULL;
}

void cio__loop_ext_add(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct cio__loop_ext **pp = &loop->exts;
    while (*pp && (*pp)->rank > ext->rank)
        pp = &(*pp)->next;
    ext->next = *pp;
    *pp = ext;
}

void cio_loop_free(cio_loop *loop)
{
    if (!loop)
        return;
    if (cio_loop_close(loop) < 0) {
        cio_log(CIO_LOG_ERROR, "cio_loop_free: loop is running or owned by another thread; leaked");
        return;
    }
    cio__loop_destroy(loop);
}

double cio_loop_time(cio_loop *loop)
{
    if (!loop)
        loop = cio__running_loop;
    if (!loop)
        return NAN; /* no loop: no time to give, and 0 would look valid */
    return (double)cio__loop_now(loop) / 1e9;
}

int cio_loop_stop(cio_loop *loop)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    int rc = cio__check_thread(loop, __func__);
    if (rc)
        return rc;
    loop->stopping = 1;
    return 0;
}

void cio_loop_work_begin(cio_loop *loop)
{
    if (loop)
        __atomic_add_fetch(&loop->nexternal, 1, __ATOMIC_RELAXED);
}

void cio_loop_work_end(cio_loop *loop)
{
    if (loop)
        __atomic_sub_fetch(&loop->nexternal, 1, __ATOMIC_RELAXED);
}

/* Debug mode: times one step of the loop and reports it if slow.  The
 * node is described before it runs: a task may be gone after. */
static void run_node_timed(cio_loop *loop, struct cio__node *n)
{
    char what[256] = "a callback";
    if (n->run != cio__handle_node_run && loop->describe_node)
        loop->describe_node(n, what, sizeof what);
    int64_t t0 = cio__clock_ns();
    n->run(n);
    int64_t dt = cio__clock_ns() - t0;
    if (dt > loop->slow_ns)
        cio_log(CIO_LOG_WARNING, "slow step: %s held the loop for %.3f s", what, (double)dt / 1e9);
}

/* Runs ready nodes, batch after batch, as cio__ready_next allows. */
static void run_ready(cio_loop *loop)
{
    loop->budget = loop->ready.n;
    loop->ticks = CIO__TICKS_PER_POLL;
    struct cio__node *n;
    if (CIO_UNLIKELY(loop->debug)) {
        while ((n = cio__ready_next(loop, NULL)))
            run_node_timed(loop, n);
    } else {
        while ((n = cio__ready_next(loop, NULL)))
            n->run(n);
    }
}

/*
 * Memory a layer keeps for reuse beyond its hot reserve (freed stacks and
 * task structs after a burst) goes back once it stayed unused for
 * CIO__TRIM_DELAY_NS: trimming each piece as it was freed cost 8 us a task
 * at the end of a burst (sleep_100k 1.24 s -> 0.41 s without it), and a
 * burst often comes again.  Runs before the ready nodes, so that what runs
 * at or after trim_at sees the pools trimmed.
 */
static void maybe_trim(cio_loop *loop)
{
    if (CIO_LIKELY(!loop->trim_at) || loop->now < loop->trim_at)
        return;
    loop->trim_at = 0;
    for (struct cio__loop_ext *e = loop->exts; e; e = e->next)
        if (e->trim)
            e->trim(loop, e);
}

/* Whether anything could still make progress without outside help. */
static int loop_idle(cio_loop *loop)
{
    return loop->ready.n == 0 && cio__timers_next(loop) == INT64_MAX && loop->nwatch == 0 &&
           __atomic_load_n(&loop->nexternal, __ATOMIC_RELAXED) == 0 &&
           !__atomic_load_n(&loop->ts_pending, __ATOMIC_ACQUIRE);
}

static void run_once(cio_loop *loop)
{
    int64_t timeout = 0;
    if (!loop->ready.n && !loop->stopping &&
        !__atomic_load_n(&loop->ts_pending, __ATOMIC_ACQUIRE)) {
        int64_t next = cio__timers_next(loop);
        if (next == INT64_MAX)
            timeout = -1;
        else if (loop->virtual_clock) {
            /* Jump to the next timer unless I/O is already ready. */
            loop->poller->wait(loop, 0);
            if (!loop->ready.n && next > loop->vclock)
                loop->vclock = next;
            timeout = -2;
        } else {
            timeout = next - cio__clock_ns();
            if (timeout < 0)
                timeout = 0;
        }
    }
    if (loop->trim_at && timeout != 0 && timeout != -2 && !loop->virtual_clock) {
        /* An idle loop still wakes to return the stacks of a past burst
         * (on the virtual clock the trim waits for virtual time). */
        int64_t until_trim = loop->trim_at - loop->now;
        if (until_trim < 0)
            until_trim = 0;
        if (timeout < 0 || timeout > until_trim)
            timeout = until_trim;
    }
    /* A zero-timeout poll with nothing watched can only report the
     * eventfd, whose news ts_pending already carries: skip the syscall. */
    if (timeout != -2 && (timeout != 0 || loop->nwatch)) {
        /* An embedder (the CPython extension) releases its global lock
         * only around waits that may block: a look costs no hook. */
        if (CIO_UNLIKELY(loop->poll_hook) && timeout != 0) {
            loop->poll_hook(loop, 0, loop->poll_hook_ud);
            loop->poller->wait(loop, timeout);
            loop->poll_hook(loop, 1, loop->poll_hook_ud);
        } else {
            loop->poller->wait(loop, timeout);
        }
    }
    loop->now = cio__loop_now(loop);
    cio__threadsafe_drain(loop);
    cio__timers_run(loop);
    maybe_trim(loop);
    run_ready(loop);
}

/* Claims the loop for this thread and marks it running. */
static int enter(cio_loop *loop)
{
    if (!loop)
        return cio__bad_arg(NULL, "cio_loop_run", "loop is NULL");
    if (loop->closed)
        return CIO_ECLOSED;
    if (loop->running || cio__running_loop)
        return CIO_ERUNNING;
    if (loop->has_owner && !pthread_equal(loop->owner, pthread_self()))
        return CIO_EWRONGTHREAD;
    loop->started = 1;
    loop->owner = pthread_self();
    loop->has_owner = 1;
    __atomic_store_n(&loop->running, 1, __ATOMIC_RELAXED);
    cio__running_loop = loop;
    for (struct cio__loop_ext *e = loop->exts; e; e = e->next)
        if (e->on_enter)
            e->on_enter(loop, e);
    return 0;
}

static void leave(cio_loop *loop)
{
    loop->stopping = 0;
    cio__running_loop = NULL;
    __atomic_store_n(&loop->running, 0, __ATOMIC_RELAXED);
}

int cio_loop_run_forever(cio_loop *loop)
{
    int rc = enter(loop);
    if (rc)
        return rc;
    /* At least one iteration, as asyncio: a stop() made before running
     * still lets the callbacks already scheduled run once. */
    do
        run_once(loop);
    while (!loop->stopping);
    leave(loop);
    return 0;
}

int cio__loop_run_until(cio_loop *loop, int (*done)(void *ctx), void *ctx)
{
    int rc = enter(loop);
    if (rc)
        return rc;
    while (!done(ctx)) {
        /* Checked before each iteration, not only after: an idle loop
         * would otherwise block forever in the poller (timeout -1) when
         * nothing was scheduled at all. */
        if (loop_idle(loop) && !loop->stopping) {
            rc = CIO_ESTALLED;
            break;
        }
        run_once(loop);
        if (done(ctx))
            break;
        if (loop->stopping) {
            rc = CIO_EINVALSTATE; /* stopped before it was done */
            break;
        }
    }
    leave(loop);
    return rc;
}

/* ---- settings ---------------------------------------------------------- */

int cio_loop_set_debug(cio_loop *loop, int enabled)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    loop->debug = enabled != 0;
    return 0;
}

int cio_loop_get_debug(const cio_loop *loop) { return loop ? loop->debug : 0; }

int cio_loop_set_slow_callback_duration(cio_loop *loop, double seconds)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (!(seconds > 0))
        return cio__bad_arg(loop, __func__, "seconds must be positive");
    loop->slow_ns = cio__sec_to_ns(seconds);
    return 0;
}

int cio_loop_set_virtual_clock(cio_loop *loop, int enabled)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (loop->started)
        return CIO_ERUNNING;
    loop->virtual_clock = enabled != 0;
    loop->vclock = 0;
    return 0;
}

int cio_loop_set_stack_size(cio_loop *loop, size_t bytes)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (bytes < 16 * 1024 || bytes > ((size_t)1 << 30))
        return cio__bad_arg(loop, __func__, "stack size must be 16 KiB .. 1 GiB");
    if (loop->started)
        return CIO_ERUNNING;
    long page = sysconf(_SC_PAGESIZE);
    loop->stack_size = (bytes + (size_t)page - 1) & ~((size_t)page - 1);
    return 0;
}

int cio_loop_set_stack_compaction(cio_loop *loop, double idle_seconds)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    if (!(idle_seconds >= 0) || idle_seconds > 1e9)
        return cio__bad_arg(loop, __func__, "idle_seconds must be 0 .. 1e9");
    int64_t ns = cio__sec_to_ns(idle_seconds);
    loop->compact_after_ns = idle_seconds > 0 && ns < 1 ? 1 : ns;
    /* Tasks parked already park no more: a trim must come to them. */
    if (loop->compact_after_ns)
        cio__loop_want_trim(loop);
    return 0;
}

/* ---- errors nobody handled ---------------------------------------------- */

int cio_loop_set_poll_hook(cio_loop *loop, cio_poll_hook_fn *fn, void *ud)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    int rc = cio__check_thread(loop, __func__);
    if (rc)
        return rc;
    loop->poll_hook = fn;
    loop->poll_hook_ud = fn ? ud : NULL;
    return 0;
}

int cio_loop_set_exception_handler(cio_loop *loop, cio_exception_handler_fn *fn, void *ud)
{
    if (!loop)
        return cio__bad_arg(NULL, __func__, "loop is NULL");
    loop->exc_fn = fn;
    loop->exc_ud = fn ? ud : NULL;
    return 0;
}

void cio_loop_default_exception_handler(cio_loop *loop, const cio_exception_context *c)
{
    (void)loop;
    if (!c)
        return;
    /* The line is about c->task (or about no task): the running task, the
     * one that released a failed task or closed the loop, would mislead. */
    cio__log_as(c->task ? cio_task_get_name(c->task) : NULL, CIO_LOG_ERROR, "%s%s%s%s%s%s%s%s",
                c->message ? c->message : "error", c->code ? ": " : "",
                c->code ? cio_strerror(c->code) : "", c->error_message ? " (" : "",
                c->error_message ? c->error_message : "", c->error_message ? ")" : "",
                c->source ? "; created at " : "", c->source ? c->source : "");
}

void cio_loop_call_exception_handler(cio_loop *loop, const cio_exception_context *c)
{
    if (!c)
        return;
    if (loop && loop->exc_fn)
        loop->exc_fn(loop, c, loop->exc_ud);
    else
        cio_loop_default_exception_handler(loop, c);
}

void cio__report(cio_loop *loop, const cio_exception_context *c)
{
    cio_loop_call_exception_handler(loop, c);
}
