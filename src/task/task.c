/*
 * task.c - the task object: creation, cancellation, names, references,
 * the loop's list of pending tasks, and destruction.
 *
 * Task structs are recycled through a per-loop free list, so spawning a
 * task in steady state costs no allocator call; its stack comes from the
 * stack pool when it first runs (a task cancelled before it starts never
 * gets one).  The list keeps up to CIO__TASK_POOL_HOT structs for good and
 * up to TASK_POOL_MAX for a while: the surplus goes back to the allocator
 * with the stack pool's trim (sched_loop.c, about a second later), so a burst
 * that comes again (a gather of 10k tasks per request) reuses its structs
 * and an idle loop does not keep them.  At 280 bytes a struct (x86-64),
 * that is 1.1 MiB kept and at most 17 MiB for a second after a burst of
 * 64k tasks, whose stacks took at least 16 times as much.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "task.h"

/* Freed structs kept until the next trim; CIO__TASK_POOL_HOT (loop.h) of
 * them stay.  With 4096 for both, gather_10k malloc'ed and freed 6k of
 * its 10k structs every round. */
#define TASK_POOL_MAX 65536

#undef cio_create_task
#undef cio_loop_create_task

/* Fills a task struct (recycled or new) as a fresh pending task and queues
 * it.  The fields that start at zero are one block (task.h). */
static inline void task_setup(cio_loop *loop, struct cio__sched *s, cio_task *t, cio_coro_fn *fn,
                              void *arg, char *owned_name, size_t stack_size, int refs,
                              const char *file, int line)
{
    cio__future_init(&t->fut, loop, CIO__FF_TASK);
    t->fut.refs = (uint32_t)refs;
    t->node.run = cio__task_node_run;
    t->waiter.wake = cio__task_waiter_wake;
    t->fn = fn;
    t->arg = arg;
    t->stack_size = stack_size;
    t->id = s->next_task_id++;
    t->name = owned_name;
    t->file = file;
    t->line = line;
    t->flags = CIO__TF_LOOPREF;
    t->state = CIO__T_CREATED;
    t->pinned = 0;
    /* No stack, not parked, no messages, no shield, no scopes; parked_at
     * 0: parked before compaction was turned on is "long". */
    memset(&t->stack, 0, offsetof(cio_task, namebuf) - offsetof(cio_task, stack));
    t->namebuf[0] = 0;
    t->prev = NULL;
    t->next = s->tasks;
    if (s->tasks)
        s->tasks->prev = t;
    s->tasks = t;
    s->ntasks++;
    cio__queue_push(&loop->ready, &t->node);
}

/* cio_task_new but for its common case: every check, the name's copy
 * and the allocation of a struct when the pool is empty. */
static __attribute__((noinline)) int task_create_slow(cio_loop *loop, cio_coro_fn *fn, void *arg,
                                                      const cio_task_options *o, cio_task **out)
{
    if (out)
        *out = NULL;
    if (!loop)
        loop = cio__running_loop;
    if (!loop)
        return CIO_ENOLOOP;
    if (!fn)
        return cio__bad_arg(loop, "cio_create_task", "fn is NULL");
    size_t stack_size = o->stack_size;
    if (stack_size && (stack_size < 16 * 1024 || stack_size > ((size_t)1 << 30)))
        return cio__bad_arg(loop, "cio_create_task", "stack_size must be 0 or 16 KiB .. 1 GiB");
    if (loop->closed)
        return CIO_ECLOSED;
    int rc = cio__check_thread(loop, "cio_create_task");
    if (rc)
        return rc;
    struct cio__sched *s = cio__sched_get(loop);
    if (!s)
        return -ENOMEM;
    char *owned_name = NULL;
    if (o->name && !(owned_name = cio__strdup(o->name)))
        return -ENOMEM;
    cio_task *t = s->free_tasks;
    if (t) {
        s->free_tasks = t->next;
        s->nfree_tasks--;
    } else if (!(t = cio__malloc(sizeof *t))) {
        cio__free(owned_name);
        return -ENOMEM;
    } else {
        memset(&t->ctx, 0, sizeof t->ctx);
    }
    task_setup(loop, s, t, fn, arg, owned_name, stack_size, out ? 2 : 1, o->file, o->line);
    if (out)
        *out = t;
    return 0;
}

/* The common case, a struct from the pool, without a name, in release
 * mode, inline; everything else (and every error) through the slow path,
 * which checks in the documented order.  The options stay behind their
 * pointer, so the slow call passes five arguments, not eight. */
static inline int task_create(cio_loop *loop, cio_coro_fn *fn, void *arg,
                              const cio_task_options *o, cio_task **out)
{
    if (!loop)
        loop = cio__running_loop;
    struct cio__sched *s;
    cio_task *t;
    size_t stack_size = o->stack_size;
    if (CIO_UNLIKELY(!loop || !fn || o->name || loop->closed || loop->debug ||
                     (stack_size && (stack_size < 16 * 1024 || stack_size > ((size_t)1 << 30))) ||
                     !(s = loop->sched) || !(t = s->free_tasks)))
        return task_create_slow(loop, fn, arg, o, out);
    s->free_tasks = t->next;
    s->nfree_tasks--;
    task_setup(loop, s, t, fn, arg, NULL, stack_size, out ? 2 : 1, o->file, o->line);
    if (out)
        *out = t;
    return 0;
}

int cio_task_new(cio_loop *loop, cio_coro_fn *fn, void *arg, const cio_task_options *opts,
                 cio_task **out)
{
    static const cio_task_options defaults;
    return task_create(loop, fn, arg, opts ? opts : &defaults, out);
}

int cio_create_task(cio_coro_fn *fn, void *arg, const char *name, cio_task **out)
{
    cio_task_options o = {.name = name};
    return task_create(NULL, fn, arg, &o, out);
}

int cio_loop_create_task(cio_loop *loop, cio_coro_fn *fn, void *arg, const char *name,
                         cio_task **out)
{
    cio_task_options o = {.name = name};
    return task_create(loop, fn, arg, &o, out);
}

/* cio__task_free for every case but the common one. */
static __attribute__((noinline)) void task_free_slow(cio_task *t)
{
    cio_loop *loop = t->fut.loop;
    struct cio__sched *s = loop->sched;
    if (t->state != CIO__T_DONE) {
        /* Destroyed while pending (loop close): unlink, drop its stack. */
        cio__task_retire(s, t);
        if (t->stack)
            cio__sched_put_stack(s, t->stack);
        t->stack = NULL;
    }
    if (CIO_UNLIKELY(t->flags & CIO__TF_HELD)) {
        /* Released at last: off the debug list of held finished tasks. */
        if (t->prev)
            t->prev->next = t->next;
        else
            s->held = t->next;
        if (t->next)
            t->next->prev = t->prev;
        t->prev = t->next = NULL;
        t->flags &= (uint8_t)~CIO__TF_HELD;
    }
    if (CIO_UNLIKELY(t->scopes != NULL))
        cio__timeout_abandon(t);
    if (CIO_UNLIKELY(t->fut.status < 0))
        cio__future_report_unretrieved(&t->fut);
    cio__future_fini(&t->fut);
    /* Mostly all NULL: test before calling, this is every task's path. */
    if (CIO_UNLIKELY(t->name || t->pending_message || t->cancel_msg || t->source)) {
        cio__free(t->name);
        cio__free(t->pending_message);
        cio__free(t->cancel_msg);
        cio__free(t->source);
        t->name = t->pending_message = t->cancel_msg = t->source = NULL;
    }
    if (s && s->nfree_tasks < TASK_POOL_MAX && !loop->closed) {
        t->next = s->free_tasks;
        s->free_tasks = t;
        /* Past the hot reserve, arm the trim now: a loop that goes idle
         * right after the burst still wakes to give the surplus back. */
        if (CIO_UNLIKELY(++s->nfree_tasks > CIO__TASK_POOL_HOT))
            cio__loop_want_trim(loop);
    } else {
        cio__ctx_destroy(&t->ctx);
        cio__free(t);
    }
}

/* The common case, a finished task with nothing owned to free going back
 * to the pool, inline and saving no registers: everything it tests
 * stands for a branch of task_free_slow. */
void cio__task_free(cio_task *t)
{
    cio_loop *loop = t->fut.loop;
    struct cio__sched *s = loop->sched;
    if (CIO_UNLIKELY(t->state != CIO__T_DONE || (t->flags & CIO__TF_HELD) || t->scopes ||
                     t->fut.status < 0 || t->fut.message || t->fut.cbs || t->name ||
                     t->pending_message || t->cancel_msg || t->source || loop->closed || !s ||
                     s->nfree_tasks >= CIO__TASK_POOL_HOT)) {
        task_free_slow(t);
        return;
    }
    t->next = s->free_tasks;
    s->free_tasks = t;
    s->nfree_tasks++;
}

void cio__tasks_trim(struct cio__sched *s)
{
    while (s->nfree_tasks > CIO__TASK_POOL_HOT) {
        cio_task *t = s->free_tasks;
        s->free_tasks = t->next;
        s->nfree_tasks--;
        cio__ctx_destroy(&t->ctx);
        cio__free(t);
    }
}

void cio__tasks_fini(struct cio__sched *s)
{
    while (s->free_tasks) {
        cio_task *t = s->free_tasks;
        s->free_tasks = t->next;
        cio__ctx_destroy(&t->ctx);
        cio__free(t);
    }
    s->nfree_tasks = 0;
}

cio_task *cio_task_ref(cio_task *t)
{
    if (t)
        t->fut.refs++;
    return t;
}

void cio_task_unref(cio_task *t)
{
    if (t && --t->fut.refs == 0)
        cio__task_free(t);
}

cio_future *cio_task_future(cio_task *t) { return t ? &t->fut : NULL; }

int cio_task_await(cio_task *t, void **result)
{
    if (!t)
        return cio__bad_arg(NULL, __func__, "task is NULL");
    return cio_await(&t->fut, result);
}

int cio_task_cancel(cio_task *t, const char *msg)
{
    if (!t)
        return cio__bad_arg(NULL, __func__, "task is NULL");
    int rc = cio__check_thread(t->fut.loop, __func__);
    if (rc)
        return rc;
    if (t->state == CIO__T_DONE)
        return 0;
    if (msg) {
        char *m = cio__strdup(msg);
        if (m) {
            cio__free(t->cancel_msg);
            t->cancel_msg = m;
        }
    }
    t->flags |= CIO__TF_CANCEL;
    cio__task_interrupt(t, -ECANCELED);
    return 1;
}

int cio_task_cancelling(const cio_task *t)
{
    return t && t->state != CIO__T_DONE && (t->flags & CIO__TF_CANCEL);
}

int cio_task_cancelled(const cio_task *t) { return t && cio_future_cancelled(&t->fut); }
int cio_task_done(const cio_task *t) { return t && t->state == CIO__T_DONE; }

int cio_task_result(cio_task *t, void **result)
{
    if (!t)
        return cio__bad_arg(NULL, __func__, "task is NULL");
    return cio_future_result(&t->fut, result);
}

/* While the task has not finished, the message it set last: a caller that
 * called a coroutine function directly (the translation of
 * `await coro()`) reads the message that function set at once. */
const char *cio_task_error_message(const cio_task *t)
{
    if (!t)
        return NULL;
    return t->state == CIO__T_DONE ? t->fut.message : t->pending_message;
}

const char *cio_task_get_name(const cio_task *t)
{
    if (!t)
        return NULL;
    if (t->name)
        return t->name;
    if (!t->namebuf[0]) {
        cio_task *mt = (cio_task *)t; /* the default name is made on demand */
        snprintf(mt->namebuf, sizeof mt->namebuf, "Task-%llu", (unsigned long long)t->id);
    }
    return t->namebuf;
}

int cio_task_set_name(cio_task *t, const char *name)
{
    if (!t)
        return cio__bad_arg(NULL, __func__, "task is NULL");
    if (!name)
        return cio__bad_arg(t->fut.loop, __func__, "name is NULL");
    char *n = cio__strdup(name);
    if (!n)
        return -ENOMEM;
    cio__free(t->name);
    t->name = n;
    return 0;
}

uint64_t cio_task_id(const cio_task *t) { return t ? t->id : 0; }

const char *cio_task_source(const cio_task *t)
{
    if (!t || !t->file)
        return NULL;
    if (!t->source) {
        cio_task *mt = (cio_task *)t;
        size_t n = strlen(t->file) + 16;
        mt->source = cio__malloc(n);
        if (!mt->source)
            return t->file;
        snprintf(mt->source, n, "%s:%d", t->file, t->line);
    }
    return t->source;
}

int cio_set_error_message(const char *fmt, ...)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    char *m = NULL;
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(NULL, 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -EINVAL;
        m = cio__malloc((size_t)n + 1);
        if (!m)
            return -ENOMEM;
        va_start(ap, fmt);
        vsnprintf(m, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    cio__free(t->pending_message);
    t->pending_message = m;
    return 0;
}

cio_task *cio_current_task(void) { return cio__current(); }

size_t cio_all_tasks(cio_loop *loop, cio_task **buf, size_t cap)
{
    if (!loop)
        loop = cio__running_loop;
    if (!loop)
        return 0;
    struct cio__sched *s = loop->sched;
    if (!s)
        return 0;
    size_t i = 0;
    for (cio_task *t = s->tasks; t && buf && i < cap; t = t->next)
        buf[i++] = t;
    for (cio_task *t = s->compacted; t && buf && i < cap; t = t->next)
        buf[i++] = t;
    return s->ntasks;
}

size_t cio__cancel_all(cio_loop *loop)
{
    size_t n = 0;
    if (!loop->sched)
        return 0;
    /* Cancelling only wakes: nothing moves between the lists here. */
    for (cio_task *t = loop->sched->tasks; t; t = t->next) {
        cio_task_cancel(t, NULL);
        n++;
    }
    for (cio_task *t = loop->sched->compacted; t; t = t->next) {
        cio_task_cancel(t, NULL);
        n++;
    }
    return n;
}

/* ---- shields and checkpoints -------------------------------------- */

int cio_shield_begin(void)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    t->shield++;
    return 0;
}

int cio_shield_end(void)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (t->shield <= 0)
        return cio__bad_arg(t->fut.loop, __func__, "no shield to end");
    t->shield--;
    return 0;
}

int cio_checkpoint(void)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    return cio__checkpoint(t);
}
