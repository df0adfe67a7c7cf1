/*
 * gen.c - asynchronous generators: a producer task that hands values to a
 * consumer one at a time (asyncio's async generators).
 *
 * The handoff parks and wakes the two tasks directly, with no future in
 * between: the consumer's cio_gen_next() wakes the producer parked in
 * cio_gen_yield() and parks itself; the producer's next yield (or its
 * return) wakes the consumer and parks itself.  An item costs two switches.
 *
 * The file is divided into: the generator's states and references, the
 * producer's side (body wrapper, yield), the consumer's side (next,
 * aclose), and the iterator glue.
 *
 * States (g->state):
 *   CREATED    the body has not started (no task yet)
 *   SUSPENDED  the producer is parked at a yield; nobody waits
 *   RUNNING    the producer runs for a consumer parked in next (g->waiter)
 *   CLOSING    the producer runs its cleanup after a close or a
 *              cancellation; g->waiter, if set, is an aclose waiting
 *   DONE       the producer has returned (or never will run)
 *
 * References: one per user reference, one while a next/aclose waits
 * (so a release from elsewhere cannot free g under it), and one held by the
 * producer while its task is alive.  When only the producer's reference is
 * left and it is parked at a yield, the generator is closed in the
 * background (the finalizer hook of asyncio).
 */
#include "../task/task.h"
#include "cio/gen.h"

enum { G_CREATED, G_SUSPENDED, G_RUNNING, G_CLOSING, G_DONE };

struct cio_gen {
    cio_aiter iter;        /* the generator seen as an async iterator */
    cio_gen_fn *fn;        /* the producer's body */
    void *arg;             /* its argument */
    cio_task *task;        /* the producer (referenced) while alive */
    cio_task *waiter;      /* consumer parked in next, or aclose caller */
    void *value;           /* the item handed over, while has_value */
    int status;            /* what the body returned, once DONE */
    int interrupted;       /* code that interrupted the waiter, else 0 */
    uint32_t refs;         /* see "References" above */
    uint8_t state;         /* G_* */
    uint8_t has_value;     /* value not yet taken by the consumer */
    uint8_t reported;      /* status was given to the consumer already */
    uint8_t alive;         /* the producer holds its reference */
    char name[];           /* the producer task's name */
};

static const cio_aiter_ops gen_iter_ops;

int cio_gen_new(cio_gen_fn *fn, void *arg, const char *name, cio_gen **out)
{
    if (!out)
        return cio__bad_arg(NULL, __func__, "out is NULL");
    *out = NULL;
    if (!fn)
        return cio__bad_arg(NULL, __func__, "fn is NULL");
    if (!name)
        name = "gen";
    size_t n = strlen(name) + 1;
    cio_gen *g = cio__malloc(sizeof *g + n);
    if (!g)
        return -ENOMEM;
    memset(g, 0, sizeof *g);
    memcpy(g->name, name, n);
    g->iter.ops = &gen_iter_ops;
    g->iter.self = g;
    g->fn = fn;
    g->arg = arg;
    g->refs = 1;
    g->state = G_CREATED;
    *out = g;
    return 0;
}

cio_gen *cio_gen_ref(cio_gen *g)
{
    if (g)
        g->refs++;
    return g;
}

static void producer_finished(cio_gen *g, int rc);

void cio_gen_unref(cio_gen *g)
{
    if (!g)
        return;
    if (--g->refs == 0) {
        cio__free(g);
        return;
    }
    if (g->refs != 1 || !g->alive)
        return;
    /* Only the producer is left. */
    if (cio_task_done(g->task)) {
        /* Its task was destroyed by the loop's close before the body
         * returned: nothing will run it again. */
        producer_finished(g, -ECANCELED);
    } else if (g->state == G_SUSPENDED) {
        /* Close in the background: the pending yield returns CIO_ECLOSED
         * and the producer frees g when it returns. */
        g->state = G_CLOSING;
        g->has_value = 0;
        cio__wake(g->task, CIO_ECLOSED);
    }
}

/* ---- the producer's side ---------------------------------------------- */

/* The body has returned rc (or its task finished without running it):
 * wake whoever waits, drop the task and the producer's reference. */
static void producer_finished(cio_gen *g, int rc)
{
    g->status = rc;
    g->state = G_DONE;
    g->has_value = 0;
    cio_task *w = g->waiter;
    g->waiter = NULL;
    if (w) {
        cio__wake(w, 0);
    } else if (g->refs == 1 && rc < 0 && rc != CIO_ECLOSED && rc != -ECANCELED) {
        /* A background close failed and nobody will ever ask. */
        cio_exception_context c = {
            .message = "error while closing an asynchronous generator",
            .code = rc,
            .task = g->task,
        };
        cio_loop_call_exception_handler(g->task->fut.loop, &c);
    }
    cio_task *t = g->task;
    g->task = NULL;
    g->alive = 0;
    cio_task_unref(t);
    cio_gen_unref(g);
}

/* Done callback of the producer task: only matters when the body never ran
 * (the task was cancelled before it started, or got no stack); the body's
 * own epilogue removes it otherwise. */
static void producer_task_done(cio_future *fut, void *arg)
{
    cio_gen *g = arg;
    if (g->alive && g->task && &g->task->fut == fut)
        producer_finished(g, fut->status < 0 ? fut->status : 0);
}

static int producer_body(void *arg, void **result)
{
    (void)result;
    cio_gen *g = arg;
    int rc = g->fn(g, g->arg);
    cio__future_remove_cb(&g->task->fut, producer_task_done, g);
    producer_finished(g, rc);
    /* The generator carries the outcome; the task itself only ends
     * cancelled or not, so its loop never reports an unretrieved error. */
    return rc == -ECANCELED ? -ECANCELED : 0;
}

/* The producer, parked at a yield, is cancelled or times out. */
static void yield_interrupt(cio_task *t, int code)
{
    cio_gen *g = t->wait_obj;
    g->state = G_CLOSING;
    g->has_value = 0;
    cio__wake(t, code);
}

int cio_gen_yield(cio_gen *g, void *value)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!g)
        return cio__bad_arg(t->fut.loop, __func__, "generator is NULL");
    if (g->task != t)
        return cio__bad_arg(t->fut.loop, __func__, "not called from the generator's producer");
    if (g->state == G_CLOSING)
        return CIO_ECLOSED;
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    g->value = value;
    g->has_value = 1;
    g->state = G_SUSPENDED;
    cio_task *w = g->waiter;
    g->waiter = NULL;
    if (w)
        cio__wake(w, 0);
    return cio__park(t, yield_interrupt, g);
}

/* ---- the consumer's side ---------------------------------------------- */

/* The task waiting in next or aclose is cancelled or times out: cancel the
 * producer too and keep waiting until it has returned (as cio_await does
 * with what it awaits), so nothing is left running behind the caller. */
static void waiter_interrupt(cio_task *t, int code)
{
    cio_gen *g = t->wait_obj;
    if (!g->interrupted)
        g->interrupted = code;
    if (g->task)
        cio_task_cancel(g->task, NULL);
}

/* Parks t as g's waiter until the producer yields or returns; returns the
 * code that interrupted the wait, or `pre` if the caller came in already
 * interrupted, else 0. */
static int wait_producer(cio_gen *g, cio_task *t, int pre)
{
    g->waiter = t;
    g->interrupted = pre;
    g->refs++;
    cio__park(t, waiter_interrupt, g);
    int code = g->interrupted;
    g->interrupted = 0;
    return code;
}

/* next's answer once the producer has returned. */
static int finished_code(cio_gen *g)
{
    if (!g->reported) {
        g->reported = 1;
        if (g->status < 0 && g->status != CIO_ECLOSED)
            return g->status;
    }
    return CIO_ITER_END;
}

int cio_gen_next(cio_gen *g, void **value)
{
    if (value)
        *value = NULL;
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!g || !value)
        return cio__bad_arg(t->fut.loop, __func__, g ? "value is NULL" : "generator is NULL");
    if (g->task == t)
        return -EBUSY;
    if (g->task && g->task->fut.loop != t->fut.loop)
        return cio__bad_arg(t->fut.loop, __func__, "the generator runs on another loop");
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    switch (g->state) {
    case G_DONE:
        return finished_code(g);
    case G_RUNNING:
        return -EBUSY;
    case G_CLOSING:
        if (g->waiter)
            return -EBUSY;
        break; /* a cancelled producer is unwinding: wait for its end */
    case G_SUSPENDED:
        if (g->has_value) {
            /* Yielded to a consumer that was interrupted meanwhile. */
            *value = g->value;
            g->has_value = 0;
            return 0;
        }
        g->state = G_RUNNING;
        cio__wake(g->task, 0);
        break;
    default: /* G_CREATED */
        /* The function, not the macro: no creation site of ours in reports. */
        rc = (cio_loop_create_task)(NULL, producer_body, g, g->name, &g->task);
        if (rc < 0)
            return rc;
        /* The inline callback slot of a new task is free: no allocation. */
        cio__future_add_cb(&g->task->fut, producer_task_done, g);
        g->refs++;
        g->alive = 1;
        g->state = G_RUNNING;
        break;
    }
    int code = wait_producer(g, t, 0);
    if (code) {
        if (g->state == G_DONE)
            g->reported = 1; /* it ended because we cancelled it */
        rc = code;
    } else if (g->has_value) {
        *value = g->value;
        g->has_value = 0;
        rc = 0;
    } else {
        rc = finished_code(g);
    }
    cio_gen_unref(g);
    return rc;
}

int cio_gen_aclose(cio_gen *g)
{
    if (!g)
        return cio__bad_arg(NULL, __func__, "generator is NULL");
    switch (g->state) {
    case G_CREATED:
        g->state = G_DONE;
        g->reported = 1;
        return 0;
    case G_DONE:
        g->reported = 1;
        return 0;
    case G_RUNNING:
        return -EBUSY;
    default:
        break;
    }
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (g->task == t || (g->state == G_CLOSING && g->waiter))
        return -EBUSY;
    if (g->task->fut.loop != t->fut.loop)
        return cio__bad_arg(t->fut.loop, __func__, "the generator runs on another loop");
    if (g->state == G_SUSPENDED) {
        g->state = G_CLOSING;
        g->has_value = 0;
        cio__wake(g->task, CIO_ECLOSED);
    }
    /* A caller already cancelled still closes the generator: the producer
     * is cancelled as well, so its cleanup unwinds fast, and we wait. */
    int pre = cio__checkpoint(t);
    if (pre)
        cio_task_cancel(g->task, NULL);
    int code = wait_producer(g, t, pre);
    g->reported = 1;
    int rc = code;
    if (!rc && g->status < 0 && g->status != CIO_ECLOSED)
        rc = g->status;
    cio_gen_unref(g);
    return rc;
}

int cio_gen_finished(const cio_gen *g) { return g && g->state == G_DONE; }

/* ---- the iterator glue ------------------------------------------------- */

static int gen_iter_next(void *self, void **value) { return cio_gen_next(self, value); }
static int gen_iter_aclose(void *self) { return cio_gen_aclose(self); }

static const cio_aiter_ops gen_iter_ops = {gen_iter_next, gen_iter_aclose};

cio_aiter *cio_gen_aiter(cio_gen *g) { return g ? &g->iter : NULL; }
