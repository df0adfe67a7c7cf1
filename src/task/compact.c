/*
 * compact.c - idle-stack compaction: the stacks of tasks parked for long
 * give their pages back.
 *
 * A parked task's stack is resident from its deepest frame ever to the
 * top, at least one page, while what it needs to resume is only the part
 * from its saved stack pointer up: a few hundred bytes for a task parked
 * in cio_sleep.  So at the loop's trim (about once a second while tasks
 * park) the scheduler copies that part of every task parked longer than
 * the loop's compact_after_ns into an image and drops all the stack's
 * pages (cio__stack_compact, in batches of one system call); the stack
 * keeps its addresses, and any access to it by other code (a child task
 * writing into its parent's frame) faults the bytes back in
 * (src/coro/stack_compact.c).  Just before the task runs again the bytes
 * go back to the same addresses, so every pointer into the stack is valid:
 * a compacted task's ready-queue node runs cio__task_node_run_compacted,
 * which the direct task-to-task switches of sched.c do not take, so the
 * task resumes through the loop's context, and the hot switch paths carry
 * no check for compaction at all.
 *
 * What may be compacted: only tasks parked where nothing of the library
 * keeps state on the parked task's stack, since nothing may touch that
 * memory while its pages are gone: cio_sleep (its timer is a heap handle)
 * and cio_await (the future's callback names the task struct).  gather,
 * wait, wait_for, locks, queues and I/O keep their wait records on the
 * waiter's stack and are left alone, as are pinned tasks (cio__task_pin:
 * a caller of cio_await that lent its stack).  Timeout scopes are heap
 * objects; their firing touches the task struct, not its stack.
 *
 * Compacted tasks live on their own list, sched->compacted, so that a scan
 * walks only the tasks that are not compacted yet: a million compacted
 * tasks cost the trim nothing.
 *
 * Not with the ucontext fallback, whose saved stack pointer is buried in
 * the machine context: there compaction is off.
 */
#include "task.h"

static void list_unlink(cio_task **head, cio_task *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        *head = t->next;
    if (t->next)
        t->next->prev = t->prev;
}

static void list_push(cio_task **head, cio_task *t)
{
    t->prev = NULL;
    t->next = *head;
    if (*head)
        (*head)->prev = t;
    *head = t;
}

#ifndef CIO_CORO_UCONTEXT /* the ucontext switch never compacts */
/* Whether t waits at a point where its stack may be compacted. */
static int compactable(const cio_task *t)
{
    return t->state == CIO__T_PARKED && t->stack && !t->pinned &&
           (t->interrupt == cio__sleep_interrupt || t->interrupt == cio__await_interrupt);
}
#endif

void cio__sched_compact(struct cio__sched *s)
{
#ifdef CIO_CORO_UCONTEXT
    (void)s;
#else
    cio_loop *loop = s->loop;
    int64_t after = loop->compact_after_ns;
    if (!after || !s->entered)
        return;
    struct cio__stack_compactor c;
    cio__stack_compactor_init(&c);
    int young = 0;
    for (cio_task *t = s->tasks, *next; t; t = next) {
        next = t->next;
        if (!compactable(t))
            continue;
        if (loop->now - t->parked_at < after) {
            young = 1;
            continue;
        }
        if (cio__stack_compact(t->stack, t->ctx.sp, &c) < 0)
            continue; /* no memory for the image, or too deep: as it is */
        list_unlink(&s->tasks, t);
        list_push(&s->compacted, t);
        t->node.run = cio__task_node_run_compacted;
        t->flags |= CIO__TF_COMPACT;
        s->ncompacted++;
    }
    cio__stack_compactor_flush(&c);
    /* Tasks that will be old enough later need another look; those that
     * park afterwards ask for one themselves (cio__park). */
    if (young)
        cio__loop_want_trim(loop);
#endif
}

void cio__task_node_run_compacted(struct cio__node *node)
{
    cio_task *t = CIO_CONTAINER_OF(node, cio_task, node);
    struct cio__sched *s = t->fut.loop->sched;
    cio__stack_expand(t->stack);
    t->node.run = cio__task_node_run;
    t->flags &= (uint8_t)~CIO__TF_COMPACT;
    s->ncompacted--;
    list_unlink(&s->compacted, t);
    list_push(&s->tasks, t);
    cio__task_node_run(node);
}

void cio__sched_uncompact_list(struct cio__sched *s)
{
    while (s->compacted) {
        cio_task *t = s->compacted;
        list_unlink(&s->compacted, t);
        list_push(&s->tasks, t);
    }
    s->ncompacted = 0;
}
