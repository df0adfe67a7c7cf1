/*
 * task.h - futures and tasks inside cio: their structs and the
 * park/wake protocol every suspension point is built on.
 *
 * A suspension point does three things:
 *   1. rc = cio__checkpoint(t): returns at once with -ECANCELED/-ETIMEDOUT
 *      if the task must unwind (level-triggered cancellation);
 *   2. registers the task where it will be woken (a future's callbacks, a
 *      timer, a descriptor, a lock's queue);
 *   3. rc = cio__park(t, interrupt): gives the CPU away until someone calls
 *      cio__wake(t, code), and returns that code.
 * interrupt(t, code) is called if the task is cancelled (code -ECANCELED)
 * or its timeout scope expires (-ETIMEDOUT) while parked and unshielded:
 * it must detach the task from what it waits on and wake it (or, as
 * cio_await does, cancel what it waits on and keep waiting).
 */
#ifndef CIO_TASK_INTERNAL_H
#define CIO_TASK_INTERNAL_H

#include "../coro/coro.h"
#include "../coro/stack.h"
#include "../io/io.h"

/* A done callback; fn == cio__waiter_cb means "wake task arg". */
struct cio__cb {
    cio_done_fn *fn;
    void *arg;
};

enum {
    CIO__F_PENDING = 0,
    CIO__F_DONE = 1
};

enum {
    CIO__FF_TASK = 1 << 0,      /* this future is a task's */
    CIO__FF_RETRIEVED = 1 << 1, /* the outcome was read */
    CIO__FF_POOLED = 1 << 2     /* memory from the loop's task pool */
};

struct cio_future {
    cio_loop *loop;            /* owner */
    uint32_t refs;             /* references */
    uint8_t state;             /* CIO__F_* */
    uint8_t flags;             /* CIO__FF_* */
    int status;                /* 0, error code, or -ECANCELED */
    void *result;              /* result pointer (not owned) */
    char *message;             /* error or cancel message, owned */
    struct cio__cb cb0;        /* first done callback, inline */
    struct cio__cb *cbs;       /* further callbacks */
    uint32_t ncbs, capcbs;
};

enum {
    CIO__T_CREATED = 0,        /* in the ready queue, never run */
    CIO__T_READY = 1,          /* in the ready queue */
    CIO__T_RUNNING = 2,
    CIO__T_PARKED = 3,         /* waiting for cio__wake */
    CIO__T_DONE = 4
};

enum {
    CIO__TF_CANCEL = 1 << 0,   /* cancellation requested */
    CIO__TF_LOOPREF = 1 << 1,  /* the loop holds a reference */
    CIO__TF_HASCTX = 1 << 2,   /* ctx was made (TSan fiber exists) */
    CIO__TF_COMPACT = 1 << 3,  /* parked with its stack compacted: on
                                  the sched's compacted list */
    CIO__TF_HELD = 1 << 4,     /* debug mode: done while a caller held it;
                                  on the sched's held list until freed */
    CIO__TF_EXPIRED = 1 << 5   /* expired > 0 (timeout.c keeps the two in
                                  step): cio__checkpoint's common case
                                  tests one byte */
};

typedef void cio__interrupt_fn(cio_task *t, int code);

struct cio_timeout; /* a timeout scope (timeout.c) */

/*
 * The fields that are zero when a task is created come as one block, 8-byte
 * aligned and a multiple of 16 bytes long (from `stack` to `expired`), so
 * that one memset clears it with a few vector stores; the rest are set one
 * by one.  ctx comes last: a recycled struct keeps it (TSan's fiber).
 */
struct cio_task {
    struct cio_future fut;     /* first: a task is a future */
    struct cio__node node;     /* ready-queue link */
    struct cio__waiter waiter; /* what the loop and I/O wake: cio__wake */
    cio_coro_fn *fn;           /* body */
    void *arg;
    cio_task *prev, *next;     /* the loop's list of pending tasks */
    size_t stack_size;         /* requested usable size, 0: default */
    uint64_t id;               /* 1, 2, ... per loop */
    char *name;                /* owned, or NULL for "Task-<id>" */
    const char *file;          /* where it was created */
    int line;
    uint8_t flags;             /* CIO__TF_* */
    uint8_t state;             /* CIO__T_* */
    uint8_t pinned;            /* > 0: others use its stack while it waits:
                                  never compact it (cio__task_pin) */
    /* zero at creation, from here to `expired` */
    cio__stack *stack;         /* NULL until it first runs */
    cio__interrupt_fn *interrupt; /* while parked: how to abort the wait */
    void *wait_obj;            /* what it is parked on (for interrupt) */
    int64_t parked_at;         /* loop time of its last cio__park */
    char *pending_message;     /* cio_set_error_message */
    char *cancel_msg;          /* message given to cio_task_cancel */
    char *source;              /* "file:line", made on demand */
    struct cio_timeout *scopes; /* innermost timeout scope */
    int wake_code;             /* what cio__park returns */
    int interrupted;           /* code an interrupt delivered, else 0 */
    int32_t shield;            /* cio_shield_begin depth */
    int expired;               /* number of expired scopes on the chain */
    /* end of the zeroed block */
    char namebuf[24];          /* holds "Task-<id>" (namebuf[0] 0: not
                                  made yet) */
    cio__ctx ctx;              /* saved registers while not running */
};

/*
 * The task layer's state of one loop (loop->sched), made with the first
 * task or future and released when the loop closes: the running task, the
 * contexts a switch needs, the pools of task structs, futures and stacks,
 * and the list of pending tasks.  It is the loop's extension of rank
 * CIO__EXT_TASK: on close it destroys what is still pending.
 */
struct cio__sched {
    struct cio__loop_ext ext;  /* first: the loop's extension link */
    cio_loop *loop;            /* owner */
    cio__ctx main_ctx;         /* the loop's own (thread) context */
    cio__ctx trash_ctx;        /* where a dying task saves its registers */
    cio__stack *dead_stack;    /* own-mapping stack to unmap on loop stack */
    void *dead_fiber;          /* TSan fiber of a finished task, to destroy */
    cio_task *free_tasks;      /* recycled task structs */
    size_t nfree_tasks;
    cio_future *free_futures;  /* recycled plain futures, linked by result */
    size_t nfree_futures;
    cio__stack_pool stacks;    /* default-size task stacks */
    cio_task *tasks;           /* every pending task (doubly linked) but
                                  those on the compacted list */
    cio_task *compacted;       /* pending tasks whose stack is compacted */
    size_t ntasks;             /* pending tasks, on both lists */
    size_t ncompacted;         /* on the compacted list */
    cio_task *held;            /* debug mode: tasks that finished while a
                                  caller held a reference, not freed yet
                                  (linked by prev/next); those never
                                  awaited are reported at loop close */
    uint64_t next_task_id;     /* 1, 2, ... */
    uint8_t entered;           /* the loop has run: contexts and the stack
                                  pool are set up */
};

/* Freed task structs kept past a trim (task.c keeps more until then). */
#define CIO__TASK_POOL_HOT 4096

/* Gives a task's stack back to the pool; past the pool's hot reserve it
 * asks the loop for a trim, which returns the surplus pages later. */
static inline void cio__sched_put_stack(struct cio__sched *s, cio__stack *st)
{
    cio__stack_put(&s->stacks, st);
    if (CIO_UNLIKELY(s->stacks.nhot > CIO__STACK_HOT_MAX))
        cio__loop_want_trim(s->loop);
}

/* loop's scheduler state, made on first use; NULL on -ENOMEM. */
struct cio__sched *cio__sched_make(cio_loop *loop);
static inline struct cio__sched *cio__sched_get(cio_loop *loop)
{
    return CIO_LIKELY(loop->sched != NULL) ? loop->sched : cio__sched_make(loop);
}

/*
 * The task running on this thread, NULL on a loop's own stack or outside
 * any loop.  A thread runs one loop at a time (nesting is refused), so
 * one thread-local pointer serves them all: every suspension point reads
 * it, and a thread-local load (initial-exec) is cheaper than going
 * through the running loop and its scheduler state.
 */
extern CIO_TLS cio_task *cio__running_task;

static inline cio_task *cio__current(void)
{
    return cio__running_task;
}

/* Inside a shield, -ETIMEDOUT if a timeout scope opened inside the
 * shield has fired, else 0 (timeout.c). */
int cio__timeout_shielded_check(cio_task *t);

/* 0, or -ECANCELED / -ETIMEDOUT when the task must unwind.  A shield holds
 * off cancellation and the timeout scopes opened outside it; scopes opened
 * inside it still work (trio's shielded cancel scopes). */
static inline int cio__checkpoint(cio_task *t)
{
    if (CIO_LIKELY(!(t->flags & (CIO__TF_CANCEL | CIO__TF_EXPIRED))))
        return 0;
    if (CIO_LIKELY(!t->shield))
        return (t->flags & CIO__TF_CANCEL) ? -ECANCELED : -ETIMEDOUT;
    return t->expired ? cio__timeout_shielded_check(t) : 0;
}

/* Gives the CPU to the next ready node; returns when t runs again. */
void cio__switch_away(cio_loop *loop, cio_task *t);

/* Parks t until cio__wake(t, code); returns that code.  Inline: every
 * suspension point goes through it, and as a function of its own it cost
 * a frame on top of cio__switch_away's on every wait. */
static inline int cio__park(cio_task *t, cio__interrupt_fn *interrupt, void *wait_obj)
{
    cio_loop *loop = t->fut.loop;
    t->interrupt = interrupt;
    t->wait_obj = wait_obj;
    t->state = CIO__T_PARKED;
    /* For idle-stack compaction (compact.c), when it is on: when it
     * parked, and a trim to look at it then, unless one is due anyway. */
    if (CIO_UNLIKELY(loop->compact_after_ns)) {
        t->parked_at = loop->now;
        cio__loop_want_trim(loop);
    }
    cio__switch_away(loop, t);
    return t->wake_code;
}

void cio__wake(cio_task *t, int code);
/* The wake function of every task's waiter: cio__wake(task, result). */
void cio__task_waiter_wake(struct cio__waiter *w, int result);
/* Interrupts t (if parked and unshielded) with code. */
void cio__task_interrupt(cio_task *t, int code);

/* Futures. */
/* Resets f as a pending future of loop with one reference (inline: every
 * task and future creation runs it). */
static inline void cio__future_init(struct cio_future *f, cio_loop *loop, uint8_t flags)
{
    f->loop = loop;
    f->refs = 1;
    f->state = CIO__F_PENDING;
    f->flags = flags;
    f->status = 0;
    f->result = NULL;
    f->message = NULL;
    f->cb0.fn = NULL;
    f->cb0.arg = NULL;
    f->cbs = NULL;
    f->ncbs = f->capcbs = 0;
}
void cio__future_fini(struct cio_future *f);
/* Completes f: status, result, message (owned, taken). */
void cio__future_complete(struct cio_future *f, int status, void *result, char *message);
/* Adds (fn, arg) to f's callbacks; -ENOMEM. */
int cio__future_add_cb(struct cio_future *f, cio_done_fn *fn, void *arg);
int cio__future_remove_cb(struct cio_future *f, cio_done_fn *fn, void *arg);
/* The done callback that wakes a parked task. */
void cio__waiter_cb(cio_future *fut, void *task);
/*
 * Loop close destroys t while it is parked in cio_await, and its frame
 * will never resume: removes its waiter callback from the awaited future
 * and drops the reference cio_await took, so the future (which may
 * outlive the loop) never wakes a freed task.  1 if t was in cio_await.
 */
int cio__await_abandon(cio_task *t);

/*
 * A done callback run synchronously inside cio__future_complete rather
 * than through call_soon: the combinators (gather, wait, as_completed, task
 * groups) count completions with it, so a gather of 10k tasks schedules no
 * callback handle per child.  Register (cio__direct_cb, d); completion calls
 * d->fn(d, fut).  fn may record, wake tasks and cancel other tasks or
 * futures, but must not touch the completing future's callbacks.
 */
struct cio__direct {
    void (*fn)(struct cio__direct *d, cio_future *fut); /* what to run */
};
void cio__direct_cb(cio_future *fut, void *d);

/* Timeout scopes left open when their task ends (timeout.c): freed, with a
 * warning, so their timers never touch a finished task. */
void cio__timeout_abandon(cio_task *t);
/* Reports an unretrieved failure of f (called before freeing). */
void cio__future_report_unretrieved(struct cio_future *f);

/* Tasks. */
void cio__task_free(cio_task *t);
/* Debug mode, at a task's end (retired, not yet released by the loop):
 * warns about a positive status and puts a task a caller holds on the
 * held list (sched_loop.c). */
void cio__task_debug_finished(struct cio__sched *s, cio_task *t, int rc);
/* Marks t done and takes it off the loop's list of pending tasks (inline:
 * every task's end goes through it).  A compacted task is expanded, back
 * on s->tasks, before it can run and end. */
static inline void cio__task_retire(struct cio__sched *s, cio_task *t)
{
    t->state = CIO__T_DONE;
    if (t->prev)
        t->prev->next = t->next;
    else
        s->tasks = t->next;
    if (t->next)
        t->next->prev = t->prev;
    s->ntasks--;
}
/*
 * Idle-stack compaction (compact.c).  The suspension points whose own
 * state is off the parked task's stack, which alone may be compacted:
 */
void cio__sleep_interrupt(cio_task *t, int code);
void cio__await_interrupt(cio_task *t, int code);
/* Compacts the stacks of the tasks parked longer than the loop's
 * compact_after_ns at one of those points (the trim calls it). */
void cio__sched_compact(struct cio__sched *s);
/* Moves the compacted list back onto s->tasks (loop close walks one). */
void cio__sched_uncompact_list(struct cio__sched *s);
/* Around a wait during which other code uses the task's stack (a struct
 * on it that a callback or another task fills in): keeps it uncompacted. */
static inline void cio__task_pin(cio_task *t) { t->pinned++; }
static inline void cio__task_unpin(cio_task *t) { t->pinned--; }

/* Frees the task structs kept beyond CIO__TASK_POOL_HOT (the trim). */
void cio__tasks_trim(struct cio__sched *s);
/* Releases every task struct kept for reuse (loop close). */
void cio__tasks_fini(struct cio__sched *s);
/* Releases every future kept for reuse (loop close). */
void cio__futures_fini(struct cio__sched *s);
/* Schedules fn(fut, arg) through call_soon; -ENOMEM on failure. */
int cio__call_done_cb(cio_loop *loop, cio_done_fn *fn, cio_future *fut, void *arg);

/*
 * Runs op for the calling task (io_wait.c): submits it and, if it is pending,
 * parks until it ends; a cancel or an expired timeout scope asks the
 * backend to cancel it and waits for that to be confirmed (the op owns its
 * buffers until then).  Returns the op's result (count, fd, 0, -errno),
 * -ECANCELED / -ETIMEDOUT, or CIO_ENOTASK outside a task.  Suspends.
 */
int cio__op_run(struct cio__op *op);
/* Shorthands used by the socket and stream layers. */
int cio__op_recv(int fd, void *buf, size_t len, int flags);
int cio__op_send(int fd, const void *buf, size_t len, int flags);
/*
 * Parks the calling task until fd is readable (write 0) or writable
 * (write 1): for code that makes its own syscalls and just met EAGAIN.
 * 0, or -ECANCELED/-ETIMEDOUT, -EBUSY (another waits the same way).
 * Suspends.
 */
int cio__fd_wait(int fd, int write);
/* Closes fd: pending ops on it end with -EBADF; 0 or -errno. */
int cio__fd_close(int fd);
/* Runs a ready task node on the loop's stack. */
void cio__task_node_run(struct cio__node *node);
/* The run function of a compacted task's node (compact.c): expands the
 * stack, then as cio__task_node_run.  Being another function, it keeps
 * the task out of the direct switches between tasks (they take only
 * cio__task_node_run nodes), which need no check for compaction. */
void cio__task_node_run_compacted(struct cio__node *node);
/* Cancels every pending task of loop; returns how many. */
size_t cio__cancel_all(cio_loop *loop);

#endif
