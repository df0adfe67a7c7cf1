/*
 * subprocess.c - child processes: spawning (posix_spawn with pipes),
 * reaping as soon as the child exits, waiting, signals, pipe I/O and
 * communicate.
 *
 * Divided into: the per-loop list of children (a loop extension that
 * kills and reaps what is still running when the loop closes), reaping,
 * spawning, waiting and signals, pipe calls, communicate, the hooks of
 * the subprocess transport (transport_subprocess.c), free.
 *
 * Reaping: a pidfd (Linux >= 5.3) becomes readable when the child exits;
 * the loop watches it with a reader callback that reaps the child at once
 * with waitid(P_PIDFD), so no zombie is left even if nobody waits, and
 * signals go through pidfd_send_signal, which can never hit a recycled
 * pid.  Without pidfd_open (ENOSYS), a 10 ms timer polls waitpid(WNOHANG)
 * for the child instead: simple and correct, if not instant.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../exec/exec.h"
#include "cio/stream.h"
#include "stream.h"
#include "cio/subprocess.h"
#include "subprocess.h"

#ifndef P_PIDFD
#define P_PIDFD 3
#endif

extern char **environ;

struct sp_loop {
    struct cio__loop_ext ext;  /* first: the loop's extension link */
    cio_subprocess *list;      /* children of this loop not yet freed */
};

struct cio_subprocess {
    cio_loop *loop;            /* owner; NULL once the loop closed */
    cio_subprocess *prev, *next; /* in sp_loop.list */
    pid_t pid;
    int pidfd;                 /* -1 when reaped or unavailable */
    cio_handle *poll_timer;    /* fallback without pidfd: waitpid poll */
    int fds[3];                /* parent ends: stdin (write), stdout,
                                  stderr (read); -1 if not a pipe */
    cio_stream *streams[3];    /* streams made over fds[i] (they own the
                                  descriptor then), or NULL */
    int reaped;                /* the child was reaped: code is valid */
    int code;                  /* exit status, or -signal */
    cio_future *exited;        /* completed when reaped */
};

static const char sp_key;

/* Tests set it to exercise the fallback that kernels without pidfd use. */
int cio__subprocess_no_pidfd;

/* ---- reaping ------------------------------------------------------------ */

static void set_exited(cio_subprocess *p, int status_code, int is_signal)
{
    p->reaped = 1;
    p->code = is_signal ? -status_code : status_code;
    if (p->pidfd >= 0) {
        if (p->loop)
            cio_loop_remove_reader(p->loop, p->pidfd);
        close(p->pidfd);
        p->pidfd = -1;
    }
    if (p->poll_timer) {
        cio_handle_cancel(p->poll_timer);
        cio_handle_unref(p->poll_timer);
        p->poll_timer = NULL;
    }
    if (p->exited && !cio_future_done(p->exited))
        cio_future_set_result(p->exited, NULL);
}

/* Reaps the child if it has exited (or, with block, once it exits). */
static void try_reap(cio_subprocess *p, int block)
{
    if (p->reaped)
        return;
    siginfo_t si;
    memset(&si, 0, sizeof si);
    int opts = WEXITED | (block ? 0 : WNOHANG);
    int r;
    do {
        r = p->pidfd >= 0 ? waitid((idtype_t)P_PIDFD, (id_t)p->pidfd, &si, opts)
                          : waitid(P_PID, (id_t)p->pid, &si, opts);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        /* ECHILD: someone else reaped it (a SIGCHLD handler set to
         * SIG_IGN, a stray waitpid(-1)).  Its status is lost. */
        if (errno == ECHILD)
            set_exited(p, 255, 0);
        return;
    }
    if (si.si_pid == 0)
        return; /* still running */
    set_exited(p, si.si_status, si.si_code != CLD_EXITED);
}

static void pidfd_ready(void *arg) { try_reap(arg, 0); }

static void poll_tick(void *arg)
{
    cio_subprocess *p = arg;
    cio_handle_unref(p->poll_timer);
    p->poll_timer = NULL;
    try_reap(p, 0);
    if (!p->reaped && p->loop &&
        cio_call_later(p->loop, 0.01, poll_tick, p, &p->poll_timer) < 0)
        p->poll_timer = NULL;
}

/* The loop closes: no child outlives it unreaped. */
static void sp_loop_close(cio_loop *loop, struct cio__loop_ext *ext)
{
    struct sp_loop *sl = (struct sp_loop *)ext;
    while (sl->list) {
        cio_subprocess *p = sl->list;
        sl->list = p->next;
        p->prev = p->next = NULL;
        if (!p->reaped) {
            cio_subprocess_kill(p);
            try_reap(p, 1);
        }
        for (int i = 0; i < 3; i++)
            if (p->fds[i] >= 0)
                cio__io_forget(loop, p->fds[i]);
        cio_future_unref(p->exited);
        p->exited = NULL;
        p->loop = NULL;
    }
    cio__free(sl);
}

/* ---- spawning ------------------------------------------------------------ */

static int check_mode(int mode, int allow_stdout)
{
    return mode == CIO_SUBPROCESS_INHERIT || mode == CIO_SUBPROCESS_PIPE ||
           mode == CIO_SUBPROCESS_DEVNULL || (allow_stdout && mode == CIO_SUBPROCESS_STDOUT);
}

/*
 * Finds the program as execvp would (PATH, default "/bin:/usr/bin"), so a
 * missing or non-executable program fails here with -ENOENT / -EACCES.
 * posix_spawn reports exec failures too, but only where vfork shares the
 * parent's memory: under qemu-user, for one, the child's exec error is
 * lost and the call "succeeds" with a child exiting 127.
 */
static int find_program(const char *file, char *out, size_t cap)
{
    if (strchr(file, '/')) {
        if (strlen(file) >= cap)
            return -ENAMETOOLONG;
        strcpy(out, file);
        return access(file, X_OK) == 0 ? 0 : -errno;
    }
    const char *path = getenv("PATH");
    if (!path || !*path)
        path = "/bin:/usr/bin";
    int err = -ENOENT;
    for (const char *d = path;; d++) {
        const char *end = strchr(d, ':');
        size_t dl = end ? (size_t)(end - d) : strlen(d);
        int n = snprintf(out, cap, "%.*s%s%s", (int)dl, d, dl ? "/" : "", file);
        if (n > 0 && (size_t)n < cap) {
            if (access(out, X_OK) == 0) {
                struct stat st;
                if (stat(out, &st) == 0 && S_ISREG(st.st_mode))
                    return 0;
            } else if (errno == EACCES) {
                err = -EACCES; /* as execvp: remember, keep looking */
            }
        }
        if (!end)
            return err;
        d = end;
    }
}

static int spawn(cio_loop *loop, const char *file, char *const argv[],
                 const cio_subprocess_options *opts, cio_subprocess *p)
{
    char prog[4096];
    int rc0;
    if (opts->cwd && strchr(file, '/') && file[0] != '/' && strlen(file) < sizeof prog)
        rc0 = (strcpy(prog, file), 0); /* relative to the child's cwd */
    else
        rc0 = find_program(file, prog, sizeof prog);
    if (rc0 < 0)
        return rc0;
    int modes[3] = {opts->stdin_mode, opts->stdout_mode, opts->stderr_mode};
    int child_end[3] = {-1, -1, -1};
    int rc = 0;
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (modes[i] != CIO_SUBPROCESS_PIPE)
            continue;
        int fds[2];
        /* stdin: the parent writes (fds[1]); stdout/stderr: it reads. */
        rc = cio__pipe_make(fds, i == 0 ? 1 : 0);
        if (rc == 0) {
            p->fds[i] = i == 0 ? fds[1] : fds[0];
            child_end[i] = i == 0 ? fds[0] : fds[1];
        }
    }
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int have_fa = 0, have_attr = 0;
    if (rc == 0) {
        rc = -posix_spawn_file_actions_init(&fa);
        have_fa = rc == 0;
    }
    if (rc == 0) {
        rc = -posix_spawnattr_init(&attr);
        have_attr = rc == 0;
    }
    for (int i = 0; i < 3 && rc == 0; i++) {
        if (modes[i] == CIO_SUBPROCESS_PIPE)
            rc = -posix_spawn_file_actions_adddup2(&fa, child_end[i], i);
        else if (modes[i] == CIO_SUBPROCESS_DEVNULL)
            rc = -posix_spawn_file_actions_addopen(&fa, i, "/dev/null",
                                                   i == 0 ? O_RDONLY : O_WRONLY, 0);
        else if (modes[i] == CIO_SUBPROCESS_STDOUT)
            rc = -posix_spawn_file_actions_adddup2(&fa, 1, 2);
    }
    if (rc == 0 && opts->cwd)
        rc = -posix_spawn_file_actions_addchdir_np(&fa, opts->cwd);
    if (rc == 0) {
        /* The child starts clean: no blocked signal, no handler (the
         * parent may block signals for signalfd-style handling). */
        sigset_t none, all;
        sigemptyset(&none);
        sigfillset(&all);
        sigdelset(&all, SIGKILL);
        sigdelset(&all, SIGSTOP);
        posix_spawnattr_setsigmask(&attr, &none);
        posix_spawnattr_setsigdefault(&attr, &all);
        posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
        pid_t pid;
        rc = -posix_spawn(&pid, prog, &fa, &attr, argv, opts->env ? opts->env : environ);
        if (rc == 0)
            p->pid = pid;
    }
    if (have_fa)
        posix_spawn_file_actions_destroy(&fa);
    if (have_attr)
        posix_spawnattr_destroy(&attr);
    for (int i = 0; i < 3; i++)
        if (child_end[i] >= 0)
            close(child_end[i]);
    if (rc < 0)
        return rc;
    /* Watch for its exit. */
    p->pidfd = cio__subprocess_no_pidfd ? -1 : (int)syscall(SYS_pidfd_open, p->pid, 0);
    if (p->pidfd >= 0) {
        fcntl(p->pidfd, F_SETFD, FD_CLOEXEC);
        rc = cio_loop_add_reader(loop, p->pidfd, pidfd_ready, p);
    } else {
        p->pidfd = -1;
        rc = cio_call_later(loop, 0.01, poll_tick, p, &p->poll_timer);
    }
    if (rc < 0) {
        /* Cannot watch it: do not leave it running unwatched. */
        kill(p->pid, SIGKILL);
        try_reap(p, 1);
        return rc;
    }
    return 0;
}

static int create(const char *fn, const char *file, char *const argv[],
                  const cio_subprocess_options *opts, cio_subprocess **out)
{
    static const cio_subprocess_options defaults;
    cio_loop *loop = cio__running_loop;
    if (!out)
        return cio__bad_arg(loop, fn, "out is NULL");
    *out = NULL;
    if (!file || !argv || !argv[0])
        return cio__bad_arg(loop, fn, "program or argv is NULL");
    if (!opts)
        opts = &defaults;
    if (!check_mode(opts->stdin_mode, 0) || !check_mode(opts->stdout_mode, 0) ||
        !check_mode(opts->stderr_mode, 1))
        return cio__bad_arg(loop, fn, "bad stdin/stdout/stderr mode");
    if (!loop)
        return CIO_ENOLOOP;
    struct sp_loop *sl = (struct sp_loop *)cio__loop_ext_find(loop, &sp_key);
    if (!sl) {
        sl = cio__calloc(1, sizeof *sl);
        if (!sl)
            return -ENOMEM;
        sl->ext.key = &sp_key;
        sl->ext.rank = CIO__EXT_NET;
        sl->ext.on_close = sp_loop_close;
        cio__loop_ext_add(loop, &sl->ext);
    }
    cio_subprocess *p = cio__calloc(1, sizeof *p);
    if (!p)
        return -ENOMEM;
    p->loop = loop;
    p->pidfd = -1;
    p->fds[0] = p->fds[1] = p->fds[2] = -1;
    int rc = cio_future_new(loop, &p->exited);
    if (rc == 0)
        rc = spawn(loop, file, argv, opts, p);
    if (rc < 0) {
        for (int i = 0; i < 3; i++)
            if (p->fds[i] >= 0)
                close(p->fds[i]);
        if (p->exited)
            cio_future_unref(p->exited);
        cio__free(p);
        return rc;
    }
    p->next = sl->list;
    if (sl->list)
        sl->list->prev = p;
    sl->list = p;
    *out = p;
    return 0;
}

int cio_create_subprocess_exec(const char *file, char *const argv[],
                               const cio_subprocess_options *opts, cio_subprocess **out)
{
    return create(__func__, file, argv, opts, out);
}

int cio_create_subprocess_shell(const char *cmd, const cio_subprocess_options *opts,
                                cio_subprocess **out)
{
    if (!cmd)
        return cio__bad_arg(cio__running_loop, __func__, "cmd is NULL");
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    return create(__func__, "/bin/sh", argv, opts, out);
}

/* ---- status, waiting, signals --------------------------------------------- */

int cio_subprocess_pid(const cio_subprocess *p) { return p ? p->pid : -EINVAL; }

int cio_subprocess_returncode(const cio_subprocess *p, int *code)
{
    if (!p || !code)
        return cio__bad_arg(NULL, __func__, "p or code is NULL");
    if (!p->reaped)
        return 0;
    *code = p->code;
    return 1;
}

static void wait_interrupt(cio_task *t, int code)
{
    cio__future_remove_cb(t->wait_obj, cio__waiter_cb, t);
    cio__wake(t, code);
}

int cio_subprocess_wait(cio_subprocess *p, int *code)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    if (!p)
        return cio__bad_arg(t->fut.loop, __func__, "p is NULL");
    int rc = cio__checkpoint(t);
    if (rc)
        return rc;
    if (!p->reaped) {
        if (!p->exited || p->loop != t->fut.loop)
            return cio__bad_arg(t->fut.loop, __func__, "p belongs to another loop");
        rc = cio__future_add_cb(p->exited, cio__waiter_cb, t);
        if (rc)
            return rc;
        rc = cio__park(t, wait_interrupt, p->exited);
        if (rc)
            return rc;
    }
    if (code)
        *code = p->code;
    return 0;
}

int cio_subprocess_send_signal(cio_subprocess *p, int sig)
{
    if (!p || sig <= 0 || sig >= NSIG)
        return cio__bad_arg(p ? p->loop : NULL, __func__, "p is NULL or bad signal");
    if (p->reaped)
        return 0;
    int r = p->pidfd >= 0 ? (int)syscall(SYS_pidfd_send_signal, p->pidfd, sig, NULL, 0)
                          : kill(p->pid, sig);
    if (r < 0 && errno != ESRCH)
        return -errno;
    return 0;
}

int cio_subprocess_terminate(cio_subprocess *p) { return cio_subprocess_send_signal(p, SIGTERM); }
int cio_subprocess_kill(cio_subprocess *p) { return cio_subprocess_send_signal(p, SIGKILL); }

/* ---- pipes ---------------------------------------------------------------- */

/* 1 if the child's stream i is an open pipe (maybe inside a cio_stream:
 * open until its user closes it; after the pipe's end the stream still
 * answers, with its buffered bytes, end of stream or error). */
static int has_pipe(const cio_subprocess *p, int i)
{
    return p->streams[i] ? !p->streams[i]->user_closed : p->fds[i] >= 0;
}

static int pipe_check(cio_subprocess *p, int fd, cio_task **t, const char *fn)
{
    *t = cio__current();
    if (!*t)
        return CIO_ENOTASK;
    if (!p || fd < 0 || fd > 2)
        return cio__bad_arg((*t)->fut.loop, fn, "p is NULL or fd is not 0, 1 or 2");
    if (p->loop != (*t)->fut.loop)
        return cio__bad_arg((*t)->fut.loop, fn, "p belongs to another loop");
    if (!has_pipe(p, fd))
        return -EBADF;
    return 0;
}

int cio_subprocess_read(cio_subprocess *p, int fd, void *buf, size_t len)
{
    cio_task *t;
    if (fd == 0)
        return cio__bad_arg(cio__running_loop, __func__, "stdin cannot be read");
    int rc = pipe_check(p, fd, &t, __func__);
    if (rc)
        return rc;
    if (!buf && len)
        return cio__bad_arg(t->fut.loop, __func__, "buf is NULL");
    if (p->streams[fd])
        return cio_stream_read(p->streams[fd], buf, len);
    return cio__pipe_read(t->fut.loop, p->fds[fd], buf, len);
}

int cio_subprocess_write(cio_subprocess *p, const void *buf, size_t len)
{
    cio_task *t;
    int rc = pipe_check(p, 0, &t, __func__);
    if (rc)
        return rc;
    if (!buf && len)
        return cio__bad_arg(t->fut.loop, __func__, "buf is NULL");
    rc = cio__checkpoint(t);
    if (rc)
        return rc;
    if (p->streams[0]) {
        /* The stream's write + drain, as asyncio's stdin.write/drain. */
        cio_stream *s = p->streams[0];
        rc = cio_stream_write(s, buf, len);
        if (rc == 0)
            rc = cio_stream_drain(s);
        return rc == CIO_ECLOSED ? -EBADF : rc;
    }
    return cio__pipe_write_all(t->fut.loop, p->fds[0], buf, len);
}

int cio_subprocess_close_stdin(cio_subprocess *p)
{
    if (!p)
        return cio__bad_arg(NULL, __func__, "p is NULL");
    if (!has_pipe(p, 0))
        return -EBADF;
    if (p->streams[0]) {
        cio_stream_close(p->streams[0]); /* queued bytes still go out */
        return 0;
    }
    if (p->loop) {
        struct cio__fd *f = cio__fd_slot(p->loop, p->fds[0], 0);
        if (f && f->wr_op)
            return -EBUSY;
        cio__io_forget(p->loop, p->fds[0]);
    }
    close(p->fds[0]);
    p->fds[0] = -1;
    return 0;
}

/* ---- communicate ------------------------------------------------------------ */

struct drain {
    cio_subprocess *p;
    int fd;                    /* 1 or 2 */
    int keep;                  /* the caller wants the bytes */
    char *buf;
    size_t len, cap;
};

static int drain_task(void *arg, void **result)
{
    struct drain *d = arg;
    char scratch[4096];
    for (;;) {
        if (d->keep && d->cap - d->len < 4097) {
            size_t cap = d->cap ? d->cap * 2 : 8192;
            char *b = cio__realloc(d->buf, cap);
            if (!b)
                return -ENOMEM;
            d->buf = b;
            d->cap = cap;
        }
        char *dst = d->keep ? d->buf + d->len : scratch;
        size_t room = d->keep ? d->cap - d->len - 1 : sizeof scratch;
        int n = cio_subprocess_read(d->p, d->fd, dst, room);
        if (n < 0)
            return n;
        if (n == 0)
            break;
        if (d->keep)
            d->len += (size_t)n;
    }
    if (d->keep)
        d->buf[d->len] = 0;
    return 0;
}

struct feed {
    cio_subprocess *p;
    const void *input;
    size_t len;
};

static int feed_task(void *arg, void **result)
{
    struct feed *f = arg;
    int rc = cio_subprocess_write(f->p, f->input, f->len);
    if (rc == -EPIPE)
        rc = 0; /* the child did not want it all: not an error (asyncio) */
    int crc = cio_subprocess_close_stdin(f->p);
    return rc ? rc : (crc == -EBADF ? 0 : crc);
}

int cio_subprocess_communicate(cio_subprocess *p, const void *input, size_t len, char **out,
                               size_t *outlen, char **err, size_t *errlen)
{
    if (out)
        *out = NULL;
    if (err)
        *err = NULL;
    if (outlen)
        *outlen = 0;
    if (errlen)
        *errlen = 0;
    cio_task *self = cio__current();
    if (!self)
        return CIO_ENOTASK;
    if (!p || (!input && len))
        return cio__bad_arg(self->fut.loop, __func__, "p is NULL or input is NULL");
    if (p->loop != self->fut.loop)
        return cio__bad_arg(self->fut.loop, __func__, "p belongs to another loop");
    int rc = cio__checkpoint(self);
    if (rc)
        return rc;
    struct drain d[2] = {{p, 1, out != NULL, NULL, 0, 0}, {p, 2, err != NULL, NULL, 0, 0}};
    struct feed f = {p, input, len};
    cio_task *tasks[3] = {NULL, NULL, NULL};
    if (has_pipe(p, 0))
        rc = cio_create_task(feed_task, &f, "communicate-stdin", &tasks[0]);
    for (int i = 0; i < 2 && rc == 0; i++)
        if (has_pipe(p, i + 1))
            rc = cio_create_task(drain_task, &d[i], i ? "communicate-stderr" : "communicate-stdout",
                                 &tasks[i + 1]);
    for (int i = 0; i < 3 && rc == 0; i++)
        if (tasks[i])
            rc = cio_task_await(tasks[i], NULL);
    if (rc) {
        /* Cancelled or failed: the helpers use this frame, so stop them
         * and wait for them to finish whatever happens. */
        cio_shield_begin();
        for (int i = 0; i < 3; i++)
            if (tasks[i])
                cio_task_cancel(tasks[i], NULL);
        for (int i = 0; i < 3; i++)
            if (tasks[i])
                cio_task_await(tasks[i], NULL);
        cio_shield_end();
    }
    for (int i = 0; i < 3; i++)
        if (tasks[i])
            cio_task_unref(tasks[i]);
    if (rc == 0)
        rc = cio_subprocess_wait(p, NULL);
    if (rc) {
        cio__free(d[0].buf);
        cio__free(d[1].buf);
        return rc;
    }
    /* A stream that was a pipe but produced nothing still gets "". */
    for (int i = 0; i < 2; i++) {
        if (d[i].keep && !d[i].buf && (p->fds[i + 1] >= 0 || p->streams[i + 1])) {
            d[i].buf = cio__malloc(1);
            if (!d[i].buf) {
                cio__free(d[0].buf);
                cio__free(d[1].buf);
                return -ENOMEM;
            }
            d[i].buf[0] = 0;
        }
    }
    if (out)
        *out = d[0].buf;
    if (outlen)
        *outlen = d[0].len;
    if (err)
        *err = d[1].buf;
    if (errlen)
        *errlen = d[1].len;
    return 0;
}

/* ---- pipes as streams ---------------------------------------------------------- */

/* Makes (once) the stream over the child's pipe i.  From then on the
 * stream owns the descriptor and the small pipe calls go through it. */
static int pipe_stream(cio_subprocess *p, int i, cio_stream **out, const char *fn)
{
    if (!out)
        return cio__bad_arg(p ? p->loop : NULL, fn, "out is NULL");
    *out = NULL;
    if (!p)
        return cio__bad_arg(NULL, fn, "p is NULL");
    if (!p->streams[i]) {
        if (p->fds[i] < 0)
            return -EBADF;
        if (!p->loop || p->loop != cio__running_loop)
            return cio__bad_arg(cio__running_loop, fn, "p belongs to another loop");
        int rc = cio_stream_from_fd(p->fds[i], NULL, &p->streams[i]);
        if (rc < 0)
            return rc;
    }
    *out = p->streams[i];
    return 0;
}

int cio_subprocess_stdin_stream(cio_subprocess *p, cio_stream **out)
{
    return pipe_stream(p, 0, out, __func__);
}

int cio_subprocess_stdout_stream(cio_subprocess *p, cio_stream **out)
{
    return pipe_stream(p, 1, out, __func__);
}

int cio_subprocess_stderr_stream(cio_subprocess *p, cio_stream **out)
{
    return pipe_stream(p, 2, out, __func__);
}

/* ---- for the subprocess transport ------------------------------------------ */

int cio__subprocess_take_pipe(cio_subprocess *p, int i)
{
    if (i < 0 || i > 2 || p->streams[i])
        return -1;
    int fd = p->fds[i];
    p->fds[i] = -1;
    return fd;
}

cio_future *cio__subprocess_exited(cio_subprocess *p) { return p->exited; }

/* ---- free ------------------------------------------------------------------- */

void cio_subprocess_free(cio_subprocess *p)
{
    if (!p)
        return;
    if (!p->reaped) {
        cio_subprocess_kill(p);
        try_reap(p, 1);
    }
    for (int i = 0; i < 3; i++) {
        if (p->streams[i]) {
            cio_stream_unref(p->streams[i]); /* closes the descriptor */
            continue;
        }
        if (p->fds[i] < 0)
            continue;
        if (p->loop)
            cio__io_forget(p->loop, p->fds[i]);
        close(p->fds[i]);
    }
    if (p->loop) {
        struct sp_loop *sl = (struct sp_loop *)cio__loop_ext_find(p->loop, &sp_key);
        if (p->prev)
            p->prev->next = p->next;
        else if (sl)
            sl->list = p->next;
        if (p->next)
            p->next->prev = p->prev;
    }
    cio_future_unref(p->exited);
    cio__free(p);
}
