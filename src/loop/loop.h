/*
 * loop.h - the loop's internals, shared by src/loop/ and the layers above.
 *
 * The ready queue holds nodes: a node is either a handle (a callback) or a
 * task, told apart by its run function, so the loop never needs to know
 * what a task is.  Timers sit in a 4-ary min-heap of (deadline, handle)
 * pairs; cancelled timers stay in it until they reach the top (asyncio's
 * lazy deletion) or until they are more than half of it, when it is
 * rebuilt.  Descriptors have one slot each in a table indexed by fd.
 */
#ifndef CIO_LOOP_INTERNAL_H
#define CIO_LOOP_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "../util/internal.h"
#include "../coro/coro.h"
#include "../coro/stack.h"

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
    CIO__H_DONE_CB = 1 << 4,   /* cb is a cio_done_fn taking (arg2, arg) */
    CIO__H_WAKE = 1 << 5,      /* timer that wakes the task in arg */
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
 * A loop extension: state a higher layer (the default executor, signal
 * handling) keeps per loop without the loop knowing what it is.  The loop
 * keeps a list of them and, when it closes, unlinks each (newest first)
 * and calls its on_close while the loop is still intact, before pending
 * tasks, callbacks and the thread-safe queue are dropped.
 */
struct cio__loop_ext {
    struct cio__loop_ext *next; /* next in the loop's list */
    const void *key;            /* identifies the owner: a static's address */
    /* Releases the extension (it is already unlinked). */
    void (*on_close)(cio_loop *loop, struct cio__loop_ext *ext);
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

/* A descriptor's slot. */
struct cio__fd {
    cio_handle *reader;        /* add_reader callback (level-triggered) */
    cio_handle *writer;        /* add_writer callback */
    cio_task *rd_waiter;       /* task parked until readable (edge mode) */
    cio_task *wr_waiter;       /* task parked until writable */
    uint32_t events;           /* what epoll watches now (EPOLLIN|...) */
    uint32_t ready;            /* edge mode: readiness seen, not yet used up */
    uint8_t mode;              /* 0 none, 1 callbacks (LT), 2 tasks (ET) */
};

/* The poll backend: one file each (poll_epoll.c, later poll_uring.c). */
struct cio__poll_ops {
    const char *name;
    int (*init)(cio_loop *loop);
    void (*fini)(cio_loop *loop);
    /* Waits up to timeout_ns (-1: forever) and dispatches what is ready:
     * reader/writer handles to the ready queue, parked tasks woken. */
    int (*wait)(cio_loop *loop, int64_t timeout_ns);
    /* Makes the kernel watch what slot f now needs for fd. */
    int (*update)(cio_loop *loop, int fd, struct cio__fd *f);
    /* fd is being closed: forget it without a syscall if possible. */
    void (*forget)(cio_loop *loop, int fd, struct cio__fd *f);
};

extern const struct cio__poll_ops cio__poll_epoll;

struct cio_loop {
    /* hot: scheduling */
    struct cio__queue ready;   /* nodes to run */
    size_t budget;             /* nodes this batch may still run */
    int ticks;                 /* batches left before I/O must be polled */
    size_t ready_handles;      /* callbacks (not tasks) in the ready queue */
    cio_task *current;         /* task running now, NULL on the loop stack */
    cio__ctx main_ctx;         /* the loop's own (thread) context */
    cio__ctx trash_ctx;        /* where a dying task saves its registers */
    cio__stack *dead_stack;    /* own-mapping stack to unmap on loop stack */
    void *dead_fiber;          /* TSan fiber of a finished task, to destroy */
    int64_t now;               /* loop time, ns, refreshed each iteration */
    struct cio__timer_heap timers;
    uint64_t seq;              /* next handle sequence number */
    cio_handle *free_handles;  /* recycled handles */
    size_t nfree_handles;
    cio_task *free_tasks;      /* recycled task structs */
    size_t nfree_tasks;
    cio_future *free_futures;  /* recycled plain futures, linked by result */
    size_t nfree_futures;
    cio__stack_pool stacks;    /* default-size task stacks */
    int64_t trim_at;           /* loop time to trim the stack pool, 0: none */
    size_t stack_size;         /* default usable stack bytes */

    /* tasks */
    cio_task *tasks;           /* every pending task (doubly linked) */
    size_t ntasks;
    uint64_t next_task_id;

    /* I/O */
    const struct cio__poll_ops *poll;
    int epfd;                  /* epoll descriptor */
    struct cio__fd *fds;       /* slots indexed by fd */
    size_t nfds;
    size_t nwatch;             /* slots with callbacks or parked tasks */
    size_t nexternal;          /* work in flight elsewhere (executors) that
                                  will call back: keeps run_until_complete
                                  from reporting a deadlock */

    /* other threads */
    pthread_mutex_t ts_lock;
    struct cio_handle *ts_head; /* call_soon_threadsafe handles, FIFO */
    struct cio_handle **ts_tailp;
    int wakefd;                /* eventfd that wakes epoll_wait */
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
    int64_t step_start;        /* debug: when the current step began */
    cio_exception_handler_fn *exc_fn;
    void *exc_ud;
    struct cio__loop_ext *exts; /* extensions of higher layers (newest first) */
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

/* How long freed stacks beyond CIO__STACK_HOT_MAX stay resident before
 * the loop returns their pages to the kernel. */
#define CIO__STACK_TRIM_DELAY_NS CIO_NS_PER_SEC
/* Freed task structs the loop keeps past a trim (task.c keeps more until
 * then). */
#define CIO__TASK_POOL_HOT 4096

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

/* ---- loop internals used by the other layers ---------------------------- */

/* Current loop time in ns: the virtual clock, or CLOCK_MONOTONIC. */
static inline int64_t cio__loop_now(cio_loop *loop)
{
    return loop->virtual_clock ? loop->vclock : cio__clock_ns();
}

/* Rejects a call from a thread that does not own the loop (debug mode). */
static inline int cio__check_thread(const cio_loop *loop, const char *fn)
{
    if (CIO_UNLIKELY(loop->debug) && loop->has_owner &&
        !pthread_equal(loop->owner, pthread_self())) {
        cio_log(CIO_LOG_ERROR, "%s: called from a thread that does not own the loop", fn);
        return CIO_EWRONGTHREAD;
    }
    return 0;
}

/* Handles. */
cio_handle *cio__handle_new(cio_loop *loop);
/* Frees a handle no one references, to its block or the allocator. */
void cio__handle_dispose(cio_handle *h);
/* Resets h (allocated with cio__malloc) as a fresh handle of loop. */
void cio__handle_init(cio_loop *loop, cio_handle *h);
void cio__handle_unref(cio_handle *h);
/* Puts h on the ready queue, unless it is there already. */
void cio__handle_schedule(cio_handle *h);
/* Schedules fn(fut, arg) through call_soon; -ENOMEM on failure. */
int cio__call_done_cb(cio_loop *loop, cio_done_fn *fn, cio_future *fut, void *arg);

/* Timers: h gets a deadline and enters the heap (which takes a ref). */
int cio__timer_start(cio_loop *loop, cio_handle *h, int64_t when);
/* Moves due timers to the ready queue (or wakes their tasks). */
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

/* Descriptor slots. */
struct cio__fd *cio__fd_slot(cio_loop *loop, int fd, int create);
/*
 * Parks the calling task until fd is ready for `events` (EPOLLIN or
 * EPOLLOUT), edge-triggered registration made once.  Returns 0, or the
 * interrupting code (-ECANCELED, -ETIMEDOUT), -EBUSY if another task
 * waits on the same fd and direction or callbacks watch it.  Suspends.
 */
int cio__fd_wait(cio_loop *loop, int fd, uint32_t events);
/* Forgets fd's slot (call before closing fd). */
void cio__fd_forget(cio_loop *loop, int fd);
/* Backend hook: fd reported events. */
void cio__fd_dispatch(cio_loop *loop, int fd, uint32_t events);

/* Loop extensions: the one with key, or NULL; adding links ext first. */
struct cio__loop_ext *cio__loop_ext_find(cio_loop *loop, const void *key);
void cio__loop_ext_add(cio_loop *loop, struct cio__loop_ext *ext);

/* signal.c: cio_loop_add_signal_handler; a weak handler does not keep
 * the loop alive (cio_run's SIGINT). */
int cio__loop_add_signal_handler(cio_loop *loop, int sig, cio_callback_fn *cb, void *arg,
                                 int weak);

/* Reports a failure to the exception handler. */
void cio__report(cio_loop *loop, const cio_exception_context *ctx);

#endif
