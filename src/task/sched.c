/*
 * sched.c - running tasks: start, park, wake, switch, finish.
 *
 * When a task suspends it does not return to the loop if it can avoid it:
 * if the next ready node is a task and the iteration's budget allows, it
 * switches straight to that task (one switch instead of two).  Only a
 * callback, an empty queue, an exhausted budget, or debug mode (which times
 * every step on the loop's stack) send it back to the loop's context.
 *
 * A finishing task releases its stack before its last switch.  That is
 * safe because nothing between the release and the switch can take a
 * stack: the next task is chosen (and, if new, given its stack) first.
 * Stacks with their own mapping, and TSan's fibers, cannot be freed while
 * in use, so those tasks end on the loop's stack, which frees them.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "task.h"

CIO_TLS cio_task *cio__running_task;

static void task_entry(void *arg);

static void overflow_abort(cio_task *t)
{
    /* The canary under the stack was overwritten: memory below it is
     * already damaged, so stop before anything else runs. */
    char msg[256];
    int n = snprintf(msg, sizeof msg, "cio: task '%s' overflowed its stack (canary)\n",
                     cio_task_get_name(t));
    if (n > 0 && write(2, msg, (size_t)n) < 0)
        n = 0;
    abort();
}

/* Finishes a task that never ran (cancelled first, or no stack). */
static void finish_unstarted(cio_task *t, int code)
{
    struct cio__sched *s = t->fut.loop->sched;
    char *msg;
    if (code == -ECANCELED) {
        msg = t->cancel_msg;
        t->cancel_msg = NULL;
    } else {
        msg = cio__strdup("no memory for the task's stack");
    }
    cio__task_retire(s, t);
    if (CIO_UNLIKELY(t->fut.loop->debug))
        cio__task_debug_finished(s, t, code);
    cio__future_complete(&t->fut, code, NULL, msg);
    t->flags &= (uint8_t)~CIO__TF_LOOPREF;
    cio_task_unref(t);
}

/* Gives a new task its stack; 0, or 1 if it finished without running. */
static int start_prepare(struct cio__sched *s, cio_task *t)
{
    if (t->flags & CIO__TF_CANCEL) {
        finish_unstarted(t, -ECANCELED);
        return 1;
    }
    cio__stack *st = cio__stack_get(&s->stacks, t->stack_size);
    if (!st) {
        finish_unstarted(t, -ENOMEM);
        return 1;
    }
    t->stack = st;
    cio__ctx_make(&t->ctx, st->lo, st->size, task_entry, t);
    t->flags |= CIO__TF_HASCTX;
    return 0;
}

/* The next task to switch to directly, or NULL to go through the loop:
 * a task, if the batch/poll policy (cio__ready_next) lets one run now.
 * Debug mode times every step on the loop's stack, so it never switches
 * directly. */
static __attribute__((noinline)) cio_task *next_direct_slow(cio_loop *loop)
{
    for (;;) {
        if (loop->debug)
            return NULL;
        struct cio__node *n = cio__ready_next(loop, cio__task_node_run);
        if (!n)
            return NULL;
        cio_task *next = CIO_CONTAINER_OF(n, cio_task, node);
        if (next->state == CIO__T_CREATED && start_prepare(loop->sched, next))
            continue;
        return next;
    }
}

/* A new task taken from the queue, given its stack: itself, or the next
 * task after it if it finished without running. */
static inline cio_task *prepare_new(cio_loop *loop, cio_task *next)
{
    if (start_prepare(loop->sched, next))
        return next_direct_slow(loop);
    return next;
}

/* next_direct for a new task, out of line. */
static __attribute__((noinline)) cio_task *next_direct_new(cio_loop *loop, cio_task *next)
{
    return prepare_new(loop, next);
}

/* The next task to switch to directly at a task's end, or NULL to go
 * through the loop; its common case (a task that has run before is next)
 * inline, calling out only from cold branches. */
static inline cio_task *next_direct(cio_loop *loop)
{
    if (CIO_UNLIKELY(loop->debug))
        return NULL;
    struct cio__node *n = cio__ready_next(loop, cio__task_node_run);
    if (!n)
        return NULL;
    cio_task *next = CIO_CONTAINER_OF(n, cio_task, node);
    if (CIO_UNLIKELY(next->state == CIO__T_CREATED))
        return next_direct_new(loop, next);
    return next;
}

/* cio__switch_away once next is known (NULL: back to the loop). */
static inline void switch_to(cio_loop *loop, cio_task *t, cio_task *next)
{
    if (CIO_LIKELY(next && next != t)) {
        next->state = CIO__T_RUNNING;
        cio__running_task = next;
        cio__ctx_switch(&t->ctx, &next->ctx, 0);
    } else if (next) {
        /* It was the only one ready (cio_sleep(0) alone): no switch.  A
         * switch to itself would resume from its stale saved context. */
        t->state = CIO__T_RUNNING;
    } else {
        cio__running_task = NULL;
        cio__ctx_switch(&t->ctx, &loop->sched->main_ctx, 0);
    }
}

/* cio__switch_away when the next task is new: it gets its stack first. */
static __attribute__((noinline)) void switch_away_new(cio_loop *loop, cio_task *t, cio_task *next)
{
    switch_to(loop, t, prepare_new(loop, next));
}

/* Its common case calls nothing but the switch (a tail call where no
 * sanitizer is told about it), so it keeps nothing in saved registers:
 * a new task's preparation is a call of its own. */
void cio__switch_away(cio_loop *loop, cio_task *t)
{
    if (CIO_UNLIKELY(!cio__stack_canary_ok(t->stack)))
        overflow_abort(t);
    cio_task *next = NULL;
    if (CIO_LIKELY(!loop->debug)) {
        struct cio__node *n = cio__ready_next(loop, cio__task_node_run);
        if (n) {
            next = CIO_CONTAINER_OF(n, cio_task, node);
            if (CIO_UNLIKELY(next->state == CIO__T_CREATED)) {
                switch_away_new(loop, t, next);
                return;
            }
        }
    }
    switch_to(loop, t, next);
}

void cio__task_node_run(struct cio__node *node)
{
    cio_task *t = CIO_CONTAINER_OF(node, cio_task, node);
    struct cio__sched *s = t->fut.loop->sched;
    if (t->state == CIO__T_CREATED && start_prepare(s, t))
        return;
    t->state = CIO__T_RUNNING;
    cio__running_task = t;
    cio__ctx_switch(&s->main_ctx, &t->ctx, 0);
    cio__running_task = NULL;
#ifdef CIO_TSAN
    if (s->dead_fiber) {
        __tsan_destroy_fiber(s->dead_fiber);
        s->dead_fiber = NULL;
    }
#endif
    /* A finished task whose stack has its own mapping ended here, on the
     * loop's stack, which can unmap it. */
    if (CIO_UNLIKELY(s->dead_stack != NULL)) {
        cio__sched_put_stack(s, s->dead_stack);
        s->dead_stack = NULL;
    }
}

void cio__wake(cio_task *t, int code)
{
    if (t->state != CIO__T_PARKED)
        return; /* destroyed at loop close, or already woken */
    t->interrupt = NULL;
    t->wait_obj = NULL;
    t->wake_code = code;
    t->state = CIO__T_READY;
    cio__queue_push(&t->fut.loop->ready, &t->node);
}

void cio__task_interrupt(cio_task *t, int code)
{
    if (t->state == CIO__T_PARKED && !t->shield && t->interrupt)
        t->interrupt(t, code);
}

static void task_finish(cio_task *t, int rc, void *result)
{
    struct cio__sched *s = t->fut.loop->sched;
    char *msg = t->pending_message;
    t->pending_message = NULL;
    if (rc >= 0 && CIO_UNLIKELY(msg != NULL)) {
        /* cio_set_error_message only names a failure (task.h): a task
         * that set one and then succeeded has no error message. */
        cio__free(msg);
        msg = NULL;
    }
    if (CIO_UNLIKELY(t->scopes != NULL))
        cio__timeout_abandon(t);
    if (rc == -ECANCELED && !msg) {
        msg = t->cancel_msg;
        t->cancel_msg = NULL;
    }
    cio__task_retire(s, t);
    if (CIO_UNLIKELY(t->fut.loop->debug))
        cio__task_debug_finished(s, t, rc);
    cio__future_complete(&t->fut, rc < 0 ? rc : 0, rc < 0 ? NULL : result, msg);
}

static void task_entry(void *arg)
{
    cio__ctx_entered();
    cio_task *t = arg;
    cio_loop *loop = t->fut.loop;
    struct cio__sched *sc = loop->sched;
    void *result = NULL;
    int rc = t->fn(t->arg, &result);
    task_finish(t, rc, result);

    cio__stack *s = t->stack;
    t->stack = NULL;
    int must_return = !s->pooled;
#ifdef CIO_TSAN
    sc->dead_fiber = t->ctx.tsan_fiber;
    t->ctx.tsan_fiber = NULL;
    must_return = 1;
#endif
    if (CIO_UNLIKELY(!cio__stack_canary_ok(s)))
        overflow_abort(t);
    t->flags &= (uint8_t)~CIO__TF_LOOPREF;
    /* cio_task_unref: may free t, use only locals from here. */
    if (--t->fut.refs == 0)
        cio__task_free(t);
    cio_task *next = must_return ? NULL : next_direct(loop);
    if (s->pooled)
        cio__sched_put_stack(sc, s);
    else
        sc->dead_stack = s;
    if (next) {
        next->state = CIO__T_RUNNING;
        cio__running_task = next;
        cio__ctx_switch(&sc->trash_ctx, &next->ctx, 1);
    } else {
        cio__running_task = NULL;
        cio__ctx_switch(&sc->trash_ctx, &sc->main_ctx, 1);
    }
    __builtin_unreachable();
}

/* A task's waiter (what the loop and the I/O layer wake). */
void cio__task_waiter_wake(struct cio__waiter *w, int result)
{
    cio__wake(CIO_CONTAINER_OF(w, cio_task, waiter), result);
}
