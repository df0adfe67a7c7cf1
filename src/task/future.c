/*
 * future.c - futures: completion, done callbacks, await, and the report of
 * failures nobody retrieved.
 *
 * Done callbacks are kept in one inline slot plus an array, so the common
 * case (one task awaiting) allocates nothing.  Freed futures are kept for
 * reuse by their loop (as tasks and handles are), except under ASan, which
 * could not see a use after free through the pool.  Completing a future wakes
 * awaiting tasks directly (they go to the ready queue) and schedules the
 * other callbacks with call_soon, as asyncio does.
 */
#include <stdlib.h>

#include "task.h"

/* Futures a loop keeps for reuse: a fresh future per exchange (a
 * ping-pong through futures) cost a malloc and a free, a third of its
 * instructions. */
#ifdef CIO_ASAN
#define FUTURE_POOL_MAX 0
#else
#define FUTURE_POOL_MAX 4096
#endif

void cio__future_fini(struct cio_future *f)
{
    if (f->message) {
        cio__free(f->message);
        f->message = NULL;
    }
    if (f->cbs) {
        cio__free(f->cbs);
        f->cbs = NULL;
    }
}

/* cio_future_new's checks, and its allocation when the pool is empty. */
static __attribute__((noinline)) int future_new_slow(cio_loop *loop, cio_future **out)
{
    if (!out)
        return cio__bad_arg(loop, "cio_future_new", "out is NULL");
    *out = NULL;
    if (!loop)
        loop = cio__running_loop;
    if (!loop)
        return CIO_ENOLOOP;
    if (loop->closed)
        return CIO_ECLOSED;
    int rc = cio__check_thread(loop, "cio_future_new");
    if (rc)
        return rc;
    struct cio__sched *s = cio__sched_get(loop);
    if (!s)
        return -ENOMEM;
    cio_future *f = s->free_futures;
    if (f) {
        s->free_futures = f->result;
        s->nfree_futures--;
    } else if (!(f = cio__malloc(sizeof *f))) {
        return -ENOMEM;
    }
    cio__future_init(f, loop, 0);
    *out = f;
    return 0;
}

/* The common case inline, with nothing to save: a future from the pool
 * of a loop in release mode (debug mode checks the thread). */
int cio_future_new(cio_loop *loop, cio_future **out)
{
    cio_loop *l = loop ? loop : cio__running_loop;
    struct cio__sched *s;
    cio_future *f;
    if (CIO_UNLIKELY(!out || !l || l->closed || l->debug || !(s = l->sched) ||
                     !(f = s->free_futures)))
        return future_new_slow(loop, out);
    s->free_futures = f->result;
    s->nfree_futures--;
    cio__future_init(f, l, 0);
    *out = f;
    return 0;
}

cio_future *cio_future_ref(cio_future *f)
{
    if (f)
        f->refs++;
    return f;
}

void cio__future_report_unretrieved(struct cio_future *f)
{
    if (f->state != CIO__F_DONE || f->status >= 0 || f->status == -ECANCELED ||
        (f->flags & CIO__FF_RETRIEVED))
        return;
    cio_task *t = (f->flags & CIO__FF_TASK) ? (cio_task *)f : NULL;
    cio_exception_context c = {
        .message = t ? "Task exception was never retrieved" : "Future exception was never retrieved",
        .code = f->status,
        .error_message = f->message,
        .task = t,
        .future = f,
        .source = t ? cio_task_source(t) : NULL,
    };
    cio__report(f->loop, &c);
}

/* The last reference is gone: every case (future_release is the common
 * one). */
static __attribute__((noinline)) void future_release_slow(cio_future *f)
{
    if (f->flags & CIO__FF_TASK) {
        cio__task_free((cio_task *)f);
        return;
    }
    /* Only a failure can be unretrieved; only a message or an array of
     * callbacks needs freeing: test before calling. */
    if (CIO_UNLIKELY(f->status < 0))
        cio__future_report_unretrieved(f);
    if (CIO_UNLIKELY(f->message || f->cbs))
        cio__future_fini(f);
    /* Only into the pool of the loop running here: that loop is alive and
     * not closed, while f->loop may already be freed (a future may outlive
     * its loop), so it is compared, never dereferenced, before. */
#if FUTURE_POOL_MAX > 0
    cio_loop *loop = f->loop;
    struct cio__sched *s = loop == cio__running_loop ? loop->sched : NULL;
    if (s && s->nfree_futures < FUTURE_POOL_MAX) {
        f->result = s->free_futures;
        s->free_futures = f;
        s->nfree_futures++;
        return;
    }
#endif
    cio__free(f);
}

/* The last reference is gone.  Out of line, so that dropping one of
 * several references (cio_await's, every exchange) saves no registers;
 * its common case, a plain future with nothing to report or free going
 * back to the pool of the running loop, saves none either. */
static __attribute__((noinline)) void future_release(cio_future *f)
{
#if FUTURE_POOL_MAX > 0
    cio_loop *loop = f->loop;
    struct cio__sched *s;
    if (CIO_LIKELY(!(f->flags & CIO__FF_TASK) && f->status >= 0 && !f->message && !f->cbs &&
                   loop == cio__running_loop && (s = loop->sched) != NULL &&
                   s->nfree_futures < FUTURE_POOL_MAX)) {
        f->result = s->free_futures;
        s->free_futures = f;
        s->nfree_futures++;
        return;
    }
#endif
    future_release_slow(f);
}

void cio_future_unref(cio_future *f)
{
    if (f && --f->refs == 0)
        future_release(f);
}

void cio__futures_fini(struct cio__sched *s)
{
    while (s->free_futures) {
        cio_future *f = s->free_futures;
        s->free_futures = f->result;
        cio__free(f);
    }
    s->nfree_futures = 0;
}

int cio__call_done_cb(cio_loop *loop, cio_done_fn *fn, cio_future *fut, void *arg)
{
    cio_handle *h = cio__handle_new(loop);
    if (!h)
        return -ENOMEM;
    h->cb = (void (*)(void *))(void *)fn;
    h->arg = arg;
    h->arg2 = fut;
    h->flags = CIO__H_DONE_CB;
    cio_future_ref(fut);
    cio__handle_schedule(h);
    return 0;
}

int cio__future_add_cb(struct cio_future *f, cio_done_fn *fn, void *arg)
{
    if (!f->cb0.fn) {
        f->cb0.fn = fn;
        f->cb0.arg = arg;
        return 0;
    }
    if (f->ncbs == f->capcbs) {
        uint32_t cap = f->capcbs ? f->capcbs * 2 : 4;
        struct cio__cb *a = cio__realloc(f->cbs, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        f->cbs = a;
        f->capcbs = cap;
    }
    f->cbs[f->ncbs].fn = fn;
    f->cbs[f->ncbs].arg = arg;
    f->ncbs++;
    return 0;
}

int cio__future_remove_cb(struct cio_future *f, cio_done_fn *fn, void *arg)
{
    int removed = 0;
    if (f->cb0.fn == fn && f->cb0.arg == arg) {
        f->cb0.fn = NULL;
        f->cb0.arg = NULL;
        removed++;
    }
    uint32_t j = 0;
    for (uint32_t i = 0; i < f->ncbs; i++) {
        if (f->cbs[i].fn == fn && f->cbs[i].arg == arg)
            removed++;
        else
            f->cbs[j++] = f->cbs[i];
    }
    f->ncbs = j;
    /* Keep the inline slot filled first: callbacks run in order added. */
    if (!f->cb0.fn && f->ncbs) {
        f->cb0 = f->cbs[0];
        memmove(f->cbs, f->cbs + 1, (f->ncbs - 1) * sizeof *f->cbs);
        f->ncbs--;
    }
    return removed;
}

/* Out of line: cio__future_complete's common case tail-calls cio__wake
 * and must not save registers for the other kinds. */
static __attribute__((noinline)) void run_cb(struct cio_future *f, cio_done_fn *fn, void *arg)
{
    if (fn == cio__waiter_cb) {
        cio__waiter_cb(f, arg);
    } else if (fn == cio__direct_cb) {
        cio__direct_cb(f, arg);
    } else if (cio__call_done_cb(f->loop, fn, f, arg) < 0) {
        /* No memory for the handle: call it now rather than drop it. */
        fn(f, arg);
    }
}

/* Out of line: a completion with a message is rare and would make every
 * completion save a register. */
static __attribute__((noinline)) void set_message(struct cio_future *f, char *message)
{
    cio__free(f->message);
    f->message = message;
}

/* cio__future_complete with an array of further callbacks. */
static __attribute__((noinline)) void complete_list(struct cio_future *f)
{
    /* Take the whole list before running any of it.  run_cb calls a
     * callback at once when no handle can be allocated, and that callback
     * may remove the future's other callbacks: removing from the live list
     * while iterating it lost callbacks (tests/test_alloc.c).  Detached,
     * they are all "already scheduled", as on the normal path. */
    struct cio__cb first = f->cb0;
    struct cio__cb *rest = f->cbs;
    uint32_t nrest = f->ncbs;
    f->cb0.fn = NULL;
    f->cb0.arg = NULL;
    f->cbs = NULL;
    f->ncbs = f->capcbs = 0;
    if (first.fn)
        run_cb(f, first.fn, first.arg);
    for (uint32_t i = 0; i < nrest; i++)
        run_cb(f, rest[i].fn, rest[i].arg);
    cio__free(rest);
}

__attribute__((noinline)) void cio__future_complete(struct cio_future *f, int status,
                                                    void *result, char *message)
{
    f->state = CIO__F_DONE;
    f->status = status;
    f->result = result;
    if (CIO_UNLIKELY(message != NULL))
        set_message(f, message);
    if (CIO_UNLIKELY(f->cbs != NULL)) {
        complete_list(f);
        return;
    }
    /* At most the inline callback (the cbs array is made only for a
     * second one): nothing to take apart.  The common one, a task
     * awaiting, is woken here, a tail call that saves no registers. */
    struct cio__cb first = f->cb0;
    f->cb0.fn = NULL;
    f->cb0.arg = NULL;
    if (first.fn == cio__waiter_cb)
        cio__wake(first.arg, 0);
    else if (first.fn)
        run_cb(f, first.fn, first.arg);
}

static int check_pending(cio_future *f, const char *fn)
{
    if (!f)
        return cio__bad_arg(NULL, fn, "future is NULL");
    int rc = cio__check_thread(f->loop, fn);
    if (rc)
        return rc;
    if (f->flags & CIO__FF_TASK)
        return cio__bad_arg(f->loop, fn, "a task's future is completed by its task");
    return f->state == CIO__F_DONE ? CIO_EINVALSTATE : 0;
}

static __attribute__((noinline)) int set_result_slow(cio_future *f, void *result)
{
    int rc = check_pending(f, "cio_future_set_result");
    if (rc)
        return rc;
    cio__future_complete(f, 0, result, NULL);
    return 0;
}

/* The checks of check_pending as one test on the common path, so that it
 * saves no registers around the completion. */
int cio_future_set_result(cio_future *f, void *result)
{
    if (CIO_UNLIKELY(!f || f->loop->debug || (f->flags & CIO__FF_TASK) ||
                     f->state == CIO__F_DONE))
        return set_result_slow(f, result);
    cio__future_complete(f, 0, result, NULL);
    return 0;
}

int cio_future_set_error(cio_future *f, int code, const char *message)
{
    int rc = check_pending(f, __func__);
    if (rc)
        return rc;
    if (code >= 0 || code == -ECANCELED)
        return cio__bad_arg(f->loop, __func__, "code must be negative and not -ECANCELED");
    char *m = NULL;
    if (message && !(m = cio__strdup(message)))
        return -ENOMEM;
    cio__future_complete(f, code, NULL, m);
    return 0;
}

int cio_future_cancel(cio_future *f, const char *msg)
{
    if (!f)
        return cio__bad_arg(NULL, __func__, "future is NULL");
    if (f->flags & CIO__FF_TASK)
        return cio_task_cancel((cio_task *)f, msg);
    int rc = cio__check_thread(f->loop, __func__);
    if (rc)
        return rc;
    if (f->state == CIO__F_DONE)
        return 0;
    char *m = msg ? cio__strdup(msg) : NULL;
    cio__future_complete(f, -ECANCELED, NULL, m);
    return 1;
}

int cio_future_done(const cio_future *f) { return f && f->state == CIO__F_DONE; }

int cio_future_cancelled(const cio_future *f)
{
    return f && f->state == CIO__F_DONE && f->status == -ECANCELED;
}

int cio_future_result(cio_future *f, void **result)
{
    if (!f)
        return cio__bad_arg(NULL, __func__, "future is NULL");
    if (f->state != CIO__F_DONE)
        return CIO_EINVALSTATE;
    f->flags |= CIO__FF_RETRIEVED;
    if (result)
        *result = f->status == 0 ? f->result : NULL;
    return f->status;
}

const char *cio_future_error_message(const cio_future *f)
{
    if (f && (f->flags & CIO__FF_TASK))
        return cio_task_error_message((const cio_task *)f);
    return f ? f->message : NULL;
}

int cio_future_add_done_callback(cio_future *f, cio_done_fn *fn, void *arg)
{
    if (!f)
        return cio__bad_arg(NULL, __func__, "future is NULL");
    if (!fn)
        return cio__bad_arg(f->loop, __func__, "callback is NULL");
    int rc = cio__check_thread(f->loop, __func__);
    if (rc)
        return rc;
    if (f->state == CIO__F_DONE)
        return cio__call_done_cb(f->loop, fn, f, arg);
    return cio__future_add_cb(f, fn, arg);
}

int cio_future_remove_done_callback(cio_future *f, cio_done_fn *fn, void *arg)
{
    if (!f)
        return cio__bad_arg(NULL, __func__, "future is NULL");
    int rc = cio__check_thread(f->loop, __func__);
    if (rc)
        return rc;
    return cio__future_remove_cb(f, fn, arg);
}

/* ---- await --------------------------------------------------------- */

void cio__waiter_cb(cio_future *fut, void *task)
{
    (void)fut;
    cio__wake(task, 0);
}

void cio__direct_cb(cio_future *fut, void *d)
{
    ((struct cio__direct *)d)->fn(d, fut);
}

/* The awaiting task is cancelled or timed out: as asyncio, cancel what it
 * awaits and keep waiting until that is done; cio_await then reports the
 * interruption. */
void cio__await_interrupt(cio_task *t, int code)
{
    cio_future *f = t->wait_obj;
    if (!t->interrupted)
        t->interrupted = code;
    cio_future_cancel(f, NULL);
}

int cio__await_abandon(cio_task *t)
{
    if (t->state != CIO__T_PARKED || t->interrupt != cio__await_interrupt)
        return 0;
    cio_future *f = t->wait_obj;
    cio__future_remove_cb(f, cio__waiter_cb, t);
    t->interrupt = NULL;
    t->wait_obj = NULL;
    cio_future_unref(f); /* the reference cio_await took */
    return 1;
}

int cio_await(cio_future *f, void **result)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!f)
        return cio__bad_arg(t->fut.loop, __func__, "future is NULL");
    if (f->loop != t->fut.loop)
        return cio__bad_arg(t->fut.loop, __func__, "future belongs to another loop");
    if (f == &t->fut)
        return -EDEADLK;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    if (f->state != CIO__F_DONE) {
        rc = cio__future_add_cb(f, cio__waiter_cb, t);
        if (rc)
            return rc;
        cio_future_ref(f);
        t->interrupted = 0;
        cio__park(t, cio__await_interrupt, f);
        int code = t->interrupted;
        t->interrupted = 0;
        /* The caller's own reference keeps f alive past this one. */
        if (CIO_UNLIKELY(--f->refs == 0))
            future_release(f);
        /* The awaited future is done now; after an interruption its
         * outcome stays readable with cio_future_result. */
        if (code)
            return code;
    }
    return cio_future_result(f, result);
}
