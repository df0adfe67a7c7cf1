/*
 * transport_subprocess.c - asyncio's subprocess transport
 * (base_subprocess.BaseSubprocessTransport) and loop.subprocess_exec /
 * subprocess_shell: a child started by subprocess.c (posix_spawn, reaped
 * at once through its pidfd, killed and reaped at loop close), whose
 * pipes are pipe transports (transport_pipe.c) running an internal
 * protocol that forwards to the user's SubprocessProtocol members.
 *
 * The order of callbacks is asyncio's: connection_made; then
 * pipe_data_received(1 or 2), pipe_connection_lost(0, 1, 2) and
 * process_exited in whatever order they happen; then connection_lost(0)
 * once the child has exited and every pipe has closed.  A pipe's
 * pause_writing / resume_writing (stdin's) go to the protocol's members
 * of those names.
 *
 * Lifetime: the transport holds itself alive until connection_lost has
 * run (so until the child is reaped: no zombie, no lost status), plus one
 * reference while the exit callback is registered; it holds a reference
 * to each pipe transport and frees the cio_subprocess when it is freed.
 *
 * Divided into: the pipes' protocol, the child's exit, the methods, the
 * subprocess calls, opening.
 */
#define _GNU_SOURCE
#include <signal.h>

#include "../util/internal.h"
#include "subprocess.h"
#include "transport.h"

/* What a pipe transport's internal protocol knows: whose pipe, which. */
struct pipe_ud {
    struct sub *s;             /* the subprocess transport */
    int fd;                    /* 0, 1 or 2 */
};

/* The subprocess transport. */
struct sub {
    struct cio_transport b;    /* first: what protocols see */
    cio_subprocess *p;         /* the child (freed with the transport) */
    cio_transport *pipes[3];   /* its pipe transports (references), or NULL */
    struct pipe_ud pud[3];     /* their protocols' pointers */
    uint8_t pipe_open[3];      /* pipe i has not had connection_lost yet */
    uint8_t exited;            /* process_exited was called */
    uint8_t closing;           /* close was called */
    uint8_t lost_scheduled;    /* connection_lost is queued or done */
};

static const struct cio__transport_vt sub_vt;

static void unref(struct sub *s) { cio__transport_unref(&s->b); }

/* ---- the pipes' protocol ------------------------------------------------------------ */

static void call_connection_lost(void *arg)
{
    struct sub *s = arg;
    if (s->b.proto->connection_lost)
        s->b.proto->connection_lost(&s->b, 0, s->b.ud);
    unref(s); /* the "alive until connection_lost" reference */
}

/* asyncio's _try_finish: connection_lost once the child has exited and
 * every pipe has closed. */
static void try_finish(struct sub *s)
{
    if (!s->exited || s->lost_scheduled)
        return;
    for (int i = 0; i < 3; i++)
        if (s->pipe_open[i])
            return;
    s->lost_scheduled = 1;
    if (cio_call_soon(s->b.loop, call_connection_lost, s, NULL) < 0)
        call_connection_lost(s); /* loop closed or no memory: now, not never */
}

static void pp_data(cio_transport *t, const void *data, size_t len, void *ud)
{
    (void)t;
    struct pipe_ud *u = ud;
    struct sub *s = u->s;
    if (s->b.proto->pipe_data_received)
        s->b.proto->pipe_data_received(&s->b, u->fd, data, len, s->b.ud);
}

static void pp_lost(cio_transport *t, int err, void *ud)
{
    (void)t;
    struct pipe_ud *u = ud;
    struct sub *s = u->s;
    s->pipe_open[u->fd] = 0;
    s->b.refs++;
    if (s->b.proto->pipe_connection_lost)
        s->b.proto->pipe_connection_lost(&s->b, u->fd, err, s->b.ud);
    try_finish(s);
    unref(s);
}

static void pp_pause(cio_transport *t, void *ud)
{
    (void)t;
    struct sub *s = ((struct pipe_ud *)ud)->s;
    if (s->b.proto->pause_writing)
        s->b.proto->pause_writing(&s->b, s->b.ud);
}

static void pp_resume(cio_transport *t, void *ud)
{
    (void)t;
    struct sub *s = ((struct pipe_ud *)ud)->s;
    if (s->b.proto->resume_writing)
        s->b.proto->resume_writing(&s->b, s->b.ud);
}

static const cio_protocol pipe_proto = {
    .data_received = pp_data,
    .connection_lost = pp_lost,
    .pause_writing = pp_pause,
    .resume_writing = pp_resume,
};

/* ---- the child's exit ------------------------------------------------------------------ */

/* The child was reaped (a done callback of subprocess.c's future). */
static void child_exited(cio_future *fut, void *arg)
{
    (void)fut;
    struct sub *s = arg;
    s->exited = 1;
    if (s->b.proto->process_exited)
        s->b.proto->process_exited(&s->b, s->b.ud);
    try_finish(s);
    unref(s); /* the callback's reference */
}

/* ---- the methods ------------------------------------------------------------------------- */

/* asyncio's close: closes the pipes and kills the child if it still runs;
 * process_exited and connection_lost follow when it is reaped. */
static void sub_close(cio_transport *bt)
{
    struct sub *s = (struct sub *)bt;
    if (s->closing)
        return;
    s->closing = 1;
    for (int i = 0; i < 3; i++)
        if (s->pipes[i])
            cio_transport_close(s->pipes[i]);
    int code;
    if (!cio_subprocess_returncode(s->p, &code))
        cio_subprocess_kill(s->p);
}

static int sub_is_closing(const cio_transport *bt) { return ((const struct sub *)bt)->closing; }

/* The last reference went, after connection_lost: every pipe has had its
 * connection_lost and the child was reaped. */
static void sub_destroy(cio_transport *bt)
{
    struct sub *s = (struct sub *)bt;
    for (int i = 0; i < 3; i++)
        cio_transport_unref(s->pipes[i]);
    cio_subprocess_free(s->p);
    cio__free(s);
}

static const struct cio__transport_vt sub_vt = {
    .kind = "subprocess",
    .close = sub_close,
    .abort = sub_close, /* asyncio's subprocess transports have no abort */
    .is_closing = sub_is_closing,
    .destroy = sub_destroy,
};

/* ---- the subprocess calls ------------------------------------------------------------------ */

/* t as a subprocess transport, or NULL (after a debug message). */
static struct sub *as_sub(const cio_transport *t, const char *fn)
{
    if (t && t->vt == &sub_vt)
        return (struct sub *)t;
    cio__bad_arg(t ? t->loop : NULL, fn, "not a subprocess transport");
    return NULL;
}

int cio_subprocess_transport_pid(const cio_transport *t)
{
    struct sub *s = as_sub(t, __func__);
    return s ? cio_subprocess_pid(s->p) : -EINVAL;
}

int cio_subprocess_transport_returncode(const cio_transport *t, int *code)
{
    struct sub *s = as_sub(t, __func__);
    if (!s || !code)
        return -EINVAL;
    return cio_subprocess_returncode(s->p, code);
}

cio_transport *cio_subprocess_transport_pipe(const cio_transport *t, int fd)
{
    struct sub *s = as_sub(t, __func__);
    return s && fd >= 0 && fd <= 2 ? s->pipes[fd] : NULL;
}

int cio_subprocess_transport_send_signal(cio_transport *t, int sig)
{
    struct sub *s = as_sub(t, __func__);
    return s ? cio_subprocess_send_signal(s->p, sig) : -EINVAL;
}

int cio_subprocess_transport_terminate(cio_transport *t)
{
    return cio_subprocess_transport_send_signal(t, SIGTERM);
}

int cio_subprocess_transport_kill(cio_transport *t)
{
    return cio_subprocess_transport_send_signal(t, SIGKILL);
}

/* ---- opening ---------------------------------------------------------------------------------- */

static int open_sub(const char *fn, const cio_protocol *proto, void *ud, const char *file,
                    char *const argv[], const char *cmd, const cio_subprocess_options *opts,
                    cio_transport **out)
{
    /* asyncio's subprocess_exec defaults: stdin, stdout, stderr all pipes. */
    static const cio_subprocess_options pipes = {.stdin_mode = CIO_SUBPROCESS_PIPE,
                                              .stdout_mode = CIO_SUBPROCESS_PIPE,
                                              .stderr_mode = CIO_SUBPROCESS_PIPE};
    cio_loop *loop = cio__running_loop;
    if (!out || !proto)
        return cio__bad_arg(loop, fn, "proto or out is NULL");
    *out = NULL;
    if (!loop)
        return CIO_ENOLOOP;
    struct sub *s = cio__calloc(1, sizeof *s);
    if (!s)
        return -ENOMEM;
    if (!opts)
        opts = &pipes;
    int rc = cmd ? cio_create_subprocess_shell(cmd, opts, &s->p)
                 : cio_create_subprocess_exec(file, argv, opts, &s->p);
    if (rc < 0) {
        cio__free(s);
        return rc;
    }
    s->b.vt = &sub_vt;
    s->b.loop = loop;
    s->b.proto = proto;
    s->b.ud = ud;
    /* Everything that can fail comes first, so a failure undoes it all
     * at once: nothing has started nor been scheduled yet. */
    for (int i = 0; i < 3 && rc == 0; i++) {
        int fd = cio__subprocess_take_pipe(s->p, i);
        if (fd < 0)
            continue;
        rc = cio__pipe_transport_new(loop, fd, i == 0, &s->pipes[i]);
        if (rc < 0)
            cio_fd_close(fd);
    }
    cio_future *exited = cio__subprocess_exited(s->p);
    if (rc == 0 && !exited)
        rc = CIO_ECLOSED;
    if (rc == 0)
        rc = cio_future_add_done_callback(exited, child_exited, s);
    if (rc < 0) {
        for (int i = 0; i < 3; i++)
            if (s->pipes[i])
                cio__pipe_transport_discard(s->pipes[i]);
        cio_subprocess_free(s->p); /* kills and reaps the child */
        cio__free(s);
        return rc;
    }
    /* alive until connection_lost, the exit callback's, the caller's,
     * and this call's own while connection_made runs */
    s->b.refs = 4;
    for (int i = 0; i < 3; i++) {
        if (!s->pipes[i])
            continue;
        s->pud[i] = (struct pipe_ud){.s = s, .fd = i};
        s->pipe_open[i] = 1;
        cio_transport_ref(s->pipes[i]); /* ours, until t is freed */
        cio__pipe_transport_start(s->pipes[i], &pipe_proto, &s->pud[i]);
    }
    *out = &s->b;
    if (proto->connection_made)
        proto->connection_made(&s->b, ud);
    unref(s);
    return 0;
}

int cio_subprocess_exec(const cio_protocol *proto, void *ud, const char *file,
                        char *const argv[], const cio_subprocess_options *opts,
                        cio_transport **out)
{
    return open_sub(__func__, proto, ud, file, argv, NULL, opts, out);
}

int cio_subprocess_shell(const cio_protocol *proto, void *ud, const char *cmd,
                         const cio_subprocess_options *opts, cio_transport **out)
{
    if (!cmd) {
        if (out)
            *out = NULL;
        return cio__bad_arg(cio__running_loop, __func__, "cmd is NULL");
    }
    return open_sub(__func__, proto, ud, NULL, NULL, cmd, opts, out);
}
