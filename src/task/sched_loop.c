/*
 * sched_loop.c - the task layer's state of a loop (struct cio__sched):
 * made with the first task or future, kept as the loop's extension of rank
 * CIO__EXT_TASK, and what it does for the loop through the extension's
 * hooks: set up the contexts on entry, give back pooled memory on trim,
 * name tasks in debug reports and log lines, and destroy the tasks still
 * pending when the loop closes.
 */
#include <pthread.h>
#include <stdio.h>

#include "task.h"

static const char sched_key = 0;

/* Log lines name the running task ("cio info [Task-3]: ..."). */
static const char *current_task_name(void)
{
    cio_task *t = cio__current();
    return t ? cio_task_get_name(t) : NULL;
}

static void drop_future(void *fut) { cio_future_unref(fut); }

/* The hooks below the task layer call up through; set once per process. */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;
static void install_hooks(void)
{
    cio__log_context = current_task_name;
    cio__handle_drop_arg2 = drop_future;
}

/* Debug mode's slow-step report names the task about to run. */
static void describe_node(struct cio__node *n, char *buf, size_t cap)
{
    if (n->run != cio__task_node_run && n->run != cio__task_node_run_compacted)
        return;
    cio_task *t = CIO_CONTAINER_OF(n, cio_task, node);
    const char *src = cio_task_source(t);
    snprintf(buf, cap, "task '%s' (created at %s)", cio_task_get_name(t), src ? src : "?");
}

static void sched_enter(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct cio__sched *s = (struct cio__sched *)ext;
    cio__ctx_init_thread(&s->main_ctx);
    cio__ctx_init_thread(&s->trash_ctx);
    /* The pool is made at the first entry, not with the first task, so
     * cio_loop_set_stack_size still applies to tasks created before the
     * loop first runs. */
    if (!s->entered)
        cio__stack_pool_init(&s->stacks, loop->stack_size);
    s->entered = 1;
}

static void sched_trim(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct cio__sched *s = (struct cio__sched *)ext;
    (void)loop;
    if (s->entered)
        cio__stack_trim(&s->stacks);
    cio__tasks_trim(s);
    cio__sched_compact(s);
}

/*
 * Phase 1 of close.  Pending tasks are destroyed while pending (asyncio:
 * "Task was destroyed but it is pending!").  First every parked task is
 * detached from what it waits on (a timer, a descriptor, a lock's queue
 * whose waiter records live on the stacks about to be recycled, an
 * executor's work item, a future that may outlive the loop), or that would
 * later wake freed memory.  Its interrupt function does exactly that;
 * cio_await's would cancel the awaited future, which is not ours to
 * change, so it is undone instead.
 */
static void sched_closing(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct cio__sched *s = (struct cio__sched *)ext;
    /* Compacted tasks never run again: their images are freed with their
     * stacks (cio__stack_put), and close walks one list. */
    cio__sched_uncompact_list(s);
    for (cio_task *t = s->tasks; t; t = t->next) {
        if (loop->debug) {
            cio_exception_context c = {.message = "Task was destroyed but it is pending",
                                       .task = t,
                                       .source = cio_task_source(t)};
            cio__report(loop, &c);
        }
        if (t->state == CIO__T_PARKED && !cio__await_abandon(t) && t->interrupt)
            t->interrupt(t, -ECANCELED);
    }
}

/* Phase 2 of close: runs after the layers above (an executor has waited
 * for its threads), while handles and timers still exist. */
static void sched_close(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct cio__sched *s = (struct cio__sched *)ext;
    cio_task *pending = s->tasks;
    s->tasks = NULL;
    s->ntasks = 0;
    for (cio_task *t = pending; t; t = t->next)
        t->state = CIO__T_DONE;
    /* Stacks go back to the pool only after every future is complete:
     * done callbacks that run synchronously (gather's counter, say) may
     * keep their state on another destroyed task's stack. */
    for (cio_task *t = pending; t; t = t->next)
        cio__future_complete(&t->fut, -ECANCELED, NULL, cio__strdup("loop closed"));
    for (cio_task *t = pending; t; t = t->next) {
        if (t->stack)
            cio__sched_put_stack(s, t->stack);
        t->stack = NULL;
    }
    /* Empty the ready queue before the loop's task references go: a task
     * never started (or woken) still has its node in the queue, and a
     * task struct released beyond the recycling pool is freed at once. */
    cio__ready_drop_all(loop);
    while (pending) {
        cio_task *next = pending->next;
        pending->prev = pending->next = NULL;
        pending->flags &= (uint8_t)~CIO__TF_LOOPREF;
        cio_task_unref(pending);
        pending = next;
    }
    cio__tasks_fini(s);
    cio__futures_fini(s);
    if (s->entered)
        cio__stack_pool_fini(&s->stacks);
    loop->sched = NULL;
    loop->describe_node = NULL;
    cio__free(s);
}

struct cio__sched *cio__sched_make(cio_loop *loop)
{
    pthread_once(&hooks_once, install_hooks);
    struct cio__sched *s = cio__calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->loop = loop;
    s->next_task_id = 1;
    s->ext.key = &sched_key;
    s->ext.rank = CIO__EXT_TASK;
    s->ext.on_enter = sched_enter;
    s->ext.on_closing = sched_closing;
    s->ext.on_close = sched_close;
    s->ext.trim = sched_trim;
    cio__loop_ext_add(loop, &s->ext);
    loop->describe_node = describe_node;
    loop->sched = s;
    if (loop->running)
        sched_enter(loop, &s->ext);
    return s;
}
