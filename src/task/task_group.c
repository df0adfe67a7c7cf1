/*
 * task_group.c - task groups, asyncio.TaskGroup: the parent waits for all
 * the group's tasks; the first failure cancels the others; every failure
 * is kept for the parent to read.
 *
 * The group keeps a reference on each task until it is done and compacted
 * away, and one synchronous completion callback (a single cio__direct
 * shared by all tasks: the finished task arrives as the callback's future)
 * counts them down, records failures and, on the first one, aborts: it
 * cancels the other tasks and interrupts the parent once if it is parked
 * elsewhere than in the group's wait.  The failure array is grown when
 * tasks are created, so the callback never allocates.
 *
 * Divided as: abort and the completion callback, new/create_task, wait,
 * queries, free.
 */
#include "combine.h"

struct tg_failure {
    cio_task *task;             /* the failed task (our reference) */
    int code;                   /* its status */
};

struct cio_task_group {
    struct cio__direct d;       /* registered on every task of the group */
    cio_loop *loop;             /* the parent's loop */
    cio_task *parent;           /* the task that made the group (our ref) */
    cio_task **tasks;           /* tasks not yet compacted away (our refs) */
    size_t ntasks, captasks;
    size_t ndone;               /* entries of tasks that are done */
    size_t pending;             /* tasks not done */
    size_t created;             /* tasks ever created: bounds nfails */
    struct tg_failure *fails;   /* failures, in the order they happened */
    size_t nfails, capfails;
    int interrupted;            /* code the parent got before/in the wait */
    int result;                 /* what the finished wait returned */
    uint8_t aborting;           /* a failure or cancel: no new tasks */
    uint8_t waiting;            /* the parent is inside cio_task_group_wait */
    uint8_t finished;           /* the wait is over */
};

/* Cancels every pending task of the group; returns how many. */
static int tg_cancel_all(cio_task_group *g)
{
    int n = 0;
    g->aborting = 1;
    for (size_t i = 0; i < g->ntasks; i++)
        if (g->tasks[i]->state != CIO__T_DONE)
            n += cio_task_cancel(g->tasks[i], NULL) > 0;
    return n;
}

static void tg_task_done(struct cio__direct *d, cio_future *f)
{
    cio_task_group *g = (cio_task_group *)d;
    cio_task *t = (cio_task *)f;
    g->pending--;
    g->ndone++;
    if (f->status < 0 && f->status != -ECANCELED) {
        /* capfails >= created, so this never allocates. */
        f->flags |= CIO__FF_RETRIEVED;
        cio_task_ref(t);
        g->fails[g->nfails].task = t;
        g->fails[g->nfails].code = f->status;
        g->nfails++;
        if (!g->aborting) {
            tg_cancel_all(g);
            if (!g->waiting)
                cio__task_interrupt(g->parent, -ECANCELED);
        }
    }
    if (!g->pending && g->waiting)
        cio__wake(g->parent, 0);
}

/* Drops the group's references to tasks that are done. */
static void tg_compact(cio_task_group *g)
{
    size_t j = 0;
    for (size_t i = 0; i < g->ntasks; i++) {
        if (g->tasks[i]->state == CIO__T_DONE)
            cio_task_unref(g->tasks[i]);
        else
            g->tasks[j++] = g->tasks[i];
    }
    g->ntasks = j;
    g->ndone = 0;
}

int cio_task_group_new(cio_task_group **out)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!out)
        return cio__bad_arg(t->fut.loop, __func__, "out is NULL");
    cio_task_group *g = cio__calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    g->d.fn = tg_task_done;
    g->loop = t->fut.loop;
    g->parent = t;
    cio_task_ref(t);
    *out = g;
    return 0;
}

int cio_task_group_create_task(cio_task_group *g, cio_coro_fn *fn, void *arg, const char *name,
                              cio_task **out)
{
    if (out)
        *out = NULL;
    if (!g)
        return cio__bad_arg(NULL, __func__, "group is NULL");
    if (!fn)
        return cio__bad_arg(g->loop, __func__, "fn is NULL");
    if (g->finished)
        return CIO_EINVALSTATE;
    if (g->aborting)
        return CIO_ESHUTDOWN;
    if (g->ntasks == g->captasks && g->ndone * 2 >= g->ntasks)
        tg_compact(g);
    if (g->ntasks == g->captasks) {
        size_t cap = g->captasks ? g->captasks * 2 : 8;
        cio_task **a = cio__realloc(g->tasks, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        g->tasks = a;
        g->captasks = cap;
    }
    if (g->created == g->capfails) {
        size_t cap = g->capfails ? g->capfails * 2 : 8;
        struct tg_failure *a = cio__realloc(g->fails, cap * sizeof *a);
        if (!a)
            return -ENOMEM;
        g->fails = a;
        g->capfails = cap;
    }
    cio_task *t;
    int rc = cio_task_new(g->loop, fn, arg, &(cio_task_options){.name = name}, &t);
    if (rc < 0)
        return rc;
    /* A new task's inline callback slot is free: this cannot fail. */
    cio__future_add_cb(&t->fut, cio__direct_cb, &g->d);
    g->tasks[g->ntasks++] = t;
    g->pending++;
    g->created++;
    if (out) {
        cio_task_ref(t);
        *out = t;
    }
    return 0;
}

/* Any further interruption of the waiting parent: cancel the group's
 * tasks again (asyncio: repeated cancels) and keep waiting for them. */
static void tg_interrupt(cio_task *t, int code)
{
    cio_task_group *g = t->wait_obj;
    if (!g->interrupted)
        g->interrupted = code;
    tg_cancel_all(g);
}

int cio_task_group_wait(cio_task_group *g)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!g)
        return cio__bad_arg(t->fut.loop, __func__, "group is NULL");
    if (g->parent != t)
        return cio__bad_arg(t->fut.loop, __func__, "only the group's parent may wait");
    if (g->finished)
        return g->result;
    int rc = cio__checkpoint(t);
    if (rc) {
        g->interrupted = rc;
        tg_cancel_all(g);
    }
    /* The parent waits even when cancelled: nothing of the group may
     * outlive the wait.  A shield would not do: interruptions must still
     * reach tg_interrupt to cancel the tasks. */
    g->waiting = 1;
    while (g->pending)
        cio__park(t, tg_interrupt, g);
    g->waiting = 0;
    g->finished = 1;
    tg_compact(g);
    if (g->nfails)
        g->result = g->fails[0].code;
    else
        g->result = g->interrupted;
    return g->result;
}

int cio_task_group_cancel(cio_task_group *g)
{
    if (!g)
        return cio__bad_arg(NULL, __func__, "group is NULL");
    return tg_cancel_all(g);
}

size_t cio_task_group_errors(const cio_task_group *g, cio_task **tasks, int *codes, size_t cap)
{
    if (!g)
        return 0;
    for (size_t i = 0; i < g->nfails && i < cap; i++) {
        if (tasks)
            tasks[i] = g->fails[i].task;
        if (codes)
            codes[i] = g->fails[i].code;
    }
    return g->nfails;
}

size_t cio_task_group_pending(const cio_task_group *g) { return g ? g->pending : 0; }

int cio_task_group_free(cio_task_group *g)
{
    if (!g)
        return 0;
    if (g->waiting)
        return -EBUSY;
    if (g->pending)
        tg_cancel_all(g);
    for (size_t i = 0; i < g->ntasks; i++) {
        if (g->tasks[i]->state != CIO__T_DONE)
            cio__future_remove_cb(&g->tasks[i]->fut, cio__direct_cb, &g->d);
        cio_task_unref(g->tasks[i]);
    }
    for (size_t i = 0; i < g->nfails; i++)
        cio_task_unref(g->fails[i].task);
    cio_task_unref(g->parent);
    cio__free(g->tasks);
    cio__free(g->fails);
    cio__free(g);
    return 0;
}
