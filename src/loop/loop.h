/*
 * loop.h - the loop's internals, shared by src/loop/ and the layers above.
 *
 * The ready queue holds nodes: a node is either a handle (a callback) or
 * something of a higher layer (a task), told apart by its run function, so
 * the loop never needs to know what a task is.  Higher layers keep their
 * per-loop state in extensions (struct cio__loop_ext) and reach the loop
 * through the few functions below; the loop calls up only through
 * pointers they installed.  Timers sit in a 4-ary min-heap of (deadline, handle)
 * pairs; cancelled timers stay in it until they reach the top (asyncio's
 * lazy deletion) or until they are more than half of it, when it is
 * rebuilt.  Descriptors have one slot each in a table indexed by fd.
 */
#ifndef CIO_LOOP_INTERNAL_H
#define CIO_LOOP_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "../util/internal.h"

struct cio__node;
typedef void cio__node_run_fn(struct cio__node *node);

/* Link in the ready queue, embedded in handles and tasks. */
struct cio__node {
    struct cio__node *next;  /* next in the queue */
    cio__node_run_fn *run;   /* what running this node means */
};

/* FIFO of nodes. */
struct cio__queue {
    struct cio__node *head;
    struct cio__node **tailp; /* &last->next, or &head when empty */
    size_t n;
};

enum {
    CIO__H_CANCELLED = 1 << 0, /* cio_handle_cancel was called */
    CIO__H_TIMER = 1 << 1,     /* made by call_later/call_at */
    CIO__H_QUEUED = 1 << 2,    /* in the ready queue */
    CIO__H_IN_HEAP = 1 << 3,   /* in the timer heap */
    CIO__H_DONE_CB = 1 << 4,   /* cb is a cio_done_fn taking (arg2, arg);
                                  arg2 holds a reference that
                                  cio__handle_drop_arg2 drops */
    CIO__H_WAKE = 1 << 5,      /* timer whose cb runs as soon as it is due
                                  (wakes a waiter), not via the queue */
    CIO__H_FD = 1 << 6,        /* reader/writer callback of a descriptor */
    CIO__H_TS_CALL = 1 << 7    /* arg is a struct cio__ts_call (threadsafe.c) */
};

struct cio_handle {
    struct cio__node node;     /* ready-queue link */
    cio_loop *loop;            /* owner */
    void (*cb)(void *);        /* callback (see CIO__H_DONE_CB) */
    void *arg;                 /* its argument */
    void *arg2;                /* the future of a done callback */
    int64_t when;              /* deadline, ns on the loop clock (timers) */
    uint64_t seq;              /* scheduling order: ties of `when` keep FIFO */
    uint32_t refs;             /* queue or heap holds one, the user one */
    uint32_t flags;            /* CIO__H_* */
    struct cio__handle_block *block; /* block it was carved from (handle.c),
                                        NULL if allocated alone */
};

/*
 * A waiter: what the loop and the I/O layer wake when what it waits for
 * has happened.  A higher layer embeds it (a task has one) and gets its own
 * struct back with CIO_CONTAINER_OF, so the loop wakes waiters, never tasks.
 */
struct cio__waiter {
    /* Called on the loop's thread with the outcome (>= 0, or -errno). */
    void (*wake)(struct cio__waiter *w, int result);
};

/* Ranks of extensions: the layer that owns one (DESIGN.md section 1). */
enum {
    CIO__EXT_IO = 3,
    CIO__EXT_TASK = 4,
    CIO__EXT_SYNC = 5,
    CIO__EXT_EXEC = 6,
    CIO__EXT_NET = 7
};

/*
 * A loop extension: state a higher layer (tasks and their pools, the
 * default executor, signal handling) keeps per loop without the loop
 * knowing what it is.  Closing the loop runs two phases while the loop is
 * still intact: every on_closing, lowest rank first (tasks detach from
 * what they wait on before anything is torn down), then every on_close,
 * highest rank first (an executor waits for its threads while tasks still
 * exist; the tasks go last), each extension unlinked before its on_close.
 */
struct cio__loop_ext {
    struct cio__loop_ext *next; /* next in the loop's list (by rank) */
    const void *key;            /* identifies the owner: a static's address */
    int rank;                   /* CIO__EXT_*: the owner's layer */
    /* Phase 1 (may be NULL): stop what could touch other layers' state. */
    void (*on_closing)(cio_loop *loop, struct cio__loop_ext *ext);
    /* Phase 2: releases the extension (it is already unlinked). */
    void (*on_close)(cio_loop *loop, struct cio__loop_ext *ext);
    /* May be NULL: the loop is about to run on this thread (cio_loop_run_*
     * entered it). */
    void (*on_enter)(cio_loop *loop, struct cio__loop_ext *ext);
    /* May be NULL: give back memory kept for reuse (at loop->trim_at). */
    void (*trim)(cio_loop *loop, struct cio__loop_ext *ext);
};

struct cio__timer_entry {
    int64_t when;              /* copy of h->when: the heap never chases h */
    cio_handle *h;
};

struct cio__timer_heap {
    struct cio__timer_entry *a; /* a[3] is the root: children of i at 4i-8 .. */
    size_t n;                  /* entries */
    size_t cap;
    size_t cancelled;          /* entries whose handle is cancelled */
};

/*
 * The poller: how the loop waits for I/O.  The I/O layer (src/io/) installs
 * one per loop, whose backend (epoll, io_uring) keeps its state behind
 * loop->io; the loop only asks it to wait and, at close, to go.
 */
struct cio__poller {
    const char *name;          /* "epoll", "io_uring" */
    /* Waits up to timeout_ns (-1: forever, 0: just look) and dispatches
     * what is ready (wakes waiters, schedules handles); 0 or -errno. */
    int (*wait)(cio_loop *loop, int64_t timeout_ns);
    /* Releases the backend and loop->io (loop close, after every
     * extension has gone). */
    void (*fini)(cio_loop *loop);
};

struct cio_loop {
    /* hot: scheduling */
    struct cio__queue ready;   /* nodes to run */
    int ticks;                 /* batches left before I/O must be polled */
    size_t budget;             /* nodes this batch may still run (not next
                                  to ready.n: adjacent, their decrements
                                  were merged into vector instructions) */
    size_t ready_handles;      /* callbacks (not other nodes) in the queue */
    struct cio__sched *sched;  /* the task layer's state (task.h), or NULL */
    int64_t now;               /* loop time, ns, refreshed each iteration */
    struct cio__timer_heap timers;
    uint64_t seq;              /* next handle sequence number */
    cio_handle *free_handles;  /* recycled handles */
    size_t nfree_handles;
    int64_t trim_at;           /* loop time to call the extensions' trim,
                                  0: none due */
    size_t stack_size;         /* default usable task stack bytes (a
                                  setting the task layer reads) */
    int64_t compact_after_ns;  /* compact the stacks of tasks parked this
                                  long, 0: never (the task layer reads it) */

    /* I/O */
    const struct cio__poller *poller; /* installed by the I/O layer */
    void *io;                  /* the I/O layer's state (src/io/io.h) */
    size_t nwatch;             /* waits on descriptors (callbacks, pending
                                  operations) that can wake the loop */
    size_t nexternal;          /* work in flight elsewhere (executors) that
                                  will call back: keeps run_until_complete
                                  from reporting a deadlock */

    /* other threads */
    pthread_mutex_t ts_lock;
    struct cio_handle *ts_head; /* call_soon_threadsafe handles, FIFO */
    struct cio_handle **ts_tailp;
    int wakefd;                /* eventfd the poller watches to wake up */
    int ts_pending;            /* atomic: ts list non-empty */

    /* state */
    pthread_t owner;           /* thread that runs the loop */
    uint8_t has_owner;
    uint8_t running;
    uint8_t stopping;
    uint8_t closed;
    uint8_t debug;
    uint8_t virtual_clock;
    uint8_t started;           /* has run at least once */
    int64_t slow_ns;           /* debug: slow-step threshold */
    int64_t vclock;            /* virtual time, ns */
    cio_poll_hook_fn *poll_hook; /* around blocking waits, or NULL */
    void *poll_hook_ud;        /* its argument */
    cio_exception_handler_fn *exc_fn;
    void *exc_ud;
    struct cio__loop_ext *exts; /* extensions of higher layers (by rank,
                                   highest first) */
    /* Debug mode: names a ready node that is not a handle for the slow-
     * step report (the task layer's, "task 'x' (created at f:1)"). */
    void (*describe_node)(struct cio__node *n, char *buf, size_t cap);
};

/*
 * How many ready batches of tasks run back to back before the loop polls
 * for I/O and timers again (tokio's event_interval).  A batch is what was
 * ready when it began (asyncio's _run_once); polling after every batch
 * would cost an epoll_wait and a clock read per batch, far more than the
 * batch itself when tasks just pass control around.  Only batches made of
 * tasks alone chain this way: when a plain callback is ready the loop polls
 * first, so callback code sees asyncio's exact alternation of call_soon
 * callbacks and I/O callbacks.
 */
#define CIO__TICKS_PER_POLL 61

/* How long memory kept for reuse beyond an extension's hot reserve (free
 * stacks, task structs) stays before the extensions' trim gives it back. */
#define CIO__TRIM_DELAY_NS CIO_NS_PER_SEC

/* The loop running in this thread (NULL if none). */
extern CIO_TLS cio_loop *cio__running_loop;

/* ---- queue -------------------------------------------------------------- */

static inline void cio__queue_init(struct cio__queue *q)
{
    q->head = NULL;
    q->tailp = &q->head;
    q->n = 0;
}

static inline void cio__queue_push(struct cio__queue *q, struct cio__node *n)
{
    n->next = NULL;
    *q->tailp = n;
    q->tailp = &n->next;
    q->n++;
}

static inline struct cio__node *cio__queue_pop(struct cio__queue *q)
{
    struct cio__node *n = q->head;
    if (n) {
        q->head = n->next;
        if (!q->head)
            q->tailp = &q->head;
        q->n--;
    }
    return n;
}

/*
 * The batch/poll policy, written once: the next ready node to run now, or
 * NULL when the loop must go back and poll first.  A batch is what was
 * ready when it began (loop->budget counts it down); when a batch ends,
 * the next one starts at once only if no plain callback is ready (so
 * callback code keeps asyncio's alternation of call_soon callbacks and I/O
 * callbacks), no stop was asked for and fewer than CIO__TICKS_PER_POLL
 * batches ran since the last poll.  With `only` set, a node is taken only
 * if its run function is `only` (the task layer's direct switch to the
 * next task); anything else stays at the head for the loop to run.  Both
 * the loop (run_ready) and the task layer (switching between tasks without
 * returning to the loop) take nodes through here.
 */
static inline struct cio__node *cio__ready_next(cio_loop *loop, cio__node_run_fn *only)
{
    struct cio__node *n = loop->ready.head;
    if (CIO_UNLIKELY(!n) || (only && n->run != only))
        return NULL;
    if (!loop->budget) {
        if (loop->ticks <= 1 || loop->ready_handles || loop->stopping)
            return NULL;
        loop->ticks--;
        loop->budget = loop->ready.n;
    }
    loop->ready.head = n->next;
    if (!n->next)
        loop->ready.tailp = &loop->ready.head;
    loop->ready.n--;
    loop->budget--;
    return n;
}

/* ---- loop internals used by the other layers ---------------------------- */

/*
 * Reports a bad argument: in debug mode (the loop's, or CIO_DEBUG when
 * loop is NULL) logs "fn: what"; returns -EINVAL either way, so the caller
 * can write `return cio__bad_arg(loop, __func__, "delay is NaN");`.
 */
static inline int cio__bad_arg(const cio_loop *loop, const char *fn, const char *what)
{
    return cio__bad_arg_debug(loop ? loop->debug : -1, fn, what);
}

/* Current loop time in ns: the virtual clock, or CLOCK_MONOTONIC. */
static inline int64_t cio__loop_now(cio_loop *loop)
{
    return loop->virtual_clock ? loop->vclock : cio__clock_ns();
}

/* cio__check_thread's debug-mode half (loop.c). */
int cio__check_thread_debug(const cio_loop *loop, const char *fn);

/* Rejects a call from a thread that does not own the loop (debug mode).
 * Inline it is one test of loop->debug: every future, task and handle
 * call goes through it, and with the thread comparison inline too the
 * compiler loaded the owner and saved registers for pthread_self on the
 * common path. */
static inline int cio__check_thread(const cio_loop *loop, const char *fn)
{
    return CIO_UNLIKELY(loop->debug) ? cio__check_thread_debug(loop, fn) : 0;
}

/* Handles.  A handle in the ready queue has this run function. */
void cio__handle_node_run(struct cio__node *node);
cio_handle *cio__handle_new(cio_loop *loop);
/* Frees a handle no one references, to its block or the allocator. */
void cio__handle_dispose(cio_handle *h);
/* Resets h (allocated with cio__malloc) as a fresh handle of loop. */
void cio__handle_init(cio_loop *loop, cio_handle *h);
void cio__handle_unref(cio_handle *h);
/* Puts h on the ready queue, unless it is there already. */
void cio__handle_schedule(cio_handle *h);
/* How a CIO__H_DONE_CB handle drops the reference its arg2 holds (the
 * task layer installs cio_future_unref before making the first). */
extern void (*cio__handle_drop_arg2)(void *obj);
/* Drops every node of the ready queue (loop close): handles lose the
 * queue's reference; other nodes are only unlinked (their layer has
 * already released them or still holds them). */
void cio__ready_drop_all(cio_loop *loop);

/* Timers: h gets a deadline and enters the heap (which takes a ref). */
int cio__timer_start(cio_loop *loop, cio_handle *h, int64_t when);
/* Moves due timers to the ready queue (or runs CIO__H_WAKE ones). */
void cio__timers_run(cio_loop *loop);
void cio__timers_fini(cio_loop *loop);
/* Called when a timer handle is cancelled: counts it, maybe compacts. */
void cio__timer_cancelled(cio_loop *loop);
/* Deadline of the earliest live timer, or INT64_MAX. */
int64_t cio__timers_next(cio_loop *loop);

/* Thread-safe queue. */
/*
 * A call from another thread that must not be lost: run() on the loop's
 * thread, or, if the loop closes before it ran, drop() during
 * cio_loop_close() on the closing thread, so that what the call owns is
 * released (and whoever waits on it is told).  Exactly one of them runs.
 */
struct cio__ts_call {
    void (*run)(struct cio__ts_call *c);
    void (*drop)(struct cio__ts_call *c);
};
/* As cio_call_soon_threadsafe, for c.  CIO_ECLOSED once the loop closes
 * (then neither function runs), -ENOMEM. */
int cio__call_soon_threadsafe_call(cio_loop *loop, struct cio__ts_call *c);
/* cio_loop_close: h leaves the ready queue unrun: drop it if it is a call. */
void cio__threadsafe_dropped(cio_handle *h);
int cio__threadsafe_init(cio_loop *loop);
void cio__threadsafe_drain(cio_loop *loop);
void cio__threadsafe_fini(cio_loop *loop);

/* Loop extensions: the one with key, or NULL; adding links ext by its
 * rank. */
struct cio__loop_ext *cio__loop_ext_find(cio_loop *loop, const void *key);
void cio__loop_ext_add(cio_loop *loop, struct cio__loop_ext *ext);
/* Asks for the extensions' trim at loop time `now + CIO__TRIM_DELAY_NS`
 * unless one is already due. */
static inline void cio__loop_want_trim(cio_loop *loop)
{
    if (!loop->trim_at)
        loop->trim_at = loop->now + CIO__TRIM_DELAY_NS;
}

/*
 * Runs loop until done(ctx) is true (cio_loop_run_until_complete's
 * engine).  0, CIO_ESTALLED when nothing could ever make it true,
 * CIO_EINVALSTATE when the loop was stopped first, or what entering the
 * loop failed with (CIO_ECLOSED, CIO_ERUNNING, CIO_EWRONGTHREAD, -EINVAL).
 */
int cio__loop_run_until(cio_loop *loop, int (*done)(void *ctx), void *ctx);

/* A new loop with no poller yet (the I/O layer's cio_loop_new installs
 * it); and its release when that fails. */
int cio__loop_create(cio_loop **out);
void cio__loop_destroy(cio_loop *loop);

/* Reports a failure to the exception handler. */
void cio__report(cio_loop *loop, const cio_exception_context *ctx);

#endif
