/*
 * server.c - stream servers: asyncio's start_server / start_unix_server
 * and the Server object.
 *
 * Each listening socket has an acceptor task; each accepted connection
 * gets a stream (the protocol of a socket transport, stream.c) and a
 * handler task that runs the user's callback and then closes the stream
 * gracefully.  The server is reference-counted: the
 * user's hold, one per acceptor task and one per connection, so it lives
 * until the last of them lets go, whatever order they finish in.
 *
 * Running out of descriptors (EMFILE/ENFILE) does not stop the acceptor:
 * it logs once, sleeps a little (the pending connections wait in the
 * backlog) and tries again, as a server that must survive load spikes
 * does.  Accept never depends on an edge arriving, since it retries the
 * syscall first after each pause.
 *
 * In protocol-factory mode (cio_create_server, transport.h) a connection
 * is a transport instead: no handler task; the factory picks its protocol
 * and the connection ends when the transport's connection_lost has run.
 *
 * Divided into: the object and its lifetime, connections, acceptors,
 * binding, the public calls.
 */
#define _GNU_SOURCE
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../task/task.h"
#include "stream.h"
#include "tls_transport.h"
#include "transport.h"

#define MAX_LISTEN 8
#define EMFILE_BACKOFF 0.05

struct conn {
    struct conn *prev, *next;  /* the server's list of connections */
    cio_server *srv;           /* owner (holds a reference) */
    cio_stream *s;             /* the connection's stream (stream mode) */
    cio_task *task;            /* its handler task (a reference) */
    cio_transport *t;          /* protocol mode: the transport instead */
    uint8_t started;           /* the handler task has begun running: a task
                                  cancelled before that never runs, so its
                                  cleanup falls to whoever cancelled it */
    uint8_t finished;          /* stream mode: the handler is done (task
                                  released), the stream closing; the
                                  connection ends at its connection_lost */
};

struct cio_server {
    cio_loop *loop;            /* owner */
    uint32_t refs;             /* user + acceptors + connections */
    int lfd[MAX_LISTEN];       /* listening sockets, -1 once closed */
    int nl;
    cio_task *acceptor[MAX_LISTEN]; /* their tasks (references) */
    uint8_t acc_started[MAX_LISTEN]; /* acceptor i began running (see
                                  struct conn's started) */
    cio_client_connected_fn *cb; /* per-connection callback */
    void *arg;
    cio_stream_options sopts;  /* options of accepted streams */
    cio_protocol_factory_fn *factory; /* protocol mode: cb is NULL */
    cio_transport_options topts; /* options of accepted transports */
    struct conn *conns;        /* connections whose handler runs */
    size_t nconns;
    cio_future *closed_fut;    /* done at cio_server_close */
    cio_future *idle_fut;      /* done when closed and no connection left */
    char *unix_path;           /* socket file to unlink at close, or NULL */
    uint8_t serving;           /* listening sockets open */
    uint8_t emfile_logged;     /* the EMFILE warning was given */
    int port;                  /* first bound port */
};

/* ---- the object and its lifetime ---------------------------------------- */

static void server_unref(cio_server *srv)
{
    if (--srv->refs)
        return;
    for (int i = 0; i < srv->nl; i++) {
        if (srv->lfd[i] >= 0)
            cio_fd_close(srv->lfd[i]);
        if (srv->acceptor[i])
            cio_task_unref(srv->acceptor[i]);
    }
    if (srv->closed_fut) {
        if (!cio_future_done(srv->closed_fut))
            cio_future_set_result(srv->closed_fut, NULL);
        cio_future_unref(srv->closed_fut);
    }
    if (srv->idle_fut) {
        if (!cio_future_done(srv->idle_fut))
            cio_future_set_result(srv->idle_fut, NULL);
        cio_future_unref(srv->idle_fut);
    }
    cio__free(srv->unix_path);
    cio__free(srv);
}

static void check_idle(cio_server *srv)
{
    if (!srv->serving && !srv->nconns && !cio_future_done(srv->idle_fut))
        cio_future_set_result(srv->idle_fut, NULL);
}

/* ---- connections ----------------------------------------------------------- */

static void conn_link(cio_server *srv, struct conn *c)
{
    c->srv = srv;
    c->next = srv->conns;
    if (srv->conns)
        srv->conns->prev = c;
    srv->conns = c;
    srv->nconns++;
    srv->refs++;
}

static void conn_unlink(struct conn *c)
{
    cio_server *srv = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        srv->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    srv->nconns--;
    cio__free(c);
    check_idle(srv);
    server_unref(srv);
}

/* Protocol mode: the transport's connection_lost has run. */
static void transport_lost(cio_transport *t, void *arg)
{
    (void)t;
    conn_unlink(arg);
}

/* Protocol mode: fd gets a transport, the factory a say, the protocol
 * connection_made.  On failure fd is closed. */
static void serve_transport(cio_server *srv, int fd)
{
    struct conn *c = cio__calloc(1, sizeof *c);
    if (!c || cio__transport_new(srv->loop, fd, &srv->topts, &c->t) < 0) {
        cio__free(c);
        cio_fd_close(fd);
        return;
    }
    if (!srv->topts.no_nodelay)
        cio__set_nodelay(fd);
    if (srv->topts.tls) {
        /* The factory is asked once the handshake is done: a client that
         * fails it leaves no protocol state behind. */
        cio_transport *raw = c->t;
        if (cio__tls_transport_new(raw, srv->topts.tls, 1, NULL, &srv->topts, &c->t) < 0) {
            cio__transport_discard(raw);
            cio__free(c);
            return;
        }
        conn_link(srv, c);
        c->t->on_lost = transport_lost;
        c->t->on_lost_arg = c;
        cio__tls_transport_start_server(c->t, srv->factory, srv->arg);
        return;
    }
    const cio_protocol *proto = NULL;
    void *ud = NULL;
    if (srv->factory(srv->arg, &proto, &ud) != 0 || !proto) {
        cio__transport_discard(c->t);
        cio__free(c);
        return;
    }
    conn_link(srv, c);
    c->t->on_lost = transport_lost;
    c->t->on_lost_arg = c;
    cio__transport_start(c->t, proto, ud);
}

/* Stream mode: the stream's transport ended (after connection_lost). */
static void stream_lost(cio_transport *t, void *arg)
{
    (void)t;
    conn_unlink(arg);
}

/* The handler is done: close its stream (unsent data still goes out in
 * the background).  The connection ends when the stream's transport has
 * run connection_lost and closes its socket, so that wait_closed finds
 * every socket closed: until then the transport still has a descriptor,
 * and its on_lost hook forgets the connection. */
static void conn_finish(struct conn *c)
{
    cio_stream *s = c->s;
    cio_stream_close(s);
    cio_task_unref(c->task);
    c->task = NULL;
    c->finished = 1;
    cio_transport *t = s->t;
    int wait = t && !t->on_lost && cio_transport_fd(t) >= 0;
    if (wait) {
        t->on_lost = stream_lost;
        t->on_lost_arg = c;
    }
    cio_stream_unref(s); /* the transport holds it until connection_lost */
    if (!wait)
        conn_unlink(c);
}

static void handler_never_ran(cio_future *fut, void *arg);

/* The handler is running, or will never run: its cleanup is no longer
 * the done callback's job. */
static void mark_started(struct conn *c)
{
    c->started = 1;
    cio_future_remove_done_callback(cio_task_future(c->task), handler_never_ran, c);
}

/* Done callback of a handler task, removed once it starts: reached only
 * when the task was cancelled before it ran (cio_run cancelling every
 * task at the end, say), so the connection is cleaned up here. */
static void handler_never_ran(cio_future *fut, void *arg)
{
    (void)fut;
    struct conn *c = arg;
    c->started = 1;
    conn_finish(c);
}

static int handler_task(void *arg, void **result)
{
    (void)result;
    struct conn *c = arg;
    mark_started(c);
    cio_server *srv = c->srv;
    if (srv->sopts.tls) {
        /* A client that cannot complete the handshake is the client's
         * problem: close it quietly, the server goes on. */
        int hs = cio__stream_tls_wait(c->s);
        if (hs < 0) {
            cio_log(CIO_LOG_DEBUG, "server: TLS handshake failed: %s (%s)", cio_strerror(hs),
                    cio_stream_tls_error_message(c->s));
            cio_stream_abort(c->s);
            conn_finish(c);
            return hs == -ECANCELED ? hs : 0;
        }
    }
    int rc = srv->cb(c->s, srv->arg);
    /* A handler that fails because its stream was closed under it
     * (close_clients, abort_clients) did nothing wrong. */
    if (rc < 0 && rc != -ECANCELED && !c->s->closing)
        cio_log(CIO_LOG_WARNING, "server: connection handler failed: %s", cio_strerror(rc));
    conn_finish(c);
    return rc == -ECANCELED ? rc : 0;
}

/* Gives fd a stream and a handler task.  On failure fd is closed. */
static void serve_connection(cio_server *srv, int fd)
{
    if (srv->factory) {
        serve_transport(srv, fd);
        return;
    }
    struct conn *c = cio__calloc(1, sizeof *c);
    int rc = !c ? -ENOMEM : srv->sopts.tls ? 0 : cio__stream_new(srv->loop, fd, &srv->sopts, &c->s);
    if (rc == 0 && srv->sopts.tls) {
        /* The handshake starts now; the handler task waits for it. */
        cio_transport *raw;
        if ((rc = cio__transport_new(srv->loop, fd, NULL, &raw)) == 0 &&
            (rc = cio__stream_tls_server(srv->loop, raw, &srv->sopts, &c->s)) < 0) {
            cio__transport_discard(raw); /* closes fd */
            cio__free(c);
            return;
        }
    }
    if (rc < 0) {
        cio__free(c);
        cio_fd_close(fd);
        return;
    }
    if (!srv->sopts.no_nodelay)
        cio__set_nodelay(fd);
    c->srv = srv;
    if (cio_loop_create_task(srv->loop, handler_task, c, "cio-server-conn", &c->task) < 0) {
        cio_stream_unref(c->s);
        cio__free(c);
        return;
    }
    cio_future_add_done_callback(cio_task_future(c->task), handler_never_ran, c);
    conn_link(srv, c);
}

/* ---- acceptors ----------------------------------------------------------------- */

static int acceptor_task(void *arg, void **result)
{
    (void)result;
    cio_server *srv = arg;
    int i = 0;
    while (i < srv->nl && srv->acceptor[i] != cio_current_task())
        i++;
    srv->acc_started[i] = 1;
    while (srv->serving && srv->lfd[i] >= 0) {
        int fd = cio_sock_accept(srv->lfd[i], NULL, NULL);
        if (fd >= 0) {
            serve_connection(srv, fd);
            continue;
        }
        if (fd == -ECANCELED || fd == -ETIMEDOUT || fd == -EBADF || fd == CIO_ENOTASK)
            break;
        if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
            if (!srv->emfile_logged) {
                srv->emfile_logged = 1;
                cio_log(CIO_LOG_WARNING,
                        "server: accept failed (%s); backing off and retrying", 
                        cio_strerror(fd));
            }
            if (cio_sleep(EMFILE_BACKOFF) < 0)
                break;
        }
        /* Others (ECONNABORTED, EPROTO, EPERM by a firewall) concern one
         * connection only: go on. */
    }
    server_unref(srv);
    return 0;
}

/* ---- binding ---------------------------------------------------------------------- */

static int listen_on(cio_server *srv, int family, const struct sockaddr *addr, socklen_t len,
                     const cio_server_options *opts)
{
    if (srv->nl >= MAX_LISTEN)
        return 0;
    int fd = cio_socket(family, SOCK_STREAM, 0);
    if (fd < 0)
        return fd;
    int one = 1;
    if (family != AF_UNIX)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (opts && opts->reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
                                               sizeof one) < 0) {
        int e = -errno;
        cio_fd_close(fd);
        return e;
    }
    if (bind(fd, addr, len) < 0 ||
        listen(fd, opts && opts->backlog > 0 ? opts->backlog : 511) < 0) {
        int e = -errno;
        cio_fd_close(fd);
        return e;
    }
    if (!srv->nl && family != AF_UNIX) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
            srv->port = ntohs(ss.ss_family == AF_INET
                                  ? ((struct sockaddr_in *)&ss)->sin_port
                                  : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    srv->lfd[srv->nl++] = fd;
    return 0;
}

static int server_new(cio_client_connected_fn *cb, cio_protocol_factory_fn *factory, void *arg,
                      const cio_server_options *opts, const cio_transport_options *topts,
                      cio_server **out)
{
    cio_loop *loop = cio__running_loop;
    cio_server *srv = cio__calloc(1, sizeof *srv);
    if (!srv)
        return -ENOMEM;
    srv->loop = loop;
    srv->refs = 1;
    srv->cb = cb;
    srv->factory = factory;
    srv->arg = arg;
    if (topts)
        srv->topts = *topts;
    if (opts)
        srv->sopts = opts->stream;
    for (int i = 0; i < MAX_LISTEN; i++)
        srv->lfd[i] = -1;
    int rc = cio_future_new(loop, &srv->closed_fut);
    if (rc == 0)
        rc = cio_future_new(loop, &srv->idle_fut);
    if (rc < 0) {
        server_unref(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

/* Starts one acceptor per listening socket; on failure closes everything. */
static int start_serving(cio_server *srv)
{
    srv->serving = 1;
    for (int i = 0; i < srv->nl; i++) {
        int rc = cio_loop_create_task(srv->loop, acceptor_task, srv, "cio-server-accept", &srv->acceptor[i]);
        if (rc < 0) {
            cio_server_close(srv);
            return rc;
        }
        srv->refs++;
    }
    return 0;
}

/* ---- public calls -------------------------------------------------------------------- */

/* cio_start_server and cio_create_server: cb or factory. */
static int start_tcp(cio_client_connected_fn *cb, cio_protocol_factory_fn *factory, void *arg,
                     const char *host, int port, const cio_server_options *opts,
                     const cio_transport_options *topts, cio_server **out)
{
    *out = NULL;
    if (!cio__current())
        return CIO_ENOTASK;
    char portstr[8];
    snprintf(portstr, sizeof portstr, "%d", port);
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE,
                             .ai_family = opts ? opts->family : 0};
    struct addrinfo *res = NULL;
    int rc = cio_getaddrinfo(host, portstr, &hints, &res);
    if (rc < 0)
        return rc;
    cio_server *srv;
    if ((rc = server_new(cb, factory, arg, opts, topts, &srv)) < 0) {
        cio_freeaddrinfo(res);
        return rc;
    }
    for (struct addrinfo *ai = res; ai && rc == 0; ai = ai->ai_next) {
        if (srv->nl && srv->port && port == 0) {
            /* Port 0 on several addresses: use the port the first got. */
            if (ai->ai_family == AF_INET)
                ((struct sockaddr_in *)ai->ai_addr)->sin_port = htons((uint16_t)srv->port);
            else if (ai->ai_family == AF_INET6)
                ((struct sockaddr_in6 *)ai->ai_addr)->sin6_port = htons((uint16_t)srv->port);
        }
        rc = listen_on(srv, ai->ai_family, ai->ai_addr, ai->ai_addrlen, opts);
        if (rc == -EAFNOSUPPORT || (rc == -EADDRNOTAVAIL && ai->ai_family == AF_INET6))
            rc = 0; /* a family the host lacks */
    }
    cio_freeaddrinfo(res);
    if (rc == 0 && !srv->nl)
        rc = -EADDRNOTAVAIL;
    if (rc == 0)
        rc = start_serving(srv);
    if (rc < 0) {
        cio_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int cio_start_server(cio_client_connected_fn *cb, void *arg, const char *host, int port,
                     const cio_server_options *opts, cio_server **out)
{
    if (!cb || !out || port < 0 || port > 65535)
        return cio__bad_arg(cio__running_loop, __func__, "cb/out NULL or port out of range");
    return start_tcp(cb, NULL, arg, host, port, opts, NULL, out);
}

/* Server options of a protocol-mode server. */
static cio_server_options server_opts(const cio_transport_options *topts)
{
    cio_server_options so = {0};
    if (topts) {
        so.backlog = topts->backlog;
        so.reuse_port = topts->reuse_port;
        so.family = topts->family;
    }
    return so;
}

int cio_create_server(cio_protocol_factory_fn *factory, void *arg, const char *host, int port,
                      const cio_transport_options *opts, cio_server **out)
{
    if (!factory || !out || port < 0 || port > 65535)
        return cio__bad_arg(cio__running_loop, __func__,
                            "factory/out NULL or port out of range");
    if (opts && opts->tls && !cio__tls_context_is_server(opts->tls))
        return cio__bad_arg(cio__running_loop, __func__, "opts->tls is not a server context");
    cio_server_options so = server_opts(opts);
    return start_tcp(NULL, factory, arg, host, port, &so, opts, out);
}

/* cio_start_unix_server and cio_create_unix_server: cb or factory. */
static int start_unix(cio_client_connected_fn *cb, cio_protocol_factory_fn *factory, void *arg,
                      const char *path, const cio_server_options *opts,
                      const cio_transport_options *topts, cio_server **out)
{
    cio_loop *loop = cio__running_loop;
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (!out || !path || !path[0] || strlen(path) >= sizeof sa.sun_path)
        return cio__bad_arg(loop, __func__, "out/path NULL, or path empty or too long");
    *out = NULL;
    if (!loop)
        return CIO_ENOLOOP;
    size_t len = strlen(path);
    memcpy(sa.sun_path, path, len);
    int abstract = path[0] == '@';
    if (abstract) {
        sa.sun_path[0] = 0;
    } else {
        struct stat st;
        if (stat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path); /* a stale socket from an earlier run */
    }
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + !abstract);
    cio_server *srv;
    int rc = server_new(cb, factory, arg, opts, topts, &srv);
    if (rc < 0)
        return rc;
    if (!abstract && !(srv->unix_path = cio__strdup(path)))
        rc = -ENOMEM;
    if (rc == 0)
        rc = listen_on(srv, AF_UNIX, (struct sockaddr *)&sa, alen, opts);
    if (rc == 0)
        rc = start_serving(srv);
    if (rc < 0) {
        if (srv->nl == 0) { /* nothing bound: do not unlink another's file */
            cio__free(srv->unix_path);
            srv->unix_path = NULL;
        }
        cio_server_free(srv);
        return rc;
    }
    *out = srv;
    return 0;
}

int cio_start_unix_server(cio_client_connected_fn *cb, void *arg, const char *path,
                          const cio_server_options *opts, cio_server **out)
{
    if (!cb)
        return cio__bad_arg(cio__running_loop, __func__, "cb NULL");
    return start_unix(cb, NULL, arg, path, opts, NULL, out);
}

int cio_create_unix_server(cio_protocol_factory_fn *factory, void *arg, const char *path,
                           const cio_transport_options *opts, cio_server **out)
{
    if (opts && opts->tls && !cio__tls_context_is_server(opts->tls))
        return cio__bad_arg(cio__running_loop, __func__, "opts->tls is not a server context");
    if (!factory)
        return cio__bad_arg(cio__running_loop, __func__, "factory NULL");
    cio_server_options so = server_opts(opts);
    return start_unix(NULL, factory, arg, path, &so, opts, out);
}

int cio_server_port(const cio_server *srv) { return srv ? srv->port : -EINVAL; }

int cio_server_sockname(const cio_server *srv, int i, struct sockaddr *addr, socklen_t *len)
{
    if (!srv || !addr || !len || i < 0)
        return -EINVAL;
    if (i >= srv->nl || srv->lfd[i] < 0)
        return -ENOENT;
    return getsockname(srv->lfd[i], addr, len) < 0 ? -errno : 0;
}

int cio_server_is_serving(const cio_server *srv) { return srv && srv->serving; }

size_t cio_server_num_clients(const cio_server *srv) { return srv ? srv->nconns : 0; }

int cio_server_close(cio_server *srv)
{
    if (!srv)
        return cio__bad_arg(cio__running_loop, __func__, "server is NULL");
    if (!srv->serving && srv->lfd[0] < 0)
        return 0;
    srv->serving = 0;
    for (int i = 0; i < srv->nl; i++) {
        if (srv->lfd[i] >= 0) {
            int fd = srv->lfd[i];
            srv->lfd[i] = -1;
            cio_fd_close(fd); /* wakes the acceptor with -EBADF */
        }
        if (srv->acceptor[i] && !cio_task_done(srv->acceptor[i])) {
            cio_task_cancel(srv->acceptor[i], NULL); /* in case it backs off */
            if (!srv->acc_started[i]) {
                /* It will never run: drop the reference it held. */
                srv->acc_started[i] = 1;
                server_unref(srv);
            }
        }
    }
    if (srv->unix_path) {
        unlink(srv->unix_path);
        cio__free(srv->unix_path);
        srv->unix_path = NULL;
    }
    /* A TLS connection still in its handshake was never handed over: its
     * protocol would come from the factory of a server that is closed
     * (and, with cio_server_free, of an owner that may be gone).  It goes
     * as one still in the listen backlog does. */
    srv->refs++;
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->t && cio__tls_transport_awaits_protocol(c->t))
            cio_transport_abort(c->t); /* leaves the list at connection_lost */
    }
    if (!cio_future_done(srv->closed_fut))
        cio_future_set_result(srv->closed_fut, NULL);
    check_idle(srv);
    server_unref(srv);
    return 0;
}

void cio_server_close_clients(cio_server *srv)
{
    if (!srv)
        return;
    for (struct conn *c = srv->conns; c; c = c->next) {
        if (c->t)
            cio_transport_close(c->t);
        else
            cio_stream_close(c->s);
    }
}

void cio_server_abort_clients(cio_server *srv)
{
    if (!srv)
        return;
    srv->refs++; /* conn_finish may drop the last other reference */
    for (struct conn *c = srv->conns, *next; c; c = next) {
        next = c->next;
        if (c->t) {
            cio_transport_abort(c->t); /* leaves the list at connection_lost */
            continue;
        }
        if (c->finished) {
            cio_stream_abort(c->s); /* the same; c may be gone now */
            continue;
        }
        cio_stream_abort(c->s);
        cio_task_cancel(c->task, NULL);
        if (!c->started) {
            mark_started(c);
            conn_finish(c); /* its handler will never run */
        }
    }
    server_unref(srv);
}

/*
 * Waits until the server is closed (idle 0) or closed with no connection
 * left (idle 1).  A waiter's cancellation cancels the shared future it
 * awaited, so the others see it done while the condition is not: they
 * replace the future and wait again.
 */
static int wait_until(cio_server *srv, int idle)
{
    cio_task *t = cio__current();
    if (!t)
        return CIO_ENOTASK;
    for (;;) {
        if (!srv->serving && (!idle || !srv->nconns))
            return 0;
        int rc = cio__checkpoint(t);
        if (rc)
            return rc;
        cio_future **fp = idle ? &srv->idle_fut : &srv->closed_fut;
        if (cio_future_done(*fp)) {
            cio_future *f;
            if ((rc = cio_future_new(srv->loop, &f)) < 0)
                return rc;
            cio_future_unref(*fp);
            *fp = f;
        }
        cio_future *f = *fp;
        srv->refs++;
        cio_future_ref(f);
        rc = cio_await(f, NULL);
        cio_future_unref(f);
        server_unref(srv);
    }
}

int cio_server_serve_forever(cio_server *srv)
{
    if (!srv)
        return cio__bad_arg(cio__running_loop, __func__, "server is NULL");
    int rc = wait_until(srv, 0);
    if (rc == -ECANCELED || rc == -ETIMEDOUT)
        cio_server_close(srv);
    return rc;
}

int cio_server_wait_closed(cio_server *srv)
{
    if (!srv)
        return cio__bad_arg(cio__running_loop, __func__, "server is NULL");
    return wait_until(srv, 1);
}

int cio_server_shutdown(cio_server *srv, double timeout)
{
    if (!srv || isnan(timeout))
        return cio__bad_arg(cio__running_loop, __func__, "server is NULL or timeout NaN");
    if (!cio__current())
        return CIO_ENOTASK;
    /* The deadline first: failing here (-ENOMEM) leaves all as it was. */
    cio_timeout *tm = NULL;
    int rc = cio_timeout_begin(timeout < 0 ? INFINITY : timeout, &tm);
    if (rc < 0)
        return rc;
    srv->refs++; /* the user may release it while we wait */
    cio_server_close(srv);
    /* Ask each handler to finish: its next read between messages ends the
     * stream.  A protocol-mode connection is its protocol's to end. */
    for (struct conn *c = srv->conns; c; c = c->next)
        if (!c->t && !c->finished)
            cio__stream_end_input(c->s);
    rc = wait_until(srv, 1);
    cio_timeout_end(tm); /* (a deadline that fired as the last one ended
                            cut nothing: rc is 0 then) */
    if (rc < 0) {
        /* The deadline passed (this one or an outer scope's), or the
         * caller was cancelled: what still runs is cut, and waited for,
         * shielded, until it has unwound (handlers see -ECANCELED at
         * their next suspension point, their streams are aborted). */
        cio_server_abort_clients(srv);
        cio_shield_begin();
        wait_until(srv, 1);
        cio_shield_end();
        rc = rc == -ECANCELED ? rc : -ETIMEDOUT;
    }
    server_unref(srv);
    return rc;
}

void cio_server_free(cio_server *srv)
{
    if (!srv)
        return;
    cio_server_close(srv);
    server_unref(srv);
}
