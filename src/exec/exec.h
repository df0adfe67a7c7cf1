/*
 * exec.h - internals of the thread pool shared by pool.c (the executor:
 * queue and threads, usable from any thread) and to_thread.c (the loop
 * side: submitting from a task, delivering results, loop close), and by
 * the layers built on the pool (files, DNS).
 *
 * A work item lives from submission until the loop side frees it: after
 * its caller read the outcome, or, if the caller was cancelled, when the
 * outcome arrives (or at once if fn never started), or at loop close.
 */
#ifndef CIO_EXEC_INTERNAL_H
#define CIO_EXEC_INTERNAL_H

#include <pthread.h>

#include "../task/task.h"
#include "cio/exec.h"

struct cio__exec_loop;

struct cio__work {
    struct cio__work *next;    /* executor queue, then the loop's done list */
    struct cio__work *oprev, *onext; /* loop's list of undelivered works */
    cio_executor *ex;          /* the executor it was submitted to */
    struct cio__exec_loop *xl; /* the loop side it reports to */
    cio_thread_fn *fn;         /* what to run, and its argument */
    void *arg;
    cio_discard_fn *discard;   /* frees arg/result if the outcome is abandoned */
    cio_task *task;            /* the awaiting task; NULL once abandoned
                                  (loop thread only) */
    void *result;              /* fn's outcome, written by the worker before */
    int rc;                    /*   it posts the work (xl lock orders it) */
    int posted;                /* outcome posted to the loop (xl lock) */
};

/* Per-loop state of the thread pool: a cio__loop_ext. */
struct cio__exec_loop {
    struct cio__loop_ext ext;  /* first: the loop's extension link */
    cio_loop *loop;
    pthread_mutex_t lock;      /* guards done list, kick, ninflight */
    pthread_cond_t idle;       /* loop close waits here for ninflight == 0 */
    struct cio__work *done;    /* posted outcomes not yet delivered (FIFO) */
    struct cio__work **done_tailp;
    int kick_pending;          /* a delivery callback is scheduled */
    size_t ninflight;          /* works queued or running, not yet posted */
    struct cio__work *works;   /* every undelivered work (loop thread only) */
    cio_executor *default_ex;  /* set by cio_loop_set_default_executor, or
                                  NULL: the process-wide default executor */
};

/* pool.c: queues w on ex, starting a thread if none is idle.  0,
 * CIO_ESHUTDOWN, -EAGAIN (no thread at all could start). */
int cio__executor_submit(cio_executor *ex, struct cio__work *w);
/* pool.c: takes w off ex's queue: 1 if it was still queued, else 0. */
int cio__executor_unqueue(cio_executor *ex, struct cio__work *w);
/* pool.c: the process-wide default executor, shared by every loop
 * (created on first use, never freed; its idle threads exit). */
cio_executor *cio__default_executor(void);
/* pool.c: idle threads of ex exit after seconds without work (0: never).
 * For tests, which cannot wait the default executor's 10 s. */
void cio__executor_set_idle_exit(cio_executor *ex, double seconds);
/* pool.c: ex's live threads and its bound, for tests and reports. */
void cio__executor_stats(cio_executor *ex, size_t *nthreads, size_t *max_threads);
/* to_thread.c: a worker (or shutdown) hands w's outcome to its loop.
 * Any thread. */
void cio__work_post(struct cio__work *w);


/* pipe.c: non-blocking pipe I/O for tasks (subprocesses, process pool).
 * Read: bytes read (0 at EOF) or a negative code; suspends on EAGAIN.
 * Write: writes all len bytes (0) or fails (-EPIPE without SIGPIPE,
 * -ECANCELED, ...); suspends on EAGAIN. */
int cio__pipe_read(cio_loop *loop, int fd, void *buf, size_t len);
int cio__pipe_write_all(cio_loop *loop, int fd, const void *buf, size_t len);
/* writev on a non-blocking pipe, never raising SIGPIPE: bytes written, or
 * -errno (-EAGAIN when full, -EPIPE when the reader is gone).  Does not
 * suspend. */
ssize_t cio__pipe_writev(int fd, const struct iovec *iov, int iovcnt);
/* Makes a pipe: fds[0] read end, fds[1] write end, both close-on-exec;
 * the end the parent keeps (nonblock_end 0 or 1) is non-blocking. */
int cio__pipe_make(int fds[2], int nonblock_end);

#endif
