/*
 * connect.c - opening client streams: cio_open_connection with happy
 * eyeballs (RFC 8305) and cio_open_unix_connection.  The connected socket
 * gets a socket transport with the stream as its protocol (with TLS, a
 * TLS transport over it: stream_tls.c).
 *
 * Happy eyeballs: the resolved addresses are interleaved by family (first
 * family of the answer first, RFC 8305 section 4).  Each connection
 * attempt is a small task; the opening task starts the next attempt when
 * the connection attempt delay (250 ms) passes or when the latest attempt
 * fails, whichever comes first, and stops at the first success.  The
 * other attempts are then cancelled; each closes its own socket.  The
 * opening task waits for all of them to finish (shielded), so nothing
 * outlives the call, even when it is cancelled.
 *
 * Divided into: address ordering, the attempt task, the race, the public
 * entry points.
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <sys/un.h>

#include "../task/task.h"
#include "stream.h"

/* ---- address ordering ---------------------------------------------------- */

/* Interleaves the families of list into a[] (n entries).  Returns n. */
static size_t interleave(struct addrinfo *list, struct addrinfo **a, size_t cap)
{
    struct addrinfo *fam1[64], *fam2[64];
    size_t n1 = 0, n2 = 0, n = 0;
    int first = list ? list->ai_family : 0;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        if (ai->ai_family == first && n1 < 64)
            fam1[n1++] = ai;
        else if (ai->ai_family != first && n2 < 64)
            fam2[n2++] = ai;
    }
    for (size_t i = 0; (i < n1 || i < n2) && n < cap; i++) {
        if (i < n1 && n < cap)
            a[n++] = fam1[i];
        if (i < n2 && n < cap)
            a[n++] = fam2[i];
    }
    return n;
}

/* ---- the attempt task ------------------------------------------------------- */

struct race;

struct attempt {
    struct race *race;         /* the race it belongs to */
    struct addrinfo *ai;       /* address tried (in the race's list) */
    cio_task *task;            /* the attempt's task (a reference) */
    int done;                  /* finished, win or lose */
};

struct race {
    cio_future *ev;            /* completed when something changes */
    int winner_fd;             /* the connected socket, or -1 */
    int last_err;              /* error of the latest failed attempt */
    size_t running;            /* attempts not finished */
};

static void race_signal(struct race *r)
{
    if (r->ev && !cio_future_done(r->ev))
        cio_future_set_result(r->ev, NULL);
}

static int attempt_task(void *arg, void **result)
{
    (void)result;
    struct attempt *at = arg;
    struct race *r = at->race;
    int fd = cio_socket(at->ai->ai_family, SOCK_STREAM, at->ai->ai_protocol);
    int rc = fd;
    if (fd >= 0) {
        rc = cio_sock_connect(fd, at->ai->ai_addr, at->ai->ai_addrlen);
        if (rc == 0 && r->winner_fd < 0) {
            r->winner_fd = fd;
            fd = -1;
        }
        if (fd >= 0)
            cio_fd_close(fd);
    }
    if (rc < 0 && rc != -ECANCELED)
        r->last_err = rc;
    at->done = 1;
    r->running--;
    race_signal(r);
    return 0;
}

/* ---- the race ----------------------------------------------------------------- */

static void delay_elapsed(void *arg) { race_signal(arg); }

/* Connects to one of a[0..n); returns the socket or a negative code. */
static int race(cio_loop *loop, struct addrinfo **a, size_t n, double delay)
{
    struct attempt *at = cio__calloc(n, sizeof *at);
    if (!at)
        return -ENOMEM;
    struct race r = {.ev = NULL, .winner_fd = -1, .last_err = -ECONNREFUSED, .running = 0};
    size_t started = 0;
    int rc = 0;
    while (r.winner_fd < 0) {
        if (started < n && (started == 0 || !at[started - 1].task || at[started - 1].done ||
                            rc == 1)) {
            at[started].race = &r;
            at[started].ai = a[started];
            rc = cio_task_new(loop, attempt_task, &at[started], &(cio_task_options){.name = "cio-connect-attempt", .file = __FILE__, .line = __LINE__}, &at[started].task);
            if (rc < 0)
                break;
            r.running++;
            started++;
        }
        if (!r.running && started == n)
            break;
        cio_handle *timer = NULL;
        if ((rc = cio_future_new(loop, &r.ev)) < 0)
            break;
        if (started < n && (rc = cio_call_later(loop, delay, delay_elapsed, &r, &timer)) < 0) {
            cio_future_unref(r.ev);
            r.ev = NULL;
            break;
        }
        size_t before = r.running;
        /* The attempts and the delay timer update r, on this stack. */
        cio__task_pin(cio__current());
        rc = cio_await(r.ev, NULL);
        cio__task_unpin(cio__current());
        cio_future_unref(r.ev);
        r.ev = NULL;
        int timed_out = timer && !cio_handle_cancelled(timer) && r.running == before &&
                        r.winner_fd < 0 && rc == 0;
        if (timer) {
            cio_handle_cancel(timer);
            cio_handle_unref(timer);
        }
        if (rc < 0)
            break;
        rc = timed_out ? 1 : 0; /* 1: start the next attempt now */
    }
    /* Stop the losers and wait until every attempt has finished. */
    cio_shield_begin();
    for (size_t i = 0; i < started; i++)
        if (!at[i].done)
            cio_task_cancel(at[i].task, NULL);
    for (size_t i = 0; i < started; i++) {
        cio_task_await(at[i].task, NULL);
        cio_task_unref(at[i].task);
    }
    cio_shield_end();
    cio__free(at);
    if (r.winner_fd >= 0) {
        if (rc < 0) { /* cancelled at the very moment one won */
            cio_fd_close(r.winner_fd);
            return rc;
        }
        return r.winner_fd;
    }
    return rc < 0 ? rc : r.last_err;
}

/* Tries a[0..n) one after another (no racing). */
static int sequential(struct addrinfo **a, size_t n)
{
    int err = -ECONNREFUSED;
    for (size_t i = 0; i < n; i++) {
        int fd = cio_socket(a[i]->ai_family, SOCK_STREAM, a[i]->ai_protocol);
        if (fd < 0) {
            err = fd;
            continue;
        }
        int rc = cio_sock_connect(fd, a[i]->ai_addr, a[i]->ai_addrlen);
        if (rc == 0)
            return fd;
        cio_fd_close(fd);
        if (rc == -ECANCELED || rc == -ETIMEDOUT)
            return rc;
        err = rc;
    }
    return err;
}

int cio__connect_addrs(struct addrinfo *list, double delay)
{
    struct addrinfo *a[128];
    size_t n = interleave(list, a, CIO_ARRAY_LEN(a));
    if (!n)
        return -EINVAL;
    return n == 1 || delay < 0 ? sequential(a, n) : race(cio__running_loop, a, n, delay);
}

/* ---- public entry points ----------------------------------------------------- */

int cio_open_connection(const char *host, int port, const cio_stream_options *opts,
                        cio_stream **out)
{
    cio_loop *loop = cio__running_loop;
    if (!out || !host || port < 0 || port > 65535)
        return cio__bad_arg(loop, __func__, "out/host NULL or port out of range");
    *out = NULL;
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG,
                             .ai_family = opts ? opts->family : 0};
    if (!strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "::1"))
        hints.ai_flags = 0; /* loopback works without a configured address */
    struct addrinfo *res = NULL;
    int rc = cio_getaddrinfo(host, portstr, &hints, &res);
    if (rc < 0)
        return rc;
    double delay = opts && opts->happy_eyeballs_delay ? opts->happy_eyeballs_delay : 0.25;
    int fd = cio__connect_addrs(res, delay);
    cio_freeaddrinfo(res);
    if (fd < 0)
        return fd;
    if (!(opts && opts->no_nodelay))
        cio__set_nodelay(fd);
    if (opts && opts->tls)
        return cio__stream_open_tls(loop, fd, opts,
                                    opts->server_hostname ? opts->server_hostname : host, 0,
                                    out);
    rc = cio__stream_new(loop, fd, opts, out);
    if (rc < 0)
        cio_fd_close(fd);
    return rc;
}

int cio_open_unix_connection(const char *path, const cio_stream_options *opts,
                             cio_stream **out)
{
    cio_loop *loop = cio__running_loop;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!out || !path || !path[0] || strlen(path) >= sizeof sa.sun_path)
        return cio__bad_arg(loop, __func__, "out NULL or path empty or too long");
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    size_t len = strlen(path);
    memcpy(sa.sun_path, path, len);
    if (path[0] == '@')
        sa.sun_path[0] = 0;
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len +
                                 (path[0] == '@' ? 0 : 1));
    int fd = cio_socket(AF_UNIX, SOCK_STREAM, 0);
    if (fd < 0)
        return fd;
    int rc = cio_sock_connect(fd, (struct sockaddr *)&sa, alen);
    if (rc == 0 && opts && opts->tls)
        return cio__stream_open_tls(loop, fd, opts, opts->server_hostname, 0, out);
    if (rc == 0)
        rc = cio__stream_new(loop, fd, opts, out);
    if (rc < 0)
        cio_fd_close(fd);
    return rc;
}
