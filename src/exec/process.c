/*
 * process.c - the process pool: forked workers that run registered C
 * functions on byte buffers, one call at a time each, talking to the
 * parent over two pipes.
 *
 * Divided into: the wire format and the worker's side (everything after
 * fork), starting and stopping workers, the per-loop list of pools (a
 * loop extension that stops them when the loop closes), handing workers
 * to callers, the call, and creation/shutdown/free.
 *
 * Wire format, host byte order (both ends are the same binary):
 *   request:  u32 function index, u32 0, u64 length, then the bytes;
 *   response: i32 return value,   u32 0, u64 length, then the bytes.
 * A worker that reads EOF on its request pipe exits; the parent sees a
 * dead worker as EOF (or EPIPE) on its pipes.  A worker's stdout and
 * stderr are the parent's (the protocol never uses them); its stdin is
 * /dev/null.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exec.h"
#include "cio/process.h"

struct wire {
    int32_t code;              /* function index (request) or return value */
    uint32_t zero;
    uint64_t len;              /* bytes that follow */
};

struct worker {
    pid_t pid;                 /* 0: no live worker in this slot */
    int req;                   /* parent's write end of the request pipe */
    int resp;                  /* parent's read end of the response pipe */
    int busy;                  /* lent to a call */
};

/* A task waiting for a worker; lives on the waiting task's stack. */
struct pool_waiter {
    struct pool_waiter *next;
    cio_process_pool *pool;    /* whose queue it is in */
    cio_task *task;
    struct worker *got;        /* the worker handed to it, or NULL */
};

struct cio_process_pool {
    cio_loop *loop;            /* owner; NULL once the loop closed */
    cio_process_pool *prev, *next; /* in the loop's list of pools */
    cio_process_fn_entry *fns; /* registered functions (names owned) */
    size_t nfns;
    struct worker *w;          /* the worker slots */
    size_t nw;
    struct pool_waiter *wait_head; /* tasks waiting for a worker (FIFO) */
    struct pool_waiter **wait_tailp;
    int shutdown;              /* no new calls */
};

/* ---- the worker's side --------------------------------------------------- */

static int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t n = read(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

/* Closes every descriptor except stdout, stderr and the worker's two pipe
 * ends (which may themselves be 0 or 1 if the parent had those closed). */
static void close_others(int a, int b)
{
    int keep[4] = {1, 2, a, b};
    /* Sort the four (insertion sort), then close the gaps between them. */
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int x = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = x;
        }
    unsigned lo = 0;
    for (int i = 0; i < 4; i++) {
        if ((unsigned)keep[i] < lo)
            continue;
        if ((unsigned)keep[i] > lo)
            close_range(lo, (unsigned)keep[i] - 1, 0);
        lo = (unsigned)keep[i] + 1;
    }
    close_range(lo, ~0U, 0);
}

/* Standard input reads /dev/null, as in Python's multiprocessing: the
 * workers must not compete with the parent for its input, and fd 0 stays
 * taken so that no descriptor a function opens lands on it by surprise. */
static void stdin_devnull(int a, int b)
{
    if (a == 0 || b == 0)
        return; /* the parent had no stdin: a pipe took its number */
    int fd = open("/dev/null", O_RDONLY); /* 0 itself: fd 0 was closed */
    if (fd > 0) {
        dup2(fd, 0);
        close(fd);
    }
}

static _Noreturn void worker_main(const cio_process_pool *pool, int rfd, int wfd)
{
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Nothing of the parent's stays open here (its sockets, its epoll
     * instance) but its stdout and stderr, which the worker shares, as
     * multiprocessing's workers do: a function's printf reaches the same
     * terminal, pipe or file as the parent's.  The pool talks over its own
     * two pipes, never over stdout. */
    close_others(rfd, wfd);
    stdin_devnull(rfd, wfd);
    /* A copy of the parent's unwritten stdio buffers came with fork; it
     * is the parent's to write (it flushed before forking), so drop it
     * here or the worker's first flush would print it a second time. */
    __fpurge(stdout);
    __fpurge(stderr);
    for (;;) {
        struct wire rq;
        if (read_full(rfd, &rq, sizeof rq) < 0)
            _exit(0); /* the parent closed the pool */
        void *in = rq.len ? malloc(rq.len) : NULL;
        if (rq.len && (!in || read_full(rfd, in, rq.len) < 0))
            _exit(1);
        void *out = NULL;
        size_t outlen = 0;
        int rc = (size_t)rq.code < pool->nfns
                     ? pool->fns[rq.code].fn(in, (size_t)rq.len, &out, &outlen)
                     : -ENOENT;
        free(in);
        /* The worker leaves with _exit, which writes no stdio buffer:
         * flush what the function printed before its answer goes back, so
         * that its output is out before the caller sees the result. */
        fflush(stdout);
        fflush(stderr);
        if (!out)
            outlen = 0;
        struct wire rs = {rc, 0, outlen};
        if (write_full(wfd, &rs, sizeof rs) < 0 || (outlen && write_full(wfd, out, outlen) < 0))
            _exit(1);
        free(out);
    }
}

/* ---- starting and stopping workers ---------------------------------------- */

/* Forks a worker into slot w.  The parent's ends are non-blocking. */
static int worker_start(cio_process_pool *pool, struct worker *w)
{
    int req[2], resp[2];
    int rc = cio__pipe_make(req, 1);
    if (rc < 0)
        return rc;
    rc = cio__pipe_make(resp, 0);
    if (rc < 0) {
        close(req[0]);
        close(req[1]);
        return rc;
    }
    /* What the parent printed but has not written yet goes out now, once,
     * rather than in the worker's copy of the buffer too. */
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        rc = -errno;
        close(req[0]);
        close(req[1]);
        close(resp[0]);
        close(resp[1]);
        return rc;
    }
    if (pid == 0)
        worker_main(pool, req[0], resp[1]);
    close(req[0]);
    close(resp[1]);
    w->pid = pid;
    w->req = req[1];
    w->resp = resp[0];
    w->busy = 0;
    return 0;
}

/* Stops the worker in slot w: closes its pipes (an idle worker exits on
 * EOF), kills it if asked, and reaps it. */
static void worker_stop(cio_process_pool *pool, struct worker *w, int kill_it)
{
    if (!w->pid)
        return;
    if (kill_it)
        kill(w->pid, SIGKILL);
    int fds[2] = {w->req, w->resp};
    for (int i = 0; i < 2; i++) {
        if (pool->loop)
            cio__io_forget(pool->loop, fds[i]);
        close(fds[i]);
    }
    int st;
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
        ;
    w->pid = 0;
    w->req = w->resp = -1;
    w->busy = 0;
}

/* ---- the loop's pools ------------------------------------------------------ */

struct pool_loop {
    struct cio__loop_ext ext;  /* first: the loop's extension link */
    cio_process_pool *list;
};

static const char pool_key;

static void pool_loop_close(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct pool_loop *pl = (struct pool_loop *)ext;
    while (pl->list) {
        cio_process_pool *p = pl->list;
        pl->list = p->next;
        p->prev = p->next = NULL;
        cio_process_pool_shutdown(p, 1);
        /* The tasks inside calls are about to be destroyed: reap now. */
        for (size_t i = 0; i < p->nw; i++)
            worker_stop(p, &p->w[i], 1);
        p->loop = NULL;
    }
    (void)loop;
    cio__free(pl);
}

/* ---- lending workers --------------------------------------------------------- */

/* Hands a free worker to the first waiting task, or leaves it idle.  After
 * shutdown the worker is stopped instead. */
static void worker_release(cio_process_pool *pool, struct worker *w)
{
    w->busy = 0;
    if (pool->shutdown) {
        worker_stop(pool, w, 0);
        return;
    }
    struct pool_waiter *pw = pool->wait_head;
    if (!pw)
        return;
    pool->wait_head = pw->next;
    if (!pool->wait_head)
        pool->wait_tailp = &pool->wait_head;
    w->busy = 1;
    pw->got = w;
    cio__wake(pw->task, 0);
}

static void waiter_interrupt(cio_task *t, int code)
{
    struct pool_waiter *pw = t->wait_obj;
    cio_process_pool *pool = pw->pool;
    for (struct pool_waiter **pp = &pool->wait_head; *pp; pp = &(*pp)->next) {
        if (*pp == pw) {
            *pp = pw->next;
            if (pool->wait_tailp == &pw->next)
                pool->wait_tailp = pp;
            break;
        }
    }
    cio__wake(t, code);
}

/* Waits (FIFO) for an idle worker: 0 and *out, or a negative code. */
static int worker_acquire(cio_process_pool *pool, cio_task *t, struct worker **out)
{
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    if (pool->shutdown)
        return CIO_ESHUTDOWN;
    struct worker *dead = NULL;
    if (!pool->wait_head) {
        for (size_t i = 0; i < pool->nw; i++) {
            struct worker *w = &pool->w[i];
            if (w->pid && !w->busy) {
                w->busy = 1;
                *out = w;
                return 0;
            }
            if (!w->pid && !dead)
                dead = w;
        }
    }
    if (dead && worker_start(pool, dead) == 0) {
        /* A slot whose replacement had failed: try again now. */
        dead->busy = 1;
        *out = dead;
        return 0;
    }
    struct pool_waiter pw = {NULL, pool, t, NULL};
    *pool->wait_tailp = &pw;
    pool->wait_tailp = &pw.next;
    rc = cio__park(t, waiter_interrupt, &pw);
    if (rc)
        return rc;
    if (!pw.got)
        return CIO_ESHUTDOWN;
    rc = cio__checkpoint(t);
    if (rc) {
        worker_release(pool, pw.got); /* to the next in line */
        return rc;
    }
    *out = pw.got;
    return 0;
}

/* ---- the call ---------------------------------------------------------------- */

/* One exchange with worker w: 0 and the function's return value in
 * *fn_rc, or the failure of the exchange itself. */
static int call_on(cio_process_pool *pool, struct worker *w, uint32_t idx, const void *in,
                   size_t inlen, void **out, size_t *outlen, int *fn_rc)
{
    cio_loop *loop = pool->loop;
    struct wire rq = {(int32_t)idx, 0, inlen};
    int rc = cio__pipe_write_all(loop, w->req, &rq, sizeof rq);
    if (rc == 0 && inlen)
        rc = cio__pipe_write_all(loop, w->req, in, inlen);
    struct wire rs;
    char *p = (char *)&rs;
    size_t left = sizeof rs;
    while (rc == 0 && left) {
        int n = cio__pipe_read(loop, w->resp, p, left);
        if (n <= 0)
            rc = n == 0 ? CIO_EWORKERDIED : n;
        else {
            p += n;
            left -= (size_t)n;
        }
    }
    char *buf = NULL;
    if (rc == 0 && rs.len) {
        buf = cio__malloc(rs.len);
        if (!buf)
            rc = -ENOMEM; /* the rest is unread: the worker is replaced */
        for (size_t got = 0; rc == 0 && got < rs.len;) {
            int n = cio__pipe_read(loop, w->resp, buf + got, rs.len - got);
            if (n <= 0)
                rc = n == 0 ? CIO_EWORKERDIED : n;
            else
                got += (size_t)n;
        }
    }
    if (rc == -EPIPE)
        rc = CIO_EWORKERDIED;
    if (rc < 0) {
        cio__free(buf);
        return rc;
    }
    if (out)
        *out = buf;
    else
        cio__free(buf);
    if (outlen)
        *outlen = (size_t)rs.len;
    *fn_rc = rs.code;
    return 0;
}

int cio_process_pool_call(cio_process_pool *pool, const char *name, const void *in,
                          size_t inlen, void **out, size_t *outlen)
{
    if (out)
        *out = NULL;
    if (outlen)
        *outlen = 0;
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    cio_loop *loop = t->fut.loop;
    if (!pool || !name || (!in && inlen))
        return cio__bad_arg(loop, __func__, "pool, name or in is NULL");
    if (pool->loop != loop)
        return cio__bad_arg(loop, __func__, "pool belongs to another loop");
    size_t idx = 0;
    while (idx < pool->nfns && strcmp(pool->fns[idx].name, name) != 0)
        idx++;
    if (idx == pool->nfns)
        return -ENOENT;
    struct worker *w;
    int rc = worker_acquire(pool, t, &w);
    if (rc)
        return rc;
    int fn_rc = 0;
    rc = call_on(pool, w, (uint32_t)idx, in, inlen, out, outlen, &fn_rc);
    if (rc) {
        /* The worker is dead or mid-message: replace it. */
        worker_stop(pool, w, 1);
        if (!pool->shutdown) {
            int src = worker_start(pool, w);
            if (src < 0)
                cio_log(CIO_LOG_WARNING, "process pool: could not replace a worker: %s",
                        cio_strerror(src));
        }
        if (w->pid)
            worker_release(pool, w);
        return rc;
    }
    worker_release(pool, w);
    return fn_rc;
}

/* ---- creation, shutdown, free ------------------------------------------------ */

int cio_process_pool_new(size_t nworkers, const cio_process_fn_entry *fns, size_t nfns,
                         cio_process_pool **out)
{
    cio_loop *loop = cio__running_loop;
    if (!out)
        return cio__bad_arg(loop, __func__, "out is NULL");
    *out = NULL;
    if (!fns || !nfns)
        return cio__bad_arg(loop, __func__, "no functions given");
    for (size_t i = 0; i < nfns; i++)
        if (!fns[i].name || !fns[i].fn)
            return cio__bad_arg(loop, __func__, "a function entry has a NULL name or fn");
    if (nworkers > 1024)
        return cio__bad_arg(loop, __func__, "nworkers is above 1024");
    if (!loop)
        return CIO_ENOLOOP;
    if (nworkers == 0) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        nworkers = n > 0 ? (size_t)n : 1;
    }
    struct pool_loop *pl = (struct pool_loop *)cio__loop_ext_find(loop, &pool_key);
    if (!pl) {
        pl = cio__calloc(1, sizeof *pl);
        if (!pl)
            return -ENOMEM;
        pl->ext.key = &pool_key;
        pl->ext.rank = CIO__EXT_EXEC;
        pl->ext.on_close = pool_loop_close;
        cio__loop_ext_add(loop, &pl->ext);
    }
    cio_process_pool *pool = cio__calloc(1, sizeof *pool);
    if (!pool)
        return -ENOMEM;
    pool->loop = loop;
    pool->wait_tailp = &pool->wait_head;
    pool->fns = cio__calloc(nfns, sizeof *pool->fns);
    pool->w = cio__calloc(nworkers, sizeof *pool->w);
    int rc = pool->fns && pool->w ? 0 : -ENOMEM;
    for (size_t i = 0; i < nfns && rc == 0; i++) {
        pool->fns[i].fn = fns[i].fn;
        pool->fns[i].name = cio__strdup(fns[i].name);
        pool->nfns = i + 1;
        if (!pool->fns[i].name)
            rc = -ENOMEM;
    }
    /* Fork only once everything the workers use (the function table) is
     * in place: they see memory as it is now. */
    for (size_t i = 0; i < nworkers && rc == 0; i++) {
        pool->nw = i + 1;
        pool->w[i].req = pool->w[i].resp = -1;
        rc = worker_start(pool, &pool->w[i]);
    }
    pool->next = pl->list;
    if (pl->list)
        pl->list->prev = pool;
    pl->list = pool;
    if (rc < 0) {
        cio_process_pool_free(pool);
        return rc;
    }
    *out = pool;
    return 0;
}

int cio_process_pool_shutdown(cio_process_pool *pool, int kill_running)
{
    if (!pool)
        return cio__bad_arg(NULL, __func__, "pool is NULL");
    pool->shutdown = 1;
    while (pool->wait_head) {
        struct pool_waiter *pw = pool->wait_head;
        pool->wait_head = pw->next;
        cio__wake(pw->task, CIO_ESHUTDOWN);
    }
    pool->wait_tailp = &pool->wait_head;
    for (size_t i = 0; i < pool->nw; i++) {
        struct worker *w = &pool->w[i];
        if (!w->pid)
            continue;
        if (!w->busy) {
            worker_stop(pool, w, 0);
        } else if (kill_running) {
            /* The call sees EOF and fails with CIO_EWORKERDIED; keep the
             * descriptors until it has: only kill and reap here. */
            kill(w->pid, SIGKILL);
        }
    }
    return 0;
}

size_t cio_process_pool_pids(const cio_process_pool *pool, int *pids, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; pool && i < pool->nw; i++) {
        if (!pool->w[i].pid)
            continue;
        if (pids && n < cap)
            pids[n] = pool->w[i].pid;
        n++;
    }
    return n;
}

void cio_process_pool_free(cio_process_pool *pool)
{
    if (!pool)
        return;
    pool->shutdown = 1;
    for (size_t i = 0; i < pool->nw; i++)
        worker_stop(pool, &pool->w[i], 1);
    if (pool->loop) {
        struct pool_loop *pl = (struct pool_loop *)cio__loop_ext_find(pool->loop, &pool_key);
        if (pool->prev)
            pool->prev->next = pool->next;
        else if (pl && pl->list == pool)
            pl->list = pool->next;
        if (pool->next)
            pool->next->prev = pool->prev;
    }
    for (size_t i = 0; i < pool->nfns; i++)
        cio__free((char *)pool->fns[i].name);
    cio__free(pool->fns);
    cio__free(pool->w);
    cio__free(pool);
}
